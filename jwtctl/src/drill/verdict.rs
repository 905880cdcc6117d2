//! The verdict (does the drill pass?) and the human summary printed at the
//! end. The verdict counts the same [`Outcome`]s the picture draws.

use super::operations::Event;
use super::outcome::Outcome;
use super::report::Report;

/// Why a drill passes or fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Valid requests refused.
    pub refused_valid: u64,
    /// 503 answers.
    pub unavailable: u64,
    /// Calls whose outcome fails the drill on its own (the two above).
    pub failing_calls: u64,
    /// Operations that failed or did not start.
    pub ops_failed: usize,
    /// Every revocation converged within its bound.
    pub convergence_ok: bool,
}

impl Verdict {
    /// Judges the outcomes of every resource call and the operations.
    pub fn of(outcomes: &[Outcome], events: &[Event]) -> Verdict {
        let count = |wanted: Outcome| outcomes.iter().filter(|o| **o == wanted).count() as u64;
        let convergence_ok = events.iter().filter(|e| e.revoked_kid.is_some()).all(|e| {
            let worst = e
                .convergence
                .iter()
                .map(|c| c.unwrap_or(f64::INFINITY))
                .fold(0.0, f64::max);
            e.bound.is_some_and(|b| worst <= b)
        });
        Verdict {
            refused_valid: count(Outcome::RefusedValid),
            unavailable: count(Outcome::Unavailable),
            failing_calls: outcomes.iter().filter(|o| o.fails_the_drill()).count() as u64,
            ops_failed: events.iter().filter(|e| !e.ok).count(),
            convergence_ok,
        }
    }

    /// No failing call ([`Outcome::fails_the_drill`]), no failed operation,
    /// every revocation within its bound.
    pub fn passed(&self) -> bool {
        self.failing_calls == 0 && self.ops_failed == 0 && self.convergence_ok
    }
}

/// Prints the human summary of `report` on stdout.
pub fn print_summary(report: &Report) {
    println!(
        "Drill: {} resource calls in {:.1} s over {} service(s) ({} skipped at the concurrency cap)",
        report.calls,
        report.duration_s,
        report.services.len(),
        report.skipped_calls
    );
    println!("\nRequests by outcome");
    for s in &report.services {
        let parts: Vec<String> = s
            .outcomes
            .iter()
            .map(|(k, v)| format!("{} {v}", k.name()))
            .collect();
        println!("  {:<12} {}", s.service, parts.join(", "));
    }
    let parts: Vec<String> = report
        .token_requests
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!("  {:<12} {}", "issuer", parts.join(", "));
    println!("\nKey operations");
    for o in &report.operations {
        println!("  {:>6.2}s  {:<15} {}", o.start_s, o.op, o.detail);
        let l = &o.latency;
        println!(
            "           latency p50/p99 ms: before {}/{}  during {}/{}  after {}/{}",
            l.before.p50_ms,
            l.before.p99_ms,
            l.during.p50_ms,
            l.during.p99_ms,
            l.after.p50_ms,
            l.after.p99_ms
        );
        for c in &o.convergence_s {
            match c.seconds {
                Some(secs) => println!(
                    "           {} refuses the revoked key after {secs:.2} s",
                    c.service
                ),
                None => println!("           {} STILL ACCEPTS the revoked key", c.service),
            }
        }
    }
    println!("\nJWKS fetches during the drill (from each service's /metrics)");
    for j in &report.jwks_fetches {
        match (j.fetch_ok, j.not_modified, j.fetch_error) {
            (Some(ok), Some(not_modified), Some(errors)) => println!(
                "  {:<12} ok {ok}, not modified {not_modified}, errors {errors}",
                j.service
            ),
            _ => println!(
                "  {:<12} {}",
                j.service,
                j.error.unwrap_or("metrics not readable")
            ),
        }
    }
    let o = &report.latency_overall;
    println!(
        "\nLatency of successful calls: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        o.p50_ms, o.p90_ms, o.p99_ms, o.max_ms
    );
    println!(
        "\nValid requests refused: {}   (expected refusals of the revoked key: {}, during the emergency: {}, expired tokens: {})",
        report.refused_valid,
        report.total(Outcome::RefusedRevokedKey),
        report.total(Outcome::RefusedDuringEmergency),
        report.total(Outcome::RefusedExpired)
    );
    println!("Result: {}", if report.passed { "PASS" } else { "FAIL" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failing_outcomes_fail_the_drill() {
        let all_fine = [
            Outcome::Ok,
            Outcome::RefusedExpired,
            Outcome::RefusedRevokedKey,
            Outcome::RefusedDuringEmergency,
            Outcome::TransportError,
            Outcome::HttpError,
        ];
        assert!(Verdict::of(&all_fine, &[]).passed());
        for bad in [Outcome::RefusedValid, Outcome::Unavailable] {
            assert!(bad.fails_the_drill());
            let v = Verdict::of(&[Outcome::Ok, bad], &[]);
            assert!(!v.passed(), "{}", bad.name());
        }
        for fine in all_fine {
            assert!(!fine.fails_the_drill(), "{}", fine.name());
        }
    }
}
