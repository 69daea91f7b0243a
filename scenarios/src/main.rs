//! `splitbrain`: list the catalogue, run one scenario under one seed, or fuzz the catalogue
//! over many seeds on all cores. Exit codes: 0 every property held, 1 a violation (its replay
//! command printed), 2 bad input (one line on stderr).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use scenarios::{campaign_seed, catalogue, find, FailureFile, Outcome, Scenario, Subject};
use sim::check::Outcome as Decided;
use sim::{Profile, Seed};

const USAGE: &str = "usage: splitbrain list | run SCENARIO --seed S [--mutant M] | fuzz [--mutant M] [--scenario NAME]... [--profile P]... \
[--seeds N | --time DURATION] [--jobs J] [--shard I/N] [--keep-going] [--report FILE] | failovers [--seeds N] [--jobs J] | replay FILE | shrink FILE [--out FILE] | report FILE --html OUT | zoo [--streams N] [--budget B] [--jobs J] [--mutant M]... | bench [--seeds N] | merge REPORT... [--report FILE]";

fn main() -> ExitCode {
    // Die quietly when the reader of our output goes away (`splitbrain list | head`), as
    // command-line tools do, instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match command(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("splitbrain: {message}");
            ExitCode::from(2)
        }
    }
}

fn command(args: &[String]) -> Result<ExitCode, String> {
    match args.first().map(String::as_str) {
        Some("list") => {
            for scenario in catalogue() {
                println!("{:<18} {}", scenario.name, scenario.description);
            }
            println!();
            for profile in Profile::ALL {
                println!("profile {:<10} {}", profile.name(), profile.describe());
            }
            println!();
            let width = zoo::Bug::ALL.iter().map(|b| b.name().len()).max().unwrap_or(0);
            for bug in zoo::Bug::ALL {
                println!("mutant {:<width$} {}", bug.name(), bug.describe());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some("run") => run(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("failovers") => failovers(&args[1..]),
        Some("replay") => replay(&args[1..]),
        Some("shrink") => shrink(&args[1..]),
        Some("report") => report(&args[1..]),
        Some("zoo") => zoo_table(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("merge") => merge(&args[1..]),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(format!("unknown command {other:?}; {USAGE}")),
        None => Err(USAGE.to_owned()),
    }
}

/// The value after a flag.
fn value<'a>(args: &'a [String], i: &mut usize, flag: &str) -> Result<&'a str, String> {
    *i += 1;
    args.get(*i).map(String::as_str).ok_or_else(|| format!("{flag} needs a value"))
}

/// `command FILE [option VALUE]`: the file and the option's value, each if given.
fn file_and_option(args: &[String], command: &str, option: &str) -> Result<(Option<String>, Option<String>), String> {
    let (mut path, mut value_of) = (None, None);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            flag if flag == option => value_of = Some(value(args, &mut i, option)?.to_owned()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag:?} for {command}")),
            file if path.is_none() => path = Some(file.to_owned()),
            extra => return Err(format!("{command} takes one FILE; {extra:?} is a second")),
        }
        i += 1;
    }
    Ok((path, value_of))
}

/// A positive count: `what` names it in the error.
fn count(what: &str, n: &str) -> Result<u64, String> {
    n.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| format!("bad {what} {n:?}"))
}

fn parse_seed(s: &str) -> Result<Seed, String> {
    s.parse::<Seed>().map_err(|e| e.to_string())
}

/// `90s`, `5m`, `1h`, `250ms`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {s:?} (e.g. 90s, 5m, 1h)");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: u64 = s[..split].parse().map_err(|_| bad())?;
    match &s[split..] {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(bad()),
    }
}

fn replay_command(scenario: &str, seed: Seed, subject: Subject) -> String {
    let mutant = match subject {
        Subject::Production => String::new(),
        Subject::Zoo(bug) => format!(" --mutant {bug}"),
    };
    format!("cargo run --release -p splitbrain-scenarios -- run {scenario} --seed {seed}{mutant}")
}

