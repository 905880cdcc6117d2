//! Every issuer-internal path the tests and load examples use, in one
//! place: when the issuer moves one, this file is the one to change.
//! Tests import these from here, not from `issuer::…`.

pub use issuer::config::{Config, KekSource, KeyBits, ThrottleConfig, parse_kek};
pub use issuer::keys::{Kek, KeyState, SigningKey};
pub use issuer::lifecycle::advance;
pub use issuer::password::hash_password;
pub use issuer::refresh::hash_token;
pub use issuer::routes::token::hash_client_secret;
pub use issuer::store::{AuditEvent, Client, Store, StoredKey, User, now_ms};
pub use issuer::{AppState, Application};
