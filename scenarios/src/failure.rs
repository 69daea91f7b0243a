//! Failure files: everything needed to re-run a violation exactly (scenario, seed, what ran,
//! the fault schedule), what it showed (the verdict, the trace hash), and shrinking one to a
//! smaller schedule that still shows the same violation.

use serde::{Deserialize, Serialize};
use sim::check::{Outcome as Decided, Property, Swarm, Verdict};
use sim::{FaultSchedule, Seed};

use crate::{find, Outcome, Scenario, Subject};

/// A failure file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureFile {
    /// The scenario's name.
    pub scenario: String,
    /// The seed, in its one printed form.
    pub seed: String,
    /// The zoo mutant that ran, if not the production elector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutant: Option<String>,
    /// The faults, as scheduled (targets such as `leader` resolve when they happen).
    pub schedule: FaultSchedule,
    /// The violated property's verdict, as JSON.
    pub verdict: serde_json::Value,
    /// The run's trace hash.
    pub trace_hash: String,
    /// The splitbrain version that wrote it ([`crate::version`]).
    pub version: String,
    /// The base seed of the campaign that found it, if a campaign did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_seed: Option<String>,
}

/// A failure file, checked: what it names exists.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The file's contents.
    pub file: FailureFile,
    /// Its scenario.
    pub scenario: Scenario,
    /// Its seed.
    pub seed: Seed,
    /// What ran.
    pub subject: Subject,
}

/// What a failure file's verdict names when the run did not finish.
pub const SIMULATION_FAILED: &str = "simulation-failed";