fn parse_mutant(name: &str) -> Result<Subject, String> {
    name.parse::<zoo::Bug>().map(Subject::Zoo).map_err(|e| e.to_string())
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let (mut name, mut seed, mut subject) = (None, None, Subject::Production);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--seed" => seed = Some(parse_seed(value(args, &mut i, "--seed")?)?),
            "--mutant" => subject = parse_mutant(value(args, &mut i, "--mutant")?)?,
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag:?} for run")),
            scenario => name = Some(scenario.to_owned()),
        }
        i += 1;
    }
    let scenario = find(&name.ok_or("run needs a SCENARIO (see `splitbrain list`)")?).map_err(|e| e.to_string())?;
    let seed = seed.ok_or("run needs --seed S")?;
    let outcome = scenario.run_subject(seed, subject).map_err(|e| format!("{} under {seed}: {e}", scenario.name))?;
    println!("{} under seed {seed}: trace hash {:016x}", scenario.name, outcome.run.trace_hash);
    println!("schedule: {}", serde_json::to_string(&outcome.run.schedule).expect("schedules serialize"));
    print_verdicts(&outcome);
    if let Some((min, median, p99, max)) = outcome.failovers.summary() {
        println!(
            "failovers: {} — min {min:.3} s, median {median:.3} s, p99 {p99:.3} s, max {max:.3} s",
            outcome.failovers.samples_s.len()
        );
    }
    Ok(if outcome.failures().is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A campaign's totals for one scenario.
#[derive(Default)]
struct Totals {
    runs: u64,
    violations: BTreeMap<String, u64>,
    unknown: u64,
    failovers: Vec<f64>,
}

struct Found {
    scenario: String,
    seed: Seed,
    subject: Subject,
    outcome: Outcome,
}

fn fuzz(args: &[String]) -> Result<ExitCode, String> {
    let mut chosen: Vec<Scenario> = Vec::new();
    let (mut seeds, mut time, mut jobs, mut shard) = (None, None, None, (0u64, 1u64));
    let (mut keep_going, mut report, mut subject) = (false, None, Subject::Production);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--scenario" => chosen.push(find(value(args, &mut i, "--scenario")?).map_err(|e| e.to_string())?),
            "--profile" => {
                let profile: Profile = value(args, &mut i, "--profile")?
                    .parse()
                    .map_err(|e: sim::nemesis::UnknownProfile| e.to_string())?;
                chosen.push(find(&format!("chaos-{profile}")).map_err(|e| e.to_string())?);
            }
            "--seeds" => {
                let n = value(args, &mut i, "--seeds")?;
                seeds = Some(n.parse::<u64>().map_err(|_| format!("bad seed count {n:?}"))?);
            }
            "--time" => time = Some(parse_duration(value(args, &mut i, "--time")?)?),
            "--jobs" => jobs = Some(count("job count", value(args, &mut i, "--jobs")?)? as usize),
            "--shard" => {
                let s = value(args, &mut i, "--shard")?;
                let bad = || format!("bad shard {s:?} (I/N with 1 <= I <= N)");
                let (a, b) = s.split_once('/').ok_or_else(bad)?;
                let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a == 0 || a > b {
                    return Err(bad());
                }
                shard = (a - 1, b);
            }
            "--keep-going" => keep_going = true,
            "--mutant" => subject = parse_mutant(value(args, &mut i, "--mutant")?)?,
            "--report" => report = Some(value(args, &mut i, "--report")?.to_owned()),
            other => return Err(format!("unknown option {other:?} for fuzz; {USAGE}")),
        }
        i += 1;
    }
    if seeds.is_some() && time.is_some() {
        return Err("give --seeds or --time, not both".into());
    }
    if chosen.is_empty() {
        chosen = catalogue();
    }
    let time = if seeds.is_none() { Some(time.unwrap_or(Duration::from_secs(60))) } else { None };
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let budget = seeds.map(|n| n * chosen.len() as u64);
    eprintln!(
        "fuzzing {} scenario(s) on {jobs} worker(s), {}{}",
        chosen.len(),
        match (budget, time) {
            (Some(n), _) => format!("{n} runs"),
            (None, Some(t)) => format!("for {} s", t.as_secs()),
            _ => unreachable!(),
        },
        if shard.1 > 1 { format!(", shard {}/{}", shard.0 + 1, shard.1) } else { String::new() }
    );

    let started = Instant::now();
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let violations = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let totals: Mutex<BTreeMap<String, Totals>> = Mutex::new(BTreeMap::new());
    let failures: Mutex<Vec<Found>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                if stop.load(Ordering::Relaxed) || time.is_some_and(|t| started.elapsed() >= t) {
                    return;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                if budget.is_some_and(|b| k >= b) {
                    return;
                }
                let scenario = &chosen[(k % chosen.len() as u64) as usize];
                // This shard's share of the scenario's seed sequence.
                let index = (k / chosen.len() as u64) * shard.1 + shard.0;
                let seed = campaign_seed(&scenario.name, index);
                let outcome = match scenario.run_subject(seed, subject) {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        errors.lock().unwrap().push(format!("{} under {seed}: {e}", scenario.name));
                        stop.store(true, Ordering::Relaxed);
                        return;
                    }
                };
                let failed = outcome.failures();
                {
                    let mut totals = totals.lock().unwrap();
                    let t = totals.entry(scenario.name.clone()).or_default();
                    t.runs += 1;
                    t.failovers.extend(&outcome.failovers.samples_s);
                    for v in &failed {
                        match v.outcome {
                            Decided::Violated => *t.violations.entry(format!("{:?}", v.property)).or_default() += 1,
                            _ => t.unknown += 1,
                        }
                    }
                }
                if failed.iter().any(|v| v.outcome == Decided::Violated) {
                    violations.fetch_add(1, Ordering::Relaxed);
                    failures.lock().unwrap().push(Found { scenario: scenario.name.clone(), seed, subject, outcome });
                    if !keep_going {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        // Progress, on stderr, until the workers finish.
        scope.spawn(|| {
            // On a terminal the line redraws twice a second; in a log (CI) a line every 30 s.
            let every = if std::io::IsTerminal::is_terminal(&std::io::stderr()) { 500 } else { 30_000 };
            let mut last = Instant::now();
            while !(stop.load(Ordering::Relaxed)
                || time.is_some_and(|t| started.elapsed() >= t)
                || budget.is_some_and(|b| done.load(Ordering::Relaxed) >= b))
            {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() >= Duration::from_millis(every) {
                    last = Instant::now();
                    progress(started, done.load(Ordering::Relaxed), violations.load(Ordering::Relaxed));
                }
            }
        });
    });
    progress(started, done.load(Ordering::Relaxed), violations.load(Ordering::Relaxed));
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!();
    }

    for error in errors.lock().unwrap().iter() {
        eprintln!("simulation failed: {error}");
    }
    let totals = totals.into_inner().unwrap();
    summary(&totals);
    let failures = failures.into_inner().unwrap();
    for failure in &failures {
        report_failure(failure)?;
    }
    if let Some(path) = report {
        write_report(&path, &totals, &failures, started.elapsed())?;
    }
    let errors = errors.into_inner().unwrap();
    Ok(if failures.is_empty() && errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn progress(started: Instant, done: u64, violations: u64) {
    let elapsed = started.elapsed().as_secs_f64();
    let line = format!(
        "[{elapsed:6.1} s] {done} seeds, {:.1} seeds/s, {violations} violation(s)",
        done as f64 / elapsed.max(1e-9)
    );
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprint!("\r{line}   ");
    } else {
        eprintln!("{line}");
    }
    let _ = std::io::stderr().flush();
}

