//! `jwtctl token password|client|refresh`.
//!
//! Secrets come from the environment or standard input, never from the
//! command line (where `ps` and shell history would keep them), and are
//! never echoed.

use std::process::ExitCode;

use crate::http::{client, line_from_stdin, secret_from_env, token_request};

#[derive(Debug, clap::Args)]
pub struct Common {
    /// Issuer base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub issuer: String,
    /// OAuth client id (HTTP Basic authentication).
    #[arg(long)]
    pub client_id: String,
    /// Environment variable holding the client secret.
    #[arg(long, default_value = "JWTCTL_CLIENT_SECRET")]
    pub client_secret_env: String,
    /// Read the client secret from the first line of standard input instead.
    #[arg(long)]
    pub client_secret_stdin: bool,
    /// A public client: send no secret.
    #[arg(long, conflicts_with = "client_secret_stdin")]
    pub no_client_secret: bool,
    /// Print `export TOKEN=...` (and `export REFRESH_TOKEN=...`) for `eval`.
    #[arg(long)]
    pub export: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Grant {
    /// Resource-owner password grant; the password comes from stdin or env.
    #[command(after_help = "Example:
  export JWTCTL_CLIENT_SECRET=...
  eval \"$(echo 'correct horse battery staple' | jwtctl token password --issuer http://127.0.0.1:8080 \\
      --client-id cli --username alice --password-stdin --scope 'items:read items:write' --audience orders --export)\"")]
    Password {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        username: String,
        /// Read the password from standard input (after the client secret, if that is read too).
        #[arg(long)]
        password_stdin: bool,
        /// Environment variable holding the password (when not --password-stdin).
        #[arg(long, default_value = "JWTCTL_PASSWORD")]
        password_env: String,
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        audience: Option<String>,
    },
    /// Client-credentials grant.
    #[command(after_help = "Example:
  JWTCTL_CLIENT_SECRET=... jwtctl token client --issuer http://127.0.0.1:8080 --client-id cli \\
      --scope items:read --audience billing")]
    Client {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        audience: Option<String>,
    },
    /// Refresh-token grant; the refresh token comes from $REFRESH_TOKEN or stdin.
    #[command(after_help = "Example:
  eval \"$(jwtctl token refresh --issuer http://127.0.0.1:8080 --client-id cli --export)\"")]
    Refresh {
        #[command(flatten)]
        common: Common,
        /// Environment variable holding the refresh token.
        #[arg(long, default_value = "REFRESH_TOKEN")]
        refresh_token_env: String,
        /// Read the refresh token from standard input instead.
        #[arg(long)]
        refresh_token_stdin: bool,
    },
}

fn client_secret(common: &Common) -> anyhow::Result<Option<String>> {
    if common.no_client_secret {
        Ok(None)
    } else if common.client_secret_stdin {
        line_from_stdin("client secret").map(Some)
    } else {
        secret_from_env(&common.client_secret_env).map(Some)
    }
}

/// Single-quotes a value for a POSIX shell.
fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

pub async fn run(grant: Grant) -> anyhow::Result<ExitCode> {
    let (common, form): (&Common, Vec<(&str, String)>) = match &grant {
        Grant::Password {
            common,
            username,
            password_stdin,
            password_env,
            scope,
            audience,
        } => {
            let mut form = vec![
                ("grant_type", "password".to_owned()),
                ("username", username.clone()),
            ];
            // Order on stdin: client secret first (if asked), then the password.
            form.push(("password", String::new()));
            if let Some(s) = scope {
                form.push(("scope", s.clone()));
            }
            if let Some(a) = audience {
                form.push(("audience", a.clone()));
            }
            let secret = client_secret(common)?;
            let password = if *password_stdin {
                line_from_stdin("password")?
            } else {
                secret_from_env(password_env)?
            };
            form[2].1 = password;
            return finish(common, secret, form).await;
        }
        Grant::Client {
            common,
            scope,
            audience,
        } => {
            let mut form = vec![("grant_type", "client_credentials".to_owned())];
            if let Some(s) = scope {
                form.push(("scope", s.clone()));
            }
            if let Some(a) = audience {
                form.push(("audience", a.clone()));
            }
            (common, form)
        }
        Grant::Refresh {
            common,
            refresh_token_env,
            refresh_token_stdin,
        } => {
            let rt = if *refresh_token_stdin {
                line_from_stdin("refresh token")?
            } else {
                secret_from_env(refresh_token_env)?
            };
            (
                common,
                vec![
                    ("grant_type", "refresh_token".to_owned()),
                    ("refresh_token", rt),
                ],
            )
        }
    };
    let secret = client_secret(common)?;
    finish(common, secret, form).await
}

async fn finish(
    common: &Common,
    secret: Option<String>,
    form: Vec<(&str, String)>,
) -> anyhow::Result<ExitCode> {
    let http = client()?;
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = token_request(
        &http,
        &common.issuer,
        &common.client_id,
        secret.as_deref(),
        &form,
    )
    .await;
    match res {
        Ok(t) => {
            if common.export {
                println!("export TOKEN={}", shell_quote(&t.access_token));
                if let Some(rt) = &t.refresh_token {
                    println!("export REFRESH_TOKEN={}", shell_quote(rt));
                }
            } else {
                println!("{}", t.access_token);
            }
            eprintln!(
                "token_type {}, expires in {} s{}{}",
                t.token_type,
                t.expires_in,
                t.scope
                    .as_deref()
                    .map(|s| format!(", scope \"{s}\""))
                    .unwrap_or_default(),
                if t.refresh_token.is_some() && !common.export {
                    " (a refresh token was issued; use --export to get it)"
                } else {
                    ""
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
