//! The reference workload every benchmark measures: 3 nodes + Redis, the production elector
//! with TTL 3 s, renewal 1 s, retry 250 ms, the `all` nemesis profile, 60 simulated seconds
//! (50 of faults, 10 of calm).

use std::time::Duration;

use election::ElectorConfig;

use crate::config::SimConfig;
use crate::nemesis::{self, Profile};
use crate::program::NodeProgram;
use crate::seed::{Seed, SimRng};
use crate::workload::{elector, Workload};
use crate::world::simulate;

/// The lease TTL of the reference workload.
pub const TTL: Duration = Duration::from_secs(3);

/// The elector's configuration for a node of the reference workload.
pub fn election_config(name: &str, incarnation: u64) -> ElectorConfig {
    ElectorConfig::new("leader", name, incarnation).with_timings(
        TTL,
        Duration::from_secs(1),
        Duration::from_millis(250),
    )
}

/// The reference workload's configuration under `seed`, with faults from `profile`.
pub fn config(seed: Seed, profile: Profile) -> SimConfig {
    let mut config = SimConfig::new(seed);
    config.safety_phase = Duration::from_secs(50);
    config.liveness_phase = Duration::from_secs(10);
    let aim = nemesis::Aim { ttl: TTL, safety_phase: config.safety_phase, nodes: config.nodes };
    config.schedule = nemesis::schedule(profile, &mut SimRng::new(seed, "nemesis"), aim);
    config
}

/// The production elector alone, as the reference workload runs it.
pub fn program() -> NodeProgram {
    elector(|node| election_config(&node.name, node.incarnation), Workload::none())
}

/// Runs `seeds` seeds from `first` of the reference workload under `profile`; seconds per
/// seed. Each run must end with one leader.
pub fn seconds_per_seed(seeds: u64, first: u64, profile: Profile) -> f64 {
    // Benchmarks measure wall time; the simulations themselves never read it.
    let started = std::time::Instant::now();
    for s in first..first + seeds {
        let run = simulate(&config(Seed(s), profile), program()).expect("the reference workload runs");
        assert_eq!(run.leaders_at(run.end_us - 1).len(), 1, "one leader at the end of seed {}", Seed(s));
    }
    started.elapsed().as_secs_f64() / seeds as f64
}

/// The process's peak resident set size, bytes (Linux; 0 elsewhere).
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