fn quantiles(samples: &[f64]) -> Option<(f64, f64, f64, f64)> {
    sim::check::Failovers { samples_s: samples.to_vec() }.summary()
}

fn summary(totals: &BTreeMap<String, Totals>) {
    println!(
        "{:<18} {:>6} {:>10} {:>8}  failover s: {:>6} {:>6} {:>6} {:>6}",
        "scenario", "runs", "violations", "unknown", "min", "median", "p99", "max"
    );
    for (name, t) in totals {
        let violations: u64 = t.violations.values().sum();
        let figures = quantiles(&t.failovers)
            .map(|(a, b, c, d)| format!("{a:>6.2} {b:>6.2} {c:>6.2} {d:>6.2}"))
            .unwrap_or_else(|| format!("{:>6} {:>6} {:>6} {:>6}", "-", "-", "-", "-"));
        println!("{name:<18} {:>6} {violations:>10} {:>8}              {figures}", t.runs, t.unknown);
        for (property, n) in &t.violations {
            println!("{:<18}   {n} × {property}", "");
        }
    }
}

/// Prints a violation and writes its failure file.
fn report_failure(failure: &Found) -> Result<(), String> {
    let verdict = failure.outcome.failures()[0];
    println!("\nVIOLATION in {} under seed {}: {:?}", failure.scenario, failure.seed, verdict.property);
    println!("  {}", verdict.explanation);
    let dir = std::path::Path::new("splitbrain-failures");
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{}-{}.json", failure.scenario, failure.seed));
    let scenario = find(&failure.scenario).map_err(|e| e.to_string())?;
    FailureFile::new(&scenario, failure.seed, failure.subject, &failure.outcome).save(&path)?;
    println!("  failure file: {}", path.display());
    println!("  replay: {}", replay_command(&failure.scenario, failure.seed, failure.subject));
    Ok(())
}

