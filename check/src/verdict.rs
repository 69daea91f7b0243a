//! What a checker decides: a [`Verdict`] on one [`Property`] — pass, violated (with the
//! smallest set of events that shows it and an explanation in words), or unknown.

use serde::{Deserialize, Serialize};

use crate::event::Event;

/// The properties the checkers decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
