//! The HTTP client and the token endpoint, shared by every subcommand.

use std::io::BufRead;
use std::time::Duration;

use anyhow::anyhow;
use shared::oauth::TokenResponse;

use crate::usage;

pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| anyhow!("cannot build the HTTP client: {e}"))
}

/// A transport error as one sentence naming the URL (never a token).
pub fn describe(err: &reqwest::Error, url: &str) -> String {
    if err.is_connect() {
        format!("cannot reach {url}: connection refused or host unreachable")
    } else if err.is_timeout() {
        format!("no answer from {url} within the timeout")
    } else if err.is_builder() {
        format!("`{url}` is not a usable URL")
    } else if err.is_decode() || err.is_body() {
        format!("the answer from {url} could not be read")
    } else {
        format!("request to {url} failed")
    }
}

/// A secret from the environment variable `var`.
pub fn secret_from_env(var: &str) -> anyhow::Result<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(usage(format!(
            "environment variable {var} is not set (it must hold the secret)"
        ))),
    }
}

/// One line from standard input (without the newline), for secrets.
pub fn line_from_stdin(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take_line(&mut line)
        .map_err(|_| usage(format!("cannot read the {what} from standard input")))?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        return Err(usage(format!("no {what} on standard input")));
    }
    Ok(line)
}

trait TakeLine {
    fn take_line(&mut self, buf: &mut String) -> std::io::Result<usize>;
}

impl<R: BufRead> TakeLine for R {
    fn take_line(&mut self, buf: &mut String) -> std::io::Result<usize> {
        // Bounded: a secret line longer than 4 KiB is not a secret line.
        let mut limited = std::io::Read::take(self, 4096);
        std::io::BufRead::read_line(&mut limited, buf)
    }
}

/// Why the token endpoint said no, or could not be asked.
#[derive(Debug)]
pub enum TokenError {
    /// Transport failure (text from [`describe`]).
    Transport(String),
    /// An RFC 6749 error answer.
    Refused {
        status: u16,
        error: String,
        description: String,
    },
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Transport(t) => f.write_str(t),
            TokenError::Refused {
                status,
                error,
                description,
            } => write!(
                f,
                "the issuer refused: HTTP {status} {error}: {description}"
            ),
        }
    }
}

impl std::error::Error for TokenError {}

/// POSTs `form` to `{issuer}/oauth2/token` with HTTP Basic client
/// authentication.
pub async fn token_request(
    http: &reqwest::Client,
    issuer: &str,
    client_id: &str,
    client_secret: Option<&str>,
    form: &[(&str, &str)],
) -> Result<TokenResponse, TokenError> {
    let url = format!("{}/oauth2/token", issuer.trim_end_matches('/'));
    let res = http
        .post(&url)
        .basic_auth(client_id, client_secret)
        .form(form)
        .send()
        .await
        .map_err(|e| TokenError::Transport(describe(&e, &url)))?;
    let status = res.status();
    let body = res
        .bytes()
        .await
        .map_err(|e| TokenError::Transport(describe(&e, &url)))?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|_| TokenError::Refused {
            status: status.as_u16(),
            error: "bad_response".into(),
            description: "the answer is not an RFC 6749 token response".into(),
        });
    }
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    Err(TokenError::Refused {
        status: status.as_u16(),
        error: parsed["error"].as_str().unwrap_or("unknown").to_owned(),
        description: parsed["error_description"]
            .as_str()
            .unwrap_or("no description")
            .to_owned(),
    })
}

/// The `kid` in a token's header, if it has one (no verification).
pub fn token_kid(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = shared::b64::decode(header).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value["kid"].as_str().map(str::to_owned)
}
