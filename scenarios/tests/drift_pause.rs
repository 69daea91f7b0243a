//! A false positive once given to correct code, kept as a regression: the leader paused for
//! 2 s with its clock running 3 % slow from the same instant. The write it sends on resuming
//! is inside its term as its own clock counts (the deadline is the node's, not the true
//! instant it was converted to before the drift began).

use scenarios::{find, Subject};
use sim::{Fault, FaultKind, FaultSchedule, Seed, Target};

#[test]
fn a_pause_with_a_slow_clock_on_the_leader_passes_the_correct_zoo_elector() {
    let scenario = find("chaos-all").expect("in the catalogue");
    let faults = vec![
        Fault::at(20_000, 2_000, FaultKind::Pause { node: Target::Leader }),
        Fault::at(20_000, 2_000, FaultKind::ClockDrift { node: Target::Leader, drift_ppm: -30_000 }),
    ];
    let schedule = FaultSchedule { faults, swarm: None };
    for seed in [Seed(1), Seed(2), Seed(3), Seed(0x2a)] {
        let outcome = scenario.run_schedule(seed, Subject::Zoo(zoo::Bug::None), Some(&schedule)).expect("runs");
        let failed = outcome.failures();
        assert!(failed.is_empty(), "seed {seed}: {}", failed.first().map_or("", |v| v.explanation.as_str()));
    }
}
