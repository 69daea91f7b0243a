//! The simulated world of splitbrain: the production election code, unchanged, on a
//! simulated network (turmoil), per-node clocks and the Redis model, with faults from one
//! seed, and a recorded history.
//!
//! ```
//! use std::time::Duration;
//! use election::ElectorConfig;
//! use sim::{elector, nemesis, simulate, Profile, Seed, SimConfig, SimRng, Workload};
//!
//! let mut config = SimConfig::new(Seed(7));
//! config.safety_phase = Duration::from_secs(20);
//! config.liveness_phase = Duration::from_secs(10);
//! let aim = nemesis::Aim { ttl: Duration::from_secs(3), safety_phase: config.safety_phase, nodes: 3 };
//! config.schedule = nemesis::schedule(Profile::Pauses, &mut SimRng::new(config.seed, "nemesis"), aim);
//! let program = elector(
//!     |node| ElectorConfig::new("leader", node.name.clone(), node.incarnation).with_timings(
//!         Duration::from_secs(3), Duration::from_secs(1), Duration::from_millis(250)),
//!     Workload::none(),
//! );
//! let run = simulate(&config, program).unwrap();
//! assert_eq!(run.leaders_at(run.end_us - 1).len(), 1, "one leader after the faults heal");
//! ```

#![warn(missing_docs)]

mod cache_load;
mod clock;
mod config;
mod gate;
mod http;
mod late;
pub mod nemesis;
mod net;
mod program;
mod race;
mod recorder;
pub mod reference;
mod replayer;
mod run;
mod seed;
pub mod swarm;
mod wire;
mod workload;
mod world;

pub use cache_load::{cache_workload, production_cache, CacheClient, CacheLoad, CACHE_CHANNEL, CACHE_PREFIX};
/// The history types and the checkers (the `splitbrain-check` crate), for the simulation's
/// users: `sim::check::suite`, `sim::check::Verdict`, ...
pub use check;
pub use check::fault;
pub use check::fault::{
    Fault, FaultKind, FaultSchedule, Moment, PersistenceMode, ScheduleError, Target, Trigger, DELAY_MS_MAX, FAULTS_MAX,
    FAULT_AT_MS_MAX, FAULT_DURATION_MS_MAX, JUMP_MS_MAX, NODES_MAX,
};
pub use check::{
    first_divergence, trace_hash, unquote, ClockTrace, Divergence, Event, EventKind, History, NodeId, DRIFT_PPM_MAX,
};
pub use clock::{true_now_us, SimClock, TrueTime, EPOCH_UNIX_MS};
pub use config::{SimConfig, SimError};
pub use gate::{Gate, Gated, NodeSpawner};
pub use http::{http_client, HEALTH_PORT};
pub use late::LateReply;
pub use model::Persistence;
pub use nemesis::Profile;
pub use net::{SimConnector, TurmoilListener, REDIS_HOST, REDIS_PORT, SOURCE_HOST};
pub use program::{alongside, program, NodeContext, NodeProgram};
pub use race::Races;
pub use recorder::{Journal, Recorder};
pub use replayer::ModelReplayer;
pub use run::{judge, judge_with_budget, Run};
pub use seed::{fnv1a, Seed, SeedError, SimRng};
pub use workload::{elector, Workload, FENCED_RESOURCE, SLOT_CLAIMS, SLOT_JOB};
pub use world::{simulate, simulate_with_clients};

/// Why a determinism check failed.
#[derive(Debug, thiserror::Error)]
pub enum NotDeterministic {
    /// A run failed outright.
    #[error(transparent)]
    Failed(#[from] SimError),
    /// The two runs recorded different histories.
    #[error("{0}")]
    Diverged(Box<Divergence>),
}

/// Runs `config` twice and compares the histories: the run, or where they first differ.
pub fn check_determinism(config: &SimConfig, program: impl Fn() -> NodeProgram) -> Result<Run, NotDeterministic> {
    let first = simulate(config, program())?;
    let second = simulate(config, program())?;
    match first_divergence(&first.events, &second.events) {
        None => Ok(first),
        Some(d) => Err(NotDeterministic::Diverged(Box::new(d))),
    }
}

/// The seeds a cargo test runs: the one in `SPLITBRAIN_SEED` (to replay a failure), else
/// `SPLITBRAIN_SEEDS` of them (default `default_count`), spread over the seed space.
pub fn test_seeds(default_count: usize) -> Vec<Seed> {
    if let Ok(seed) = std::env::var("SPLITBRAIN_SEED") {
        match seed.parse() {
            Ok(seed) => return vec![seed],
            Err(e) => panic!("SPLITBRAIN_SEED: {e}"),
        }
    }
    let count = std::env::var("SPLITBRAIN_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(default_count);
    let mut rng = SimRng::new(Seed(0x5eed), "test-seeds");
    (0..count).map(|_| Seed(rng.next_u64())).collect()
}

/// A failure report: what failed, the seed, the schedule and the one command that replays it.
pub fn failure_report(run: &Run, what: &str, test_file: &str, test_name: &str) -> String {
    format!(
        "{what}\n  seed: {seed}\n  schedule: {schedule}\n  replay: SPLITBRAIN_SEED={seed} cargo test -p splitbrain-tests --test {test_file} -- {test_name}",
        seed = run.seed,
        schedule = serde_json::to_string(&run.schedule).expect("schedules serialize"),
    )
}
