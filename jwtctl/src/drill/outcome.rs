//! The one classification of a resource call, read by the verdict, the
//! text and JSON reports and the SVG picture alike.
//!
//! A call is classified afterwards, when the revocations are known: a 401 or
//! 403 for a token signed by a key revoked meanwhile is expected, one for a
//! token that had expired is the drill's own lateness, and any other is a
//! valid request refused (the failure the drill exists to find).

use serde::Serialize;

use super::context::Sample;
use super::operations::Event;

/// What became of one resource call. Declared in name order: the reports
/// list outcomes in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Another HTTP status than 2xx, 401, 403 or 503.
    HttpError,
    /// 2xx.
    Ok,
    /// Refused while an emergency revocation was converging (the service
    /// had not yet fetched the new key set, or the renewed token was not
    /// yet in place).
    RefusedDuringEmergency,
    /// Refused because the token had expired when sent.
    RefusedExpired,
    /// Refused because its key had been revoked: the revocation working.
    RefusedRevokedKey,
    /// A valid token refused: what a drill must never see.
    RefusedValid,
    /// No HTTP answer.
    TransportError,
    /// 503: the service was not ready.
    Unavailable,
}

/// How the picture draws an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    /// Successful calls (the green line).
    Ok,
    /// Valid requests refused (red).
    RefusedValid,
    /// Refusals that are not the system's fault (orange): revoked key,
    /// emergency convergence, expired token.
    RefusedExpected,
    /// Everything else (grey).
    Error,
}

impl Outcome {
    /// The name used in the reports.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::HttpError => "http_error",
            Outcome::Ok => "ok",
            Outcome::RefusedDuringEmergency => "refused_during_emergency",
            Outcome::RefusedExpired => "refused_expired",
            Outcome::RefusedRevokedKey => "refused_revoked_key",
            Outcome::RefusedValid => "refused_valid",
            Outcome::TransportError => "transport_error",
            Outcome::Unavailable => "unavailable",
        }
    }

    /// Where the picture counts it.
    pub fn band(self) -> Band {
        match self {
            Outcome::Ok => Band::Ok,
            Outcome::RefusedValid => Band::RefusedValid,
            Outcome::RefusedRevokedKey
            | Outcome::RefusedDuringEmergency
            | Outcome::RefusedExpired => Band::RefusedExpected,
            Outcome::HttpError | Outcome::TransportError | Outcome::Unavailable => Band::Error,
        }
    }

    /// Whether it fails the drill on its own.
    pub fn fails_the_drill(self) -> bool {
        matches!(self, Outcome::RefusedValid | Outcome::Unavailable)
    }

    /// Classifies a resource call against the key operations that happened.
    pub fn of(s: &Sample, events: &[Event]) -> Outcome {
        match s.status {
            200..=299 => return Outcome::Ok,
            0 => return Outcome::TransportError,
            503 => return Outcome::Unavailable,
            401 | 403 => {}
            _ => return Outcome::HttpError,
        }
        for e in events {
            if let Some(k) = &e.revoked_kid
                && s.kid.as_deref() == Some(k.as_str())
                && s.t + 0.05 >= e.start
            {
                return Outcome::RefusedRevokedKey;
            }
        }
        if s.exp <= 0 {
            return Outcome::RefusedExpired;
        }
        for e in events {
            if e.revoked_kid.is_some() {
                let worst = e.slowest_converged().unwrap_or(0.0);
                if s.t >= e.start && s.t <= e.end + worst + 1.0 {
                    return Outcome::RefusedDuringEmergency;
                }
            }
        }
        Outcome::RefusedValid
    }
}

#[cfg(test)]
mod tests {
    use super::super::context::Kind;
    use super::*;

    fn call(t: f64, status: u16, kid: &str, exp: i64) -> Sample {
        Sample {
            t,
            idx: 0,
            kind: Kind::Call,
            status,
            latency_ms: 1.0,
            kid: Some(kid.to_owned()),
            exp,
        }
    }

    fn revocation(kid: &str, start: f64, end: f64) -> Event {
        Event {
            op: "revoke-active",
            start,
            end,
            ok: true,
            detail: String::new(),
            revoked_kid: Some(kid.to_owned()),
            convergence: vec![Some(0.5)],
            bound: Some(2.0),
        }
    }

    #[test]
    fn refusals_are_told_apart() {
        let events = [revocation("k1", 10.0, 10.2)];
        let of = |s: Sample| Outcome::of(&s, &events);
        assert_eq!(of(call(1.0, 200, "k1", 60)), Outcome::Ok);
        assert_eq!(of(call(1.0, 0, "k1", 60)), Outcome::TransportError);
        assert_eq!(of(call(1.0, 503, "k1", 60)), Outcome::Unavailable);
        assert_eq!(of(call(1.0, 500, "k1", 60)), Outcome::HttpError);
        assert_eq!(of(call(11.0, 401, "k1", 60)), Outcome::RefusedRevokedKey);
        assert_eq!(of(call(3.0, 401, "k0", 0)), Outcome::RefusedExpired);
        assert_eq!(
            of(call(10.5, 401, "k2", 60)),
            Outcome::RefusedDuringEmergency
        );
        assert_eq!(of(call(3.0, 403, "k1", 60)), Outcome::RefusedValid);
    }

    #[test]
    fn the_picture_and_the_verdict_agree_on_expired_tokens() {
        // An expired token's refusal is not a valid request refused: the
        // verdict does not fail on it and the picture does not draw it red.
        assert!(!Outcome::RefusedExpired.fails_the_drill());
        assert_eq!(Outcome::RefusedExpired.band(), Band::RefusedExpected);
        for o in [
            Outcome::HttpError,
            Outcome::Ok,
            Outcome::RefusedDuringEmergency,
            Outcome::RefusedExpired,
            Outcome::RefusedRevokedKey,
            Outcome::RefusedValid,
            Outcome::TransportError,
            Outcome::Unavailable,
        ] {
            assert_eq!(
                o.band() == Band::RefusedValid,
                o == Outcome::RefusedValid,
                "{}",
                o.name()
            );
            let json = serde_json::to_string(&o).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", o.name()));
        }
    }
}
