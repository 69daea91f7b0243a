//! `splitbrain fuzz`: a campaign over the catalogue or the chosen scenarios. Every seed is a
//! function of the campaign's base seed, the scenario and its index; each failure file is
//! written the moment its violation arrives; SIGINT/SIGTERM end the campaign cleanly (the
//! summary, the report and every failure file are written, exit 130).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use scenarios::{campaign_seed, catalogue, find, FailureFile, Outcome, Scenario, Shard, Subject};
use sim::check::Outcome as Decided;
use sim::Seed;

use crate::args::FuzzArgs;
use crate::exit::Exit;
use crate::pool::Pool;
use crate::progress::{Progress, Total};
use crate::totals::{summary, Listed, Report, Totals, TotalsWithSummary, Undecided};
use sim::check::Coverage;

/// A campaign, checked: what it runs, how much, where its findings go.
struct Plan {
    scenarios: Vec<Scenario>,
    subject: Subject,
    base: Seed,
    shard: Shard,
    /// Seeds per scenario for the whole campaign (all shards).
    seeds: Option<u64>,
    time: Option<Duration>,
    jobs: usize,
    keep_going: bool,
    report: Option<PathBuf>,
    failures: PathBuf,
}

/// One run's result, sent by a worker.
struct Ran {
    scenario: usize,
    seed: Seed,
    outcome: Result<Outcome, String>,
    /// The run's window coverage, measured on the worker.
    coverage: Coverage,
}

/// What the campaign has learned so far.
#[derive(Default)]
struct Tally {
    totals: BTreeMap<String, Totals>,
    listed: Vec<Listed>,
    errors: Vec<String>,
    done: u64,
    violations: u64,
}

pub fn fuzz(args: FuzzArgs) -> Result<Exit, String> {
    let plan = Plan::of(args)?;
    crate::interrupt::install()?;
    eprintln!("{}", plan.describe());
    eprintln!("rerun this campaign: {}", plan.rerun_command());
    let started = Instant::now();
    let (tally, interrupted) = plan.execute(started)?;
    println!();
    summary(&tally.totals);
    let mut coverage = Coverage::default();
    tally.totals.values().for_each(|t| coverage.merge(&t.coverage));
    if coverage.runs > 0 {
        println!("\nwindow coverage, every scenario of the campaign (docs/simulation.md):\n{}", coverage.table());
    }
    for error in &tally.errors {
        println!("simulation failed: {error}");
    }
    if !tally.listed.is_empty() {
        println!("\n{} failure file(s) in {}", tally.listed.len(), plan.failures.display());
    }
    println!("campaign seed {}; rerun: {}", plan.base, plan.rerun_command());
    if let Some(path) = &plan.report {
        plan.report_of(&tally, started.elapsed(), interrupted).save(path)?;
        println!("report: {}", path.display());
    }
    Ok(if interrupted {
        Exit::Interrupted
    } else {
        Exit::of_violation(!tally.listed.is_empty() || !tally.errors.is_empty())
    })
}

