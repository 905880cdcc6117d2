//! The `jwtctl drill` command line: its flags (clap) and the `--op` syntax.

use std::path::PathBuf;
use std::time::Duration;

use crate::login::LoadLogin;
use crate::{ResourceSpec, parse_duration, parse_resource};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Operations (--op, run in the order given; `@T` = not before T after the start):
  rotate[@T]          planned rotation now (POST /admin/keys/rotate)
  revoke-active[@T]   emergency revocation of the signing key; measures convergence
  wait-scheduled[@T]  wait until the pending key activates on the issuer's own schedule

Example (native processes; ISSUER_JWKS_MAX_AGE=1 ISSUER_KEY_ROTATION_PERIOD short):
  export JWTCTL_ADMIN_SECRET=... JWTCTL_CLIENT_SECRET=... JWTCTL_PASSWORD=...
  jwtctl drill --issuer http://127.0.0.1:8080 \\
      --resource orders=http://127.0.0.1:8081 --resource billing=http://127.0.0.1:8082 \\
      --admin-client ops --client-id cli --username alice --duration 30s --rate 100 \\
      --op wait-scheduled --op rotate@12s --op revoke-active@20s --json drill.json --svg drill.svg

Exit codes: 0 no valid request refused; 1 a valid request was refused (or an operation failed); 2 usage."
)]
pub struct Args {
    /// Issuer base URL.
    #[arg(long)]
    pub issuer: String,
    /// A resource service as AUDIENCE=URL (repeatable).
    #[arg(long = "resource", value_parser = parse_resource, required = true)]
    pub resources: Vec<ResourceSpec>,
    /// Path called on every resource service.
    #[arg(long, default_value = "/v1/me")]
    pub path: String,
    /// Client with scope keys:admin and the issuer URL as audience.
    #[arg(long)]
    pub admin_client: String,
    /// Environment variable holding the admin client's secret.
    #[arg(long, default_value = "JWTCTL_ADMIN_SECRET")]
    pub admin_secret_env: String,
    /// Audience of the admin token (the issuer's `ISSUER_ADMIN_AUDIENCE`;
    /// default: the --issuer URL). Set it when you reach the issuer under
    /// another name than its own, e.g. `http://issuer:8080` from the host
    /// of the compose stack.
    #[arg(long)]
    pub admin_audience: Option<String>,
    #[command(flatten)]
    pub login: LoadLogin,
    /// Total drill time.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub duration: Duration,
    /// Resource calls per second, over all services.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub rate: u32,
    /// How often each load token is renewed (refresh grant or new login).
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub refresh_every: Duration,
    /// Key operation (repeatable), see below.
    #[arg(long = "op", value_parser = parse_op)]
    pub ops: Vec<Op>,
    /// Upper bound for revocation convergence (default: the issuer's
    /// `caches_drop_within` + 1 s for the fetch and polling).
    #[arg(long, value_parser = parse_duration)]
    pub cache_bound: Option<Duration>,
    /// Length of the latency windows before/during/after each operation.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub window: Duration,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the SVG timeline here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Rotate,
    RevokeActive,
    WaitScheduled,
}

impl OpKind {
    /// The name used on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Rotate => "rotate",
            OpKind::RevokeActive => "revoke-active",
            OpKind::WaitScheduled => "wait-scheduled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Op {
    pub kind: OpKind,
    pub at: Option<Duration>,
}

/// Parses `NAME[@TIME]`.
pub fn parse_op(text: &str) -> Result<Op, String> {
    let (name, at) = match text.split_once('@') {
        Some((n, t)) => (n, Some(parse_duration(t)?)),
        None => (text, None),
    };
    let kind = match name {
        "rotate" => OpKind::Rotate,
        "revoke-active" => OpKind::RevokeActive,
        "wait-scheduled" => OpKind::WaitScheduled,
        _ => {
            return Err(format!(
                "unknown operation `{name}` (rotate, revoke-active, wait-scheduled; optionally @TIME)"
            ));
        }
    };
    Ok(Op { kind, at })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_parse_with_and_without_a_time() {
        let op = parse_op("rotate@12s").map(|o| (o.kind, o.at));
        assert_eq!(op, Ok((OpKind::Rotate, Some(Duration::from_secs(12)))));
        let op = parse_op("wait-scheduled").map(|o| (o.kind, o.at));
        assert_eq!(op, Ok((OpKind::WaitScheduled, None)));
        assert!(parse_op("explode").is_err());
        assert!(parse_op("revoke-active@soon").is_err());
    }
}
