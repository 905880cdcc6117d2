//! Failed-login throttling: a sliding window per username and per client IP,
//! counted in the database, so every issuer instance on one database
//! enforces one limit (N instances behind a load balancer do not allow N
//! times the attempts).
//!
//! Every failed password login (a wrong password and an unknown user alike)
//! adds a row to `login_failures` for the username and one for the client
//! address. When either has `limit` failures inside the window
//! ([`ThrottleConfig`]), logins are refused with 429 and `Retry-After` = the
//! time until the oldest of the newest `limit` failures leaves the window;
//! there is no permanent lockout. A successful login clears the username's
//! failures, not the address's.
//!
//! Cost per login: the check is one query for both keys; a failure is one
//! transaction (both rows inserted, that username's and address's expired
//! rows deleted); a success deletes only when the username has rows.
//! Nothing is kept in memory. Expired rows of keys that do not fail again
//! are purged once a minute ([`crate::startup`]), so the table holds about
//! one window (plus a minute) of failures. Instances sharing a database
//! should share the throttle configuration: each purges by its own window.
//! Times are wall-clock Unix milliseconds from the injected
//! [`Clock`], so the instances' clocks should agree (as they must for key
//! activation anyway); tests advance a manual clock instead of waiting.
//!
//! The check and the recording are separate statements around the password
//! check: requests in flight at the same moment can all pass the check, so
//! a burst can exceed the limit by the number of concurrent logins (as it
//! could when the counters were per process).
//!
//! Store errors fail closed: the caller refuses the login with 503
//! `temporarily_unavailable` (never 500, and never a password check that
//! is not counted). The password check needs the database anyway.

use std::time::Duration;

use crate::clock::Clock;
use crate::config::ThrottleConfig;
use crate::store::{Store, StoreError};

/// Failed-login counters in the store.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    store: Store,
    window: Duration,
    max_per_user: u32,
    max_per_ip: u32,
    clock: Clock,
}

/// The answer of [`LoginThrottle::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// `Some(wait)`: refuse the login; it may be retried after `wait`.
    pub retry_after: Option<Duration>,
    /// Whether the username has failures for a success to clear.
    user_failures: bool,
}

impl LoginThrottle {
    pub fn new(store: Store, config: &ThrottleConfig, clock: Clock) -> Self {
        LoginThrottle {
            store,
            clock,
            window: config.window,
            max_per_user: config.max_failures_per_user,
            max_per_ip: config.max_failures_per_ip,
        }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// Whether `user` or `ip` has too many recent failures (one query).
    pub async fn check(&self, user: &str, ip: &str) -> Result<Checked, StoreError> {
        let now = self.clock.now_ms();
        let window = self.window_ms();
        let failures = self
            .store
            .login_failures(
                (user, self.max_per_user),
                (ip, self.max_per_ip),
                now.saturating_sub(window),
            )
            .await?;
        // The oldest counted failure leaves the window at `nth + window`; a
        // row stamped ahead of this clock (another instance's) waits a
        // window at most.
        let wait = |nth: Option<i64>| {
            nth.map(|nth| {
                let ms = nth.saturating_add(window).saturating_sub(now);
                Duration::from_millis(u64::try_from(ms.clamp(1, window.max(1))).unwrap_or(1))
            })
        };
        Ok(Checked {
            retry_after: wait(failures.user_nth_ms).max(wait(failures.ip_nth_ms)),
            user_failures: failures.user_newest_ms.is_some(),
        })
    }

    /// Counts a failed login for `user` and for `ip` (one transaction, which
    /// also drops their expired rows).
    pub async fn record_failure(&self, user: &str, ip: &str) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        self.store
            .record_login_failure(user, ip, now, now.saturating_sub(self.window_ms()))
            .await
    }

    /// A successful login clears the user's failures (not the IP's); a
    /// no-op when `checked` found none.
    pub async fn record_success(&self, user: &str, checked: &Checked) -> Result<(), StoreError> {
        if checked.user_failures {
            self.store.clear_user_login_failures(user).await?;
        }
        Ok(())
    }

    /// Deletes every failure that has left the window (periodic purge).
    pub async fn purge(&self) -> Result<u64, StoreError> {
        self.store
            .purge_login_failures(self.clock.now_ms().saturating_sub(self.window_ms()))
            .await
    }
}
