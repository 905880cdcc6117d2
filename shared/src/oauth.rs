//! OAuth 2.0 wire formats: token responses and errors (RFC 6749 section 5),
//! and bearer-token challenges (RFC 6750 section 3).

use serde::{Deserialize, Serialize};

/// A successful token response (RFC 6749 section 5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Error codes of RFC 6749 section 5.2 (token endpoint) and RFC 7009 / 7662.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    UnsupportedTokenType,
    /// Not in RFC 6749 section 5.2 but widely used (RFC 6749 section 4.1.2.1).
    TemporarilyUnavailable,
    ServerError,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::ServerError => "server_error",
        }
    }
}

/// An RFC 6749 section 5.2 error body. The description is fixed text chosen by
/// the server, never input or an internal error message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl OAuthError {
    pub fn new(error: OAuthErrorCode, description: &str) -> Self {
        OAuthError {
            error,
            error_description: Some(description.to_owned()),
        }
    }
}

/// RFC 6750 section 3.1 error codes for protected resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    InvalidRequest,
    InvalidToken,
    InsufficientScope,
}

impl BearerError {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
        }
    }
}

/// A `WWW-Authenticate: Bearer …` challenge (RFC 6750 section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerChallenge<'a> {
    pub realm: &'a str,
    pub error: Option<BearerError>,
    pub description: Option<&'a str>,
    /// Scope needed for the resource, for `insufficient_scope`.
    pub scope: Option<&'a str>,
}

impl<'a> BearerChallenge<'a> {
    /// The challenge for a request that carried no credentials: no `error`.
    pub fn realm(realm: &'a str) -> Self {
        BearerChallenge {
            realm,
            error: None,
            description: None,
            scope: None,
        }
    }

    pub fn error(realm: &'a str, error: BearerError, description: &'a str) -> Self {
        BearerChallenge {
            realm,
            error: Some(error),
            description: Some(description),
            scope: None,
        }
    }

    pub fn with_scope(mut self, scope: &'a str) -> Self {
        self.scope = Some(scope);
        self
    }

    /// The header value. Attribute values are quoted strings; characters
    /// outside RFC 6750's allowed set are dropped rather than escaped.
    pub fn header_value(&self) -> String {
        let mut out = String::from("Bearer ");
        push_param(&mut out, "realm", self.realm);
        if let Some(error) = self.error {
            out.push_str(", ");
            push_param(&mut out, "error", error.as_str());
        }
        if let Some(description) = self.description {
            out.push_str(", ");
            push_param(&mut out, "error_description", description);
        }
        if let Some(scope) = self.scope {
            out.push_str(", ");
            push_param(&mut out, "scope", scope);
        }
        out
    }
}

fn push_param(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    // RFC 6750: %x20-21 / %x23-5B / %x5D-7E (no `"` and no `\`).
    out.extend(
        value
            .chars()
            .filter(|c| matches!(*c, ' '..='~') && *c != '"' && *c != '\\'),
    );
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_without_credentials_has_no_error() {
        assert_eq!(
            BearerChallenge::realm("orders").header_value(),
            r#"Bearer realm="orders""#
        );
    }

    #[test]
    fn challenge_names_the_missing_scope_and_drops_quotes() {
        let value = BearerChallenge::error("a", BearerError::InsufficientScope, "needs \"x\"")
            .with_scope("items:write")
            .header_value();
        assert_eq!(
            value,
            r#"Bearer realm="a", error="insufficient_scope", error_description="needs x", scope="items:write""#
        );
    }

    #[test]
    fn error_body_serialises_as_rfc_6749() {
        let body = OAuthError::new(OAuthErrorCode::InvalidGrant, "bad credentials");
        assert_eq!(
            serde_json::to_string(&body).ok(),
            Some(r#"{"error":"invalid_grant","error_description":"bad credentials"}"#.into())
        );
    }
}
