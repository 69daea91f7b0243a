//! The scenario catalogue: each scenario is a deployment (nodes, elector timings, leader-only
//! work), the faults it suffers, and the properties it requires. `chaos-<profile>` runs the
//! production elector under a nemesis profile.

#![warn(missing_docs)]

use std::fmt;
use std::time::Duration;

use election::ElectorConfig;
use sim::check::{
    epochs, fenced_epochs, job_slots, linearizability, liveness, strict_exclusivity, unexplained_overlaps, Failovers,
    LeaseKeys, Verdict, DEFAULT_BUDGET,
};
use sim::{elector, nemesis, simulate, Profile, Run, Seed, SimConfig, SimError, SimRng, Workload};

/// The election key of the chaos scenarios.
pub const KEY: &str = "leader";

/// One scenario of the catalogue.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name, e.g. `chaos-pauses`.
    pub name: String,
    /// One line on what it does.
    pub description: String,
    /// The nemesis profile its faults come from.
    pub profile: Profile,
    /// Lease TTL, renewal interval, acquire retry.
    pub timings: (Duration, Duration, Duration),
    /// Faults happen in this phase; then everything heals for `liveness_phase`.
    pub safety_phase: Duration,
    /// The calm after the faults.
    pub liveness_phase: Duration,
    /// The leader's periodic job's slot.
    pub slot: Duration,
}

/// A name that is no scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScenario(pub String);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = catalogue().into_iter().map(|s| s.name).collect();
        write!(f, "unknown scenario {:?} (one of: {})", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownScenario {}

/// Every scenario.
pub fn catalogue() -> Vec<Scenario> {
    Profile::ALL
        .into_iter()
        .map(|profile| Scenario {
            name: format!("chaos-{profile}"),
            description: format!("3 nodes, TTL 3 s, renewal 1 s: {}", profile.describe()),
            profile,
            timings: (Duration::from_secs(3), Duration::from_secs(1), Duration::from_millis(250)),
            safety_phase: Duration::from_secs(60),
            liveness_phase: Duration::from_secs(20),
            slot: Duration::from_secs(1),
        })
        .collect()
}

/// The scenario called `name`, matched case-insensitively.
pub fn find(name: &str) -> Result<Scenario, UnknownScenario> {
    catalogue().into_iter().find(|s| s.name.eq_ignore_ascii_case(name)).ok_or_else(|| UnknownScenario(name.to_owned()))
}

/// What a run of a scenario came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run.
    pub run: Run,
    /// Every required property's verdict.
    pub verdicts: Vec<Verdict>,
    /// The failover times the liveness checker measured.
    pub failovers: Failovers,
}

impl Outcome {
    /// The verdicts that did not pass (violations first).
    pub fn failures(&self) -> Vec<&Verdict> {
        let mut failed: Vec<&Verdict> = self.verdicts.iter().filter(|v| !v.passed()).collect();
        failed.sort_by_key(|v| v.outcome != sim::check::Outcome::Violated);
        failed
    }
}

impl Scenario {
    /// The simulation's configuration for `seed`.
    pub fn config(&self, seed: Seed) -> SimConfig {
        let mut config = SimConfig::new(seed);
        config.safety_phase = self.safety_phase;
        config.liveness_phase = self.liveness_phase;
        let aim = nemesis::Aim { ttl: self.timings.0, safety_phase: config.safety_phase, nodes: config.nodes };
        config.schedule = nemesis::schedule(self.profile, &mut SimRng::new(seed, "nemesis"), aim);
        config
    }

    /// Whether the faults leave leases alone to keep leaders apart (no pauses, no clock
    /// faults): then strict exclusivity is required, else only where no fault explains it.
    fn requires_strict_exclusivity(&self) -> bool {
        matches!(self.profile, Profile::Quiet | Profile::Partitions | Profile::Crashes)
    }

    /// Runs the scenario under `seed` and checks every property it requires.
    pub fn run(&self, seed: Seed) -> Result<Outcome, SimError> {
        let (ttl, renew, retry) = self.timings;
        let workload = Workload::none().with_fenced_writes(Duration::from_millis(500)).with_slots(self.slot);
        let program = elector(
            move |node| ElectorConfig::new(KEY, node.name.clone(), node.incarnation).with_timings(ttl, renew, retry),
            workload,
        );
        let run = simulate(&self.config(seed), program)?;
        // A leader within TTL + the longest retry (with jitter) + slack for latency.
        let bound = ttl + retry.mul_f64(1.2) + Duration::from_millis(500);
        let bound_us = bound.as_micros() as u64;
        let (live, failovers) = liveness(&run.events, run.liveness_from_us, run.end_us, bound_us);
        let exclusivity = if self.requires_strict_exclusivity() {
            strict_exclusivity(&run.events)
        } else {
            unexplained_overlaps(&run.events)
        };
        let verdicts = vec![
            epochs(&run.events),
            fenced_epochs(&run.events),
            exclusivity,
            linearizability(&run.events, &[LeaseKeys::of_election(KEY)], &run.redis_clock, DEFAULT_BUDGET),
            job_slots(&run.events, run.liveness_from_us + bound_us, run.end_us, self.slot),
            live,
        ];
        Ok(Outcome { run, verdicts, failovers })
    }
}

/// The `k`-th seed of a campaign over `scenario`: a fixed function of both, so that shards
/// of one campaign never overlap and every machine draws the same seeds.
pub fn campaign_seed(scenario: &str, k: u64) -> Seed {
    let mut rng =
        SimRng::new(Seed(sim::fnv1a(scenario.as_bytes()) ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15)), "campaign");
    Seed(rng.next_u64())
}