/// `t` as `--time` takes it, in the largest unit that is exact.
fn duration_arg(t: Duration) -> String {
    let ms = t.as_millis();
    match ms {
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}

/// The scenarios a campaign runs: those chosen (`--scenario`, then `--profile`), else the
/// catalogue; a mutant that applies to none of them, or to a chosen one not, is refused.
fn chosen(args: &FuzzArgs, subject: Subject) -> Result<Vec<Scenario>, String> {
    let mut chosen = args.scenarios.clone();
    for profile in &args.profiles {
        chosen.push(find(&format!("chaos-{profile}")).map_err(|e| e.to_string())?);
    }
    for (i, scenario) in chosen.iter().enumerate() {
        if chosen[..i].iter().any(|s| s.name == scenario.name) {
            return Err(format!("{} is chosen twice", scenario.name));
        }
        if let Some(reason) = scenario.inapplicable(subject) {
            return Err(format!("--mutant does not apply: {reason}"));
        }
    }
    if chosen.is_empty() {
        chosen = catalogue().into_iter().filter(|s| s.inapplicable(subject).is_none()).collect();
        assert!(!chosen.is_empty(), "every mutant applies to some scenario of the catalogue");
    }
    Ok(chosen)
}

impl Plan {
    fn of(args: FuzzArgs) -> Result<Plan, String> {
        let subject = args.mutant.map_or(Subject::Production, Subject::Zoo);
        let scenarios = chosen(&args, subject)?;
        if let Some(seeds) = args.seeds {
            if seeds <= args.shard.index {
                return Err(format!("--seeds {seeds} leaves shard {} with no seed to run", args.shard));
            }
        }
        if let Some(path) = &args.report {
            crate::output::check_file(path, "report")?;
        }
        crate::output::check_dir(&args.failures, "failure directory")?;
        let base = match args.campaign_seed {
            Some(base) => base,
            None => crate::fresh_campaign_seed()?,
        };
        let time = args.seeds.is_none().then(|| args.time.unwrap_or(Duration::from_secs(60)));
        Ok(Plan {
            scenarios,
            subject,
            base,
            shard: args.shard,
            seeds: args.seeds,
            time,
            jobs: crate::jobs_or_cores(args.jobs),
            keep_going: args.keep_going,
            report: args.report,
            failures: args.failures,
        })
    }

    /// Runs this shard's share: this many runs in all, if bounded by seeds.
    fn budget(&self) -> Option<u64> {
        self.seeds.map(|n| self.shard.share(n).saturating_mul(self.scenarios.len() as u64))
    }

    fn describe(&self) -> String {
        let amount = match (self.budget(), self.time) {
            (Some(n), _) => format!("{n} runs"),
            (None, Some(t)) => format!("for {:.1} s", t.as_secs_f64()),
            (None, None) => unreachable!("a campaign is bounded by seeds or by time"),
        };
        let shard = if self.shard == Shard::WHOLE { String::new() } else { format!(", shard {}", self.shard) };
        format!(
            "campaign seed {}: fuzzing {} scenario(s) ({}) on {} worker(s), {amount}{shard}",
            self.base,
            self.scenarios.len(),
            self.subject,
            self.jobs
        )
    }

    /// The command line that runs this campaign (this shard of it) again.
    fn rerun_command(&self) -> String {
        let mut line = format!("cargo run --release -p splitbrain-scenarios -- fuzz --campaign-seed {}", self.base);
        if self.scenarios.len() < catalogue().len() {
            for scenario in &self.scenarios {
                line += &format!(" --scenario {}", scenario.name);
            }
        }
        match (self.seeds, self.time) {
            (Some(n), _) => line += &format!(" --seeds {n}"),
            (None, Some(t)) => line += &format!(" --time {}", duration_arg(t)),
            (None, None) => {}
        }
        if self.shard != Shard::WHOLE {
            line += &format!(" --shard {}", self.shard);
        }
        if let Subject::Zoo(bug) = self.subject {
            line += &format!(" --mutant {bug}");
        }
        if self.keep_going {
            line += " --keep-going";
        }
        line
    }

    /// The workers: each draws the campaign's next seed until the budget or the time is spent.
    fn start(&self, started: Instant) -> Result<Pool<Ran>, String> {
        let scenarios = Arc::new(self.scenarios.clone());
        let next = Arc::new(AtomicU64::new(0));
        let (budget, deadline) = (self.budget(), self.time.map(|t| started + t));
        let (base, shard, subject) = (self.base, self.shard, self.subject);
        Pool::start(self.jobs, move |_| {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            let k = next.fetch_add(1, Ordering::Relaxed);
            if budget.is_some_and(|b| k >= b) {
                return None;
            }
            let count = scenarios.len() as u64;
            let scenario = (k % count) as usize;
            let index = shard.seed_index(k / count)?;
            let seed = campaign_seed(base, &scenarios[scenario].name, index);
            let outcome = scenarios[scenario].run_subject(seed, subject).map_err(|e| e.to_string());
            let coverage = outcome.as_ref().map_or_else(|_| Coverage::default(), |o| Coverage::of(&o.run.events));
            Some(Ran { scenario, seed, outcome, coverage })
        })
    }

    /// Runs the campaign to its end, or to a signal; whether a signal ended it.
    fn execute(&self, started: Instant) -> Result<(Tally, bool), String> {
        let pool = self.start(started)?;
        let total = match (self.budget(), self.time) {
            (Some(n), _) => Total::Count(n),
            (None, time) => Total::Time(time.expect("bounded by time")),
        };
        let mut progress = Progress::new(total, "seeds");
        let mut tally = Tally::default();
        let interrupted = crate::collect::collect(&pool, &mut progress, |ran, progress| {
            if self.account(ran, &mut tally, progress) {
                pool.stop();
            }
            (tally.done, tally.violations)
        });
        Ok((tally, interrupted))
    }

    /// Adds a run to the tally, writing its failure file now if it failed; whether the
    /// campaign is to stop.
    fn account(&self, ran: Ran, tally: &mut Tally, progress: &Progress) -> bool {
        let scenario = &self.scenarios[ran.scenario];
        let outcome = match ran.outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                // Kept like a violation: a failure file to replay, listed in the report.
                let replay = crate::replay_command(&scenario.name, ran.seed, self.subject);
                let error = format!("{} under {}: {e}\n  replay: {replay}", scenario.name, ran.seed);
                progress.println(&format!("\nsimulation failed: {error}"));
                match self.save_error(scenario, ran.seed, &e) {
                    Ok(listed) => tally.listed.push(listed),
                    Err(why) => progress.println(&format!("cannot save a failure: {why}")),
                }
                tally.errors.push(error);
                return !self.keep_going;
            }
        };
        tally.done += 1;
        let failed = outcome.failures();
        let totals = tally.totals.entry(scenario.name.clone()).or_default();
        totals.runs += 1;
        totals.failovers.extend(&outcome.failovers.samples_s);
        totals.coverage.merge(&ran.coverage);
        totals.count_families(&outcome.run.schedule);
        for verdict in &failed {
            match verdict.outcome {
                Decided::Violated => *totals.violations.entry(format!("{:?}", verdict.property)).or_default() += 1,
                _ => {
                    totals.unknown += 1;
                    totals.keep_undecided(Undecided {
                        seed: ran.seed.to_string(),
                        property: format!("{:?}", verdict.property),
                        explanation: verdict.explanation.clone(),
                        replay: crate::replay_command(&scenario.name, ran.seed, self.subject),
                    });
                }
            }
        }
        if !failed.iter().any(|v| v.outcome == Decided::Violated) {
            return false;
        }
        tally.violations += 1;
        match self.save_failure(scenario, ran.seed, &outcome, progress) {
            Ok(listed) => tally.listed.push(listed),
            Err(e) => {
                progress.println(&format!("cannot save a failure: {e}"));
                tally.errors.push(e);
                return true;
            }
        }
        !self.keep_going
    }

    /// Writes the failure file of a run that did not finish.
    fn save_error(&self, scenario: &Scenario, seed: Seed, error: &str) -> Result<Listed, String> {
        let (listed, _) = self.keep(scenario, seed, FailureFile::of_error(scenario, seed, self.subject, error))?;
        Ok(listed)
    }

    /// Writes the failure file of a violating run and prints where it is.
    fn save_failure(
        &self,
        scenario: &Scenario,
        seed: Seed,
        outcome: &Outcome,
        progress: &Progress,
    ) -> Result<Listed, String> {
        let verdict = outcome.failures()[0];
        let (listed, path) = self.keep(scenario, seed, FailureFile::new(scenario, seed, self.subject, outcome))?;
        let ops = scenarios::lease_op::lease_ops(&outcome.run.events, scenario.key);
        let cause = scenarios::cause::second_leader(&ops, &verdict.evidence)
            .map(|c| format!("\n  cause: {}", c.sentence()))
            .unwrap_or_default();
        progress.println(&format!(
            "\nVIOLATION in {} under seed {seed}: {:?}\n  {}{cause}\n  failure file: {}\n  replay: {}",
            scenario.name,
            verdict.property,
            verdict.explanation,
            path.display(),
            listed.replay
        ));
        Ok(listed)
    }

    /// Saves `file` (with the campaign's seed) in the failure directory; its listing and path.
    fn keep(&self, scenario: &Scenario, seed: Seed, mut file: FailureFile) -> Result<(Listed, PathBuf), String> {
        file.campaign_seed = Some(self.base.to_string());
        let mutant = file.mutant.as_ref().map(|m| format!("-{m}")).unwrap_or_default();
        let path = self.failures.join(format!("{}-{seed}{mutant}.json", scenario.name));
        file.save(&path)?;
        let listed = Listed {
            scenario: scenario.name.clone(),
            seed: seed.to_string(),
            mutant: file.mutant.clone(),
            property: file.property().to_owned(),
            file: path.display().to_string(),
            replay: crate::replay_command(&scenario.name, seed, self.subject),
        };
        Ok((listed, path))
    }

    fn report_of(&self, tally: &Tally, elapsed: Duration, interrupted: bool) -> Report {
        Report {
            version: scenarios::version(),
            campaign_seed: self.base.to_string(),
            shards: vec![self.shard.to_string()],
            seeds: self.seeds,
            seconds: elapsed.as_secs_f64(),
            interrupted,
            scenarios: tally.totals.iter().map(|(name, t)| (name.clone(), TotalsWithSummary::of(t))).collect(),
            failures: tally.listed.clone(),
        }
    }
}
