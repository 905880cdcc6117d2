//! Real services on loopback (from the test kit) and this suite's own
//! issuer set-up.

use std::time::Duration;

pub use testkit::resource::{TestResource, challenge, resource_settings, spawn_resource};
pub use testkit::services::TestIssuer;

/// A running issuer with clients `cli` and `ops` and users `alice` (role
/// admin) and `bob` (no roles), issuing access tokens for `access_token_ttl`.
pub async fn spawn_issuer(access_token_ttl: Duration) -> TestIssuer {
    testkit::services::spawn_issuer(|c| c.access_token_ttl = access_token_ttl).await
}
