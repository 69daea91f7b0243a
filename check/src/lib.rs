//! The history of a run and the checkers that judge it.
//!
//! A history is a list of [`Event`]s — what each node believed and did, the Redis commands it
//! sent and the replies it read, the faults injected — each with its true time. The checkers
//! read it and return [`Verdict`]s: epochs (1), no two leaders within a fencing epoch with
//! fenced writes in order (2), strict lease exclusivity with its cause (3), linearizability
//! of the lease's Redis operations (4), leader-only job slots (5), liveness and failover
//! times (6), bounded cache staleness (7). [`suite`] runs every one with bounds derived in
//! one place ([`Bounds`]).
//!
//! Nothing here simulates or runs anything: the same verdicts are given to a history recorded
//! by the simulation, by real processes, or written by a program in another language as a
//! history file ([`History`], docs/history.md).

#![warn(missing_docs)]

mod bounds;
mod clock_trace;
mod coverage;
mod divergence;
mod epochs;
mod event;
mod exclusivity;
pub mod fault;
mod fencing;
#[cfg(test)]
mod fixtures;
mod grant;
mod history;
mod jobs;
mod linear;
mod liveness;
mod local_clock;
mod node;
mod replay;
mod staleness;
mod suite;
pub mod swarm;
mod terms;
mod verdict;

pub use bounds::{Bounds, CacheBounds, Exclusivity, BOUND_MS_MAX};
pub use clock_trace::{ClockLine, ClockTrace, CLOCK_LINES_MAX, DRIFT_PPM_MAX};
pub use coverage::{Coverage, CONCURRENT_KINDS};
pub use divergence::{first_divergence, fnv1a, trace_hash, Divergence};
pub use epochs::epochs;
pub use event::{unquote, Event, EventKind};
pub use exclusivity::{strict_exclusivity, unexplained_overlaps};
pub use fencing::fenced_epochs;
pub use history::{Header, History, HistoryError, Origin, EVENTS_MAX, HISTORY_FORMAT, LINE_BYTES_MAX, TIME_US_MAX};
pub use jobs::{job_slots, jobs_stopped_before_release};
pub use linear::{linearizability, linearizability_with, LeaseKeys, BUDGET_MAX as LINEAR_BUDGET_MAX, DEFAULT_BUDGET};
pub use liveness::{liveness, Failovers};
pub use local_clock::LocalClocks;
pub use node::NodeId;
pub use replay::{NoReplay, ObjectKeys, Replayed, Replayer, Ttl};
pub use staleness::{cache_staleness, StalenessBounds};
pub use suite::{suite, suite_with, suite_with_budget, Verdicts};
pub use swarm::{CacheMix, Family, Swarm};
pub use terms::{believed_leaders, terms, Term};
pub use verdict::{at, who, Outcome, Property, Verdict};
