//! Typed configuration from environment variables.
//!
//! Every value has a default; a value that is set but wrong stops start-up
//! with a [`ConfigError`] naming the variable. Reading goes through a lookup
//! function so tests can supply a map instead of the process environment.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A configuration value that is present but unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error in {var}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(var: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            var: var.into(),
            message: message.into(),
        }
    }
}

/// Reads configuration variables from the environment or from a map.
pub struct EnvReader {
    lookup: Lookup,
}

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl fmt::Debug for EnvReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvReader")
    }
}

impl EnvReader {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        EnvReader {
            lookup: Box::new(|name| std::env::var(name).ok()),
        }
    }

    /// Reads a fixed map, for tests.
    pub fn from_map<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let map: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        EnvReader {
            lookup: Box::new(move |name| map.get(name).cloned()),
        }
    }

    /// The variable's value; unset and empty both count as absent.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn string(&self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_owned())
    }

    /// Parses with `FromStr`; the error names the variable and the expectation.
    pub fn parse<T: FromStr>(
        &self,
        name: &str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|_| ConfigError::new(name, format!("expected {expected}"))),
        }
    }

    /// `true/false`, `1/0`, `yes/no`, `on/off`.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::new(name, "expected true or false")),
            },
        }
    }

    /// A duration: plain seconds (`600`) or with a unit (`500ms`, `30s`,
    /// `10m`, `1h`, `14d`), checked against `[min, max]`.
    pub fn duration(
        &self,
        name: &str,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let value = match self.optional(name) {
            None => return Ok(default),
            Some(raw) => parse_duration(&raw).ok_or_else(|| {
                ConfigError::new(name, "expected a duration such as 600, 30s, 10m, 1h or 14d")
            })?,
        };
        if value < min || value > max {
            return Err(ConfigError::new(
                name,
                format!(
                    "must be between {} and {}",
                    format_duration(min),
                    format_duration(max)
                ),
            ));
        }
        Ok(value)
    }
}

/// Parses `600`, `500ms`, `30s`, `10m`, `1h` or `14d`.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let secs = |mult: u64| n.checked_mul(mult).map(Duration::from_secs);
    match unit {
        "" | "s" => secs(1),
        "ms" => Some(Duration::from_millis(n)),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        _ => None,
    }
}

/// Renders a duration in the largest whole unit (`90s`, `10m`, `14d`).
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_millis() != 0 || secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// A secret value whose `Debug` and `Display` print nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_and_without_units() {
        assert_eq!(parse_duration("600"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(
            parse_duration("14d"),
            Some(Duration::from_secs(14 * 86_400))
        );
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("10 minutes"), None);
        assert_eq!(parse_duration("-5"), None);
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
    }

    #[test]
    fn errors_name_the_variable() {
        let env = EnvReader::from_map([("APP_TTL", "forever"), ("APP_PORT", "x")]);
        let err = env
            .duration("APP_TTL", Duration::ZERO, Duration::ZERO, Duration::MAX)
            .err();
        assert_eq!(err.map(|e| e.var), Some("APP_TTL".to_owned()));
        let err = env.parse::<u16>("APP_PORT", 1, "a port number").err();
        assert!(err.is_some_and(|e| e.to_string().contains("APP_PORT")));
    }

    #[test]
    fn out_of_range_duration_is_refused() {
        let env = EnvReader::from_map([("TTL", "2h")]);
        let res = env.duration(
            "TTL",
            Duration::from_secs(600),
            Duration::from_secs(60),
            Duration::from_secs(3600),
        );
        assert_eq!(
            res.err().map(|e| e.message),
            Some("must be between 1m and 1h".to_owned())
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2".to_owned());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
