//! Every issuer-internal path the tests and load examples use, in one
//! place: when the issuer moves one, this file is the one to change.
//! Tests import these from here, not from `issuer::…`.

pub use issuer::clock::{Clock, ManualClock, now_ms};
pub use issuer::config::{Config, KekSource, KeyBits, ThrottleConfig, parse_kek};
pub use issuer::domain::clients::hash_client_secret;
pub use issuer::domain::refresh::hash_token;
pub use issuer::keys::{Kek, KeyState, SigningKey};
pub use issuer::password::hash_password;
pub use issuer::store::{AuditEvent, Client, Store, StoredKey, User};
pub use issuer::{AppState, Application};
