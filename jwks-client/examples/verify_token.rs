//! Verifies one access token against an issuer, the way a resource service
//! would, and prints its claims.
//!
//! Run (the token is read from standard input when not given):
//!
//! ```text
//! cargo run -p jwks-client --example verify_token -- https://id.example.com orders "$TOKEN"
//! echo "$TOKEN" | cargo run -p jwks-client --example verify_token -- http://127.0.0.1:8080 orders
//! ```
//!
//! Set `JWKS_URL` to skip discovery, `ALLOW_INSECURE_HTTP=1` for plain HTTP
//! on a private network.

use std::io::Read as _;
use std::process::ExitCode;

use jwks_client::{HttpSettings, IssuerConfig, Verifier};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (issuer, audience) = match (args.first(), args.get(1)) {
        (Some(i), Some(a)) => (i.clone(), a.clone()),
        _ => {
            eprintln!("usage: verify_token ISSUER_URL AUDIENCE [TOKEN]");
            return ExitCode::from(2);
        }
    };
    let token = match args.get(2) {
        Some(t) => t.clone(),
        None => {
            let mut t = String::new();
            if std::io::stdin().read_to_string(&mut t).is_err() {
                eprintln!("cannot read the token from standard input");
                return ExitCode::from(2);
            }
            t.trim().to_owned()
        }
    };

    let mut config = IssuerConfig::new(issuer).audiences([audience]);
    if let Ok(url) = std::env::var("JWKS_URL") {
        config = config.jwks_url(url);
    }
    let http = HttpSettings {
        allow_insecure_http: std::env::var("ALLOW_INSECURE_HTTP").is_ok_and(|v| v == "1"),
        ..HttpSettings::default()
    };
    let verifier = match Verifier::builder().issuer(config).http(http).build() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("configuration: {e}");
            return ExitCode::from(2);
        }
    };

    match verifier.verify(&token).await {
        Ok(claims) => {
            match serde_json::to_string_pretty(&*claims) {
                Ok(json) => println!("{json}"),
                Err(_) => println!("{claims:?}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rejected: {e}");
            eprintln!("health: {:?}", verifier.health());
            ExitCode::FAILURE
        }
    }
}
