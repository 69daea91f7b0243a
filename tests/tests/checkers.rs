//! The checkers on real histories: the production elector under the nemesis, with Redis
//! persisting every write (AOF always) as fencing requires, keeps epochs (1), fencing (2)
//! and liveness (6); strict exclusivity (3) is reported, and must hold when no fault
//! touches clocks or pauses a node.

use std::time::Duration;

use election::ElectorConfig;
use sim::check::{epochs, fenced_epochs, strict_exclusivity, Bounds, LeaseKeys, Origin, Verdict};
use sim::{
    elector, failure_report, judge, nemesis, simulate, test_seeds, FaultKind, PersistenceMode, Profile, Run, Seed,
    SimConfig, SimRng, Workload,
};

const TTL: Duration = Duration::from_secs(3);
const RETRY: Duration = Duration::from_millis(250);
/// The periodic leader-only job's slot.
const SLOT: Duration = Duration::from_secs(1);

fn run(seed: Seed, profile: Profile) -> Run {
    let mut config = SimConfig::new(seed);
    config.safety_phase = Duration::from_secs(120);
    config.liveness_phase = Duration::from_secs(30);
    let aim = nemesis::Aim { ttl: TTL, safety_phase: config.safety_phase, nodes: 3 };
    config.schedule = nemesis::schedule(profile, &mut SimRng::new(seed, "nemesis"), aim);
    simulate_elector(&config)
}

/// The production elector (TTL 3 s, renewal 1 s, retry 250 ms) with a fenced writer.
fn simulate_elector(config: &SimConfig) -> Run {
    let program = elector(
        |node| {
            ElectorConfig::new("leader", node.name.clone(), node.incarnation).with_timings(
                TTL,
                Duration::from_secs(1),
                RETRY,
            )
        },
        Workload::none().with_fenced_writes(Duration::from_millis(500)).with_slots(SLOT),
    );
    simulate(config, program).expect("the simulation runs")
}

/// Every property but exclusivity (reported, not required, under pauses and clock faults).
fn verdicts(run: &Run) -> Vec<Verdict> {
    let bounds = Bounds::for_lease(TTL, RETRY).with_slots(SLOT);
    let history = run.history(vec![LeaseKeys::of_election("leader")], bounds, Origin::default());
    let verdicts = judge(&history).verdicts;
    verdicts.into_iter().filter(|v| v.property != sim::check::Property::StrictExclusivity).collect()
}

#[test]
fn production_elector_keeps_epochs_fencing_and_liveness_under_every_profile() {
    for profile in
        [Profile::Partitions, Profile::Pauses, Profile::Clocks, Profile::Crashes, Profile::Redis, Profile::All]
    {
        for seed in test_seeds(10) {
            let run = run(seed, profile);
            for verdict in verdicts(&run) {
                assert!(
                    verdict.passed(),
                    "{}",
                    failure_report(
                        &run,
                        &format!("{profile}: {}", verdict.explanation),
                        "checkers",
                        "production_elector"
                    )
                );
            }
        }
    }
}

#[test]
fn strict_exclusivity_holds_without_pauses_or_clock_faults() {
    for profile in [Profile::Partitions, Profile::Crashes] {
        for seed in test_seeds(10) {
            let run = run(seed, profile);
            let verdict = strict_exclusivity(&run.events);
            assert!(
                verdict.passed(),
                "{}",
                failure_report(&run, &verdict.explanation, "checkers", "strict_exclusivity")
            );
        }
    }
}

fn scripted(faults: Vec<sim::Fault>) -> Run {
    let mut config = SimConfig::new(Seed(5));
    config.safety_phase = Duration::from_secs(20);
    config.liveness_phase = Duration::from_secs(10);
    config.schedule = sim::FaultSchedule { faults, swarm: None };
    simulate_elector(&config)
}

