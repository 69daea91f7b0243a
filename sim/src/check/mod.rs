//! Checkers: each reads a run's history, in true time, and returns a [`Verdict`] — pass, or
//! a violation with the smallest set of events that shows it and an explanation in words.
//!
//! Epochs (1), no two leaders within a fencing epoch with fenced writes in order (2), strict
//! lease exclusivity with its cause (3), linearizability of the lease's Redis operations (4),
//! leader-only job slots (5), liveness and failover times (6), bounded cache staleness (7).

mod epochs;
mod exclusivity;
mod fencing;
mod jobs;
mod linear;
mod liveness;
mod staleness;
mod terms;

use serde::Serialize;

use crate::history::Event;

pub use epochs::epochs;
pub use exclusivity::{strict_exclusivity, unexplained_overlaps};
pub use fencing::fenced_epochs;
pub use jobs::{job_slots, jobs_stopped_before_release};
pub use linear::{linearizability, LeaseKeys, DEFAULT_BUDGET};
pub use liveness::{liveness, Failovers};
pub use staleness::{cache_staleness, StalenessBounds};
pub use terms::{terms, Term};

/// The properties the checkers decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Property {
    /// Each epoch granted once, to one holder, in increasing order.
    Epochs,
    /// At most one leader per epoch at any instant; fenced writes in epoch order, each by
    /// its epoch's holder while it believed itself leader.
    FencedEpochs,
    /// Believed-leadership intervals of different nodes never overlap.
    StrictExclusivity,
    /// The Redis operations on the lease key and its epoch counter are linearizable.
    Linearizability,
    /// Each slot of a periodic leader-only job runs at most once, by its leader, and none is
    /// skipped while healthy.
    LeaderOnlyJobs,
    /// A scenario's own expectation, from the plan it comes from (the key names the leader,
    /// the leader is undisturbed, a failover within the plan's figure, ...).
    Expectation,
    /// A leader again within the bound once faults heal.
    Liveness,
    /// Cache reads are at most the bound stale, and caches recover after faults heal.
    CacheStaleness,
}

/// What a checker decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The property held.
    Pass,
    /// The property was violated.
    Violated,
    /// The checker could not decide (a search budget ran out): never read as a pass.
    Unknown,
}

/// A checker's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Which property.
    pub property: Property,
    /// Pass, violated or unknown.
    pub outcome: Outcome,
    /// One paragraph a person understands.
    pub explanation: String,
    /// The smallest set of events that shows a violation (empty on a pass).
    pub evidence: Vec<Event>,
}

impl Verdict {
    /// A pass, with what was checked.
    pub fn pass(property: Property, explanation: impl Into<String>) -> Verdict {
        Verdict { property, outcome: Outcome::Pass, explanation: explanation.into(), evidence: vec![] }
    }

    /// Undecided, with why.
    pub fn unknown(property: Property, explanation: impl Into<String>) -> Verdict {
        Verdict { property, outcome: Outcome::Unknown, explanation: explanation.into(), evidence: vec![] }
    }

    /// A violation, with its explanation and the events that show it.
    pub fn violated(property: Property, explanation: impl Into<String>, evidence: Vec<Event>) -> Verdict {
        Verdict { property, outcome: Outcome::Violated, explanation: explanation.into(), evidence }
    }

    /// Whether the property held.
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Pass
    }

    /// The verdict as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("verdicts serialize")
    }
}

/// `t=12.345 s`: how verdicts write a true time.
pub fn at(us: u64) -> String {
    format!("t={:.3} s", us as f64 / 1e6)
}

/// `node-1#2`: how verdicts name a node incarnation.
pub fn who(event: &Event) -> String {
    format!("{}#{}", event.node, event.incarnation)
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Hand-written histories.

    use crate::history::{Event, EventKind};

    /// An event at `ms` milliseconds.
    pub fn ev(ms: u64, node: &str, incarnation: u64, kind: EventKind) -> Event {
        Event { seq: 0, at_us: ms * 1000, node: node.into(), incarnation, local_us: Some((ms * 1000) as i64), kind }
    }

    /// A term's start, and its lease's deadline (true and local time agree here).
    pub fn acquired(ms: u64, node: &str, epoch: u64, deadline_ms: u64) -> Event {
        let (deadline_local_us, deadline_true_us) = ((deadline_ms * 1000) as i64, deadline_ms * 1000);
        ev(ms, node, 1, EventKind::Acquired { epoch, deadline_local_us, deadline_true_us })
    }

    /// A renewal, with its new deadline.
    pub fn renewed(ms: u64, node: &str, epoch: u64, deadline_ms: u64) -> Event {
        let (deadline_local_us, deadline_true_us) = ((deadline_ms * 1000) as i64, deadline_ms * 1000);
        ev(ms, node, 1, EventKind::Renewed { epoch, deadline_local_us, deadline_true_us })
    }

    pub fn stepped_down(ms: u64, node: &str, epoch: u64) -> Event {
        ev(ms, node, 1, EventKind::SteppedDown { epoch, reason: "LeaseLost".into() })
    }

    pub fn write(sent_ms: u64, ms: u64, node: &str, epoch: u64, accepted: bool) -> Event {
        ev(
            ms,
            node,
            1,
            EventKind::FencedWrite {
                epoch,
                accepted,
                value: format!("{node}@{ms}"),
                sent_us: sent_ms * 1000,
                replaced: None,
            },
        )
    }

    /// A write whose reply said the resource held `replaced` before it.
    pub fn write_over(sent_ms: u64, ms: u64, node: &str, epoch: u64, accepted: bool, replaced: u64) -> Event {
        let mut event = write(sent_ms, ms, node, epoch, accepted);
        if let EventKind::FencedWrite { replaced: r, .. } = &mut event.kind {
            *r = Some(replaced);
        }
        event
    }

    /// Numbers events in order, as a history does.
    pub fn history(mut events: Vec<Event>) -> Vec<Event> {
        events.sort_by_key(|e| e.at_us);
        for (i, e) in events.iter_mut().enumerate() {
            e.seq = i as u64;
        }
        events
    }
}
