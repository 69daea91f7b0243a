//! The simulation harness proves its faults do what they say, and that a seed is a run:
//! the production elector (TTL 3 s, renewal every 1 s, retry every 250 ms) on 3 nodes.

use std::collections::BTreeMap;
use std::time::Duration;

use election::ElectorConfig;
use sim::{
    check_determinism, elector, failure_report, nemesis, program, simulate, test_seeds, Event, EventKind, Fault,
    FaultKind, FaultSchedule, Moment, NodeId, NodeProgram, Profile, Run, Seed, SimConfig, SimRng, Target, Workload,
};

const TTL: Duration = Duration::from_secs(3);
const TEST_FILE: &str = "sim_harness";

fn production_elector() -> NodeProgram {
    elector(
        |node| {
            ElectorConfig::new("gateway_service_leader", node.name.clone(), node.incarnation).with_timings(
                TTL,
                Duration::from_secs(1),
                Duration::from_millis(250),
            )
        },
        Workload::none().with_fenced_writes(Duration::from_millis(500)),
    )
}

fn config(seed: Seed, safety_s: u64, liveness_s: u64, faults: Vec<Fault>) -> SimConfig {
    let mut config = SimConfig::new(seed);
    config.safety_phase = Duration::from_secs(safety_s);
    config.liveness_phase = Duration::from_secs(liveness_s);
    config.schedule = FaultSchedule { faults, swarm: None };
    config
}

fn fault(at_ms: u64, duration_ms: u64, kind: FaultKind) -> Fault {
    Fault::at(at_ms, duration_ms, kind)
}

fn run(config: &SimConfig) -> Run {
    simulate(config, production_elector()).expect("the simulation runs")
}

/// The (last) node the first fault was resolved to, from its FaultInjected event.
fn target_of(run: &Run) -> NodeId {
    run.events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::FaultInjected { nodes, .. } => nodes.last().cloned(),
            _ => None,
        })
        .expect("a fault fired")
}

fn of<'a>(run: &'a Run, node: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
    run.events.iter().filter(move |e| e.node == node)
}

fn acquisitions(run: &Run) -> Vec<(u64, NodeId, u64)> {
    run.events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Acquired { epoch, .. } => Some((e.at_us, e.node.clone(), epoch)),
            _ => None,
        })
        .collect()
}

fn ms(ms: u64) -> u64 {
    ms * 1000
}

#[test]
fn paused_leader_does_nothing_during_its_pause_and_steps_down_after() {
    let run = run(&config(Seed(1), 20, 10, vec![fault(8_000, 5_000, FaultKind::Pause { node: Target::Leader })]));
    let leader = target_of(&run);
    let during: Vec<&Event> = of(&run, &leader)
        .filter(|e| e.at_us > ms(8_000) && e.at_us < ms(13_000))
        .filter(|e| !matches!(e.kind, EventKind::Paused | EventKind::Resumed))
        .collect();
    assert!(during.is_empty(), "a paused node acted: {during:?}");
    let successor = acquisitions(&run).into_iter().find(|(at, node, _)| *at > ms(8_000) && *node != leader);
    let (taken_at, _, _) = successor.expect("another node took over during the pause");
    assert!(taken_at < ms(13_000));
    let after: Vec<&EventKind> = of(&run, &leader).filter(|e| e.at_us >= ms(13_000)).map(|e| &e.kind).collect();
    let stepped =
        after.iter().position(|k| matches!(k, EventKind::SteppedDown { reason, .. } if reason == "DeadlineMissed"));
    let wrote = after.iter().position(|k| matches!(k, EventKind::FencedWrite { .. }));
    assert!(stepped.is_some(), "the resumed leader steps down: {after:?}");
    assert!(wrote.is_none_or(|w| w > stepped.unwrap()), "no write of the old term after the pause");
}

