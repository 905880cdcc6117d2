//! Key timings every process agrees on.
//!
//! A rotation is safe because of two timings: a pending key is published
//! for the pre-publication lead before it signs (so every cache holding a
//! JWKS has fetched it), and a retiring key stays published for the
//! retirement delay after its successor activates (so every token it signed
//! has expired and every cache has refetched). Both derive from
//! configuration (`ISSUER_JWKS_MAX_AGE`, `ISSUER_ACCESS_TOKEN_TTL`,
//! `ISSUER_KEY_MARGIN`, `ISSUER_KEY_PREPUBLISH`, `ISSUER_KEY_RETIRE_DELAY`;
//! `ISSUER_KEY_ROTATION_PERIOD` for the next activation), but a rotation
//! asked of one instance, or of `issuer keys rotate` in some shell, must
//! honour the settings of every instance serving. So:
//!
//! - each issuer records its timings in the store
//!   ([`Store::record_key_timings`]) at start-up and confirms them every
//!   [`CONFIRM_INTERVAL`];
//! - the timings *in force* ([`in_force`]) are, one by one, the largest over
//!   the recorded sets that still matter. A set matters until its
//!   retirement delay (plus two confirmation intervals) has passed since it
//!   was last confirmed: by then every token signed and every JWKS served
//!   under it has expired. With none left (no issuer ran for a while), the
//!   set confirmed last counts, as the instances that will start again;
//! - a serving instance uses the larger of its own and those in force
//!   ([`KeyManager::settings_at`]);
//! - the command line uses those in force, not its shell's defaults, and
//!   refuses a variable set in its shell that would need longer timings
//!   than the stored ones ([`check_shell`]).
//!
//! The rotation period is no safety timing (it says when the next
//! scheduled rotation falls): an instance keeps its own, and the command
//! line takes that of the set confirmed last.

use std::time::Duration;

use super::{KeyManager, KeySettings, rows::secs};
use crate::store::{KeyTimings, Store, StoreError};

/// How often a running issuer confirms its timings in the store.
pub const CONFIRM_INTERVAL: Duration = Duration::from_secs(60);

impl KeySettings {
    /// The timings of these settings, in seconds.
    pub fn timings(&self) -> KeyTimings {
        KeyTimings {
            prepublish: secs(self.prepublish),
            retire_delay: secs(self.retire_delay),
            rotation_period: secs(self.rotation_period),
            jwks_max_age: secs(self.jwks_max_age),
            access_ttl: secs(self.access_token_ttl),
            margin: secs(self.margin),
        }
    }

    /// These settings with the timings `t` (the key size stays).
    pub fn with_timings(self, t: &KeyTimings) -> KeySettings {
        let d = |s: i64| Duration::from_secs(u64::try_from(s).unwrap_or(0));
        KeySettings {
            key_bits: self.key_bits,
            rotation_period: d(t.rotation_period),
            prepublish: d(t.prepublish),
            retire_delay: d(t.retire_delay),
            jwks_max_age: d(t.jwks_max_age),
            access_token_ttl: d(t.access_ttl),
            margin: d(t.margin),
        }
    }
}

/// The larger of `a` and `b`, timing by timing, except the rotation
/// period: `a`'s. It only says when the next scheduled rotation falls, not
/// how long a key must be published, so an instance keeps its own.
pub fn merge(a: &KeyTimings, b: &KeyTimings) -> KeyTimings {
    KeyTimings {
        prepublish: a.prepublish.max(b.prepublish),
        retire_delay: a.retire_delay.max(b.retire_delay),
        rotation_period: a.rotation_period,
        jwks_max_age: a.jwks_max_age.max(b.jwks_max_age),
        access_ttl: a.access_ttl.max(b.access_ttl),
        margin: a.margin.max(b.margin),
    }
}

/// The timings in force at `now` among `rows` (timings, last confirmed at),
/// as the module docs define them, with the rotation period of the set
/// confirmed last; `None` when nothing is recorded.
pub fn in_force(rows: &[(KeyTimings, i64)], now: i64) -> Option<KeyTimings> {
    let slack = 2 * secs(CONFIRM_INTERVAL);
    let mut rows = rows.to_vec();
    rows.sort_by_key(|(_, seen)| std::cmp::Reverse(*seen));
    let merged = |rows: &mut dyn Iterator<Item = &(KeyTimings, i64)>| {
        rows.map(|(t, _)| *t).reduce(|a, b| merge(&a, &b))
    };
    let live = merged(
        &mut rows
            .iter()
            .filter(|(t, seen)| seen.saturating_add(t.retire_delay).saturating_add(slack) >= now),
    );
    live.or_else(|| {
        let newest = rows.iter().map(|(_, seen)| *seen).max()?;
        merged(&mut rows.iter().filter(|(_, seen)| *seen == newest))
    })
}

/// The timings in force in `store` at `now`.
pub async fn stored(store: &Store, now: i64) -> Result<Option<KeyTimings>, StoreError> {
    Ok(in_force(&store.key_timings().await?, now))
}

/// `own` or, where larger, the timings in force in `store` at `now`.
pub async fn effective(
    store: &Store,
    own: &KeySettings,
    now: i64,
) -> Result<KeySettings, StoreError> {
    Ok(match stored(store, now).await? {
        Some(t) => own.with_timings(&merge(&own.timings(), &t)),
        None => *own,
    })
}

/// A variable set in the command line's environment asks for longer
/// timings than the issuers on the database use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {message}")]
pub struct UnsafeShellSetting {
    /// The variable to unset (or to give the issuers first).
    pub var: &'static str,
    message: String,
}

