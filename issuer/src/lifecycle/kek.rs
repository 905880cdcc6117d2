//! Resolving the key-encryption key from the configuration.

use std::path::PathBuf;

use crate::config::{Config, KekSource};
use crate::keys::{Kek, KeyError};

/// Resolves the configured KEK; creates the file next to the SQLite
/// database when none is configured (with a loud warning).
pub fn load_kek(config: &Config) -> Result<Kek, KeyError> {
    match &config.kek {
        KekSource::Inline(bytes) => Kek::new(bytes.expose()),
        KekSource::File(path) => Ok(Kek::load_or_create_file(path, false)?.0),
        KekSource::Generated => {
            let path = generated_kek_path(config);
            let (kek, created) = Kek::load_or_create_file(&path, true)?;
            if created {
                tracing::warn!(
                    path = %path.display(),
                    "NO KEY-ENCRYPTION KEY CONFIGURED: created a random one in this file (mode 0600). \
                     Private signing keys are encrypted under it; losing it loses the keys. \
                     Set ISSUER_KEK or ISSUER_KEK_FILE in production."
                );
            } else {
                tracing::warn!(
                    path = %path.display(),
                    "using the generated key-encryption key file; set ISSUER_KEK or ISSUER_KEK_FILE in production"
                );
            }
            Ok(kek)
        }
    }
}

/// `<database file>.kek`, or `issuer.kek` for an in-memory database.
pub fn generated_kek_path(config: &Config) -> PathBuf {
    match config.sqlite_path() {
        Some(db) => {
            let mut name = db.into_os_string();
            name.push(".kek");
            PathBuf::from(name)
        }
        None => PathBuf::from("issuer.kek"),
    }
}