#[test]
fn partitioned_leader_gets_no_replies_and_steps_down_by_its_deadline() {
    let run =
        run(&config(Seed(2), 20, 10, vec![fault(8_000, 6_000, FaultKind::PartitionRedis { node: Target::Leader })]));
    let leader = target_of(&run);
    let invoked: Vec<(u64, u64)> = of(&run, &leader)
        .filter(|e| e.at_us > ms(8_000) && e.at_us < ms(14_000))
        .filter_map(|e| match e.kind {
            EventKind::RedisInvoke { conn, op, .. } => Some((conn, op)),
            _ => None,
        })
        .collect();
    assert!(!invoked.is_empty(), "the leader kept trying");
    let answered = of(&run, &leader).filter(|e| e.at_us < ms(14_000)).any(|e| match e.kind {
        EventKind::RedisComplete { conn, op, .. } => invoked.contains(&(conn, op)),
        _ => false,
    });
    assert!(!answered, "a command sent into the partition was answered before it healed");
    let step_down = of(&run, &leader)
        .find(|e| {
            e.at_us > ms(8_000)
                && matches!(&e.kind, EventKind::SteppedDown { reason, .. } if reason == "DeadlineMissed")
        })
        .expect("the partitioned leader steps down");
    assert!(step_down.at_us <= ms(8_000) + TTL.as_micros() as u64, "by its deadline: {}", step_down.at_us);
    assert!(of(&run, &leader).any(|e| matches!(e.kind, EventKind::RenewFailed { .. })));
}

#[test]
fn drifting_clocks_fire_timers_early_or_late_by_their_drift() {
    let sleeper = || {
        program(|ctx| async move {
            let (local, truth) = (ctx.clock.local_us(), ctx.clock.true_at(ctx.clock.local_us()));
            election::Clock::sleep(&ctx.clock, Duration::from_secs(10)).await;
            let (local_after, truth_after) = (ctx.clock.local_us(), ctx.clock.true_at(ctx.clock.local_us()));
            ctx.recorder.record(EventKind::Note { what: format!("{} {}", local_after - local, truth_after - truth) });
        })
    };
    let faults = vec![
        fault(0, 30_000, FaultKind::ClockDrift { node: Target::Node("node-1".into()), drift_ppm: 50_000 }),
        fault(0, 30_000, FaultKind::ClockDrift { node: Target::Node("node-2".into()), drift_ppm: -50_000 }),
    ];
    let run = simulate(&config(Seed(3), 30, 1, faults), sleeper()).unwrap();
    let elapsed = |node: &str| -> (i64, u64) {
        of(&run, node)
            .find_map(|e| match &e.kind {
                EventKind::Note { what } => {
                    let (l, t) = what.split_once(' ').unwrap();
                    Some((l.parse().unwrap(), t.parse().unwrap()))
                }
                _ => None,
            })
            .unwrap()
    };
    for (node, expected_true_us) in
        [("node-1", 10_000_000 * 1_000 / 1_050), ("node-2", 10_000_000 * 1_000 / 950), ("node-3", 10_000_000)]
    {
        let (local_us, true_us) = elapsed(node);
        assert!((10_000_000..10_002_000).contains(&local_us), "{node} slept {local_us} µs of its own time");
        assert!(
            true_us.abs_diff(expected_true_us) < 2_000,
            "{node}: {true_us} µs of true time, expected {expected_true_us}"
        );
    }
}

