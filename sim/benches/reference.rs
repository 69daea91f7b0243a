//! The reference workload: 3 nodes + Redis, TTL 3 s, renewal every 1 s, profile `all`, 60
//! simulated seconds in all (50 s of faults, 10 s of calm). Prints one JSON object.
//!
//! `cargo bench -p splitbrain-sim` — add `-- --seeds N` to change the sample size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use election::{TokioClock, TokioSpawner};
use sim::{reference, Profile, REDIS_HOST, REDIS_PORT};

/// A plain turmoil connector, nothing recorded.
struct Bare;
impl election::Connector for Bare {
    fn connect(&self) -> election::BoxFuture<'static, std::io::Result<election::BoxStream>> {
        Box::pin(async {
            let stream = turmoil::net::TcpStream::connect((REDIS_HOST, REDIS_PORT)).await?;
            Ok(Box::new(stream) as election::BoxStream)
        })
    }
    fn describe(&self) -> String {
        "bare".into()
    }
}

/// The same node programs on turmoil alone: tokio's clock and spawner, no gate, no recorded
/// traffic, no history, no nemesis.
fn bare_turmoil(seeds: u64) -> f64 {
    let started = Instant::now();
    for s in 0..seeds {
        let mut sim = turmoil::Builder::new()
            .rng_seed(s)
            .epoch(std::time::UNIX_EPOCH + Duration::from_millis(sim::EPOCH_UNIX_MS))
            .simulation_duration(Duration::from_secs(70))
            .tick_duration(Duration::from_millis(10))
            .min_message_latency(Duration::from_millis(1))
            .max_message_latency(Duration::from_millis(20))
            .build();
        let server = model::Server::new(model::ServerConfig::default(), Arc::new(BareRedisClock));
        sim.host(REDIS_HOST, move || {
            let server = server.clone();
            async move {
                let listener = turmoil::net::TcpListener::bind(("0.0.0.0", REDIS_PORT)).await?;
                server.serve(sim::TurmoilListener(listener)).await?;
                Ok(())
            }
        });
        for i in 1..=3 {
            let name = format!("node-{i}");
            sim.host(name.as_str(), move || {
                let config = reference::election_config(&format!("node-{i}"), 1);
                async move {
                    let elector = election::Elector::builder(config, Bare)
                        .clock(Arc::new(TokioClock::new()))
                        .spawner(Arc::new(TokioSpawner))
                        .build()
                        .expect("valid");
                    elector.run().await;
                    Ok(())
                }
            });
        }
        while sim.elapsed() < Duration::from_secs(60) {
            sim.step().expect("steps");
        }
    }
    started.elapsed().as_secs_f64() / seeds as f64
}

/// Redis's clock for the bare run: turmoil's simulated time since the epoch.
struct BareRedisClock;
impl model::ServerClock for BareRedisClock {
    fn now_ms(&self) -> i64 {
        (sim::EPOCH_UNIX_MS + turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64) as i64
    }
    fn sleep(&self, duration: Duration) -> model::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seeds: u64 = args
        .iter()
        .position(|a| a == "--seeds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let one_core = reference::seconds_per_seed(seeds, 0, Profile::All);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for core in 0..cores {
            // Benchmark harness only: each thread runs its own, single-threaded simulations.
            scope.spawn(move || reference::seconds_per_seed(seeds, 1_000_000 * (core + 1), Profile::All));
        }
    });
    let all_cores = (seeds * cores) as f64 / started.elapsed().as_secs_f64();
    let quiet = reference::seconds_per_seed(seeds, 0, Profile::Quiet);
    let bare = bare_turmoil(seeds);
    println!(
        "{{\"seeds\": {seeds}, \"seeds_per_second_one_core\": {:.1}, \"seeds_per_second_all_cores\": {all_cores:.1}, \"cores\": {cores}, \"sim_seconds_per_wall_second\": {:.0}, \"peak_rss_bytes\": {}, \"harness_quiet_seconds_per_seed\": {quiet:.4}, \"bare_turmoil_seconds_per_seed\": {bare:.4}, \"harness_overhead_percent\": {:.1}}}",
        1.0 / one_core,
        60.0 / one_core,
        reference::peak_rss_bytes(),
        (quiet / bare - 1.0) * 100.0,
    );
}
