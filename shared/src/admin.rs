//! The issuer's key-administration API (`/admin/keys`), as both the issuer
//! and the ops CLI see it.
//!
//! Every endpoint needs an access token from the issuer itself carrying the
//! scope [`ADMIN_SCOPE`]. Failures use RFC 6750 answers for authentication
//! and [`AdminError`] bodies for everything else (404 unknown kid, 409 a
//! change that would leave no usable key).
//!
//! | Method | Path                        | Answer            |
//! |--------|-----------------------------|-------------------|
//! | GET    | `/admin/keys`               | [`KeyList`]       |
//! | POST   | `/admin/keys/rotate`        | [`RotateResponse`]|
//! | POST   | `/admin/keys/{kid}/revoke`  | [`RevokeResponse`]|
//!
//! Times are Unix seconds.

use serde::{Deserialize, Serialize};

/// Scope an access token needs for every `/admin/keys` endpoint.
pub const ADMIN_SCOPE: &str = "keys:admin";

/// One signing key, as `GET /admin/keys` and `issuer keys list` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub kid: String,
    /// `pending`, `active`, `retiring`, `retired` or `revoked`.
    pub state: String,
    pub created_at: i64,
    pub activate_at: i64,
    pub retire_at: Option<i64>,
    /// Whether the key is in the JWKS right now.
    pub published: bool,
    /// Access tokens this key has signed (all issuer instances).
    pub signed_count: i64,
}

/// `GET /admin/keys`: every key the store knows, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    pub keys: Vec<KeyInfo>,
    /// The key signing now, by this instance's clock.
    pub active_kid: Option<String>,
    /// The `max-age` the JWKS is served with right now.
    pub jwks_max_age: u64,
}

/// `POST /admin/keys/rotate`: a planned rotation.
///
/// The pending key becomes active at the earliest safe moment (now, if it
/// has been published for the full pre-publication lead; otherwise when it
/// has), the active key becomes retiring, and a new pending key is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotateResponse {
    /// The key that signs from `activate_at` on.
    pub active_kid: String,
    pub activate_at: i64,
    /// The key signing until then; verify-only until `retire_at`.
    pub retiring_kid: Option<String>,
    pub retire_at: Option<i64>,
    /// The newly created successor, published from now on.
    pub pending_kid: String,
}

/// `POST /admin/keys/{kid}/revoke`: an emergency rotation.
///
/// The key leaves the JWKS at once and its private material is destroyed;
/// if it was signing, the pending key is promoted now. Refresh-token
/// families whose tokens it signed are revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeResponse {
    pub revoked_kid: String,
    /// The key signing after the revocation.
    pub active_kid: String,
    /// The successor created to replace the promoted pending key, if any.
    pub pending_kid: Option<String>,
    pub refresh_families_revoked: u64,
    /// Upper bound, in seconds, until every resource service that honours
    /// the JWKS `Cache-Control` has dropped the revoked key: the longest
    /// `max-age` served while it was published, plus the time other issuer
    /// instances take to notice the revocation (their 1 s key sync).
    pub caches_drop_within: u64,
}

/// Body of a 404 or 409 from the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminError {
    /// `not_found`, `conflict` or `invalid_request`.
    pub error: String,
    pub error_description: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn revoke_response_round_trips_with_stable_field_names() {
        let body = RevokeResponse {
            revoked_kid: "old".into(),
            active_kid: "new".into(),
            pending_kid: Some("next".into()),
            refresh_families_revoked: 3,
            caches_drop_within: 300,
        };
        let text = serde_json::to_string(&body).unwrap();
        assert!(text.contains("\"caches_drop_within\":300"));
        assert_eq!(serde_json::from_str::<RevokeResponse>(&text).unwrap(), body);
    }
}
