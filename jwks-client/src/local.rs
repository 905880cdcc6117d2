//! [`LocalKeys`]: a key set held in memory and replaced whole by its owner,
//! for a process that verifies tokens signed with its own keys (an issuer
//! introspecting its tokens) without fetching its own JWKS.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use shared::jwk::Jwks;

use crate::algorithm::Algorithm;
use crate::error::VerifyError;
use crate::keys::{KeyMap, VerifyingKey, key_map};
use crate::results::ResultCache;

/// A shared handle to an in-memory key set. Cheap to clone; every clone
/// sees the same set.
///
/// The owner calls [`LocalKeys::replace`] with its JWKS whenever its keys
/// change; each [`crate::Verifier`] built with
/// [`IssuerConfig::local_keys`](crate::IssuerConfig::local_keys) looks
/// tokens' `kid`s up in the current set and never makes an HTTP request. A
/// token is judged exactly as with fetched keys (size cap, header rules,
/// algorithm allow-list, claim policy, result cache); an unknown `kid` fails
/// at once with [`VerifyError::UnknownKid`], and before the first `replace`
/// every token fails with [`VerifyError::KeysUnavailable`].
///
/// Members follow the key rules of [`crate::keys`]; each usable key is
/// parsed once per `replace`, for every algorithm its own `alg` permits (the
/// issuer's allow-list is applied to each token, so a set can serve
/// verifiers with different allow-lists). Results cached for a key that a
/// `replace` removes (or changes under its `kid`) are dropped.
///
/// ```
/// use jwks_client::{IssuerConfig, LocalKeys, Verifier};
/// use shared::jwk::Jwks;
///
/// # fn run(my_jwks: &Jwks) -> Result<(), jwks_client::BuildError> {
/// let keys = LocalKeys::new();
/// keys.replace(my_jwks); // and again after every rotation
/// let verifier = Verifier::builder()
///     .issuer(
///         IssuerConfig::new("https://id.example.com")
///             .any_audience()
///             .local_keys(keys.clone()),
///     )
///     .build()?;
/// # drop(verifier); Ok(()) }
/// # run(&Jwks::default()).expect("builds");
/// ```
#[derive(Clone, Default)]
pub struct LocalKeys {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    current: RwLock<Option<Arc<LocalSet>>>,
    /// Result caches of the verifiers that use this set, with the index
    /// their issuer has there.
    watchers: Mutex<Vec<(Weak<ResultCache>, usize)>>,
}

/// One installed set.
pub(crate) struct LocalSet {
    pub keys: KeyMap,
    /// Unix time of the `replace` that installed it.
    pub replaced_at: i64,
}

impl fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeys")
            .field("keys", &self.current().map(|s| s.keys.len()))
            .finish_non_exhaustive()
    }
}

impl LocalKeys {
    /// An empty handle: no set until the first [`LocalKeys::replace`].
    pub fn new() -> Self {
        LocalKeys::default()
    }

    /// Installs `jwks` as the whole set, replacing the previous one, and
    /// returns how many of its members are usable (the others are skipped
    /// and logged, as in a fetched set).
    pub fn replace(&self, jwks: &Jwks) -> usize {
        let (keys, _skipped) = key_map(jwks, &Algorithm::ALL, "local keys");
        let usable = keys.len();
        let new = Arc::new(LocalSet {
            keys,
            replaced_at: shared::now_unix(),
        });
        let old = {
            let mut current = self
                .shared
                .current
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            current.replace(new.clone())
        };
        if let Some(old) = old {
            let mut watchers = self
                .shared
                .watchers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            watchers.retain(|(results, issuer)| match results.upgrade() {
                Some(results) => {
                    results.purge_removed(*issuer, "local keys", &old.keys, &new.keys);
                    true
                }
                None => false,
            });
        }
        usable
    }

    /// [`LocalKeys::replace`] from a serialised JWKS document (such as the
    /// body the owner serves at its `jwks_uri`). A document that is not a
    /// JSON object with a `keys` array leaves the current set in place.
    pub fn replace_json(&self, body: &[u8]) -> Result<usize, serde_json::Error> {
        let jwks: Jwks = serde_json::from_slice(body)?;
        Ok(self.replace(&jwks))
    }

    /// Usable keys in the current set (0 before the first replace).
    pub fn len(&self) -> usize {
        self.current().map_or(0, |s| s.keys.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn current(&self) -> Option<Arc<LocalSet>> {
        self.shared
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The key for `kid`, with no fetch and no waiting.
    pub(crate) fn key(&self, kid: &str) -> Result<Arc<VerifyingKey>, VerifyError> {
        let guard = self
            .shared
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let set = guard.as_ref().ok_or(VerifyError::KeysUnavailable)?;
        set.keys.get(kid).cloned().ok_or(VerifyError::UnknownKid)
    }

    /// Whether the current set still holds this key under `kid`.
    pub(crate) fn holds(&self, kid: &str, fingerprint: &[u8; 32]) -> bool {
        let guard = self
            .shared
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        guard
            .as_ref()
            .and_then(|set| set.keys.get(kid))
            .is_some_and(|k| k.fingerprint() == fingerprint)
    }

    /// Registers a verifier's result cache, whose entries for `issuer` are
    /// purged when their key leaves the set.
    pub(crate) fn watch(&self, results: &Arc<ResultCache>, issuer: usize) {
        let mut watchers = self
            .shared
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        watchers.retain(|(r, _)| r.strong_count() > 0);
        watchers.push((Arc::downgrade(results), issuer));
    }
}