#[test]
fn crash_loses_everything_and_restart_is_a_new_incarnation() {
    let run = run(&config(Seed(4), 20, 10, vec![fault(8_000, 4_000, FaultKind::Crash { node: Target::Leader })]));
    let leader = target_of(&run);
    assert!(of(&run, &leader).any(|e| e.kind == EventKind::Crashed && e.at_us == ms(8_000)));
    assert!(!of(&run, &leader).any(|e| matches!(e.kind, EventKind::Released { .. })), "kill -9 releases nothing");
    let silent = of(&run, &leader).filter(|e| e.at_us > ms(8_000) && e.at_us < ms(12_000)).count();
    assert_eq!(silent, 0, "a crashed node does nothing");
    let restarted = of(&run, &leader).find(|e| e.kind == EventKind::ElectionStarted && e.at_us >= ms(12_000)).unwrap();
    assert_eq!(restarted.incarnation, 2);
    let holder_seen = run.events.iter().any(|e| {
        e.node != leader
            && e.at_us > ms(8_000)
            && matches!(&e.kind, EventKind::RedisComplete { reply, .. } if reply.contains(&format!("{leader}/")))
    });
    assert!(holder_seen, "the others found the crashed leader's unreleased lease");
    let epochs: Vec<u64> = acquisitions(&run).iter().map(|(_, _, e)| *e).collect();
    assert!(epochs.windows(2).all(|w| w[0] < w[1]), "{epochs:?}");
}

#[test]
fn redis_restart_without_persistence_empties_the_keyspace() {
    // Down for longer than the TTL: the lease expires meanwhile (TTLs are absolute), so a
    // new term begins after the restart either way.
    let restart = |persistence: &str| {
        let mode = sim::PersistenceMode::try_from(persistence.to_owned()).expect("a persistence mode");
        let faults = vec![fault(8_000, 5_000, FaultKind::RedisRestart { persistence: Some(mode) })];
        let run = run(&config(Seed(5), 20, 10, faults));
        let before = acquisitions(&run).iter().filter(|(at, _, _)| *at < ms(8_000)).map(|(_, _, e)| *e).max().unwrap();
        let after = acquisitions(&run).iter().find(|(at, _, _)| *at > ms(13_000)).map(|(_, _, e)| *e).unwrap();
        (before, after)
    };
    assert_eq!(restart("none").1, 1, "the epoch counter was lost with the keyspace");
    let (before, after) = restart("aof-always");
    assert!(after > before, "with AOF always the counter survives: {before} then {after}");
}

#[test]
fn held_messages_are_delivered_together_when_released() {
    let run = run(&config(Seed(6), 20, 10, vec![fault(8_000, 2_000, FaultKind::Hold { node: Target::Leader })]));
    let leader = target_of(&run);
    let completed_during = of(&run, &leader)
        .filter(|e| e.at_us > ms(8_010) && e.at_us < ms(10_000))
        .filter(|e| matches!(e.kind, EventKind::RedisComplete { .. }))
        .count();
    assert_eq!(completed_during, 0, "nothing gets through a held link");
    let burst = of(&run, &leader)
        .filter(|e| e.at_us >= ms(10_000) && e.at_us < ms(10_100))
        .filter(|e| matches!(e.kind, EventKind::RedisComplete { .. }))
        .count();
    assert!(burst >= 1, "the held replies arrive on release");
}

#[test]
fn graceful_stop_releases_and_the_node_returns() {
    let run = run(&config(Seed(7), 20, 10, vec![fault(8_000, 3_000, FaultKind::Stop { node: Target::Leader })]));
    let leader = target_of(&run);
    let released = of(&run, &leader).find(|e| matches!(e.kind, EventKind::Released { .. })).expect("released on stop");
    assert!(released.at_us < ms(8_100), "at once: {}", released.at_us);
    let successor = acquisitions(&run).into_iter().find(|(at, node, _)| *at > ms(8_000) && *node != leader).unwrap();
    assert!(successor.0 < ms(8_000) + 600_000, "a new leader within the retry interval: {}", successor.0);
    assert!(of(&run, &leader).any(|e| e.kind == EventKind::ElectionStarted && e.incarnation == 2));
}

#[test]
fn a_seed_is_a_run_in_one_process() {
    let mut config = config(Seed(8), 60, 20, vec![]);
    let aim = nemesis::Aim { ttl: TTL, safety_phase: config.safety_phase, nodes: 3 };
    config.schedule = nemesis::schedule(Profile::All, &mut SimRng::new(config.seed, "nemesis"), aim);
    let first = check_determinism(&config, production_elector).unwrap_or_else(|e| panic!("{e}"));
    let mut other = config.clone();
    other.seed = Seed(9);
    assert_ne!(run(&other).trace_hash(), first.trace_hash(), "a different seed is a different run");
}

