//! Property 6: after the faults heal, a leader within a bound; and the failover times — from
//! each moment no node leads to the next grant — summarised.

use serde::{Deserialize, Serialize};

use super::{at, terms, Property, Verdict};
use crate::event::Event;

/// Failover times, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Failovers {
    /// Each leaderless gap that ended with a grant.
    pub samples_s: Vec<f64>,
}

impl Failovers {
    /// (min, median, p99, max), when there is any sample.
    pub fn summary(&self) -> Option<(f64, f64, f64, f64)> {
        let mut s = self.samples_s.clone();
        if s.is_empty() {
            return None;
        }
        s.sort_by(f64::total_cmp);
        let pick = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        Some((s[0], pick(0.5), pick(0.99), s[s.len() - 1]))
    }
}

/// Checks that a leader exists within `bound_us` of `liveness_from_us` and at `end_us`, and
/// measures every failover of the run.
pub fn liveness(events: &[Event], liveness_from_us: u64, end_us: u64, bound_us: u64) -> (Verdict, Failovers) {
    let terms = terms(events);
    let mut failovers = Failovers::default();
    let mut covered_until = 0u64;
    let mut first_leader = true;
    for term in &terms {
        if term.from_us > covered_until && !first_leader {
            failovers.samples_s.push((term.from_us - covered_until) as f64 / 1e6);
        }
        first_leader = false;
        covered_until = covered_until.max(term.until_us);
    }
    let leader_from = |t: u64| terms.iter().filter(|term| term.until_us > t).map(|term| term.from_us.max(t)).min();
    let verdict = match leader_from(liveness_from_us) {
        Some(first) if first - liveness_from_us <= bound_us && terms.iter().any(|t| t.covers(end_us - 1)) => {
            Verdict::pass(
                Property::Liveness,
                format!(
                    "a leader {:.3} s after the faults healed, and at the end",
                    (first - liveness_from_us) as f64 / 1e6
                ),
            )
        }
        Some(first) if first - liveness_from_us > bound_us => Verdict::violated(
            Property::Liveness,
            format!(
                "no leader until {}, {:.3} s after the faults healed at {}: the bound is {:.3} s.",
                at(first),
                (first - liveness_from_us) as f64 / 1e6,
                at(liveness_from_us),
                bound_us as f64 / 1e6
            ),
            vec![],
        ),
        _ => Verdict::violated(
            Property::Liveness,
            format!(
                "no leader at the end of the run ({}), though the faults healed at {}.",
                at(end_us),
                at(liveness_from_us)
            ),
            vec![],
        ),
    };
    (verdict, failovers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;

    #[test]
    fn failovers_are_the_leaderless_gaps() {
        let events = history(vec![acquired(0, "a", 1, 3_000), acquired(4_500, "b", 2, 30_000)]);
        let (verdict, failovers) = liveness(&events, 20_000_000, 30_000_000, 5_000_000);
        assert!(verdict.passed(), "{}", verdict.explanation);
        assert_eq!(failovers.samples_s, vec![1.5]);
        assert_eq!(failovers.summary(), Some((1.5, 1.5, 1.5, 1.5)));
    }

    #[test]
    fn no_leader_within_the_bound_or_at_the_end_fails() {
        let late = history(vec![acquired(0, "a", 1, 3_000), acquired(29_000, "b", 2, 40_000)]);
        assert!(liveness(&late, 20_000_000, 40_000_000, 5_000_000).0.explanation.contains("the bound is 5.000 s"));
        let none = history(vec![acquired(0, "a", 1, 3_000)]);
        assert!(liveness(&none, 20_000_000, 40_000_000, 5_000_000).0.explanation.starts_with("no leader at the end"));
    }
}
