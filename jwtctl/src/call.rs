//! `jwtctl call URL`: one request with a bearer token, answer shown whole.

use std::process::ExitCode;

use reqwest::Method;

use crate::http::{client, describe};
use crate::usage;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  jwtctl call http://127.0.0.1:8081/v1/me                 # token from $TOKEN
  jwtctl call http://127.0.0.1:8081/v1/items -X POST -d '{\"name\":\"widget\"}'
  jwtctl call http://127.0.0.1:8081/v1/me --no-token      # see the 401 challenge

Exit codes: 0 for a 2xx answer, 1 otherwise (unreachable, 4xx, 5xx), 2 usage.")]
pub struct Args {
    pub url: String,
    /// Environment variable holding the access token.
    #[arg(long, default_value = "TOKEN")]
    pub token_env: String,
    /// Send no Authorization header.
    #[arg(long)]
    pub no_token: bool,
    /// HTTP method.
    #[arg(short = 'X', long, default_value = "GET")]
    pub method: String,
    /// JSON request body.
    #[arg(short = 'd', long)]
    pub data: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| usage(format!("`{}` is not an HTTP method", args.method)))?;
    if !(args.url.starts_with("http://") || args.url.starts_with("https://")) {
        return Err(usage(format!(
            "`{}` is not an http:// or https:// URL",
            args.url
        )));
    }
    let http = client()?;
    let mut req = http.request(method, &args.url);
    if !args.no_token {
        let token = std::env::var(&args.token_env).ok().filter(|t| !t.is_empty()).ok_or_else(|| {
            usage(format!(
                "no token: set {} (e.g. eval \"$(jwtctl token ... --export)\") or pass --no-token",
                args.token_env
            ))
        })?;
        req = req.bearer_auth(token.trim());
    }
    if let Some(body) = args.data {
        req = req.header("content-type", "application/json").body(body);
    }
    let res = req
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(describe(&e, &args.url)))?;
    let status = res.status();
    println!(
        "HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if let Some(v) = res.headers().get("www-authenticate") {
        println!("WWW-Authenticate: {}", v.to_str().unwrap_or("(not text)"));
    }
    let body = res
        .bytes()
        .await
        .map_err(|e| anyhow::anyhow!(describe(&e, &args.url)))?;
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v)?),
        Err(_) if body.is_empty() => {}
        Err(_) => println!(
            "{}",
            String::from_utf8_lossy(&body[..body.len().min(64 * 1024)])
        ),
    }
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