/// Run by `a_seed_is_a_run_across_processes` in a child process.
#[test]
fn child_prints_its_trace_hash() {
    if let Ok(seed) = std::env::var("SPLITBRAIN_CHILD_SEED") {
        println!("trace-hash {:016x}", run(&all_profile(seed.parse().unwrap(), 60)).trace_hash());
    }
}

fn all_profile(seed: Seed, safety_s: u64) -> SimConfig {
    let mut config = config(seed, safety_s, 30, vec![]);
    let aim = nemesis::Aim { ttl: TTL, safety_phase: config.safety_phase, nodes: 3 };
    config.schedule = nemesis::schedule(Profile::All, &mut SimRng::new(seed, "nemesis"), aim);
    config
}

#[test]
fn a_seed_is_a_run_across_processes() {
    let seed = Seed(0xfeed);
    let here = format!("trace-hash {:016x}", run(&all_profile(seed, 60)).trace_hash());
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_prints_its_trace_hash", "--nocapture"])
        .env("SPLITBRAIN_CHILD_SEED", seed.to_string())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&child.stdout);
    assert!(out.contains(&here), "another process ran {seed} differently: expected {here:?} in {out}");
}

/// The production elector under the `all` profile: 3 nodes, 600 s of faults then 60 s of
/// calm, for `SPLITBRAIN_SEEDS` seeds (200 by default): exactly one leader at the end.
#[test]
fn production_elector_has_exactly_one_leader_after_every_liveness_phase() {
    for seed in test_seeds(200) {
        let config = all_profile(seed, 600);
        let run = run(&config);
        let leaders = run.leaders_at(run.end_us - 1);
        assert!(
            leaders.len() == 1,
            "{}",
            failure_report(
                &run,
                &format!("expected exactly one leader at the end, found {leaders:?}"),
                TEST_FILE,
                "production_elector"
            )
        );
    }
}

/// (invoke, complete) times of each answered command of `node` invoked within [from, to).
fn round_trips(run: &Run, node: &str, from_us: u64, to_us: u64) -> Vec<(u64, u64)> {
    let mut open = std::collections::BTreeMap::new();
    let mut trips = Vec::new();
    for e in of(run, node) {
        match &e.kind {
            EventKind::RedisInvoke { conn, op, .. } if e.at_us >= from_us && e.at_us < to_us => {
                open.insert((e.incarnation, *conn, *op), e.at_us);
            }
            EventKind::RedisComplete { conn, op, .. } => {
                if let Some(sent) = open.remove(&(e.incarnation, *conn, *op)) {
                    trips.push((sent, e.at_us));
                }
            }
            _ => {}
        }
    }
    trips
}

#[test]
fn one_way_partition_from_redis_silences_replies_but_not_requests() {
    let cut = FaultKind::PartitionOneWay { from: Target::Redis, to: Target::Leader };
    let run = run(&config(Seed(10), 20, 10, vec![fault(8_000, 6_000, cut)]));
    let leader = target_of(&run);
    // Requests still leave (the first renewal after the cut goes out unanswered; reconnects
    // then hang on their handshake), but nothing comes back until the link heals.
    let sent = of(&run, &leader)
        .filter(|e| e.at_us >= ms(8_000) && e.at_us < ms(14_000))
        .any(|e| matches!(e.kind, EventKind::RedisInvoke { .. }));
    assert!(sent, "the leader can still send");
    let answered = of(&run, &leader)
        .filter(|e| e.at_us > ms(8_100) && e.at_us < ms(14_000))
        .any(|e| matches!(e.kind, EventKind::RedisComplete { .. }));
    assert!(!answered, "but hears nothing back");
    assert!(of(&run, &leader).any(|e| e.at_us > ms(8_000) && matches!(e.kind, EventKind::SteppedDown { .. })));
}

