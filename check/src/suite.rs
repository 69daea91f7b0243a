//! Every property at once: the one call that judges a history.

use serde::{Deserialize, Serialize};

use crate::bounds::Exclusivity;
use crate::history::History;
use crate::liveness::Failovers;
use crate::replay::{NoReplay, Replayer};
use crate::verdict::Verdict;
use crate::{
    cache_staleness, epochs, fenced_epochs, job_slots, jobs_stopped_before_release, linear, liveness,
    strict_exclusivity, unexplained_overlaps,
};

/// A history's verdicts, one per property judged, in the order of the properties' numbers,
/// and the failover times it showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdicts {
    /// The verdicts.
    pub verdicts: Vec<Verdict>,
    /// From each moment no node led to the next grant.
    pub failovers: Failovers,
}

impl Verdicts {
    /// Whether every property held.
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(Verdict::passed)
    }

    /// The first verdict that is not a pass.
    pub fn first_failure(&self) -> Option<&Verdict> {
        self.verdicts.iter().find(|v| !v.passed())
    }
}

/// Judges `history` against its header's bounds on every property, with no Redis to replay
/// scripts on (a script on a lease object makes linearizability unknown: see [`suite_with`]).
pub fn suite(history: &History) -> Verdicts {
    suite_with(history, &NoReplay)
}

/// Judges `history` against its header's bounds on every property, replaying what the
/// linearizability checker does not know natively on `replay`. Leader-only job slots are
/// judged when the bounds give a slot period; cache staleness when they give cache bounds.
pub fn suite_with(history: &History, replay: &dyn Replayer) -> Verdicts {
    suite_with_budget(history, replay, linear::DEFAULT_BUDGET)
}

/// [`suite_with`], the linearizability search allowed `budget` steps per lease object (at
/// most [`crate::LINEAR_BUDGET_MAX`]) before it answers unknown.
pub fn suite_with_budget(history: &History, replay: &dyn Replayer, budget: u64) -> Verdicts {
    assert!((1..=crate::LINEAR_BUDGET_MAX).contains(&budget), "a search budget within its limit");
    let events = &history.events;
    let bounds = &history.header.bounds;
    let (healed_us, end_us) = (history.liveness_from_us(), history.end_us());
    let (live, failovers) = liveness(events, healed_us, end_us, bounds.liveness_us());
    let exclusivity = match bounds.exclusivity {
        Exclusivity::Strict => strict_exclusivity(events),
        Exclusivity::UnlessExplained => unexplained_overlaps(events),
    };
    let redis_clock = history.redis_clock();
    let mut verdicts = vec![
        epochs(events),
        fenced_epochs(events),
        exclusivity,
        linear::linearizability_with(events, &history.header.lease_keys, &redis_clock, budget, replay),
        jobs_stopped_before_release(events),
        live,
    ];
    if let Some(slot_ms) = bounds.slot_ms {
        let slot = std::time::Duration::from_millis(slot_ms);
        verdicts.push(job_slots(events, healed_us + bounds.liveness_us(), end_us, slot));
    }
    if let Some(staleness) = bounds.staleness() {
        verdicts.push(cache_staleness(events, staleness, healed_us, end_us));
    }
    Verdicts { verdicts, failovers }
}
