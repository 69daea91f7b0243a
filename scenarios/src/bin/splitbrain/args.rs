//! The command line (clap, derive): every verb, its options, their limits and examples.
//! Every value is parsed and bounded here, where it enters; the verbs get typed values.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use scenarios::limits::{BUDGET_MAX, CAMPAIGN_TIME_MAX, JOBS_MAX, SEEDS_MAX, STREAMS_MAX};
use scenarios::{find, Scenario, Shard};
use sim::{Profile, Seed};

use crate::exit::EXIT_CODES;

/// Examples, then the exit codes, under a verb's help (one static string, as clap takes).
macro_rules! examples {
    ($lines:expr) => {
        concat!("Examples:\n  ", $lines, "\n\n", exit_codes!())
    };
}

/// Deterministic simulation testing of leader election, heartbeats and cache invalidation.
#[derive(Debug, Parser)]
#[command(name = "splitbrain", version = scenarios::VERSION, after_help = EXIT_CODES)]
#[command(propagate_version = true, disable_help_subcommand = false)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub verb: Verb,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// The scenarios, nemesis profiles and mutants.
    #[command(after_help = examples!("splitbrain list"))]
    List,
    /// One scenario under one seed: verdicts, trace hash, failover times.
    #[command(after_help = examples!(
        "splitbrain run T2 --seed 0x1f2e3d4c5b6a7988\n  splitbrain run chaos-pauses --seed 0x2a --mutant plain-del-release"
    ))]
    Run(Box<RunArgs>),
    /// A fuzz campaign over the catalogue (or the chosen scenarios) on all cores.
    #[command(after_help = examples!(
        "splitbrain fuzz                                   # one minute over the catalogue, fresh seeds\n  \
         splitbrain fuzz --profile pauses --seeds 500 --report r.json\n  \
         splitbrain fuzz --campaign-seed 0x5eed --seeds 1000 --shard 2/4   # a quarter of one campaign\n  \
         splitbrain fuzz --profile pauses --mutant plain-del-release --keep-going --time 2m"
    ))]
    Fuzz(FuzzArgs),
    /// Every scenario under N seeds: the failover table of docs/failovers.md.
    #[command(after_help = examples!("splitbrain failovers --seeds 20 --campaign-seed 0x0"))]
    Failovers(FailoversArgs),
    /// Re-runs a failure file exactly, with every node's logs (RUST_LOG filters them).
    #[command(after_help = examples!("splitbrain replay splitbrain-failures/chaos-pauses-0x00000000000000a1.json"))]
    Replay(FileArgs),
    /// The fewest, shortest faults that still violate the file's property (saved as found).
    #[command(after_help = examples!("splitbrain shrink F.json              # writes F.min.json\n  splitbrain shrink F.json --out small.json"))]
    Shrink(ShrinkArgs),
    /// Window coverage of one scenario over N seeds: which windows of a node's work the search
    /// put a concurrent event into (zeros are blind spots; docs/simulation.md).
    #[command(after_help = examples!("splitbrain coverage chaos-all --seeds 200 --campaign-seed 0x0"))]
    Coverage(Box<CoverageArgs>),
    /// Judges a history file on every property: verdicts, exit 0 or 1.
    #[command(after_help = examples!("splitbrain check run.jsonl\n  splitbrain check run.jsonl --html run.html --json\n  splitbrain check run.jsonl --linear-budget 50000000   # an unknown linearizability verdict, tried harder"))]
    Check(CheckArgs),
    /// Replays a failure file (or reads a history file, *.jsonl) and draws it as one HTML page.
    #[command(after_help = examples!("splitbrain report F.min.json --html f.html"))]
    Report(ReportArgs),
    /// Seeds to first detection of each mutant: the table of docs/zoo.md.
    #[command(after_help = examples!("splitbrain zoo --streams 20 --budget 200\n  splitbrain zoo --mutant plain-del-release --streams 5"))]
    Zoo(ZooArgs),
    /// Seeds per second of the reference workload, on one core and on all.
    #[command(after_help = examples!("splitbrain bench --seeds 50"))]
    Bench(BenchArgs),
    /// The totals of one campaign run in shards, from their --report files.
    #[command(after_help = examples!("splitbrain merge shards/*/report-*.json --report campaign.json"))]
    Merge(MergeArgs),
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario (see `splitbrain list`; case-insensitive).
    #[arg(value_parser = scenario)]
    pub scenario: Scenario,
    /// The seed: 0x and 1 to 16 hex digits.
    #[arg(long, value_parser = seed)]
    pub seed: Seed,
    /// Run a zoo mutant instead of the production code.
    #[arg(long)]
    pub mutant: Option<zoo::Bug>,
    /// Write the run's history here, as JSON Lines (docs/history.md): `splitbrain check`
    /// judges it again, `splitbrain report` draws it.
    #[arg(long)]
    pub history: Option<PathBuf>,
}

