//! Times for people: RFC 3339 UTC and a relative form, by hand (no date
//! crate). The one formatter of the workspace: `issuer keys list`,
//! `issuer sessions list` and `jwtctl` print times with it.

/// `2026-11-23T22:05:00Z` (RFC 3339, UTC) for Unix seconds.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `2026-11-23T22:05:00Z (in 8 min)`: [`rfc3339`] and [`relative`] to `now`.
pub fn rfc3339_relative(at: i64, now: i64) -> String {
    format!("{} ({})", rfc3339(at), relative(at, now))
}

/// Howard Hinnant's days-to-civil algorithm: (year, month, day) of the day
/// `z` days after 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A span in the largest fitting unit: `45 s`, `8 min`, `2 h`, `3 d`.
pub fn span(secs: i64) -> String {
    let s = secs.unsigned_abs();
    if s < 120 {
        format!("{s} s")
    } else if s < 2 * 3600 {
        format!("{} min", s / 60)
    } else if s < 2 * 86_400 {
        format!("{} h", s / 3600)
    } else {
        format!("{} d", s / 86_400)
    }
}

/// `in 8 min` / `2 h ago` relative to `now`; `now` for the same second.
pub fn relative(at: i64, now: i64) -> String {
    match at.cmp(&now) {
        std::cmp::Ordering::Equal => "now".to_owned(),
        std::cmp::Ordering::Greater => format!("in {}", span(at - now)),
        std::cmp::Ordering::Less => format!("{} ago", span(now - at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_996_800), "2026-11-30T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn every_day_of_four_centuries_follows_the_one_before() {
        // Civil dates advance one day at a time, months and leap years included.
        let mut prev = civil_from_days(-1);
        for day in 0..146_097 {
            let (y, m, d) = civil_from_days(day);
            let next = if d == 1 {
                (m == 1 && prev.1 == 12 && y == prev.0 + 1) || (m == prev.1 + 1 && y == prev.0)
            } else {
                (y, m, d - 1) == prev
            };
            assert!(next, "{prev:?} then {:?}", (y, m, d));
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let last = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            assert!(d <= last[m as usize - 1]);
            prev = (y, m, d);
        }
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(1_000 + 480, 1_000), "in 8 min");
        assert_eq!(relative(1_000, 1_000 + 7_300), "2 h ago");
        assert_eq!(relative(1_000, 1_000), "now");
        assert_eq!(relative(1_000, 1_045), "45 s ago");
        assert_eq!(relative(1_000 + 3 * 86_400, 1_000), "in 3 d");
        assert_eq!(
            rfc3339_relative(1_795_996_800, 1_795_996_800 - 240),
            "2026-11-30T00:00:00Z (in 4 min)"
        );
    }
}
