//! Failed-login throttling: an in-memory sliding window per username and per
//! client IP. Over the limit, logins are refused with 429 and `Retry-After`
//! until the oldest failure in the window expires; there is no permanent
//! lockout. State is per process (several instances each count their own).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::ThrottleConfig;

/// Tracked keys per map; beyond this the oldest-idle entries are dropped, so
/// a flood of random usernames cannot exhaust memory.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
struct Window {
    limit: u32,
    failures: HashMap<String, VecDeque<Instant>>,
}

impl Window {
    fn retry_after(&mut self, key: &str, now: Instant, window: Duration) -> Option<Duration> {
        let times = self.failures.get_mut(key)?;
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() < self.limit as usize {
            return None;
        }
        let oldest = *times.front()?;
        Some(window.saturating_sub(now.duration_since(oldest)))
    }

    fn record(&mut self, key: &str, now: Instant, window: Duration) {
        if self.failures.len() >= MAX_TRACKED && !self.failures.contains_key(key) {
            self.failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
            if self.failures.len() >= MAX_TRACKED {
                // Still full of live entries: forget everything rather than grow.
                self.failures.clear();
            }
        }
        let times = self.failures.entry(key.to_owned()).or_default();
        times.push_back(now);
        // Only the newest `limit` failures matter.
        while times.len() > self.limit as usize {
            times.pop_front();
        }
    }
}

/// Sliding-window failure counters.
#[derive(Debug)]
pub struct LoginThrottle {
    window: Duration,
    users: Mutex<Window>,
    ips: Mutex<Window>,
}

impl LoginThrottle {
    pub fn new(config: &ThrottleConfig) -> Self {
        LoginThrottle {
            window: config.window,
            users: Mutex::new(Window {
                limit: config.max_failures_per_user,
                failures: HashMap::new(),
            }),
            ips: Mutex::new(Window {
                limit: config.max_failures_per_ip,
                failures: HashMap::new(),
            }),
        }
    }

    /// `Some(wait)` when `user` or `ip` has too many recent failures.
    pub fn check(&self, user: Option<&str>, ip: &str) -> Option<Duration> {
        let now = Instant::now();
        let by_user = user.and_then(|u| lock(&self.users).retry_after(u, now, self.window));
        let by_ip = lock(&self.ips).retry_after(ip, now, self.window);
        by_user.max(by_ip)
    }

    pub fn record_failure(&self, user: Option<&str>, ip: &str) {
        let now = Instant::now();
        if let Some(user) = user {
            lock(&self.users).record(user, now, self.window);
        }
        lock(&self.ips).record(ip, now, self.window);
    }

    /// A successful login clears the user's failures (not the IP's).
    pub fn record_success(&self, user: &str) {
        lock(&self.users).failures.remove(user);
    }
}

fn lock(m: &Mutex<Window>) -> std::sync::MutexGuard<'_, Window> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_user_and_per_ip() {
        let t = LoginThrottle::new(&ThrottleConfig {
            max_failures_per_user: 2,
            max_failures_per_ip: 3,
            window: Duration::from_secs(60),
        });
        assert!(t.check(Some("a"), "ip").is_none());
        t.record_failure(Some("a"), "ip");
        t.record_failure(Some("a"), "ip");
        let wait = t.check(Some("a"), "ip");
        assert!(wait.is_some_and(|w| w <= Duration::from_secs(60) && w > Duration::from_secs(58)));
        assert!(t.check(Some("b"), "ip2").is_none());
        t.record_failure(Some("b"), "ip");
        assert!(t.check(Some("c"), "ip").is_some(), "IP limit reached");
        t.record_success("a");
        assert!(t.check(Some("a"), "other").is_none());
    }
}