#[test]
fn a_redis_restart_that_loses_the_epoch_counter_is_caught() {
    let restart = sim::Fault::at(8_000, 1_000, FaultKind::RedisRestart { persistence: Some(PersistenceMode::None) });
    let run = scripted(vec![restart]);
    let verdict = epochs(&run.events);
    assert!(!verdict.passed() && verdict.explanation.contains("was granted a second time"), "{}", verdict.explanation);
    assert_eq!(verdict.evidence.len(), 2);
    let fencing = fenced_epochs(&run.events);
    assert!(!fencing.passed() && fencing.explanation.starts_with("two leaders in epoch 1"), "{}", fencing.explanation);
}

#[test]
fn a_redis_clock_jump_breaks_strict_exclusivity_and_is_named_as_the_cause() {
    // The leader is cut off from Redis, so it cannot learn; Redis's clock then jumps and the
    // lease expires there early, while the leader still counts on its own deadline.
    let cut = sim::Fault::at(7_900, 3_000, FaultKind::PartitionRedis { node: sim::Target::Leader });
    let jump = sim::Fault::at(8_000, 0, FaultKind::RedisClockJump { jump_ms: 2_500 });
    let run = scripted(vec![cut, jump]);
    let verdict = strict_exclusivity(&run.events);
    assert!(!verdict.passed(), "the old leader still believed when the lease expired early");
    assert!(verdict.explanation.contains("Redis's clock ran fast or jumped"), "{}", verdict.explanation);
    assert!(epochs(&run.events).passed() && fenced_epochs(&run.events).passed(), "fencing still holds");
}

mod generated {
    //! Generated legal histories pass every checker; one injected violation is caught.

    use proptest::prelude::*;
    use std::time::Duration;

    use sim::check::{
        epochs, fenced_epochs, job_slots, linearizability_with, liveness, strict_exclusivity, LeaseKeys, DEFAULT_BUDGET,
    };
    use sim::{ClockTrace, Event, EventKind, ModelReplayer};

    fn linearizability(events: &[Event], keys: &[LeaseKeys], clock: &ClockTrace, budget: u64) -> sim::check::Verdict {
        linearizability_with(events, keys, clock, budget, &ModelReplayer::new())
    }

    #[derive(Debug, Clone)]
    struct Term {
        node: usize,
        epoch: u64,
        from_ms: u64,
        until_ms: u64,
        writes: Vec<u64>,
    }

    fn event(ms: u64, node: usize, kind: EventKind) -> Event {
        Event { seq: 0, at_us: ms * 1000, node: sim::NodeId::replica(node), incarnation: 1, local_us: None, kind }
    }

    /// Terms one after another with gaps, epochs increasing, writes inside each term.
    fn legal() -> impl Strategy<Value = Vec<Term>> {
        prop::collection::vec(
            (0usize..3, 1u64..3, 0u64..2_000, 200u64..5_000, prop::collection::vec(0u64..1_000, 0..4)),
            1..15,
        )
        .prop_map(|raw| {
            let (mut epoch, mut t) = (0, 0);
            raw.into_iter()
                .map(|(node, step, gap, len, offsets)| {
                    epoch += step;
                    let from_ms = t + gap;
                    t = from_ms + len;
                    let mut writes: Vec<u64> = offsets.into_iter().map(|o| from_ms + o * (len - 100) / 1_000).collect();
                    writes.sort();
                    Term { node, epoch, from_ms, until_ms: t, writes }
                })
                .collect()
        })
    }

    fn history(terms: &[Term], extra: Vec<Event>) -> Vec<Event> {
        let mut events = extra;
        for term in terms {
            let (from, until) = (term.from_ms, term.until_ms);
            let deadline =
                EventKind::Acquired { epoch: term.epoch, deadline_local_us: 0, deadline_true_us: until * 1000 };
            events.push(event(from, term.node, deadline));
            for sent in &term.writes {
                let kind = EventKind::FencedWrite {
                    epoch: term.epoch,
                    accepted: true,
                    value: String::new(),
                    sent_us: sent * 1000,
                    replaced: None,
                };
                events.push(event(sent + 10, term.node, kind));
            }
        }
        events.sort_by_key(|e| e.at_us);
        events.iter_mut().enumerate().for_each(|(i, e)| e.seq = i as u64);
        events
    }