#[test]
fn isolating_every_node_from_redis_leaves_no_leader_until_it_heals() {
    let run = run(&config(Seed(11), 20, 10, vec![fault(8_000, 6_000, FaultKind::IsolateSet { count: 3 })]));
    // Past the longest a lease can last, nobody leads while nobody reaches Redis.
    assert!(run.leaders_at(ms(8_000) + TTL.as_micros() as u64 + 10_000).is_empty());
    assert!(!acquisitions(&run).iter().any(|(at, _, _)| *at > ms(8_000) && *at < ms(14_000)));
    assert_eq!(run.leaders_at(run.end_us - 1).len(), 1);
}

#[test]
fn latency_spikes_and_slow_redis_delay_every_reply() {
    // 150 ms each way: round trips of 300 ms, within the elector's 500 ms command timeout.
    let latency = run(&config(
        Seed(12),
        20,
        10,
        vec![fault(8_000, 5_000, FaultKind::Latency { node: Target::Leader, latency_ms: 150 })],
    ));
    let leader = target_of(&latency);
    let trips = round_trips(&latency, &leader, ms(8_100), ms(12_000));
    assert!(!trips.is_empty() && trips.iter().all(|(sent, done)| done - sent >= ms(300)), "{trips:?}");

    let slow = run(&config(Seed(13), 20, 10, vec![fault(8_000, 5_000, FaultKind::RedisSlow { delay_ms: 300 })]));
    for node in ["node-1", "node-2", "node-3"] {
        let trips = round_trips(&slow, node, ms(8_100), ms(12_000));
        assert!(trips.iter().all(|(sent, done)| done - sent >= ms(300)), "{node}: {trips:?}");
    }
}

#[test]
fn dropped_connections_make_every_node_reconnect() {
    let run = run(&config(Seed(14), 20, 10, vec![fault(8_000, 0, FaultKind::RedisDropConnections)]));
    for node in ["node-1", "node-2", "node-3"] {
        let conn_of = |e: &Event| match e.kind {
            EventKind::RedisInvoke { conn, .. } => Some(conn),
            _ => None,
        };
        let before = of(&run, node).filter(|e| e.at_us < ms(8_000)).filter_map(conn_of).max().unwrap();
        let after = of(&run, node).filter(|e| e.at_us > ms(8_000)).filter_map(conn_of).max().unwrap();
        assert!(after > before, "{node} opened a new connection");
    }
}

#[test]
fn redis_clock_jump_expires_the_lease_early() {
    let run = run(&config(Seed(15), 20, 10, vec![fault(8_000, 0, FaultKind::RedisClockJump { jump_ms: 5_000 })]));
    let before = acquisitions(&run).iter().filter(|(at, _, _)| *at < ms(8_000)).map(|(_, _, e)| *e).max().unwrap();
    let next = acquisitions(&run).into_iter().find(|(at, _, _)| *at >= ms(8_000)).expect("a new term");
    assert!(next.0 < ms(8_000) + 600_000 && next.2 > before, "taken within a retry: {next:?}");
}

#[test]
fn added_node_joins_as_follower_and_removed_node_leaves_for_good() {
    let faults =
        vec![fault(6_000, 0, FaultKind::AddNode), fault(9_000, 0, FaultKind::RemoveNode { node: Target::Follower })];
    let run = run(&config(Seed(16), 20, 10, faults));
    assert_eq!(run.nodes.len(), 4);
    assert!(of(&run, "node-4").any(|e| e.kind == EventKind::ElectionStarted && e.at_us >= ms(6_000)));
    assert!(!of(&run, "node-4").any(|e| matches!(e.kind, EventKind::Acquired { .. })), "the leader was undisturbed");
    let removed = run
        .events
        .iter()
        .find(|e| e.kind == EventKind::StopRequested)
        .map(|e| e.node.clone())
        .expect("a node was removed");
    assert!(of(&run, &removed).any(|e| e.kind == EventKind::Exited), "it stopped");
    assert!(
        !of(&run, &removed).any(|e| e.kind == EventKind::ElectionStarted && e.at_us > ms(9_000)),
        "and stayed away"
    );
}

