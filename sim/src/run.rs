//! A finished run: its history and what the world knew at the end; the run as a
//! [`History`] to judge or to save, and the one call that judges it with the Redis model.

use std::collections::BTreeMap;

use check::fault::FaultSchedule;
use check::{believed_leaders, Bounds, ClockTrace, Event, Header, History, LeaseKeys, NodeId, Origin, Verdicts};

use crate::seed::Seed;

/// A finished run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The seed.
    pub seed: Seed,
    /// The faults as scheduled.
    pub schedule: FaultSchedule,
    /// The history, in true-time order.
    pub events: Vec<Event>,
    /// The node names.
    pub nodes: Vec<NodeId>,
    /// When the liveness phase began (µs).
    pub liveness_from_us: u64,
    /// When the run ended (µs).
    pub end_us: u64,
    /// Redis's clock over the run: when its TTLs ran out.
    pub redis_clock: ClockTrace,
    /// The string keys Redis held at the end (what `redis-cli GET` would show), by key.
    pub redis_strings: BTreeMap<String, String>,
}

impl Run {
    /// The history's hash, computed when asked: a campaign needs it only for the runs it
    /// keeps, and it costs about 6 % of a run.
    pub fn trace_hash(&self) -> u64 {
        check::trace_hash(&self.events)
    }

    /// Nodes believing they lead at `at_us`, with their epochs.
    pub fn leaders_at(&self, at_us: u64) -> Vec<(NodeId, u64)> {
        believed_leaders(&self.events, at_us)
    }

    /// The run as a history to judge or to write to a file: its events, with a header
    /// giving the lease objects to check, the bounds, and where it came from.
    pub fn history(&self, lease_keys: Vec<LeaseKeys>, bounds: Bounds, origin: Origin) -> History {
        let origin = Origin { seed: origin.seed.or_else(|| Some(self.seed.to_string())), ..origin };
        let header = Header {
            format: check::HISTORY_FORMAT,
            nodes: self.nodes.clone(),
            lease_keys,
            bounds,
            origin,
            liveness_from_us: Some(self.liveness_from_us),
            end_us: Some(self.end_us),
            redis_clock: Some(self.redis_clock.clone()),
        };
        History { header, events: self.events.clone() }
    }
}

/// Judges `history` on every property, with the Redis model as the specification scripts
/// and unfamiliar commands are replayed on ([`crate::ModelReplayer`]).
pub fn judge(history: &History) -> Verdicts {
    check::suite_with(history, &crate::ModelReplayer::new())
}

/// [`judge`] with the linearizability search allowed `budget` steps per lease object.
pub fn judge_with_budget(history: &History, budget: u64) -> Verdicts {
    check::suite_with_budget(history, &crate::ModelReplayer::new(), budget)
}
