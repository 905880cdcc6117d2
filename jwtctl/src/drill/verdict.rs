//! The verdict: does the drill pass? It counts the same [`Outcome`]s the
//! picture draws.

use super::operations::Event;
use super::outcome::Outcome;

/// Why a drill passes or fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Valid requests refused.
    pub refused_valid: u64,
    /// 503 answers.
    pub unavailable: u64,
    /// Calls whose outcome fails the drill on its own (the two above).
    pub failing_calls: u64,
    /// Operations that failed or did not start.
    pub ops_failed: usize,
    /// Every revocation converged within its bound.
    pub convergence_ok: bool,
}

impl Verdict {
    /// Judges the outcomes of every resource call and the operations.
    pub fn of(outcomes: &[Outcome], events: &[Event]) -> Verdict {
        let count = |wanted: Outcome| outcomes.iter().filter(|o| **o == wanted).count() as u64;
        let convergence_ok = events
            .iter()
            .filter(|e| e.revoked_kid.is_some())
            .all(|e| e.bound.is_some_and(|b| e.worst_convergence() <= b));
        Verdict {
            refused_valid: count(Outcome::RefusedValid),
            unavailable: count(Outcome::Unavailable),
            failing_calls: outcomes.iter().filter(|o| o.fails_the_drill()).count() as u64,
            ops_failed: events.iter().filter(|e| !e.ok).count(),
            convergence_ok,
        }
    }

    /// No failing call ([`Outcome::fails_the_drill`]), no failed operation,
    /// every revocation within its bound.
    pub fn passed(&self) -> bool {
        self.failing_calls == 0 && self.ops_failed == 0 && self.convergence_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failing_outcomes_fail_the_drill() {
        let all_fine = [
            Outcome::Ok,
            Outcome::RefusedExpired,
            Outcome::RefusedRevokedKey,
            Outcome::RefusedDuringEmergency,
            Outcome::TransportError,
            Outcome::HttpError,
        ];
        assert!(Verdict::of(&all_fine, &[]).passed());
        for bad in [Outcome::RefusedValid, Outcome::Unavailable] {
            assert!(bad.fails_the_drill());
            let v = Verdict::of(&[Outcome::Ok, bad], &[]);
            assert!(!v.passed(), "{}", bad.name());
        }
        for fine in all_fine {
            assert!(!fine.fails_the_drill(), "{}", fine.name());
        }
    }
}
