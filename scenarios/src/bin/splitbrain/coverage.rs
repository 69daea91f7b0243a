//! `splitbrain coverage SCENARIO [--seeds N]`: the window coverage of one scenario — for
//! each class of window of a node's work, how often the search put a concurrent event in it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use scenarios::campaign_seed;
use sim::check::Coverage;

use crate::args::CoverageArgs;
use crate::exit::Exit;
use crate::pool::Pool;
use crate::progress::{Progress, Total};

pub fn coverage(args: CoverageArgs) -> Result<Exit, String> {
    let base = match args.campaign_seed {
        Some(base) => base,
        None => crate::fresh_campaign_seed()?,
    };
    crate::interrupt::install()?;
    let scenario = Arc::new(args.scenario);
    let seeds = args.seeds;
    let next = Arc::new(AtomicU64::new(0));
    let work = Arc::clone(&scenario);
    let pool = Pool::start(crate::jobs_or_cores(args.jobs), move |_| {
        let k = next.fetch_add(1, Ordering::Relaxed);
        (k < seeds).then(|| {
            let seed = campaign_seed(base, &work.name, k);
            work.run(seed).map(|outcome| Coverage::of(&outcome.run.events)).map_err(|e| {
                let replay = crate::replay_command(&work.name, seed, scenarios::Subject::Production);
                format!("{seed}: {e}\n  replay: {replay}")
            })
        })
    })?;
    let mut progress = Progress::new(Total::Count(seeds), "seeds");
    let (mut total, mut failed, mut done) = (Coverage::default(), Vec::new(), 0u64);
    let interrupted = crate::collect::collect(&pool, &mut progress, |ran, _| {
        done += 1;
        match ran {
            Ok(coverage) => total.merge(&coverage),
            Err(e) => failed.push(e),
        }
        (done, failed.len() as u64)
    });
    for e in &failed {
        eprintln!("{}: {e}", scenario.name);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&total).expect("coverage serializes"));
    } else {
        println!("{} under {} seeds of campaign {base}:\n{}", scenario.name, total.runs, total.table());
    }
    Ok(if interrupted { Exit::Interrupted } else { Exit::of_violation(!failed.is_empty()) })
}