fn write_report(
    path: &str,
    totals: &BTreeMap<String, Totals>,
    failures: &[Found],
    elapsed: Duration,
) -> Result<(), String> {
    let failures: Vec<serde_json::Value> = failures
        .iter()
        .map(|f| serde_json::json!({"scenario": f.scenario, "seed": f.seed.to_string(), "replay": replay_command(&f.scenario, f.seed, f.subject)}))
        .collect();
    save_report(path, serde_json::json!({"seconds": elapsed.as_secs_f64()}), totals, failures)
}

/// Writes a campaign report: `head`'s fields, then per scenario the runs, violations by
/// property, unknowns, the failover summary and its samples (so shard reports can be merged
/// exactly), then the failures with their replay commands.
fn save_report(
    path: &str,
    mut head: serde_json::Value,
    totals: &BTreeMap<String, Totals>,
    failures: Vec<serde_json::Value>,
) -> Result<(), String> {
    let scenarios: serde_json::Map<String, serde_json::Value> = totals
        .iter()
        .map(|(name, t)| {
            let failover = quantiles(&t.failovers).map(|(a, b, c, d)| serde_json::json!({"min": a, "median": b, "p99": c, "max": d}));
            (
                name.clone(),
                serde_json::json!({"runs": t.runs, "violations": t.violations, "unknown": t.unknown, "failover_s": failover, "failover_samples_s": t.failovers}),
            )
        })
        .collect();
    head["scenarios"] = scenarios.into();
    head["failures"] = failures.into();
    std::fs::write(path, serde_json::to_string_pretty(&head).expect("JSON"))
        .map_err(|e| format!("cannot write {path}: {e}"))
}

/// One run of the failover table: the scenario's index, the seed, what it came to.
type Ran = (usize, Seed, Result<Outcome, String>);

