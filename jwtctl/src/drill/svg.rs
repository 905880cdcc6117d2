//! The drill timeline as a hand-written SVG: successful calls per second,
//! refusals per second (valid ones in red, expected ones in orange) and the
//! key events as vertical lines. Calls are counted by their [`Outcome`]'s
//! [`Band`], the classification the verdict reads.

use std::fmt::Write;

use serde::Serialize;

use super::outcome::{Band, Outcome};

/// Width of one timeline bin in seconds.
pub const BIN: f64 = 0.5;

/// One [`BIN`] of the timeline (also the JSON report's `timeline` entries).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Bin {
    pub t: f64,
    pub ok: u64,
    pub refused_valid: u64,
    pub refused_expected: u64,
    pub errors: u64,
}

/// Bins `(time, outcome)` of resource calls. Only whole bins are kept: a
/// last, partial one would show as a false drop in the rate.
pub fn bins(calls: &[(f64, Outcome)], elapsed: f64) -> Vec<Bin> {
    let n = ((elapsed / BIN).floor() as usize).clamp(1, 100_000);
    let mut out: Vec<Bin> = (0..n)
        .map(|i| Bin {
            t: i as f64 * BIN,
            ..Bin::default()
        })
        .collect();
    for (t, outcome) in calls {
        let Some(b) = out.get_mut((t / BIN) as usize) else {
            continue;
        };
        match outcome.band() {
            Band::Ok => b.ok += 1,
            Band::RefusedValid => b.refused_valid += 1,
            Band::RefusedExpected => b.refused_expected += 1,
            Band::Error => b.errors += 1,
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the bins and `(time, label)` marks.
pub fn render(bins: &[Bin], marks: &[(f64, String)], elapsed: f64) -> String {
    let (w, h) = (960.0, 360.0);
    let (left, right, top, bottom) = (60.0, 940.0, 40.0, 300.0);
    let span = elapsed.max(BIN);
    let x = |t: f64| left + (t / span).clamp(0.0, 1.0) * (right - left);
    let per_s = |c: u64| c as f64 / BIN;
    let max = bins
        .iter()
        .map(|b| per_s(b.ok.max(b.refused_valid + b.refused_expected + b.errors)))
        .fold(1.0, f64::max);
    let ymax = nice(max);
    let y = |v: f64| bottom - (v / ymax).clamp(0.0, 1.0) * (bottom - top);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r##"<rect width="{w}" height="{h}" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="20" font-size="14" font-weight="bold">jwtctl drill: resource calls per second and key events</text>"#
    );
    // Grid and axes.
    for i in 0..=4 {
        let v = ymax * f64::from(i) / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{right}" y1="{0:.1}" y2="{0:.1}" stroke="#e0e0e0"/><text x="{1}" y="{2:.1}" text-anchor="end">{v:.0}</text>"##,
            y(v),
            left - 6.0,
            y(v) + 4.0
        );
    }
    let step = if span > 60.0 { 10.0 } else { 5.0 };
    let mut t = 0.0;
    while t <= span + 1e-9 {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{t:.0}s</text>"#,
            x(t),
            bottom + 16.0
        );
        t += step;
    }
    let _ = writeln!(
        s,
        r##"<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#333"/><line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" stroke="#333"/>"##
    );
    // Refusal bars, stacked: expected (orange) below valid (red), errors (grey) on top.
    let bw = ((right - left) * BIN / span).max(1.0);
    for b in bins {
        let mut base = 0.0;
        for (count, color) in [
            (b.refused_expected, "#f39c12"),
            (b.refused_valid, "#d62728"),
            (b.errors, "#7f7f7f"),
        ] {
            if count == 0 {
                continue;
            }
            let v = per_s(count);
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{bw:.1}" height="{:.1}" fill="{color}"/>"#,
                x(b.t),
                y(base + v),
                y(base) - y(base + v)
            );
            base += v;
        }
    }
    // Successful calls per second.
    let points: Vec<String> = bins
        .iter()
        .map(|b| format!("{:.1},{:.1}", x(b.t + BIN / 2.0), y(per_s(b.ok))))
        .collect();
    let _ = writeln!(
        s,
        r##"<polyline fill="none" stroke="#2ca02c" stroke-width="2" points="{}"/>"##,
        points.join(" ")
    );
    // Key events.
    for (i, (t, label)) in marks.iter().enumerate() {
        let lx = x(*t);
        let ly = top + 12.0 + (i % 3) as f64 * 14.0;
        let _ = writeln!(
            s,
            r##"<line x1="{lx:.1}" x2="{lx:.1}" y1="{top}" y2="{bottom}" stroke="#1f77b4" stroke-dasharray="4 3"/><text x="{:.1}" y="{ly:.1}" fill="#1f77b4">{}</text>"##,
            lx + 3.0,
            esc(label)
        );
    }
    // Legend.
    let ly = h - 22.0;
    let mut lx = left;
    for (color, label) in [
        ("#2ca02c", "successful calls/s"),
        ("#d62728", "valid requests refused/s"),
        ("#f39c12", "expected refusals/s (revoked, expired)"),
        ("#7f7f7f", "errors/s"),
        ("#1f77b4", "key event"),
    ] {
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{color}"/><text x="{}" y="{}">{label}</text>"#,
            ly - 10.0,
            lx + 16.0,
            ly
        );
        // About 7 px per character at font-size 12, plus the swatch and a gap.
        lx += 16.0 + 7.0 * label.len() as f64 + 24.0;
    }
    s.push_str("</svg>\n");
    s
}

/// A round axis maximum at or above `v`.
fn nice(v: f64) -> f64 {
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_tokens_are_not_drawn_as_valid_requests_refused() {
        let calls = [
            (0.1, Outcome::Ok),
            (0.2, Outcome::RefusedExpired),
            (0.3, Outcome::RefusedRevokedKey),
            (0.6, Outcome::RefusedValid),
            (0.7, Outcome::TransportError),
            // In the partial last bin: dropped.
            (1.2, Outcome::RefusedValid),
        ];
        let b = bins(&calls, 1.4);
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].ok, b[0].refused_valid, b[0].refused_expected),
            (1, 0, 2)
        );
        assert_eq!((b[1].refused_valid, b[1].errors), (1, 1));
        let svg = render(&b, &[(0.5, "rotate".to_owned())], 1.4);
        assert!(svg.starts_with("<svg") && svg.contains("revoked, expired"));
    }
}