fn property_name(property: Property) -> String {
    serde_json::to_value(property).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl FailureFile {
    /// The file for `outcome`'s first violation.
    pub fn new(scenario: &Scenario, seed: Seed, subject: Subject, outcome: &Outcome) -> FailureFile {
        let verdict = outcome.failures().first().map(|v| (*v).clone()).unwrap_or_else(|| outcome.verdicts[0].clone());
        let verdict = serde_json::from_str(&verdict.to_json()).expect("verdicts are JSON");
        let trace_hash = format!("{:016x}", outcome.run.trace_hash());
        FailureFile::of(scenario, seed, subject, outcome.run.schedule.clone(), verdict, trace_hash)
    }

    /// The file for a run that did not finish: the simulator failed (one of its own
    /// assertions, a node program's panic). Its verdict names no property but says what
    /// failed, so that `replay` runs it again like any other failure.
    pub fn of_error(scenario: &Scenario, seed: Seed, subject: Subject, error: &str) -> FailureFile {
        let verdict = serde_json::json!({ "property": SIMULATION_FAILED, "explanation": error });
        FailureFile::of(scenario, seed, subject, scenario.config(seed).schedule, verdict, String::new())
    }

    fn of(
        scenario: &Scenario,
        seed: Seed,
        subject: Subject,
        schedule: FaultSchedule,
        verdict: serde_json::Value,
        trace_hash: String,
    ) -> FailureFile {
        FailureFile {
            scenario: scenario.name.clone(),
            seed: seed.to_string(),
            mutant: match subject {
                Subject::Production => None,
                Subject::Zoo(bug) => Some(bug.name().to_owned()),
            },
            schedule,
            verdict,
            trace_hash,
            version: crate::version(),
            campaign_seed: None,
        }
    }

    /// The violated property's name (`strict-exclusivity`, ...).
    pub fn property(&self) -> &str {
        self.verdict.get("property").and_then(|p| p.as_str()).unwrap_or("")
    }

    /// Reads and checks `path`; errors are one line.
    pub fn load(path: &std::path::Path) -> Result<Failure, String> {
        let shown = path.display();
        let text = crate::limits::read_input(path)?;
        let file: FailureFile =
            serde_json::from_str(&text).map_err(|e| format!("{shown} is not a failure file: {e}"))?;
        let scenario = find(&file.scenario).map_err(|e| format!("{shown}: {e}"))?;
        let seed = file.seed.parse::<Seed>().map_err(|e| format!("{shown}: {e}"))?;
        let subject = match &file.mutant {
            Some(name) => Subject::Zoo(name.parse().map_err(|e| format!("{shown}: {e}"))?),
            None => Subject::Production,
        };
        // Checked against the deployment it runs on: its swarm's nodes, if it carries one.
        let config = scenario.deployed(file.schedule.clone()).configured(seed);
        file.schedule.validate(&config.all_node_names()).map_err(|e| format!("{shown}: {e}"))?;
        Ok(Failure { file, scenario, seed, subject })
    }

    /// Writes the file (pretty JSON).
    pub fn save(&self, path: &std::path::Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self).expect("failure files serialize");
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

impl Failure {
    /// Runs it again, exactly: the same scenario, seed, subject and schedule.
    pub fn replay(&self) -> Result<Outcome, String> {
        self.run(&self.file.schedule)
    }

    fn run(&self, schedule: &FaultSchedule) -> Result<Outcome, String> {
        self.scenario.run_schedule(self.seed, self.subject, Some(schedule)).map_err(|e| e.to_string())
    }

    /// The verdict of the file's property in `outcome`, if it is violated there.
    pub fn violated<'a>(&self, outcome: &'a Outcome) -> Option<&'a Verdict> {
        outcome
            .verdicts
            .iter()
            .find(|v| v.outcome == Decided::Violated && property_name(v.property) == self.file.property())
    }

    /// The smallest schedule found that still violates the same property: faults dropped by
    /// delta debugging, then each fault's duration halved while it still fails, then start
    /// times rounded to whole seconds where that still fails. `hooks` hear each step and each
    /// smaller failure file as it is found, and can stop the search (it then returns the
    /// smallest found so far).
    pub fn shrink(&self, hooks: &mut dyn ShrinkHooks) -> Result<(FailureFile, Outcome), String> {
        if self.file.property() == SIMULATION_FAILED {
            return Err(format!(
                "{} under {}: a run that did not finish is replayed, not shrunk",
                self.scenario.name, self.seed
            ));
        }
        let best = self.replay()?;
        if self.violated(&best).is_none() {
            return Err(format!(
                "{} under {} no longer violates {}",
                self.scenario.name,
                self.seed,
                self.file.property()
            ));
        }
        let (faults, swarm) = (self.file.schedule.faults.clone(), self.file.schedule.swarm.clone());
        let mut search = Search { failure: self, faults, swarm, best, runs: 0, hooks };
        search.drop_families()?;
        search.drop_faults()?;
        search.shorten_faults()?;
        search.round_starts()?;
        let runs = search.runs;
        search.hooks.step(&format!("{runs} runs"));
        Ok((search.file(), search.best))
    }
}

/// What a shrink reports to, and asks whether to go on.
pub trait ShrinkHooks {
    /// A step of the search, in words.
    fn step(&mut self, what: &str);
    /// A smaller failing file was found (save it: nothing found is lost).
    fn smaller(&mut self, file: &FailureFile);
    /// Whether to stop now with the smallest found so far.
    fn stop(&self) -> bool;
}

/// A shrink in progress: the smallest failing schedule so far and its run.
struct Search<'a> {
    failure: &'a Failure,
    faults: Vec<sim::Fault>,
    swarm: Option<Swarm>,
    best: Outcome,
    runs: u32,
    hooks: &'a mut dyn ShrinkHooks,
}