/// Refuses when a timing variable set in this shell (`is_set`) needs a
/// longer pre-publication lead or retirement delay than `stored`: rotating
/// with the stored timings would then be unsafe by this shell's account
/// (a key signing before caches hold it, or leaving the JWKS while its
/// tokens are valid). Variables not set are the shell's defaults and say
/// nothing about the deployment; shorter values are harmless.
pub fn check_shell(
    stored: &KeyTimings,
    shell: &KeyTimings,
    is_set: impl Fn(&str) -> bool,
) -> Result<(), UnsafeShellSetting> {
    let s = stored;
    // (variable, its value here, the lead and the delay it needs with the
    // stored values for the rest).
    let checks: [(&'static str, i64, i64, i64); 5] = [
        (
            "ISSUER_JWKS_MAX_AGE",
            shell.jwks_max_age,
            2 * shell.jwks_max_age + s.margin,
            s.access_ttl + s.margin + shell.jwks_max_age,
        ),
        (
            "ISSUER_ACCESS_TOKEN_TTL",
            shell.access_ttl,
            0,
            shell.access_ttl + s.margin + s.jwks_max_age,
        ),
        (
            "ISSUER_KEY_MARGIN",
            shell.margin,
            2 * s.jwks_max_age + shell.margin,
            s.access_ttl + shell.margin + s.jwks_max_age,
        ),
        (
            "ISSUER_KEY_PREPUBLISH",
            shell.prepublish,
            shell.prepublish,
            0,
        ),
        (
            "ISSUER_KEY_RETIRE_DELAY",
            shell.retire_delay,
            0,
            shell.retire_delay,
        ),
    ];
    let advice = "unset it for this command, or restart the issuers with it first";
    for (var, value, lead, delay) in checks {
        if !is_set(var) {
            continue;
        }
        if lead > s.prepublish {
            return Err(UnsafeShellSetting {
                var,
                message: format!(
                    "{value}s here needs a pre-publication lead of at least {lead}s, but the issuers \
                     on this database publish a pending key {}s before it signs, so a cache could \
                     meet a token from a key it has not fetched; {advice}",
                    s.prepublish
                ),
            });
        }
        if delay > s.retire_delay {
            return Err(UnsafeShellSetting {
                var,
                message: format!(
                    "{value}s here needs a retirement delay of at least {delay}s, but the issuers \
                     on this database keep a retiring key published for {}s, so a key would leave \
                     the JWKS while tokens it signed are still valid; {advice}",
                    s.retire_delay
                ),
            });
        }
    }
    Ok(())
}

impl KeyManager {
    /// Records this instance's timings in the store (at start-up and every
    /// [`CONFIRM_INTERVAL`] while it serves).
    pub async fn confirm_timings(&self, now: i64) -> Result<(), StoreError> {
        self.store
            .record_key_timings(&self.settings.timings(), now)
            .await
    }

    /// The settings a key change at `now` uses: this manager's own timings
    /// or, where larger, those in force in the store.
    pub async fn settings_at(&self, now: i64) -> Result<KeySettings, StoreError> {
        effective(&self.store, &self.settings, now).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Timings from a JWKS max-age, an access-token TTL and a margin, with
    /// the derived lead and delay.
    fn t(max_age: i64, ttl: i64, margin: i64) -> KeyTimings {
        KeyTimings {
            prepublish: 2 * max_age + margin,
            retire_delay: ttl + margin + max_age,
            rotation_period: 86_400,
            jwks_max_age: max_age,
            access_ttl: ttl,
            margin,
        }
    }

    #[test]
    fn two_instances_give_the_larger_of_each_timing() {
        let (a, mut b) = (t(2, 600, 1), t(300, 60, 60));
        b.rotation_period = 60;
        let got = in_force(&[(a, 1_000), (b, 1_001)], 1_001).unwrap();
        assert_eq!(got.rotation_period, 60, "the set confirmed last");
        assert_eq!(got.prepublish, 660);
        assert_eq!(got.retire_delay, 603);
        assert_eq!(got.jwks_max_age, 300);
        assert_eq!(in_force(&[], 1_000), None);
    }

    #[test]
    fn a_set_stops_mattering_once_its_retirement_delay_has_passed() {
        // Restarted with max-age 2 after running with 300.
        let (old, new) = (t(300, 600, 60), t(2, 60, 1));
        let until = 1_000 + old.retire_delay + 120;
        // The new instance confirms its timings while it runs.
        let rows = [(old, 1_000), (new, until)];
        assert_eq!(in_force(&rows, until), Some(merge(&old, &new)));
        assert_eq!(in_force(&rows, until + 1), Some(new));
        // Long after everything: the set confirmed last.
        assert_eq!(in_force(&rows, 1_000_000), Some(new));
    }

    #[test]
    fn a_shell_variable_needing_longer_timings_is_refused_by_name() {
        let stored = t(2, 60, 1);
        let shell = t(300, 3_600, 60);
        let none = |_: &str| false;
        assert_eq!(check_shell(&stored, &shell, none), Ok(()));
        let only = |name: &'static str| move |var: &str| var == name;
        for var in [
            "ISSUER_JWKS_MAX_AGE",
            "ISSUER_ACCESS_TOKEN_TTL",
            "ISSUER_KEY_MARGIN",
            "ISSUER_KEY_PREPUBLISH",
            "ISSUER_KEY_RETIRE_DELAY",
        ] {
            let e = check_shell(&stored, &shell, only(var)).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.to_string().starts_with(var), "{e}");
        }
        // Shorter or equal values in the shell are fine.
        let all = |_: &str| true;
        assert_eq!(check_shell(&shell, &stored, all), Ok(()));
        assert_eq!(check_shell(&stored, &stored, all), Ok(()));
    }
}
