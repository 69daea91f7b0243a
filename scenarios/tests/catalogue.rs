//! Every scenario of the catalogue under `SPLITBRAIN_SEEDS` seeds (a few by default; one
//! with `SPLITBRAIN_SEED`), and its first seed twice to check determinism. A failure names the
//! scenario, the seed, the property and its explanation, and the commands that replay it.

use scenarios::{campaign_seed, find, DOCS_CAMPAIGN_SEED};
use sim::Seed;

/// The seeds a scenario runs under in `cargo test`.
fn seeds(name: &str, default: u64) -> Vec<Seed> {
    if let Ok(seed) = std::env::var("SPLITBRAIN_SEED") {
        return vec![seed.parse().unwrap_or_else(|e| panic!("SPLITBRAIN_SEED: {e}"))];
    }
    let count = std::env::var("SPLITBRAIN_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(default);
    (0..count).map(|k| campaign_seed(DOCS_CAMPAIGN_SEED, name, k)).collect()
}

#[test]
fn every_scenario_of_the_catalogue_has_a_test_here() {
    let source = include_str!("catalogue.rs");
    for scenario in scenarios::catalogue() {
        assert!(source.contains(&format!("\"{}\"", scenario.name)), "{} has no test in catalogue.rs", scenario.name);
    }
}

fn check(name: &str, test: &str, default_seeds: u64) {
    let scenario = find(name).expect("a catalogue scenario");
    for (i, seed) in seeds(&scenario.name, default_seeds).into_iter().enumerate() {
        let outcome = scenario.run(seed).unwrap_or_else(|e| panic!("{name} under {seed}: {e}"));
        if let Some(verdict) = outcome.failures().first() {
            panic!(
                "{name} under seed {seed}: {:?} {:?}: {}\n  replay: SPLITBRAIN_SEED={seed} cargo test -p splitbrain-scenarios --test catalogue -- {test}\n  or:     cargo run --release -p splitbrain-scenarios -- run {name} --seed {seed}",
                verdict.property, verdict.outcome, verdict.explanation
            );
        }
        if i == 0 {
            let again = scenario.run(seed).expect("the second run").run;
            if let Some(divergence) = sim::first_divergence(&outcome.run.events, &again.events) {
                panic!("{name} under seed {seed} is not deterministic: {divergence}");
            }
        }
    }
}

macro_rules! scenarios {
    ($($test:ident: $name:literal, $seeds:literal;)*) => {
        $(
            #[test]
            fn $test() {
                check($name, stringify!($test), $seeds);
            }
        )*
    };
}

scenarios! {
    mi_01: "MI-01", 4;
    mi_02: "MI-02", 4;
    mi_03: "MI-03", 4;
    mi_04: "MI-04", 4;
    mi_05: "MI-05", 4;
    mi_06: "MI-06", 4;
    mi_07: "MI-07", 4;
    mi_08: "MI-08", 4;
    mi_09: "MI-09", 4;
    mi_10: "MI-10", 4;
    t1: "T1", 4;
    t2: "T2", 4;
    t3: "T3", 4;
    t4: "T4", 4;
    t5: "T5", 4;
    t6: "T6", 4;
    t7: "T7", 3;
    t1_optimised: "T1-optimised", 4;
    t2_optimised: "T2-optimised", 4;
    t5_optimised: "T5-optimised", 4;
    chaos_quiet: "chaos-quiet", 4;
    chaos_partitions: "chaos-partitions", 20;
    chaos_pauses: "chaos-pauses", 20;
    chaos_clocks: "chaos-clocks", 20;
    chaos_crashes: "chaos-crashes", 20;
    chaos_redis: "chaos-redis", 20;
    chaos_all: "chaos-all", 20;
    chaos_cache: "chaos-cache", 20;
}