/// `splitbrain failovers`: every scenario under N seeds; a Markdown table of the failover
/// times measured beside the plans' figures (docs/failovers.md is its output).
fn failovers(args: &[String]) -> Result<ExitCode, String> {
    let (mut seeds, mut jobs) = (20u64, std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--seeds" => seeds = count("seed count", value(args, &mut i, "--seeds")?)?,
            "--jobs" => jobs = count("job count", value(args, &mut i, "--jobs")?)? as usize,
            other => return Err(format!("unknown option {other:?} for failovers; {USAGE}")),
        }
        i += 1;
    }
    let scenarios = catalogue();
    let work: Vec<(usize, Seed)> = (0..scenarios.len())
        .flat_map(|s| (0..seeds).map(move |k| (s, k)))
        .map(|(s, k)| (s, campaign_seed(&scenarios[s].name, k)))
        .collect();
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<Ran>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let Some(&(s, seed)) = work.get(next.fetch_add(1, Ordering::Relaxed) as usize) else { return };
                let outcome = scenarios[s].run(seed).map_err(|e| e.to_string());
                results.lock().unwrap().push((s, seed, outcome));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(s, seed, _)| (*s, seed.0));
    println!("# Failover times: measured against the plans\n");
    println!("Generated by `cargo run --release -p splitbrain-scenarios -- failovers --seeds {seeds}` (each");
    println!("scenario under its first {seeds} campaign seeds); do not edit by hand.\n");
    println!("*Leaderless gap*: from the moment no node believes it leads to the next grant (the liveness");
    println!("checker's failover time). *Fault to new leader*: from a scripted fault aimed at the leader");
    println!("(kill, stop, cut from Redis) to the next grant, as the plans time a failover.\n");
    println!("| scenario | plan's figure (min / typical / max) | leaderless gap: min / median / p99 / max | fault to new leader: min / median / p99 / max | violations |");
    println!("|---|---|---|---|---|");
    let show = |samples: &[f64]| {
        quantiles(samples).map_or("-".to_owned(), |(a, b, c, d)| format!("{a:.2} / {b:.2} / {c:.2} / {d:.2} s"))
    };
    let mut failed = false;
    for (index, scenario) in scenarios.iter().enumerate() {
        let (mut gaps, mut recoveries, mut violations) = (Vec::new(), Vec::new(), 0);
        for (_, seed, outcome) in results.iter().filter(|(s, _, _)| *s == index) {
            match outcome {
                Ok(outcome) => {
                    gaps.extend(&outcome.failovers.samples_s);
                    recoveries.extend(&outcome.recoveries.samples_s);
                    if !outcome.failures().is_empty() {
                        violations += 1;
                        eprintln!("{} under {seed}: {}", scenario.name, outcome.failures()[0].explanation);
                    }
                }
                Err(e) => {
                    violations += 1;
                    eprintln!("{} under {seed}: {e}", scenario.name);
                }
            }
        }
        failed |= violations > 0;
        println!(
            "| {} | {} | {} | {} | {violations} of {seeds} |",
            scenario.name,
            scenario.plan_failover.unwrap_or("-"),
            show(&gaps),
            show(&recoveries)
        );
    }
    println!("{}", FAILOVER_NOTES);
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// How the measured figures relate to the plans' (printed under the table).
const FAILOVER_NOTES: &str = "
## Reading the table against the plans

- **Graceful stops (T1, T3, MI-10)** are faster than `001_*`'s 1-3 s: the stopping leader
  releases the key at once (owner-checked), so the wait is only until a follower's next
  attempt — one retry interval (2 s, with up to 20% jitter) at most, often much less.
- **Crashes and lost Redis (T2, T5, T6, MI-02)** take TTL minus the time since the leader's last
  renewal, plus up to one retry: the key in Redis expires a TTL after the last heartbeat, which
  came up to one heartbeat (3 s here) *before* the fault. So 7-12 s for TTL 10 s against the
  plan's 10-15 s, which counts the TTL in full from the fault; and 10-15 s for MI-02 (TTL 15 s,
  heartbeat 5 s), within its TTL + heartbeat = 20 s. With the optimised settings (TTL 5 s,
  heartbeat 1.5 s, retry 1 s): 3.5-6 s against 5-8 s.
- **T5** has no leaderless gap to speak of: the cut-off leader keeps believing until its local
  deadline, which falls just before the key expires in Redis, and a follower acquires right
  after; the plan's figure is the fault-to-new-leader column.
- **T3**: each row is one failover (a leader stopping); the plan's figures add two or three.
- **Chaos** rows have no plan figure; their gaps are the harness's nemesis at TTL 3 s.
";

