//! The mutant zoo under the fuzzer: each mutant is caught within its seed budget, and the
//! correct zoo elector is not.

use std::time::Duration;

use sim::check::{Bounds, LeaseKeys, Origin, Property, Verdict};
use sim::{failure_report, judge, nemesis, simulate, test_seeds, Profile, Run, Seed, SimConfig, SimRng};
use zoo::{Bug, Timings};

const TTL: Duration = Duration::from_secs(3);
const RETRY: Duration = Duration::from_millis(250);

fn timings() -> Timings {
    Timings {
        key: "leader".into(),
        ttl: TTL,
        renew: Duration::from_secs(1),
        retry: RETRY,
        margin: Duration::from_millis(60),
    }
}

fn run(seed: Seed, profile: Profile, bug: Bug) -> Run {
    let mut config = SimConfig::new(seed);
    config.safety_phase = Duration::from_secs(60);
    config.liveness_phase = Duration::from_secs(20);
    let aim = nemesis::Aim { ttl: TTL, safety_phase: config.safety_phase, nodes: 3 };
    config.schedule = nemesis::schedule(profile, &mut SimRng::new(seed, "nemesis"), aim);
    simulate(&config, zoo::elector(timings(), bug)).expect("the simulation runs")
}

/// Every checker that must hold for a correct elector under any profile.
fn verdicts(run: &Run) -> Vec<Verdict> {
    let history = run.history(vec![LeaseKeys::of_election("leader")], Bounds::for_lease(TTL, RETRY), Origin::default());
    judge(&history).verdicts
}

/// The first failing verdict, if any.
fn violation(run: &Run) -> Option<Verdict> {
    verdicts(run).into_iter().find(|v| !v.passed())
}

#[test]
fn the_correct_zoo_elector_passes_under_pauses_crashes_and_clocks() {
    for profile in [Profile::Pauses, Profile::Crashes, Profile::Clocks] {
        for seed in test_seeds(20) {
            let run = run(seed, profile, Bug::None);
            if let Some(verdict) = violation(&run) {
                panic!("{profile}: {}", failure_report(&run, &verdict.explanation, "zoo", "the_correct_zoo_elector"));
            }
        }
    }
}

/// Seeds of `profile` until `bug` is caught: how many it took.
fn seeds_to_catch(bug: Bug, profile: Profile, budget: usize) -> Option<(usize, Verdict)> {
    let mut seeds = SimRng::new(Seed(0x2009), bug.name());
    (1..=budget).find_map(|n| violation(&run(Seed(seeds.next_u64()), profile, bug)).map(|v| (n, v)))
}

#[test]
fn plain_del_release_is_caught_within_200_seeds_of_pauses() {
    let (seeds, verdict) = seeds_to_catch(Bug::PlainDelRelease, Profile::Pauses, 200).expect("caught within 200 seeds");
    eprintln!("plain-del-release caught after {seeds} seeds: {}", verdict.explanation);
}

/// The zoo cache with `bug` (the correct one for [`Bug::None`]) beside the production
/// elector, under the `cache` profile; its staleness verdict.
fn cache_run(seed: Seed, bug: Bug) -> (Run, Verdict) {
    let load = sim::CacheLoad::new();
    let mut config = SimConfig::new(seed);
    config.source_db = true;
    config.safety_phase = Duration::from_secs(60);
    config.liveness_phase = Duration::from_secs(20);
    let aim = nemesis::Aim { ttl: TTL, safety_phase: config.safety_phase, nodes: 3 };
    config.schedule = nemesis::schedule(Profile::Cache, &mut SimRng::new(seed, "nemesis"), aim);
    let elector = sim::elector(
        |node| {
            election::ElectorConfig::new("leader", node.name.clone(), node.incarnation).with_timings(
                TTL,
                Duration::from_secs(1),
                RETRY,
            )
        },
        sim::Workload::none(),
    );
    let program = sim::alongside(elector, move |ctx| zoo::cache_node(ctx, load, bug));
    let run = simulate(&config, program).expect("the simulation runs");
    let bounds = Bounds::for_lease(TTL, RETRY).with_cache(load.liveness, load.entry_ttl);
    let history = run.history(vec![LeaseKeys::of_election("leader")], bounds, Origin::default());
    let verdict = judge(&history).verdicts.into_iter().find(|v| v.property == Property::CacheStaleness);
    (run, verdict.expect("a cache is judged"))
}

#[test]
fn the_correct_zoo_cache_passes_under_the_cache_profile() {
    for seed in test_seeds(10) {
        let (run, verdict) = cache_run(seed, Bug::None);
        if !verdict.passed() {
            panic!("{}", failure_report(&run, &verdict.explanation, "zoo", "the_correct_zoo_cache"));
        }
    }
}

#[test]
fn cache_mutants_are_caught_within_20_seeds_of_the_cache_profile() {
    for bug in [Bug::CacheNoFlushOnReconnect, Bug::CachePublishBeforeCommit] {
        let mut seeds = SimRng::new(Seed(0x2009), bug.name());
        let caught = (1..=20).find_map(|n| {
            let (_, verdict) = cache_run(Seed(seeds.next_u64()), bug);
            (!verdict.passed()).then_some((n, verdict))
        });
        let (n, verdict) = caught.unwrap_or_else(|| panic!("{bug} escaped 20 seeds"));
        eprintln!("{bug} caught after {n} seed(s): {}", verdict.explanation);
    }
}