/// `coverage`.
#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// The scenario (see `splitbrain list`; case-insensitive).
    #[arg(value_parser = scenario)]
    pub scenario: Scenario,
    /// Seeds to run.
    #[arg(long, default_value = "100", value_parser = seed_count)]
    pub seeds: u64,
    /// Worker threads (default: one per core).
    #[arg(long, value_parser = job_count)]
    pub jobs: Option<usize>,
    /// The base seed (default: a fresh one).
    #[arg(long, value_parser = seed)]
    pub campaign_seed: Option<Seed>,
    /// Print the coverage as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A history file (JSON Lines, docs/history.md), from `run --history` or any recorder.
    pub file: PathBuf,
    /// Also draw it as one HTML page.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Print the verdicts as JSON instead of lines.
    #[arg(long)]
    pub json: bool,
    /// Steps the linearizability search may take per lease object before it answers
    /// unknown (a fuzz campaign allows 2,000,000).
    #[arg(long, default_value = "2000000", value_parser = linear_budget)]
    pub linear_budget: u64,
}

/// `fuzz`.
#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// A scenario to fuzz (repeatable; default: the whole catalogue).
    #[arg(long = "scenario", value_parser = scenario)]
    pub scenarios: Vec<Scenario>,
    /// A nemesis profile to fuzz, as its chaos-<profile> scenario (repeatable).
    #[arg(long = "profile")]
    pub profiles: Vec<Profile>,
    /// Seeds per scenario for the whole campaign (split over its shards).
    #[arg(long, value_parser = seed_count, conflicts_with = "time")]
    pub seeds: Option<u64>,
    /// How long to fuzz, e.g. 90s, 5m, 1h (default 1m when --seeds is not given).
    #[arg(long, value_parser = campaign_time)]
    pub time: Option<Duration>,
    /// Worker threads (default: one per core).
    #[arg(long, value_parser = job_count)]
    pub jobs: Option<usize>,
    /// Run shard I of N of the campaign (same --campaign-seed on every shard).
    #[arg(long, default_value = "1/1")]
    pub shard: Shard,
    /// Go on after the first violation.
    #[arg(long)]
    pub keep_going: bool,
    /// Fuzz a zoo mutant instead of the production code.
    #[arg(long)]
    pub mutant: Option<zoo::Bug>,
    /// Write the campaign's totals as JSON (checked before the campaign starts).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The campaign's base seed (default: a fresh one, printed first).
    #[arg(long, value_parser = seed)]
    pub campaign_seed: Option<Seed>,
    /// Where failure files go, each as soon as its violation is found.
    #[arg(long, default_value = "splitbrain-failures")]
    pub failures: PathBuf,
}

/// `failovers`.
#[derive(Debug, Args)]
pub struct FailoversArgs {
    /// Seeds per scenario.
    #[arg(long, default_value = "20", value_parser = seed_count)]
    pub seeds: u64,
    /// Worker threads (default: one per core).
    #[arg(long, value_parser = job_count)]
    pub jobs: Option<usize>,
    /// The base seed (default: a fresh one; docs/failovers.md was made with 0x0).
    #[arg(long, value_parser = seed)]
    pub campaign_seed: Option<Seed>,
}

