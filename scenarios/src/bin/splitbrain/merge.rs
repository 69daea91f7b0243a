//! `splitbrain merge REPORT... [--report FILE]`: the totals of one campaign run in shards.
//! Refuses reports of different campaigns and the same shard twice (which would count its
//! runs twice).

use std::collections::BTreeMap;

use scenarios::limits::REPORTS_MAX;
use scenarios::Shard;

use crate::args::MergeArgs;
use crate::exit::Exit;
use crate::totals::{summary, Report, Totals, TotalsWithSummary};

pub fn merge(args: MergeArgs) -> Result<Exit, String> {
    if args.reports.len() > REPORTS_MAX {
        return Err(format!("{} reports, more than the limit of {REPORTS_MAX}", args.reports.len()));
    }
    if let Some(path) = &args.report {
        crate::output::check_file(path, "report")?;
    }
    let reports = args.reports.iter().map(|p| Report::load(p).map(|r| (p, r))).collect::<Result<Vec<_>, _>>()?;
    let (first_path, first) = &reports[0];
    let mut shards: Vec<Shard> = Vec::new();
    for (path, report) in &reports {
        if report.campaign_seed != first.campaign_seed || report.seeds != first.seeds {
            return Err(format!(
                "{} is of campaign {} and {} of campaign {}: merge the shards of one campaign",
                first_path.display(),
                first.campaign_seed,
                path.display(),
                report.campaign_seed
            ));
        }
        for shard in &report.shards {
            let shard: Shard = shard.parse().map_err(|e| format!("{}: {e}", path.display()))?;
            if shards.contains(&shard) {
                return Err(format!(
                    "shard {shard} appears twice (again in {}): its runs would count twice",
                    path.display()
                ));
            }
            if shards.first().is_some_and(|s| s.count != shard.count) {
                return Err(format!(
                    "{} splits the campaign into {} shards, others into {}",
                    path.display(),
                    shard.count,
                    shards[0].count
                ));
            }
            shards.push(shard);
        }
    }
    shards.sort();
    let merged = merged(first, &reports.iter().map(|(_, r)| r).collect::<Vec<_>>(), &shards);
    let totals: BTreeMap<String, Totals> =
        merged.scenarios.iter().map(|(n, t)| (n.clone(), t.totals.clone())).collect();
    summary(&totals);
    for failure in &merged.failures {
        println!("violation: {} under {}: {}", failure.scenario, failure.seed, failure.replay);
    }
    let count = shards[0].count;
    let missing: Vec<String> =
        (0..count).map(|index| Shard { index, count }).filter(|s| !shards.contains(s)).map(|s| s.to_string()).collect();
    if !missing.is_empty() {
        println!("note: shard(s) {} of campaign {} are missing", missing.join(", "), merged.campaign_seed);
    }
    if let Some(path) = &args.report {
        merged.save(path)?;
    }
    Ok(Exit::of_violation(!merged.failures.is_empty()))
}

/// The reports' sum (they are of one campaign, each shard once).
fn merged(first: &Report, reports: &[&Report], shards: &[Shard]) -> Report {
    let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
    for report in reports {
        for (name, t) in &report.scenarios {
            totals.entry(name.clone()).or_default().add(&t.totals);
        }
    }
    Report {
        version: scenarios::version(),
        campaign_seed: first.campaign_seed.clone(),
        shards: shards.iter().map(Shard::to_string).collect(),
        seeds: first.seeds,
        seconds: reports.iter().map(|r| r.seconds).fold(0.0, f64::max),
        interrupted: reports.iter().any(|r| r.interrupted),
        scenarios: totals.iter().map(|(n, t)| (n.clone(), TotalsWithSummary::of(t))).collect(),
        failures: reports.iter().flat_map(|r| r.failures.iter().cloned()).collect(),
    }
}