/// A node program that reads a key and then writes it, every 100 ms (a check-then-act loop).
fn read_then_write() -> NodeProgram {
    program(|ctx| async move {
        let mut conn = election::connect(&ctx.connector, &ctx.spawner, &Default::default()).await.unwrap();
        loop {
            election::Clock::sleep(&ctx.clock, Duration::from_millis(100)).await;
            let seen: Option<String> = redis::cmd("GET").arg("k").query_async(&mut conn).await.unwrap();
            let next = seen.map_or(0, |s| s.parse::<u64>().unwrap() + 1);
            let () = redis::cmd("SET").arg("k").arg(next).query_async(&mut conn).await.unwrap();
        }
    })
}

/// `node`'s Redis traffic and pauses as (time, what) from `from_us` on: "GET", "SET",
/// "reply", "paused", "resumed".
fn traffic(run: &Run, node: &str, from_us: u64) -> Vec<(u64, String)> {
    of(run, node)
        .filter(|e| e.at_us >= from_us)
        .filter_map(|e| {
            let what = match &e.kind {
                EventKind::RedisInvoke { args, .. } => args[0].trim_matches('"').to_owned(),
                EventKind::RedisComplete { .. } => "reply".to_owned(),
                EventKind::Paused => "paused".to_owned(),
                EventKind::Resumed => "resumed".to_owned(),
                _ => return None,
            };
            Some((e.at_us, what))
        })
        .collect()
}

#[test]
fn pause_at_freezes_a_node_right_after_a_read_before_a_write_or_after_a_write() {
    let node = Target::Node("node-1".into());
    let moments =
        [(Moment::AfterRead, "GET", "SET"), (Moment::BeforeWrite, "GET", "SET"), (Moment::AfterWrite, "SET", "GET")];
    for (moment, before, after) in moments {
        let faults = vec![fault(1_050, 2_000, FaultKind::PauseAt { node: node.clone(), moment })];
        let run = simulate(&config(Seed(3), 10, 2, faults), read_then_write()).expect("the simulation runs");
        let seen = traffic(&run, "node-1", ms(1_050));
        let paused = seen.iter().position(|(_, w)| w == "paused").expect("the armed pause fired");
        let resumed = seen.iter().position(|(_, w)| w == "resumed").expect("and ended");
        // The command and its reply came before the pause (for before-write, the read the
        // write depends on); what follows only after, the pause's whole length later.
        assert_eq!(seen[paused - 2].1, before, "{moment:?}: {seen:?}");
        assert_eq!(seen[paused - 1].1, "reply", "{moment:?}: {seen:?}");
        assert_eq!(resumed, paused + 1, "{moment:?}: nothing happened while paused: {seen:?}");
        assert_eq!(seen[resumed].0 - seen[paused].0, ms(2_000), "{moment:?}: {seen:?}");
        assert_eq!(seen[resumed + 1].1, after, "{moment:?}: {seen:?}");
        assert_eq!(run.events.iter().filter(|e| e.kind == EventKind::Paused).count(), 1, "{moment:?}: fired once");
    }
}

#[test]
fn a_late_reply_delays_one_reply_the_way_back_only() {
    let node = Target::Node("node-1".into());
    let faults = vec![fault(1_050, 2_000, FaultKind::LateReply { node, delay_ms: 300 })];
    let run = simulate(&config(Seed(3), 10, 2, faults), read_then_write()).expect("the simulation runs");
    let seen = traffic(&run, "node-1", ms(1_050));
    // Each command's reply, as (sent, answered) in µs.
    let rounds: Vec<(u64, u64)> =
        seen.windows(2).filter(|w| w[0].1 != "reply" && w[1].1 == "reply").map(|w| (w[0].0, w[1].0)).collect();
    let late: Vec<&(u64, u64)> = rounds.iter().filter(|(sent, answered)| answered - sent >= ms(300)).collect();
    assert_eq!(late.len(), 1, "one reply late: {rounds:?}");
    assert!(late[0].1 - late[0].0 < ms(300) + ms(50), "late by the delay and the link's own latency: {late:?}");
    assert!(rounds.len() > 10, "the node went on: {rounds:?}");
    assert!(rounds.iter().filter(|r| *r != late[0]).all(|(s, a)| a - s < ms(50)), "the others on time: {rounds:?}");
}

