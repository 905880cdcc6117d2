//! The access-token claim set: RFC 9068 (JWT profile for OAuth 2.0 access
//! tokens) plus `roles` for users.

use serde::{Deserialize, Serialize};

/// The JOSE `typ` of every access token (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// `aud` is a single string or an array of strings (RFC 7519 section 4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// A single audience is written as a string, several as an array.
    pub fn from_list(mut list: Vec<String>) -> Self {
        if list.len() == 1 {
            Audience::One(list.remove(0))
        } else {
            Audience::Many(list)
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            Audience::One(one) => std::slice::from_ref(one),
            Audience::Many(many) => many,
        };
        slice.iter().map(String::as_str)
    }

    pub fn contains(&self, audience: &str) -> bool {
        self.iter().any(|a| a == audience)
    }
}

/// Claims of an access token as the issuer signs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    /// Space-separated scopes (RFC 8693 section 4.2); empty when none.
    #[serde(default)]
    pub scope: String,
    /// Present for user tokens, absent for client-credentials tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

impl AccessClaims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().flatten().any(|r| r == role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_is_a_string_or_an_array() {
        let one: Audience = serde_json::from_str(r#""orders""#).unwrap_or(Audience::Many(vec![]));
        assert!(one.contains("orders"));
        let many: Audience = serde_json::from_str(r#"["a","b"]"#).unwrap_or(Audience::Many(vec![]));
        assert!(many.contains("b") && !many.contains("c"));
        assert_eq!(
            serde_json::to_string(&Audience::from_list(vec!["x".into()])).ok(),
            Some(r#""x""#.into())
        );
    }
}