impl Search<'_> {
    /// Runs `faults`; if they still fail, they become the best so far (and are reported).
    fn attempt(&mut self, faults: Vec<sim::Fault>) -> Result<bool, String> {
        self.attempt_swarm(faults, self.swarm.clone())
    }

    /// Runs `faults` on `swarm`; if they still fail, both become the best so far.
    fn attempt_swarm(&mut self, faults: Vec<sim::Fault>, swarm: Option<Swarm>) -> Result<bool, String> {
        assert!(faults.len() <= self.faults.len(), "a shrink step never adds faults");
        let families = |s: &Option<Swarm>| s.as_ref().map_or(0, |s| s.families.len());
        assert!(families(&swarm) <= families(&self.swarm), "a shrink step never turns a family on");
        self.runs += 1;
        let outcome = self.failure.run(&FaultSchedule { faults: faults.clone(), swarm: swarm.clone() })?;
        if self.failure.violated(&outcome).is_none() {
            return Ok(false);
        }
        self.swarm = swarm;
        self.faults = faults;
        self.best = outcome;
        let file = self.file();
        self.hooks.smaller(&file);
        Ok(true)
    }

    /// The best so far as a failure file, with its own verdict of the property.
    fn file(&self) -> FailureFile {
        let failure = self.failure;
        let mut file = FailureFile::new(&failure.scenario, failure.seed, failure.subject, &self.best);
        if let Some(verdict) = failure.violated(&self.best) {
            file.verdict = serde_json::from_str(&verdict.to_json()).expect("verdicts are JSON");
        }
        file.schedule = FaultSchedule { faults: self.faults.clone(), swarm: self.swarm.clone() };
        file.campaign_seed = failure.file.campaign_seed.clone();
        file
    }

    /// Each of the swarm's fault families turned off, its faults with it, while it still
    /// fails: the shrunk file names only the families the failure needs.
    fn drop_families(&mut self) -> Result<(), String> {
        let Some(families) = self.swarm.as_ref().map(|s| s.families.clone()) else { return Ok(()) };
        for family in families {
            if self.hooks.stop() {
                return Ok(());
            }
            let mut swarm = self.swarm.clone().expect("a swarm to turn families off in");
            swarm.families.retain(|f| *f != family);
            let faults = self.faults.iter().filter(|f| f.kind.family() != Some(family)).cloned().collect();
            if self.attempt_swarm(faults, Some(swarm))? {
                self.hooks.step(&format!("family {} off", family.name()));
            }
        }
        Ok(())
    }

    /// Delta debugging (ddmin) over the faults.
    fn drop_faults(&mut self) -> Result<(), String> {
        let mut n = 2usize;
        while !self.faults.is_empty() && !self.hooks.stop() {
            let chunk = self.faults.len().div_ceil(n);
            let mut reduced = false;
            for start in (0..self.faults.len()).step_by(chunk) {
                let rest: Vec<sim::Fault> = self
                    .faults
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i < start || *i >= start + chunk)
                    .map(|(_, f)| f.clone())
                    .collect();
                let left = rest.len();
                if self.hooks.stop() {
                    return Ok(());
                }
                if self.attempt(rest)? {
                    self.hooks.step(&format!("{left} faults"));
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                if n >= self.faults.len() {
                    break;
                }
                n = (2 * n).min(self.faults.len());
            }
        }
        Ok(())
    }

    /// Each fault's duration halved while it still fails.
    fn shorten_faults(&mut self) -> Result<(), String> {
        for i in 0..self.faults.len() {
            while self.faults[i].duration_ms > 0 && !self.hooks.stop() {
                let mut shorter = self.faults.clone();
                shorter[i].duration_ms /= 2;
                if !self.attempt(shorter)? {
                    break;
                }
                self.hooks.step(&format!("fault {i} lasts {} ms", self.faults[i].duration_ms));
            }
        }
        Ok(())
    }

    /// Start times rounded down to whole seconds where that still fails.
    fn round_starts(&mut self) -> Result<(), String> {
        for i in 0..self.faults.len() {
            let mut rounded = self.faults.clone();
            rounded[i].at_ms = rounded[i].at_ms / 1000 * 1000;
            if rounded[i].at_ms != self.faults[i].at_ms && !self.hooks.stop() {
                self.attempt(rounded)?;
            }
        }
        Ok(())
    }
}