#[test]
fn a_pause_at_whose_moment_never_comes_does_nothing() {
    // The production elector only runs scripts: it never reads.
    let faults = vec![fault(5_000, 2_000, FaultKind::PauseAt { node: Target::Leader, moment: Moment::AfterRead })];
    let run = run(&config(Seed(4), 20, 5, faults));
    assert!(!run.events.iter().any(|e| e.kind == EventKind::Paused), "never fired");
    let healed = run.events.iter().find(|e| matches!(e.kind, EventKind::FaultHealed { .. })).expect("disarmed");
    assert_eq!(healed.at_us, ms(20_000), "disarmed when the safety phase ends");
}

/// The production cache beside the production elector, on a run with a source database.
fn cache_run(faults: Vec<Fault>) -> Run {
    let mut config = config(Seed(11), 10, 2, faults);
    config.source_db = true;
    let program = sim::elector(
        |node| {
            election::ElectorConfig::new("leader", node.name.clone(), node.incarnation).with_timings(
                TTL,
                Duration::from_secs(1),
                Duration::from_millis(250),
            )
        },
        Workload::none().with_cache(sim::CacheLoad::new()),
    );
    simulate(&config, program).expect("the simulation runs")
}

#[test]
fn a_late_source_read_is_raced_by_another_nodes_write_of_its_key() {
    let node = Target::Node("node-1".into());
    let run = cache_run(vec![fault(3_000, 2_000, FaultKind::SourceLateReply { node, delay_ms: 300 })]);
    // Each of a node's commands that names a cache key: (connection, op) -> (sent µs, args).
    let sent = |name: &str| -> BTreeMap<(u64, u64), (u64, Vec<String>)> {
        of(&run, name)
            .filter_map(|e| match &e.kind {
                EventKind::RedisInvoke { conn, op, args } if args.iter().any(|a| a.starts_with("\"cache:")) => {
                    Some(((*conn, *op), (e.at_us, args.clone())))
                }
                _ => None,
            })
            .collect()
    };
    let reads = sent("node-1");
    let late: Vec<(u64, u64, String)> = of(&run, "node-1")
        .filter_map(|e| match &e.kind {
            EventKind::RedisComplete { conn, op, .. } => {
                let (at, args) = reads.get(&(*conn, *op))?;
                (args[0] == "\"GET\"" && e.at_us - at >= ms(300)).then(|| (*at, e.at_us, args[1].clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(late.len(), 1, "one source read answered late: {late:?}");
    let (read_us, answered_us, key) = &late[0];
    let raced = sent("node-2")
        .into_values()
        .any(|(at, args)| args[0] != "\"GET\"" && args.contains(key) && at > *read_us && at < read_us + ms(100));
    assert!(
        raced,
        "node-2 wrote {key} while node-1's read of it (sent {read_us} µs, answered {answered_us} µs) was late"
    );
}

#[test]
fn the_caches_resp3_subscriber_connection_is_recorded_throughout() {
    let run = cache_run(vec![]);
    // The subscriber's connection: the one that said HELLO 3.
    let hello = run
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::RedisInvoke { conn, op, args } if args.first().is_some_and(|a| a == "\"HELLO\"") => {
                Some((e.node.clone(), e.incarnation, *conn, *op))
            }
            _ => None,
        })
        .expect("the cache subscribes over RESP3");
    let on_conn = |e: &&Event| e.node == hello.0 && e.incarnation == hello.1;
    let mut answered = Vec::new();
    let mut pushes = 0;
    for e in run.events.iter().filter(on_conn) {
        match &e.kind {
            EventKind::RedisComplete { conn, op, reply } if *conn == hello.2 => answered.push((*op, reply.clone())),
            EventKind::RedisPush { conn, .. } if *conn == hello.2 => pushes += 1,
            _ => {}
        }
    }
    let hello_reply = &answered.iter().find(|(op, _)| *op == hello.3).expect("HELLO answered").1;
    assert!(hello_reply.contains("\"proto\", :3"), "HELLO 3's map, flattened: {hello_reply}");
    // The recording went on past the handshake: the subscription's PINGs, for ten seconds.
    let pongs = answered.iter().filter(|(_, reply)| reply == "PONG").count();
    assert!(pongs >= 5, "PINGs on the subscriber connection recorded: {answered:?}");
    assert!(pushes > 0, "invalidations recorded as pushes");
}

#[test]
fn a_triggered_fault_starts_at_its_nodes_moment_inside_the_eval_after_a_restart() {
    // Redis restarts at 8 s for 1 s; a fault armed at 9 s waits for node-1's first write
    // answered after that — an EVALSHA answered NOSCRIPT — and isolates a node while node-1's
    // EVAL is in flight.
    let trigger = sim::Trigger { node: Target::Node(NodeId::replica(1)), moment: Moment::AfterWrite };
    let isolate = Fault { trigger: Some(trigger), ..fault(9_000, 2_000, FaultKind::IsolateSet { count: 1 }) };
    let restart = fault(8_000, 1_000, FaultKind::RedisRestart { persistence: None });
    let config = config(Seed(3), 20, 10, vec![restart, isolate]);
    let run = run(&config);
    let injected_us: Vec<u64> = run
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::FaultInjected { fault, .. } if fault.trigger.is_some()))
        .map(|e| e.at_us)
        .collect();
    assert_eq!(injected_us.len(), 1, "the trigger fired once");
    assert!(injected_us[0] > ms(9_000), "not before the moment: {injected_us:?}");
    let (eval_sent_us, conn, op) = of(&run, "node-1")
        .filter(|e| e.at_us > ms(9_000))
        .find_map(|e| match &e.kind {
            EventKind::RedisInvoke { args, conn, op } if args.first().is_some_and(|a| a == "\"EVAL\"") => {
                Some((e.at_us, *conn, *op))
            }
            _ => None,
        })
        .expect("node-1 sent EVAL after the restart");
    let answered_us = of(&run, "node-1").find_map(|e| match &e.kind {
        EventKind::RedisComplete { conn: c, op: o, .. } if (*c, *o) == (conn, op) => Some(e.at_us),
        _ => None,
    });
    assert!(
        injected_us[0] >= eval_sent_us && answered_us.is_none_or(|to| injected_us[0] < to),
        "the fault began while the EVAL sent at {eval_sent_us} µs was in flight: {injected_us:?}, {answered_us:?}"
    );
    assert!(check_determinism(&config, production_elector).is_ok());
}

#[test]
fn a_trigger_whose_moment_never_comes_leaves_no_trace() {
    // node-1 is paused for the whole safety phase: no moment of its own comes.
    let trigger = sim::Trigger { node: Target::Node(NodeId::replica(1)), moment: Moment::AfterRead };
    let triggered = Fault { trigger: Some(trigger), ..fault(5_000, 1_000, FaultKind::RedisDropConnections) };
    let pause = fault(4_000, 16_000, FaultKind::Pause { node: Target::Node(NodeId::replica(1)) });
    let run = run(&config(Seed(4), 20, 10, vec![pause, triggered]));
    let injected = run.events.iter().filter(|e| matches!(e.kind, EventKind::FaultInjected { .. })).count();
    assert_eq!(injected, 1, "only the pause began");
}