    /// A Redis command of `node` invoked at `inv_ms` and answered `reply` 6 ms later.
    fn command(node: usize, op: u64, inv_ms: u64, args: &[String], reply: String) -> Vec<Event> {
        let args = args.iter().map(|a| format!("{a:?}")).collect();
        vec![
            event(inv_ms, node, EventKind::RedisInvoke { conn: 1, op, args }),
            event(inv_ms + 6, node, EventKind::RedisComplete { conn: 1, op, reply }),
        ]
    }

    fn value(node: usize, epoch: usize) -> String {
        format!("node-{node}/0000000000000001/{epoch}")
    }

    /// What the terms' holders said to Redis: term `i` acquires epoch `i + 1` with a TTL
    /// covering the term, a follower's acquire in mid-term finds the holder, and the holder
    /// releases at the end. `lost` makes that follower's acquire succeed instead, as if
    /// Redis had lost the lease.
    fn lease_ops(terms: &[Term], lost: Option<usize>) -> Vec<Event> {
        let acquire = election::LuaScript::new(election::ACQUIRE).sha().to_owned();
        let release = election::LuaScript::new(election::RELEASE).sha().to_owned();
        let mut events = Vec::new();
        let mut op = 0;
        let mut next_op = || {
            op += 1;
            op
        };
        // The scripts' sources, as the elector sends them once: the checker replays them.
        for source in [election::ACQUIRE, election::RELEASE] {
            let sha = format!("{:?}", election::LuaScript::new(source).sha());
            events.extend(command(0, next_op(), 0, &["SCRIPT".into(), "LOAD".into(), source.into()], sha));
        }
        for (i, term) in terms.iter().enumerate() {
            let px = (term.until_ms - term.from_ms + 100).to_string();
            let acquire_args = |node: usize| {
                let keys = ["3", "leader", "leader:epoch", "leader:info"].map(String::from);
                let mut args = vec!["EVALSHA".to_owned(), acquire.clone()];
                args.extend(keys);
                args.extend([format!("node-{node}/0000000000000001/"), px.clone(), "{".to_owned()]);
                args
            };
            events.extend(command(
                term.node,
                next_op(),
                term.from_ms + 1,
                &acquire_args(term.node),
                format!(":{}", i + 1),
            ));
            let other = (term.node + 1) % 3;
            let mid = term.from_ms + (term.until_ms - term.from_ms) / 2;
            let found = if lost == Some(i) { format!(":{}", i + 2) } else { format!("{:?}", value(term.node, i + 1)) };
            events.extend(command(other, next_op(), mid, &acquire_args(other), found));
            let release_args: Vec<String> =
                ["EVALSHA", &release, "2", "leader", "leader:info", &value(term.node, i + 1)]
                    .map(String::from)
                    .to_vec();
            events.extend(command(term.node, next_op(), term.until_ms - 8, &release_args, ":1".to_owned()));
        }
        events
    }

    /// Each term runs the periodic job's slots every 100 ms, numbered on from the last.
    fn slot_runs(terms: &[Term]) -> Vec<Event> {
        let mut slot = 0;
        let mut events = Vec::new();
        for term in terms {
            for at in (term.from_ms + 10..term.until_ms.saturating_sub(10)).step_by(100) {
                slot += 1;
                let kind = EventKind::SlotRun { job: "job".into(), slot, epoch: term.epoch, sent_us: at * 1000 };
                events.push(event(at + 5, term.node, kind));
            }
        }
        events
    }

