//! The drill's report as typed data, built once from the recorded requests
//! and the operations; the `--json` file is its serialization and the text
//! summary and the picture read it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::args::Args;
use super::context::{Kind, Sample};
use super::operations::Event;
use super::outcome::Outcome;
use super::services::JwksCounters;
use super::svg::{self, Bin};
use super::verdict::Verdict;

/// The whole report (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub passed: bool,
    pub duration_s: f64,
    pub rate_per_s: u32,
    pub calls: usize,
    pub skipped_calls: u64,
    /// Valid requests refused, over all services.
    pub refused_valid: u64,
    /// 503 answers, over all services.
    pub unavailable: u64,
    pub services: Vec<ServiceOutcomes>,
    /// Token requests by grant and status (`login_ok`, `refresh_401`, ...).
    pub token_requests: BTreeMap<String, u64>,
    pub jwks_fetches: Vec<JwksFetches>,
    pub operations: Vec<OperationReport>,
    pub latency_overall: Latency,
    pub timeline: Vec<Bin>,
}

/// The resource calls of one service by outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceOutcomes {
    pub service: String,
    pub url: String,
    /// Only the outcomes that occurred.
    pub outcomes: BTreeMap<Outcome, u64>,
}

/// One service's JWKS fetches during the drill, or why they are unknown.
#[derive(Debug, Clone, Serialize)]
pub struct JwksFetches {
    pub service: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_ok: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_modified: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_error: Option<u64>,
    /// Set when the service's `/metrics` could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

/// One key operation as reported.
#[derive(Debug, Clone, Serialize)]
pub struct OperationReport {
    pub op: &'static str,
    pub ok: bool,
    pub start_s: f64,
    pub end_s: f64,
    pub detail: String,
    pub revoked_kid: Option<String>,
    /// Per service (revocations): seconds until it refused the revoked key.
    pub convergence_s: Vec<Convergence>,
    pub convergence_max_s: Option<f64>,
    pub bound_s: Option<f64>,
    pub latency: Windows,
}

/// How long one service took to refuse a revoked key; `None`: it never did.
#[derive(Debug, Clone, Serialize)]
pub struct Convergence {
    pub service: String,
    pub seconds: Option<f64>,
}

/// Latency of successful calls before, during and after an operation.
#[derive(Debug, Clone, Serialize)]
pub struct Windows {
    pub before: Latency,
    pub during: Latency,
    pub after: Latency,
}

/// Latency of the successful calls sent in `[from_s, to_s)`.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub from_s: f64,
    pub to_s: f64,
    pub n: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// What the report is built from, besides the arguments.
#[derive(Debug)]
pub struct Recorded<'a> {
    pub samples: &'a [Sample],
    pub events: &'a [Event],
    /// JWKS counters per service before and after the drill.
    pub before: &'a [Option<JwksCounters>],
    pub after: &'a [Option<JwksCounters>],
    /// Seconds the drill ran.
    pub elapsed: f64,
    pub skipped: u64,
}

