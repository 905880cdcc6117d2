//! The flags by which `drill` and `bench` get their load tokens: one
//! client, its secret from the environment, and optionally a user for the
//! password grant (with refreshes).

/// How a load generator logs in.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadLogin {
    /// Client for the load.
    #[arg(long)]
    pub client_id: String,
    /// Environment variable holding the client's secret.
    #[arg(long, default_value = "JWTCTL_CLIENT_SECRET")]
    pub client_secret_env: String,
    /// Use the password grant as this user, with refreshes (bench: also
    /// measure those grants); else client credentials.
    #[arg(long)]
    pub username: Option<String>,
    /// Environment variable holding the user's password.
    #[arg(long, default_value = "JWTCTL_PASSWORD")]
    pub password_env: String,
    /// Scope requested for the load tokens.
    #[arg(long)]
    pub scope: Option<String>,
}