    const SLOT: Duration = Duration::from_millis(100);

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn legal_lease_operations_and_slots_pass(terms in legal()) {
            let events = history(&terms, [lease_ops(&terms, None), slot_runs(&terms)].concat());
            let end = terms.last().unwrap().until_ms * 1000;
            let lin = linearizability(&events, &[LeaseKeys::of_election("leader")], &ClockTrace::default(), DEFAULT_BUDGET);
            prop_assert!(lin.passed(), "{}", lin.explanation);
            let slots = job_slots(&events, 0, end, SLOT);
            prop_assert!(slots.passed(), "{}", slots.explanation);
        }

        #[test]
        fn a_lost_lease_is_caught(terms in legal(), pick in any::<prop::sample::Index>()) {
            let lost = pick.index(terms.len());
            let events = history(&terms, lease_ops(&terms, Some(lost)));
            let lin = linearizability(&events, &[LeaseKeys::of_election("leader")], &ClockTrace::default(), DEFAULT_BUDGET);
            prop_assert!(!lin.passed(), "{}", lin.explanation);
        }

        #[test]
        fn a_slot_run_twice_is_caught(terms in legal(), pick in any::<prop::sample::Index>()) {
            let mut runs = slot_runs(&terms);
            prop_assume!(!runs.is_empty());
            let twice = runs[pick.index(runs.len())].clone();
            runs.push(Event { at_us: twice.at_us + 1, ..twice });
            let end = terms.last().unwrap().until_ms * 1000;
            prop_assert!(!job_slots(&history(&terms, runs), 0, end, SLOT).passed());
        }

        #[test]
        fn legal_histories_pass_every_checker(terms in legal()) {
            let events = history(&terms, vec![]);
            let end = terms.last().unwrap().until_ms * 1000;
            prop_assert!(epochs(&events).passed());
            prop_assert!(fenced_epochs(&events).passed(), "{}", fenced_epochs(&events).explanation);
            prop_assert!(strict_exclusivity(&events).passed());
            prop_assert!(liveness(&events, terms.last().unwrap().from_ms * 1000, end, 1).0.passed());
        }

        #[test]
        fn a_duplicated_epoch_is_caught(mut terms in legal().prop_filter("two terms", |t| t.len() >= 2), pick in any::<prop::sample::Index>()) {
            let k = 1 + pick.index(terms.len() - 1);
            terms[k].epoch = terms[k - 1].epoch;
            prop_assert!(!epochs(&history(&terms, vec![])).passed());
        }

        #[test]
        fn an_overlapping_interval_is_caught(mut terms in legal().prop_filter("two terms", |t| t.len() >= 2), pick in any::<prop::sample::Index>()) {
            let k = 1 + pick.index(terms.len() - 1);
            terms[k].node = (terms[k - 1].node + 1) % 3;
            terms[k].from_ms = terms[k - 1].until_ms - 50;
            let from_ms = terms[k].from_ms;
            terms[k].writes.retain(|w| *w >= from_ms);
            prop_assert!(!strict_exclusivity(&history(&terms, vec![])).passed());
        }

        #[test]
        fn a_stale_write_after_a_newer_one_is_caught(terms in legal().prop_filter("a later write", |t| t.len() >= 2 && !t.last().unwrap().writes.is_empty())) {
            // The previous term's holder writes with its old epoch after the newest write.
            let last = terms.last().unwrap();
            let before = &terms[terms.len() - 2];
            let sent = last.writes[0] + 20;
            let kind = EventKind::FencedWrite {
                epoch: before.epoch,
                accepted: true,
                value: String::new(),
                sent_us: sent * 1000,
                replaced: None,
            };
            let stale = event(sent + 5, before.node, kind);
            prop_assert!(!fenced_epochs(&history(&terms, vec![stale])).passed());
        }

        #[test]
        fn a_leaderless_end_is_caught(terms in legal()) {
            let events = history(&terms, vec![]);
            let end = terms.last().unwrap().until_ms * 1000 + 5_000_000;
            prop_assert!(!liveness(&events, end - 1_000_000, end, 500_000).0.passed());
        }
    }
}