/// `replay`.
#[derive(Debug, Args)]
pub struct FileArgs {
    /// A failure file written by fuzz or shrink.
    pub file: PathBuf,
}

/// `shrink`.
#[derive(Debug, Args)]
pub struct ShrinkArgs {
    /// A failure file written by fuzz.
    pub file: PathBuf,
    /// Where the smallest failure file goes (default: FILE with .min.json).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A failure file written by fuzz or shrink, or a history file (`*.jsonl`).
    pub file: PathBuf,
    /// The page to write.
    #[arg(long)]
    pub html: PathBuf,
}

/// `zoo`.
#[derive(Debug, Args)]
pub struct ZooArgs {
    /// Independent seed streams per mutant.
    #[arg(long, default_value = "20", value_parser = stream_count)]
    pub streams: u64,
    /// Seeds per stream before a mutant counts as escaped.
    #[arg(long, default_value = "200", value_parser = budget)]
    pub budget: u64,
    /// Worker threads (default: one per core).
    #[arg(long, value_parser = job_count)]
    pub jobs: Option<usize>,
    /// A mutant to hunt (repeatable; default: all).
    #[arg(long = "mutant")]
    pub mutants: Vec<zoo::Bug>,
    /// The base seed (default: a fresh one; docs/zoo.md was made with 0x0).
    #[arg(long, value_parser = seed)]
    pub campaign_seed: Option<Seed>,
}

/// `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Seeds per core.
    #[arg(long, default_value = "50", value_parser = seed_count)]
    pub seeds: u64,
}

/// `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' --report files.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Write the merged totals as JSON.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

fn scenario(name: &str) -> Result<Scenario, String> {
    find(name).map_err(|e| e.to_string())
}

fn seed(s: &str) -> Result<Seed, String> {
    s.parse::<Seed>().map_err(|e| e.to_string())
}

/// A count in `1..=max`.
fn bounded(s: &str, what: &str, max: u64) -> Result<u64, String> {
    let n: u64 = s.parse().map_err(|_| format!("{what} {s:?} is not a whole number"))?;
    if n == 0 || n > max {
        return Err(format!("{what} {n} is not in 1..={max}"));
    }
    Ok(n)
}

fn seed_count(s: &str) -> Result<u64, String> {
    bounded(s, "seed count", SEEDS_MAX)
}

fn stream_count(s: &str) -> Result<u64, String> {
    bounded(s, "stream count", STREAMS_MAX)
}

fn budget(s: &str) -> Result<u64, String> {
    bounded(s, "seed budget", BUDGET_MAX)
}

fn linear_budget(s: &str) -> Result<u64, String> {
    bounded(s, "search budget", sim::check::LINEAR_BUDGET_MAX)
}

fn job_count(s: &str) -> Result<usize, String> {
    bounded(s, "job count", JOBS_MAX as u64).map(|n| n as usize)
}

/// `90s`, `5m`, `1h`, `250ms`, at most [`CAMPAIGN_TIME_MAX`].
pub fn campaign_time(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {s:?} (e.g. 90s, 5m, 1h; at most {} h)", CAMPAIGN_TIME_MAX.as_secs() / 3600);
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: u64 = s[..split].parse().map_err(|_| bad())?;
    let ms_per_unit: u64 = match &s[split..] {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(bad()),
    };
    let ms = n.checked_mul(ms_per_unit).ok_or_else(bad)?;
    let time = Duration::from_millis(ms);
    if ms == 0 || time > CAMPAIGN_TIME_MAX {
        return Err(bad());
    }
    Ok(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_bounded_and_never_overflow() {
        assert_eq!(campaign_time("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(campaign_time("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["5124095576030432h", "18446744073709551615ms", "721h", "0s", "", "5", "5x", "-1s", "1.5s"] {
            assert!(campaign_time(bad).is_err(), "{bad}");
        }
    }
}
