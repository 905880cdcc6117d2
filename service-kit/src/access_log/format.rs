//! Access-log lines, as text or JSON, in the shape of the process's other
//! log lines (`tracing-subscriber`'s default text and flattened JSON).
//!
//! Text: `2026-05-01T12:00:00.123456Z  INFO access: request finished
//! request_id=… method=GET route=/v1/me status=200 latency_us=85 sub=alice
//! auth=ok`. A value outside a plain alphabet is written quoted, with
//! escapes, so no value can start a line of its own. JSON: one object per
//! line with the same fields plus `timestamp`, `level`, `target` and
//! `message`.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::Level;

use super::{Entry, MESSAGE, TARGET};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Text,
    Json,
}

impl Format {
    /// Appends the line for `e`, newline included.
    pub fn write(self, e: &Entry, out: &mut Vec<u8>) {
        let text = [
            ("request_id", Some(e.request_id.as_str())),
            ("method", Some(e.method.as_str())),
            ("route", Some(e.route.as_str())),
        ];
        let numbers = [("status", e.status), ("latency_us", e.latency_us)];
        let auth = [("sub", e.sub.as_deref()), ("auth", e.auth.as_deref())];
        let mut line = Line::start(self, e.time, e.level, MESSAGE, out);
        for (name, value) in text {
            line.text(name, value);
        }
        for (name, value) in numbers {
            line.number(name, value);
        }
        for (name, value) in auth {
            line.text(name, value);
        }
        line.end();
    }
}

/// The writer's own line saying that `count` lines were dropped.
pub(super) fn dropped_line(format: Format, count: u64, out: &mut Vec<u8>) {
    let mut line = Line::start(
        format,
        SystemTime::now(),
        Level::WARN,
        "access log queue full: lines dropped",
        out,
    );
    line.number("dropped", count);
    line.end();
}

/// One line being written.
struct Line<'a> {
    format: Format,
    out: &'a mut Vec<u8>,
}

impl<'a> Line<'a> {
    fn start(
        format: Format,
        time: SystemTime,
        level: Level,
        message: &str,
        out: &'a mut Vec<u8>,
    ) -> Self {
        match format {
            Format::Text => {
                timestamp(time, out);
                // The level right-aligned in five columns, as fmt does.
                let _ = write!(out, " {:>5} {TARGET}: {message}", level.as_str());
            }
            Format::Json => {
                out.extend_from_slice(b"{\"timestamp\":\"");
                timestamp(time, out);
                let _ = write!(
                    out,
                    "\",\"level\":\"{}\",\"target\":\"{TARGET}\"",
                    level.as_str()
                );
                out.extend_from_slice(b",\"message\":");
                json_string(message, out);
            }
        }
        Line { format, out }
    }

    fn text(&mut self, name: &str, value: Option<&str>) {
        let Some(value) = value else { return };
        match self.format {
            Format::Text => {
                let _ = write!(self.out, " {name}=");
                if !value.is_empty() && value.bytes().all(is_plain) {
                    self.out.extend_from_slice(value.as_bytes());
                } else {
                    let _ = write!(self.out, "{value:?}");
                }
            }
            Format::Json => {
                let _ = write!(self.out, ",\"{name}\":");
                json_string(value, self.out);
            }
        }
    }

    fn number(&mut self, name: &str, value: u64) {
        let _ = match self.format {
            Format::Text => write!(self.out, " {name}={value}"),
            Format::Json => write!(self.out, ",\"{name}\":{value}"),
        };
    }

    fn end(self) {
        if self.format == Format::Json {
            self.out.push(b'}');
        }
        self.out.push(b'\n');
    }
}

/// Bytes written unquoted in text lines: what ids, methods, route patterns
/// and ordinary subjects are made of.
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'/' | b':' | b'@' | b'+' | b'{' | b'}' | b'*'
        )
}

fn json_string(value: &str, out: &mut Vec<u8>) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// RFC 3339 UTC with microseconds, as `tracing-subscriber` writes it.
fn timestamp(time: SystemTime, out: &mut Vec<u8>) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_micros()
    );
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_follow_the_gregorian_calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_819), (2027, 1, 1));
        let mut out = Vec::new();
        timestamp(
            UNIX_EPOCH + Duration::new(951_782_400 + 3723, 4_000),
            &mut out,
        );
        assert_eq!(out, b"2000-02-29T01:02:03.000004Z");
    }
}
