//! `splitbrain bench`: the reference workload (3 nodes + Redis, TTL 3 s, renewal 1 s,
//! profile `all`, 60 simulated seconds) on one core and on all; one JSON object, to compare
//! run to run.

use std::time::Instant;

use sim::Profile;

use crate::args::BenchArgs;
use crate::exit::Exit;
use crate::progress::{Progress, Total};

pub fn bench(args: BenchArgs) -> Result<Exit, String> {
    let seeds = args.seeds;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let mut progress = Progress::new(Total::Count(seeds.saturating_mul(cores + 1)), "seeds");
    // One seed at a time on one core, so that the bar moves; the seeds are those of one call.
    let mut one_core_s = 0.0;
    for s in 0..seeds {
        one_core_s += sim::reference::seconds_per_seed(1, s, Profile::All);
        progress.update(s + 1, 0);
    }
    let one_core = one_core_s / seeds as f64;
    // All cores: the campaigns' worker pool, one batch of `seeds` per worker.
    let started = Instant::now();
    let next = std::sync::atomic::AtomicU64::new(0);
    let pool = crate::pool::Pool::start(cores as usize, move |_| {
        let core = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (core < cores).then(|| sim::reference::seconds_per_seed(seeds, 1_000_000 * (core + 1), Profile::All))
    })?;
    while !matches!(pool.next(std::time::Duration::from_secs(3600)), crate::pool::Next::Finished) {}
    let all_cores = (seeds * cores) as f64 / started.elapsed().as_secs_f64();
    progress.finish(seeds * (cores + 1), 0);
    let report = serde_json::json!({
        "workload": "3 nodes + Redis, TTL 3 s, renewal 1 s, profile all, 60 simulated seconds",
        "seeds": seeds,
        "cores": cores,
        "seeds_per_second_one_core": (1.0 / one_core * 10.0).round() / 10.0,
        "seeds_per_second_all_cores": (all_cores * 10.0).round() / 10.0,
        "sim_seconds_per_wall_second": (60.0 / one_core).round(),
        "peak_rss_bytes": sim::reference::peak_rss_bytes(),
        "version": scenarios::version(),
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("JSON"));
    Ok(Exit::Held)
}