impl Report {
    /// Classifies every call and assembles the report.
    pub fn build(args: &Args, rec: &Recorded<'_>) -> Report {
        let calls: Vec<(&Sample, Outcome)> = rec
            .samples
            .iter()
            .filter(|s| s.kind == Kind::Call)
            .map(|s| (s, Outcome::of(s, rec.events)))
            .collect();
        let mut per_service: Vec<BTreeMap<Outcome, u64>> =
            vec![BTreeMap::new(); args.resources.len()];
        for (s, o) in &calls {
            *per_service[s.idx].entry(*o).or_default() += 1;
        }
        let outcomes: Vec<Outcome> = calls.iter().map(|(_, o)| *o).collect();
        let verdict = Verdict::of(&outcomes, rec.events);
        let timeline: Vec<(f64, Outcome)> = calls.iter().map(|(s, o)| (s.t, *o)).collect();
        let w = args.window.as_secs_f64();
        Report {
            passed: verdict.passed(),
            duration_s: round2(rec.elapsed),
            rate_per_s: args.rate,
            calls: calls.len(),
            skipped_calls: rec.skipped,
            refused_valid: verdict.refused_valid,
            unavailable: verdict.unavailable,
            services: args
                .resources
                .iter()
                .zip(per_service)
                .map(|(r, outcomes)| ServiceOutcomes {
                    service: r.audience.clone(),
                    url: r.url.clone(),
                    outcomes,
                })
                .collect(),
            token_requests: token_requests(rec.samples),
            jwks_fetches: args
                .resources
                .iter()
                .enumerate()
                .map(|(i, r)| jwks_fetches(r, rec.before[i], rec.after[i]))
                .collect(),
            operations: rec
                .events
                .iter()
                .map(|e| operation(e, args, rec.samples, w))
                .collect(),
            latency_overall: latency(rec.samples, 0.0, rec.elapsed + 1.0),
            timeline: svg::bins(&timeline, rec.elapsed),
        }
    }

    /// Calls with this outcome, over all services.
    pub fn total(&self, outcome: Outcome) -> u64 {
        self.services
            .iter()
            .map(|s| s.outcomes.get(&outcome).copied().unwrap_or(0))
            .sum()
    }
}

fn token_requests(samples: &[Sample]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for s in samples.iter().filter(|s| s.kind != Kind::Call) {
        let grant = if s.kind == Kind::Login {
            "login"
        } else {
            "refresh"
        };
        let status = if s.status == 200 {
            "ok".to_owned()
        } else {
            s.status.to_string()
        };
        *out.entry(format!("{grant}_{status}")).or_default() += 1;
    }
    out
}

fn jwks_fetches(
    r: &crate::ResourceSpec,
    before: Option<JwksCounters>,
    after: Option<JwksCounters>,
) -> JwksFetches {
    let counted = before.zip(after).map(|(b, a)| a.since(b));
    JwksFetches {
        service: r.audience.clone(),
        url: r.url.clone(),
        fetch_ok: counted.map(|c| c.ok),
        not_modified: counted.map(|c| c.not_modified),
        fetch_error: counted.map(|c| c.error),
        error: counted.is_none().then_some("metrics not readable"),
    }
}

fn operation(e: &Event, args: &Args, samples: &[Sample], w: f64) -> OperationReport {
    let during_end = e.end.max(e.start + w);
    OperationReport {
        op: e.op,
        ok: e.ok,
        start_s: round2(e.start),
        end_s: round2(e.end),
        detail: e.detail.clone(),
        revoked_kid: e.revoked_kid.clone(),
        convergence_s: e
            .convergence
            .iter()
            .zip(&args.resources)
            .map(|(c, r)| Convergence {
                service: r.audience.clone(),
                seconds: c.map(round2),
            })
            .collect(),
        convergence_max_s: e.slowest_converged().map(round2),
        bound_s: e.bound,
        latency: Windows {
            before: latency(samples, (e.start - w).max(0.0), e.start),
            during: latency(samples, e.start, during_end),
            after: latency(samples, during_end, during_end + w),
        },
    }
}

/// The `p`th percentile (nearest rank) of sorted values; 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn latency(samples: &[Sample], from: f64, to: f64) -> Latency {
    let mut l: Vec<f64> = samples
        .iter()
        .filter(|s| {
            s.kind == Kind::Call && (200..300).contains(&s.status) && s.t >= from && s.t < to
        })
        .map(|s| s.latency_ms)
        .collect();
    l.sort_by(f64::total_cmp);
    Latency {
        from_s: round2(from),
        to_s: round2(to),
        n: l.len(),
        p50_ms: round2(percentile(&l, 50.0)),
        p90_ms: round2(percentile(&l, 90.0)),
        p99_ms: round2(percentile(&l, 99.0)),
        max_ms: round2(l.last().copied().unwrap_or(0.0)),
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
