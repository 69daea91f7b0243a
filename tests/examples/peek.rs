use election::ElectorConfig;
use sim::*;
use std::time::{Duration, Instant};
fn main() {
    if let Ok(n) = std::env::var("TEST_SEEDS") {
        let skip: usize = std::env::var("SKIP").map(|s| s.parse().unwrap()).unwrap_or(0);
        for seed in test_seeds(n.parse().unwrap()).into_iter().skip(skip) {
            eprintln!("running {seed}");
            one(seed);
        }
        return;
    }
    one(Seed(std::env::var("SEED").map(|s| s.parse().unwrap()).unwrap_or(1)));
}
fn one(seed: Seed) {
    let mut config = SimConfig::new(seed);
    let safety: u64 = std::env::var("SAFETY").map(|s| s.parse().unwrap()).unwrap_or(20);
    config.safety_phase = Duration::from_secs(safety);
    config.liveness_phase = Duration::from_secs(10);
    if let Ok(p) = std::env::var("PROFILE") {
        let aim = nemesis::Aim { ttl: Duration::from_secs(3), safety_phase: config.safety_phase, nodes: 3 };
        config.schedule = nemesis::schedule(p.parse().unwrap(), &mut SimRng::new(seed, "nemesis"), aim);
    } else {
        config.schedule = serde_json::from_str(&std::env::args().nth(1).unwrap_or("{\"faults\":[]}".into())).unwrap();
    }
    if std::env::var("SHOW_SCHEDULE").is_ok() {
        for f in &config.schedule.faults {
            eprintln!("{}", serde_json::to_string(f).unwrap());
        }
    }
    let program = elector(
        |n| {
            ElectorConfig::new("leader", n.name.clone(), n.incarnation).with_timings(
                Duration::from_secs(3),
                Duration::from_secs(1),
                Duration::from_millis(250),
            )
        },
        Some(Duration::from_millis(500)),
    );
    let started = Instant::now();
    let run = simulate(&config, program).unwrap();
    let wall = started.elapsed();
    if std::env::var("QUIET").is_err() {
        for e in &run.events {
            if !matches!(e.kind, EventKind::RedisInvoke { .. } | EventKind::RedisComplete { .. })
                || std::env::var("ALL").is_ok()
            {
                println!("{:>9} {:7} #{} {}", e.at_us, e.node, e.incarnation, serde_json::to_string(&e.kind).unwrap());
            }
        }
    }
    println!(
        "seed {seed} events {} hash {:016x} leaders at end {:?} wall {:?}",
        run.events.len(),
        run.trace_hash,
        run.leaders_at(run.end_us - 1),
        wall
    );
}
