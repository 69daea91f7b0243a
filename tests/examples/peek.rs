use std::time::Duration;
use election::ElectorConfig;
use sim::*;
fn main() {
    let mut config = SimConfig::new(Seed(std::env::var("SEED").map(|s| s.parse().unwrap()).unwrap_or(1)));
    config.safety_phase = Duration::from_secs(20);
    config.liveness_phase = Duration::from_secs(10);
    let faults: FaultSchedule = serde_json::from_str(&std::env::args().nth(1).unwrap_or("{\"faults\":[]}".into())).unwrap();
    config.schedule = faults;
    let program = elector(|n| ElectorConfig::new("leader", n.name.clone(), n.incarnation).with_timings(Duration::from_secs(3), Duration::from_secs(1), Duration::from_millis(250)), Some(Duration::from_millis(500)));
    let run = simulate(&config, program).unwrap();
    for e in &run.events { if !matches!(e.kind, EventKind::RedisInvoke{..} | EventKind::RedisComplete{..}) || std::env::var("ALL").is_ok() { println!("{:>9} {:7} #{} {}", e.at_us, e.node, e.incarnation, serde_json::to_string(&e.kind).unwrap()); } }
    println!("events {} hash {:016x} leaders at end {:?}", run.events.len(), run.trace_hash, run.leaders_at(run.end_us - 1));
}
