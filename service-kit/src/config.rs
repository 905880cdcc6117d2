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

    /// A boolean in the one dialect of every binary: see [`parse_bool`].
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => parse_bool(&raw).ok_or_else(|| {
                ConfigError::new(name, "expected true/false, 1/0, yes/no or on/off")
            }),
        }
    }

    /// A duration (see [`parse_duration`]) checked against `[min, max]`.
    pub fn duration(
        &self,
        name: &str,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => parse_duration_within(&raw, min, max)
                .map_err(|e| ConfigError::new(name, e.to_string())),
        }
    }
}

/// `true/false`, `1/0`, `yes/no`, `on/off`, in any case; `None` for
/// anything else. The one boolean dialect of every binary's configuration.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Parses a duration, the one syntax of every binary (environment variables
/// and command-line flags alike): a non-negative number, decimals allowed,
/// with an optional unit `ms`, `s`, `m` (or `min`), `h` or `d`. A bare
/// number is seconds: `600`, `1.5`, `500ms`, `30s`, `10m`, `1h`, `14d`.
/// Precision is one nanosecond; `None` when malformed or too large.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos_per_unit: u128 = match unit {
        "" | "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    };
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    // Digits beyond the 18th cannot reach a nanosecond of any unit here.
    let frac = &frac[..frac.len().min(18)];
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let scale = 10u128.pow(frac.len() as u32);
    let nanos = int.checked_mul(nanos_per_unit)? + frac_value * nanos_per_unit / scale;
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Why a duration was refused by [`parse_duration_within`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("expected a duration such as 600, 1.5, 500ms, 30s, 10m, 1h or 14d")]
    Malformed,
    #[error("must be between {} and {}", format_duration(*min), format_duration(*max))]
    OutOfRange { min: Duration, max: Duration },
}

/// [`parse_duration`], then checked against the caller's `[min, max]`.
pub fn parse_duration_within(
    raw: &str,
    min: Duration,
    max: Duration,
) -> Result<Duration, DurationError> {
    let value = parse_duration(raw).ok_or(DurationError::Malformed)?;
    if value < min || value > max {
        return Err(DurationError::OutOfRange { min, max });
    }
    Ok(value)
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
    fn durations_take_the_union_of_the_old_units() {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        for (text, want) in [
            // The configuration's syntax.
            ("0", secs(0)),
            ("30s", secs(30)),
            ("1h", secs(3600)),
            (" 5m ", secs(300)),
            ("3650d", secs(3650 * 86_400)),
            // The command line's syntax.
            ("1.5", ms(1500)),
            ("0.5s", ms(500)),
            ("2min", secs(120)),
            ("1.5m", secs(90)),
            (".25s", ms(250)),
            ("5.", secs(5)),
            ("0.0015s", Duration::from_micros(1500)),
            ("1.000000000001", secs(1)),
        ] {
            assert_eq!(parse_duration(text), Some(want), "{text}");
        }
        for text in [
            "",
            ".",
            "s",
            "5 s",
            "5S",
            "+5",
            "1e3",
            "1.2.3",
            "5x",
            "inf",
            "NaN",
            "1..2",
            "-0.5s",
            "99999999999999999999999d",
        ] {
            assert_eq!(parse_duration(text), None, "{text:?}");
        }
    }

    #[test]
    fn duration_caps_are_the_callers() {
        let secs = Duration::from_secs;
        assert_eq!(
            parse_duration_within("90s", secs(60), secs(3600)),
            Ok(secs(90))
        );
        assert_eq!(
            parse_duration_within("2h", secs(60), secs(3600))
                .err()
                .map(|e| e.to_string()),
            Some("must be between 1m and 1h".to_owned())
        );
        assert_eq!(
            parse_duration_within("soon", secs(0), secs(1)),
            Err(DurationError::Malformed)
        );
        // The bounds themselves are inside.
        assert!(parse_duration_within("1m", secs(60), secs(3600)).is_ok());
        assert!(parse_duration_within("1h", secs(60), secs(3600)).is_ok());
    }

    #[test]
    fn one_boolean_dialect() {
        for (text, want) in [
            ("true", true),
            ("TRUE", true),
            ("1", true),
            ("yes", true),
            ("On", true),
            ("false", false),
            ("0", false),
            ("No", false),
            ("off", false),
        ] {
            assert_eq!(parse_bool(text), Some(want), "{text}");
            let env = EnvReader::from_map([("FLAG", text)]);
            assert_eq!(env.bool("FLAG", !want), Ok(want), "{text}");
        }
        for text in ["2", "y", "enabled", "truthy"] {
            assert_eq!(parse_bool(text), None, "{text}");
            let env = EnvReader::from_map([("FLAG", text)]);
            assert_eq!(
                env.bool("FLAG", false).err().map(|e| e.var),
                Some("FLAG".to_owned())
            );
        }
        let env = EnvReader::from_map::<&str, &str>([]);
        assert_eq!(env.bool("FLAG", true), Ok(true));
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
