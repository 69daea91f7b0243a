//! How a run is set up ([`SimConfig`]) and how one fails outright ([`SimError`]).

use std::time::Duration;

use check::fault::{FaultKind, FaultSchedule};
use check::NodeId;
use model::Persistence;

use crate::seed::Seed;

/// How a run is set up. Everything that could vary between runs is here or derived from
/// `seed`.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The seed.
    pub seed: Seed,
    /// How many nodes (`node-1` ..).
    pub nodes: usize,
    /// turmoil's step: part of a run's identity.
    pub tick: Duration,
    /// Message latency bounds on every link.
    pub latency: (Duration, Duration),
    /// Faults happen in this phase.
    pub safety_phase: Duration,
    /// Then everything heals for this long.
    pub liveness_phase: Duration,
    /// The faults.
    pub schedule: FaultSchedule,
    /// Redis's persistence: a parameter of the deployment under test (a `redis-restart`
    /// fault may name another, from that restart on). Fencing epochs survive a restart only
    /// when every increment is durable, so a correct deployment runs AOF with `fsync always`.
    pub persistence: Persistence,
    /// Whether the run has a source-of-truth database host ([`crate::SOURCE_HOST`]): a second
    /// Redis-protocol server, persisting every write, that no Redis fault touches.
    pub source_db: bool,
}

impl SimConfig {
    /// 3 nodes, 10 ms ticks, 1-20 ms latency (messages land one or two ticks later), 60 s of
    /// safety then 30 s of liveness, no faults, Redis persisting every write (AOF always).
    pub fn new(seed: Seed) -> SimConfig {
        SimConfig {
            seed,
            nodes: 3,
            tick: Duration::from_millis(10),
            latency: (Duration::from_millis(1), Duration::from_millis(20)),
            safety_phase: Duration::from_secs(60),
            liveness_phase: Duration::from_secs(30),
            schedule: FaultSchedule::default(),
            persistence: Persistence::AofAlways,
            source_db: false,
        }
    }

    /// The node names.
    pub fn node_names(&self) -> Vec<NodeId> {
        (1..=self.nodes).map(NodeId::replica).collect()
    }

    /// Every node there will be: those the run starts with, then those its schedule's
    /// `add-node` faults add (`node-<n+1>`, ...).
    pub fn all_node_names(&self) -> Vec<NodeId> {
        let added = self.schedule.faults.iter().filter(|f| f.kind == FaultKind::AddNode).count();
        (1..=self.nodes.saturating_add(added)).map(NodeId::replica).collect()
    }
}

/// A host's software failed.
#[derive(Debug, thiserror::Error)]
#[error("simulation failed at t={at_ms} ms: {message}")]
pub struct SimError {
    /// True time of the failure.
    pub at_ms: u64,
    /// turmoil's message (a panic in a node program, for instance).
    pub message: String,
}

impl SimError {
    /// The error of a panic caught at `at_ms` in `what` ("the simulator", "a checker"): a
    /// failed assertion is a finding, reported with its seed like any other.
    pub fn of_panic(payload: Box<dyn std::any::Any + Send>, at_ms: u64, what: &str) -> SimError {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        SimError { at_ms, message: format!("{what} panicked: {message}") }
    }

    /// Runs `f`, a panic in it caught as an error (at `at_ms`, in `what`).
    pub fn catching<T>(what: &str, at_ms: impl FnOnce() -> u64, f: impl FnOnce() -> T) -> Result<T, SimError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| SimError::of_panic(p, at_ms(), what))
    }
}
