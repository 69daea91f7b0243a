//! Checker throughput: history events per second of each checker on synthetic legal
//! histories of 10^3 .. 10^6 events (properties 1-3, 5, 6), and the linearizability checker
//! on lease histories of 10^2 .. 10^5 operations. Prints one JSON object per measurement.
//!
//! `cargo bench -p splitbrain-sim --bench checkers`

use std::time::{Duration, Instant};

use sim::check::{
    epochs, fenced_epochs, job_slots, linearizability_with, liveness, strict_exclusivity, LeaseKeys, Verdict,
    DEFAULT_BUDGET,
};
use sim::{ClockTrace, Event, EventKind, Seed, SimRng};

/// A legal history: terms of about a second, one after another, each with renewals, fenced
/// writes, slot runs and the Redis operations behind them (acquire, a follower's failed
/// acquire, renewals, release). Stops at `events` events.
fn history(events: usize, with_redis: bool) -> Vec<Event> {
    let mut rng = SimRng::new(Seed(0xbe7c), "checker-bench");
    let acquire = election::LuaScript::new(election::ACQUIRE).sha().to_owned();
    let renew = election::LuaScript::new(election::RENEW).sha().to_owned();
    let release = election::LuaScript::new(election::RELEASE).sha().to_owned();
    let mut out: Vec<Event> = Vec::with_capacity(events + 32);
    let push = |out: &mut Vec<Event>, ms: u64, node: usize, kind: EventKind| {
        let seq = out.len() as u64;
        out.push(Event {
            seq,
            at_us: ms * 1000,
            node: sim::NodeId::replica(node),
            incarnation: 1,
            local_us: None,
            kind,
        });
    };
    let (mut t, mut op, mut slot) = (0u64, 0u64, 0u64);
    // The scripts' sources, as the elector sends them once: the checker replays them.
    if with_redis {
        for source in [election::ACQUIRE, election::RENEW, election::RELEASE] {
            op += 1;
            let args = ["SCRIPT", "LOAD", source].iter().map(|a| format!("{a:?}")).collect();
            push(&mut out, 0, 1, EventKind::RedisInvoke { conn: 0, op, args });
            let reply = format!("{:?}", election::LuaScript::new(source).sha());
            push(&mut out, 0, 1, EventKind::RedisComplete { conn: 0, op, reply });
        }
    }
    let mut epoch = 0u64;
    while out.len() < events {
        epoch += 1;
        let node = rng.below(3) as usize + 1;
        let value = format!("node-{node}/0000000000000001/{epoch}");
        let mut redis = |out: &mut Vec<Event>, at: u64, node: usize, args: Vec<String>, reply: String| {
            if with_redis {
                op += 1;
                let args = args.iter().map(|a| format!("{a:?}")).collect();
                push(out, at, node, EventKind::RedisInvoke { conn: 1, op, args });
                push(out, at + 3, node, EventKind::RedisComplete { conn: 1, op, reply });
            }
        };
        let acquire_args = |n: usize| {
            [
                "EVALSHA",
                &acquire,
                "3",
                "leader",
                "leader:epoch",
                "leader:info",
                &format!("node-{n}/0000000000000001/"),
                "3000",
                "{",
            ]
            .map(String::from)
            .to_vec()
        };
        redis(&mut out, t + 1, node, acquire_args(node), format!(":{epoch}"));
        let deadline = |ms: u64| EventKind::Acquired { epoch, deadline_local_us: 0, deadline_true_us: ms * 1000 };
        push(&mut out, t + 5, node, deadline(t + 1_000));
        for k in 1..=3u64 {
            let at = t + k * 250;
            let renew_args =
                ["EVALSHA", &renew, "2", "leader", "leader:info", &value, "3000"].map(String::from).to_vec();
            redis(&mut out, at, node, renew_args, ":1".into());
            push(
                &mut out,
                at + 4,
                node,
                EventKind::Renewed { epoch, deadline_local_us: 0, deadline_true_us: (t + 1_000) * 1000 },
            );
            let write = EventKind::FencedWrite {
                epoch,
                accepted: true,
                value: String::new(),
                sent_us: (at + 10) * 1000,
                replaced: None,
            };
            push(&mut out, at + 15, node, write);
            slot += 1;
            push(
                &mut out,
                at + 20,
                node,
                EventKind::SlotRun { job: "job".into(), slot, epoch, sent_us: (at + 16) * 1000 },
            );
        }
        let other = node % 3 + 1;
        redis(&mut out, t + 500, other, acquire_args(other), format!("{value:?}"));
        let release_args = ["EVALSHA", &release, "2", "leader", "leader:info", &value].map(String::from).to_vec();
        redis(&mut out, t + 990, node, release_args, ":1".into());
        push(&mut out, t + 995, node, EventKind::SteppedDown { epoch, reason: "Released".into() });
        t += 1_000;
    }
    out
}

fn measure(name: &str, events: &[Event], check: impl Fn(&[Event]) -> Verdict) {
    let started = Instant::now();
    let mut runs = 0u32;
    while runs == 0 || started.elapsed() < Duration::from_millis(300) {
        let verdict = check(events);
        assert!(verdict.passed(), "{name}: {}", verdict.explanation);
        runs += 1;
    }
    let per_run = started.elapsed().as_secs_f64() / f64::from(runs);
    println!(
        "{{\"checker\":\"{name}\",\"events\":{},\"seconds\":{per_run:.6},\"events_per_second\":{:.0}}}",
        events.len(),
        events.len() as f64 / per_run
    );
}

fn main() {
    for n in [1_000, 10_000, 100_000, 1_000_000] {
        let events = history(n, false);
        let end = events.last().unwrap().at_us + 1;
        measure("epochs", &events, epochs);
        measure("fenced-epochs", &events, fenced_epochs);
        measure("strict-exclusivity", &events, strict_exclusivity);
        measure("job-slots", &events, |e| job_slots(e, 0, end, Duration::from_millis(250)));
        // Up to just after the last term began, when it still leads.
        let last = events.iter().rev().find(|e| matches!(e.kind, EventKind::Acquired { .. })).unwrap().at_us;
        measure("liveness", &events, |e| liveness(e, 0, last + 100_000, 2_000_000).0);
    }
    for ops in [100, 1_000, 10_000, 100_000] {
        // Ten events per term carry five operations of two events each.
        let events: Vec<Event> = history(ops * 4, true);
        let count = events.iter().filter(|e| matches!(e.kind, EventKind::RedisInvoke { .. })).count();
        let started = Instant::now();
        let verdict = linearizability_with(
            &events,
            &[LeaseKeys::of_election("leader")],
            &ClockTrace::default(),
            DEFAULT_BUDGET,
            &sim::ModelReplayer::new(),
        );
        let seconds = started.elapsed().as_secs_f64();
        assert!(verdict.passed(), "{}", verdict.explanation);
        println!(
            "{{\"checker\":\"linearizability\",\"operations\":{count},\"seconds\":{seconds:.6},\"operations_per_second\":{:.0}}}",
            count as f64 / seconds
        );
    }
}
