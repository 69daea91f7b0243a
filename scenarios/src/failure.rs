//! Failure files: everything needed to re-run a violation exactly (scenario, seed, what ran,
//! the fault schedule), what it showed (the verdict, the trace hash), and shrinking one to a
//! smaller schedule that still shows the same violation.

use serde::{Deserialize, Serialize};
use sim::check::{Outcome as Decided, Property, Verdict};
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
    /// The splitbrain version that wrote it.
    pub version: String,
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

fn property_name(property: Property) -> String {
    serde_json::to_value(property).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl FailureFile {
    /// The file for `outcome`'s first violation.
    pub fn new(scenario: &Scenario, seed: Seed, subject: Subject, outcome: &Outcome) -> FailureFile {
        let verdict = outcome.failures().first().map(|v| (*v).clone()).unwrap_or_else(|| outcome.verdicts[0].clone());
        FailureFile {
            scenario: scenario.name.clone(),
            seed: seed.to_string(),
            mutant: match subject {
                Subject::Production => None,
                Subject::Zoo(bug) => Some(bug.name().to_owned()),
            },
            schedule: outcome.run.schedule.clone(),
            verdict: serde_json::from_str(&verdict.to_json()).expect("verdicts are JSON"),
            trace_hash: format!("{:016x}", outcome.run.trace_hash),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// The violated property's name (`strict-exclusivity`, ...).
    pub fn property(&self) -> &str {
        self.verdict.get("property").and_then(|p| p.as_str()).unwrap_or("")
    }

    /// Reads and checks `path`; errors are one line.
    pub fn load(path: &std::path::Path) -> Result<Failure, String> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let file: FailureFile =
            serde_json::from_str(&text).map_err(|e| format!("{shown} is not a failure file: {e}"))?;
        let scenario = find(&file.scenario).map_err(|e| format!("{shown}: {e}"))?;
        let seed = file.seed.parse::<Seed>().map_err(|e| format!("{shown}: {e}"))?;
        let subject = match &file.mutant {
            Some(name) => Subject::Zoo(name.parse().map_err(|e| format!("{shown}: {e}"))?),
            None => Subject::Production,
        };
        let mut names = scenario.config(seed).node_names();
        let added = file.schedule.faults.iter().filter(|f| f.kind == sim::FaultKind::AddNode).count();
        names.extend((names.len() + 1..=names.len() + added).map(|i| format!("node-{i}")));
        file.schedule.validate(&names).map_err(|e| format!("{shown}: {e}"))?;
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
    /// times rounded to whole seconds where that still fails. `progress` hears each step.
    pub fn shrink(&self, mut progress: impl FnMut(&str)) -> Result<(FailureFile, Outcome), String> {
        let mut best = self.replay()?;
        if self.violated(&best).is_none() {
            return Err(format!(
                "{} under {} no longer violates {}",
                self.scenario.name,
                self.seed,
                self.file.property()
            ));
        }
        let mut faults = self.file.schedule.faults.clone();
        let mut runs = 0u32;
        let mut attempt = |faults: &[sim::Fault], best: &mut Outcome| -> Result<bool, String> {
            runs += 1;
            let outcome = self.run(&FaultSchedule { faults: faults.to_vec() })?;
            let still = self.violated(&outcome).is_some();
            if still {
                *best = outcome;
            }
            Ok(still)
        };
        // Delta debugging (ddmin) over the faults.
        let mut n = 2usize;
        while !faults.is_empty() {
            let chunk = faults.len().div_ceil(n);
            let mut reduced = false;
            for start in (0..faults.len()).step_by(chunk) {
                let rest: Vec<sim::Fault> = faults
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i < start || *i >= start + chunk)
                    .map(|(_, f)| f.clone())
                    .collect();
                if attempt(&rest, &mut best)? {
                    progress(&format!("{} faults", rest.len()));
                    faults = rest;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                if n >= faults.len() {
                    break;
                }
                n = (2 * n).min(faults.len());
            }
        }
        // Shorter faults.
        for i in 0..faults.len() {
            while faults[i].duration_ms > 0 {
                let mut shorter = faults.clone();
                shorter[i].duration_ms /= 2;
                if !attempt(&shorter, &mut best)? {
                    break;
                }
                faults = shorter;
                progress(&format!("fault {i} lasts {} ms", faults[i].duration_ms));
            }
        }
        // Round start times.
        for i in 0..faults.len() {
            let mut rounded = faults.clone();
            rounded[i].at_ms = rounded[i].at_ms / 1000 * 1000;
            if rounded[i].at_ms != faults[i].at_ms && attempt(&rounded, &mut best)? {
                faults = rounded;
            }
        }
        progress(&format!("{runs} runs"));
        let mut file = FailureFile::new(&self.scenario, self.seed, self.subject, &best);
        if let Some(verdict) = self.violated(&best) {
            file.verdict = serde_json::from_str(&verdict.to_json()).expect("verdicts are JSON");
        }
        file.schedule = FaultSchedule { faults };
        Ok((file, best))
    }
}
