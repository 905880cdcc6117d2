//! The human summary printed at the end of a drill, read from the typed
//! [`Report`] (the same values the JSON report and the picture carry).

use super::outcome::Outcome;
use super::report::Report;

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