/// Log lines stamped with simulated time.
struct SimTime;

impl tracing_subscriber::fmt::time::FormatTime for SimTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        match sim::true_now_us() {
            Some(us) => write!(w, "t={:>10.6}s", us as f64 / 1e6),
            None => write!(w, "t=         -"),
        }
    }
}

/// `splitbrain replay FILE`: re-runs a failure file exactly, with every node's logs (as
/// `RUST_LOG` filters them, `info` by default) stamped with simulated time, node and
/// incarnation; checks the trace hash and prints the verdicts.
fn replay(args: &[String]) -> Result<ExitCode, String> {
    let [path] = args else { return Err("replay needs one FILE (a failure file written by fuzz or shrink)".into()) };
    let failure = FailureFile::load(std::path::Path::new(path))?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(SimTime)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_writer(std::io::stdout)
        .init();
    let outcome = failure.replay()?;
    let hash = format!("{:016x}", outcome.run.trace_hash);
    println!();
    print_verdicts(&outcome);
    let name = &failure.scenario.name;
    if hash != failure.file.trace_hash {
        println!("the replay DIVERGED: trace hash {hash}, the failure file recorded {}", failure.file.trace_hash);
        return Ok(ExitCode::from(1));
    }
    println!("replayed {name} under seed {}: the same trace hash {hash}", failure.seed);
    Ok(if outcome.failures().is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_verdicts(outcome: &Outcome) {
    for verdict in &outcome.verdicts {
        println!(
            "  {:<9} {:?}: {}",
            format!("{:?}", verdict.outcome).to_lowercase(),
            verdict.property,
            verdict.explanation
        );
    }
}

/// `splitbrain shrink FILE [--out FILE]`: the smallest schedule that still violates the same
/// property, written as a failure file (`<name>.min.json` by default).
fn shrink(args: &[String]) -> Result<ExitCode, String> {
    let (path, out) = file_and_option(args, "shrink", "--out")?;
    let path = path.ok_or("shrink needs a FILE (a failure file written by fuzz)")?;
    let failure = FailureFile::load(std::path::Path::new(&path))?;
    let before = failure.file.schedule.faults.len();
    eprintln!(
        "shrinking {} under {} ({before} faults), keeping {} violated",
        failure.scenario.name,
        failure.seed,
        failure.file.property()
    );
    let (file, outcome) = failure.shrink(|step| eprintln!("  {step}"))?;
    let out = out.unwrap_or_else(|| path.strip_suffix(".json").unwrap_or(&path).to_owned() + ".min.json");
    file.save(std::path::Path::new(&out))?;
    println!("{before} faults -> {}: {}", file.schedule.faults.len(), file.schedule.to_json().replace('\n', " "));
    if let Some(verdict) = failure.violated(&outcome) {
        println!("  {}", verdict.explanation);
    }
    println!("minimal failure file: {out}");
    println!("  replay: cargo run --release -p splitbrain-scenarios -- replay {out}");
    Ok(ExitCode::from(1))
}

/// `splitbrain bench`: the reference workload (3 nodes + Redis, TTL 3 s, renewal 1 s, profile
/// `all`, 60 simulated seconds) on one core and on all; one JSON object, to compare run to run.
fn bench(args: &[String]) -> Result<ExitCode, String> {
    let mut seeds = 50u64;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--seeds" => seeds = count("seed count", value(args, &mut i, "--seeds")?)?,
            other => return Err(format!("unknown option {other:?} for bench; {USAGE}")),
        }
        i += 1;
    }
    let one_core = sim::reference::seconds_per_seed(seeds, 0, Profile::All);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for core in 0..cores {
            scope.spawn(move || sim::reference::seconds_per_seed(seeds, 1_000_000 * (core + 1), Profile::All));
        }
    });
    let all_cores = (seeds * cores) as f64 / started.elapsed().as_secs_f64();
    let report = serde_json::json!({
        "workload": "3 nodes + Redis, TTL 3 s, renewal 1 s, profile all, 60 simulated seconds",
        "seeds": seeds,
        "cores": cores,
        "seeds_per_second_one_core": (1.0 / one_core * 10.0).round() / 10.0,
        "seeds_per_second_all_cores": (all_cores * 10.0).round() / 10.0,
        "sim_seconds_per_wall_second": (60.0 / one_core).round(),
        "peak_rss_bytes": sim::reference::peak_rss_bytes(),
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("JSON"));
    Ok(ExitCode::SUCCESS)
}

