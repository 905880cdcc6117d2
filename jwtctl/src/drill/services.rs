//! What the drill reads from the resource services themselves: their JWKS
//! fetch counters on `/metrics`, before and after the drill.

/// A service's JWKS fetch counters (`jwks_fetch_ok`, `..._not_modified`,
/// `..._error`), summed over labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JwksCounters {
    pub ok: u64,
    pub not_modified: u64,
    pub error: u64,
}

impl JwksCounters {
    /// The fetches between `before` and `self`.
    pub fn since(self, before: JwksCounters) -> JwksCounters {
        JwksCounters {
            ok: self.ok.saturating_sub(before.ok),
            not_modified: self.not_modified.saturating_sub(before.not_modified),
            error: self.error.saturating_sub(before.error),
        }
    }

    /// Reads the counters from a Prometheus/OpenMetrics text exposition.
    pub fn parse(text: &str) -> JwksCounters {
        let mut out = JwksCounters::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split([' ', '{']).next().unwrap_or("");
            let slot = if name.contains("jwks_fetch_ok") {
                &mut out.ok
            } else if name.contains("jwks_fetch_not_modified") {
                &mut out.not_modified
            } else if name.contains("jwks_fetch_error") {
                &mut out.error
            } else {
                continue;
            };
            *slot += line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0) as u64;
        }
        out
    }
}

/// JWKS fetch counters of one resource service, from its /metrics; `None`
/// when they cannot be read.
pub async fn jwks_counters(http: &reqwest::Client, base: &str) -> Option<JwksCounters> {
    reachable_jwks_counters(http, base).await.ok().flatten()
}

/// [`jwks_counters`] for the preflight: a service whose /metrics cannot be
/// reached is an error (described), one whose page cannot be read `None`.
pub async fn reachable_jwks_counters(
    http: &reqwest::Client,
    base: &str,
) -> Result<Option<JwksCounters>, String> {
    let url = format!("{base}/metrics");
    let res = http
        .get(&url)
        .send()
        .await
        .map_err(|e| crate::http::describe(&e, &url))?;
    Ok(res.text().await.ok().map(|text| JwksCounters::parse(&text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_over_labels() {
        let text = "# TYPE jwks_fetch_ok counter\n\
                    jwks_fetch_ok_total{source=\"a\"} 3\n\
                    jwks_fetch_ok_total{source=\"b\"} 2\n\
                    jwks_fetch_not_modified_total 4\n\
                    jwks_fetch_error_total 1\n\
                    http_requests_total 99\n";
        let c = JwksCounters::parse(text);
        assert_eq!(
            c,
            JwksCounters {
                ok: 5,
                not_modified: 4,
                error: 1
            }
        );
        let later = JwksCounters { ok: 7, ..c };
        assert_eq!(later.since(c).ok, 2);
        assert_eq!(c.since(later).ok, 0);
    }
}
