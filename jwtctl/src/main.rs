//! `jwtctl`: one tool for the people who run this system. Decode and check
//! tokens, get tokens, call services, drill key rotations under load, and
//! benchmark the endpoints on loopback.
//!
//! Exit codes: 0 success; 1 the check or operation failed (a token did not
//! verify, a call was refused, a drill refused a valid request); 2 bad input
//! or usage (malformed token, missing secret, bad option).

mod bench;
mod call;
mod drill;
mod http;
mod inspect;
mod login;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  jwtctl inspect \"$TOKEN\"
  echo \"$TOKEN\" | jwtctl inspect - --issuer http://127.0.0.1:8080 --json
  JWTCTL_CLIENT_SECRET=... jwtctl token password --issuer http://127.0.0.1:8080 \\
      --client-id cli --username alice --password-stdin --audience orders --export
  jwtctl call http://127.0.0.1:8081/v1/me
  jwtctl drill --issuer http://127.0.0.1:8080 --resource orders=http://127.0.0.1:8081 \\
      --admin-client ops --admin-secret-env OPS_SECRET --client-id cli \\
      --op wait-scheduled --op rotate@5s --op revoke-active@10s --json drill.json --svg drill.svg
  jwtctl bench --issuer http://127.0.0.1:8080 --resource orders=http://127.0.0.1:8081 --client-id cli

Exit codes: 0 success, 1 check failed (token invalid, request refused, drill refused a valid
request), 2 bad input or usage.";

#[derive(Debug, Parser)]
#[command(name = "jwtctl", version, about = "Inspect tokens, get tokens, call services, run key-rotation drills and benchmarks", after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode a token offline (header, claims, times, warnings); optionally verify it.
    Inspect(inspect::Args),
    /// Get an access token from the issuer (password, client credentials or refresh grant).
    #[command(
        subcommand,
        after_help = "Examples:
  JWTCTL_CLIENT_SECRET=... jwtctl token client --issuer http://127.0.0.1:8080 --client-id cli --audience orders
  eval \"$(jwtctl token password --issuer http://127.0.0.1:8080 --client-id cli --username alice --password-stdin --export)\"
  eval \"$(jwtctl token refresh --issuer http://127.0.0.1:8080 --client-id cli --export)\""
    )]
    Token(token::Grant),
    /// Call a URL with a bearer token and show status, WWW-Authenticate and body.
    Call(call::Args),
    /// Run a key-rotation drill under load against a running system.
    Drill(drill::Args),
    /// Loopback load benchmarks of the token endpoint and resource calls.
    Bench(bench::Args),
}

/// An error caused by the input or the invocation: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Shorthand for an exit-code-2 error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Inspect(args) => inspect::run(args).await,
            Command::Token(grant) => token::run(grant).await,
            Command::Call(args) => call::run(args).await,
            Command::Drill(args) => drill::run(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// The longest duration a flag takes.
const MAX_FLAG_DURATION: std::time::Duration = std::time::Duration::from_secs(86_400);

/// A duration flag (clap `value_parser`) in the workspace's one syntax,
/// [`service_kit::config::parse_duration`] (`5s`, `500ms`, `2m`, `1.5`: a bare
/// number is seconds), from 0 to 24 h.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    service_kit::config::parse_duration_within(text, std::time::Duration::ZERO, MAX_FLAG_DURATION)
        .map_err(|e| format!("`{}`: {e}", text.trim()))
}

/// `AUDIENCE=URL`: a resource service and the audience its tokens need.
#[derive(Debug, Clone)]
pub struct ResourceSpec {
    pub audience: String,
    pub url: String,
}

pub fn parse_resource(text: &str) -> Result<ResourceSpec, String> {
    let (audience, url) = text.split_once('=').ok_or_else(|| {
        format!("`{text}`: expected AUDIENCE=URL, e.g. orders=http://127.0.0.1:8081")
    })?;
    if audience.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "`{text}`: expected AUDIENCE=URL with an http:// or https:// URL"
        ));
    }
    Ok(ResourceSpec {
        audience: audience.to_owned(),
        url: url.trim_end_matches('/').to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn duration_flags_keep_their_meaning_and_cap() {
        for (text, want) in [
            ("30s", Duration::from_secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("2min", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("1.5", Duration::from_millis(1500)),
            ("0", Duration::ZERO),
            ("24h", Duration::from_secs(86_400)),
            ("1d", Duration::from_secs(86_400)),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for text in ["25h", "2d", "soon", "5x", "-1s"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
        assert!(
            parse_duration("25h").is_err_and(|e| e.contains("between 0ms and 1d")),
            "{:?}",
            parse_duration("25h")
        );
    }
}