/// `splitbrain merge REPORT... [--report FILE]`: the totals of a campaign run in shards.
fn merge(args: &[String]) -> Result<ExitCode, String> {
    let (mut paths, mut out) = (Vec::new(), None);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--report" => out = Some(value(args, &mut i, "--report")?.to_owned()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag:?} for merge")),
            path => paths.push(path.to_owned()),
        }
        i += 1;
    }
    if paths.is_empty() {
        return Err("merge needs the shards' JSON reports".into());
    }
    let (mut totals, mut failures, mut seconds) = (BTreeMap::<String, Totals>::new(), Vec::new(), 0.0f64);
    for path in &paths {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let report: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))?;
        let scenarios = report["scenarios"].as_object().ok_or_else(|| format!("{path} is not a fuzz report"))?;
        for (name, s) in scenarios {
            let t = totals.entry(name.clone()).or_default();
            t.runs += s["runs"].as_u64().unwrap_or(0);
            t.unknown += s["unknown"].as_u64().unwrap_or(0);
            for (property, n) in s["violations"].as_object().into_iter().flatten() {
                *t.violations.entry(property.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
            t.failovers.extend(s["failover_samples_s"].as_array().into_iter().flatten().filter_map(|v| v.as_f64()));
        }
        failures.extend(report["failures"].as_array().cloned().unwrap_or_default());
        seconds = seconds.max(report["seconds"].as_f64().unwrap_or(0.0));
    }
    summary(&totals);
    for failure in &failures {
        println!("violation: {} under {}: {}", failure["scenario"], failure["seed"], failure["replay"]);
    }
    if let Some(path) = out {
        let head = serde_json::json!({"seconds": seconds, "shards": paths.len()});
        save_report(&path, head, &totals, failures.clone())?;
    }
    Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `splitbrain report FILE --html OUT`: replays a failure file and draws it as a timeline.
fn report(args: &[String]) -> Result<ExitCode, String> {
    let (path, out) = file_and_option(args, "report", "--html")?;
    let path = path.ok_or("report needs a FILE (a failure file written by fuzz or shrink)")?;
    let out = out.ok_or("report needs --html OUT (the page to write)")?;
    let failure = FailureFile::load(std::path::Path::new(&path))?;
    let outcome = failure.replay()?;
    let hash = format!("{:016x}", outcome.run.trace_hash);
    if hash != failure.file.trace_hash {
        eprintln!(
            "warning: the replay diverged (trace hash {hash}, the file recorded {}); drawing the replay",
            failure.file.trace_hash
        );
    }
    let page = scenarios::report::html(&failure.file, &path, &outcome);
    std::fs::write(&out, page).map_err(|e| format!("cannot write {out}: {e}"))?;
    println!("wrote {out} ({} under {}, {} events)", failure.scenario.name, failure.seed, outcome.run.events.len());
    Ok(ExitCode::SUCCESS)
}

/// One stream of the zoo table: the mutant, the stream, the seeds run, the property that
/// fired (None: escaped the budget), wall seconds.
type Hunt = (zoo::Bug, u64, u64, Option<String>, f64);

/// `splitbrain zoo`: for each mutant, seeds to first detection over independent seed streams
/// (stream I takes every N-th campaign seed from the I-th, like shard I/N) under the default
/// fuzz profile (`chaos-all`; `chaos-cache` for cache mutants); a Markdown table
/// (docs/zoo.md is its output). Exit 1 if a mutant escapes in some stream.
fn zoo_table(args: &[String]) -> Result<ExitCode, String> {
    let (mut streams, mut budget) = (20u64, 200u64);
    let mut jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut bugs = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--streams" => streams = count("stream count", value(args, &mut i, "--streams")?)?,
            "--budget" => budget = count("seed budget", value(args, &mut i, "--budget")?)?,
            "--jobs" => jobs = count("job count", value(args, &mut i, "--jobs")?)? as usize,
            "--mutant" => bugs.push(value(args, &mut i, "--mutant")?.parse::<zoo::Bug>().map_err(|e| e.to_string())?),
            other => return Err(format!("unknown option {other:?} for zoo; {USAGE}")),
        }
        i += 1;
    }
    if bugs.is_empty() {
        bugs = zoo::Bug::ALL.into_iter().filter(|b| *b != zoo::Bug::None).collect();
    }
    let scenario_of =
        |bug: zoo::Bug| find(if bug.is_cache() { "chaos-cache" } else { "chaos-all" }).expect("in the catalogue");
    let work: Vec<(zoo::Bug, u64)> = bugs.iter().flat_map(|b| (0..streams).map(move |s| (*b, s))).collect();
    let next = AtomicU64::new(0);
    let hunts: Mutex<Vec<Hunt>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let Some(&(bug, stream)) = work.get(next.fetch_add(1, Ordering::Relaxed) as usize) else { return };
                let scenario = scenario_of(bug);
                let started = Instant::now();
                let mut fired = None;
                let mut ran = 0;
                for k in 0..budget {
                    ran = k + 1;
                    let seed = campaign_seed(&scenario.name, k * streams + stream);
                    let Ok(outcome) = scenario.run_subject(seed, Subject::Zoo(bug)) else { continue };
                    if let Some(v) = outcome.failures().first().filter(|v| v.outcome == Decided::Violated) {
                        fired = Some(format!("{:?}", v.property));
                        break;
                    }
                }
                hunts.lock().unwrap().push((bug, stream, ran, fired, started.elapsed().as_secs_f64()));
            });
        }
    });
    let hunts = hunts.into_inner().unwrap();
    println!("# The mutant zoo: seeds to first detection\n");
    println!(
        "Generated by `cargo run --release -p splitbrain-scenarios -- zoo --streams {streams} --budget {budget}`;"
    );
    println!("do not edit by hand. Each mutant runs in {streams} independent seed streams (stream I takes every");
    println!(
        "{streams}th campaign seed of its scenario from the I-th) until the first violation, at most {budget} seeds.\n"
    );
    println!("| mutant | scenario | caught in | seeds to detection: median / max | checker that fired | wall time per stream: median / max |");
    println!("|---|---|---|---|---|---|");
    let mut escaped = false;
    for bug in &bugs {
        let mine: Vec<&Hunt> = hunts.iter().filter(|h| h.0 == *bug).collect();
        let caught: Vec<&&Hunt> = mine.iter().filter(|h| h.3.is_some()).collect();
        escaped |= caught.len() < mine.len();
        let mut seeds: Vec<f64> = caught.iter().map(|h| h.2 as f64).collect();
        let mut walls: Vec<f64> = mine.iter().map(|h| h.4).collect();
        let mut checkers: Vec<&str> = caught.iter().filter_map(|h| h.3.as_deref()).collect();
        checkers.sort_unstable();
        checkers.dedup();
        let med_max = |v: &mut Vec<f64>, unit: &str, digits: usize| {
            quantiles(v)
                .map_or("-".to_owned(), |(_, median, _, max)| format!("{median:.digits$} / {max:.digits$}{unit}"))
        };
        println!(
            "| {} — {} | {} | {} of {} streams | {} | {} | {} |",
            bug.name(),
            bug.describe(),
            scenario_of(*bug).name,
            caught.len(),
            mine.len(),
            med_max(&mut seeds, "", 0),
            if checkers.is_empty() { "-".to_owned() } else { checkers.join(", ") },
            med_max(&mut walls, " s", 1)
        );
    }
    Ok(if escaped { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
