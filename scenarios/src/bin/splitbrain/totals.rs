//! A campaign's totals per scenario, the summary table, and the JSON report that shards of
//! one campaign write and `merge` adds up.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A campaign's totals for one scenario.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Totals {
    /// Runs finished.
    pub runs: u64,
    /// Violations by property.
    pub violations: BTreeMap<String, u64>,
    /// Verdicts that could not be decided.
    pub unknown: u64,
    /// The [`UNDECIDED_KEPT_MAX`] of them with the lowest seeds, with their seeds and why.
    #[serde(default)]
    pub undecided: Vec<Undecided>,
    /// Every failover time measured, seconds (kept so that shards merge exactly).
    #[serde(rename = "failover_samples_s")]
    pub failovers: Vec<f64>,
    /// Window coverage: how often a concurrent event landed in each class of window.
    #[serde(default)]
    pub coverage: sim::check::Coverage,
    /// Runs whose schedule held a fault of each family (by the family's name): how many
    /// seeds each family was tried on.
    #[serde(default)]
    pub families: BTreeMap<String, u64>,
}

/// How many undecided verdicts a scenario's totals keep with their seeds (the count goes on).
pub const UNDECIDED_KEPT_MAX: usize = 100;

/// A verdict a campaign could not decide: its seed, why, and how to run it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undecided {
    /// The seed.
    pub seed: String,
    /// The property (its name in the history format).
    pub property: String,
    /// Why it is not known.
    pub explanation: String,
    /// The command that runs it again.
    pub replay: String,
}

impl Totals {
    /// Adds `other`'s figures to these.
    pub fn add(&mut self, other: &Totals) {
        self.runs += other.runs;
        self.unknown += other.unknown;
        for undecided in &other.undecided {
            self.keep_undecided(undecided.clone());
        }
        for (property, n) in &other.violations {
            *self.violations.entry(property.clone()).or_default() += n;
        }
        self.failovers.extend(&other.failovers);
        self.coverage.merge(&other.coverage);
        for (family, n) in &other.families {
            *self.families.entry(family.clone()).or_default() += n;
        }
    }

    /// Keeps an undecided verdict among the [`UNDECIDED_KEPT_MAX`] lowest seeds: the same
    /// campaign keeps the same ones whatever order its workers finish in.
    pub fn keep_undecided(&mut self, undecided: Undecided) {
        fn key(u: &Undecided) -> (&str, &str) {
            (&u.seed, &u.property)
        }
        let at = self.undecided.partition_point(|u| key(u) < key(&undecided));
        // The same verdict twice (a report merged with itself) is kept once.
        if self.undecided.get(at) == Some(&undecided) {
            return;
        }
        if at < UNDECIDED_KEPT_MAX {
            self.undecided.insert(at, undecided);
            self.undecided.truncate(UNDECIDED_KEPT_MAX);
        }
        debug_assert!(self.undecided.len() <= UNDECIDED_KEPT_MAX);
    }

    /// Counts the families of `schedule`'s faults, once each.
    pub fn count_families(&mut self, schedule: &sim::FaultSchedule) {
        let mut seen: Vec<sim::check::Family> = schedule.faults.iter().filter_map(|f| f.kind.family()).collect();
        seen.sort();
        seen.dedup();
        for family in seen {
            *self.families.entry(family.name().to_owned()).or_default() += 1;
        }
    }
}

/// A failure a campaign found, as its report lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listed {
    /// The scenario.
    pub scenario: String,
    /// The seed.
    pub seed: String,
    /// The mutant, if one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutant: Option<String>,
    /// The violated property.
    pub property: String,
    /// Its failure file.
    pub file: String,
    /// The command that runs it again.
    pub replay: String,
}

/// A campaign's report (`fuzz --report`), or several shards' merged (`merge --report`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The splitbrain version that wrote it.
    pub version: String,
    /// The campaign's base seed.
    pub campaign_seed: String,
    /// The shards it covers (`1/4`, ...).
    pub shards: Vec<String>,
    /// Seeds per scenario for the whole campaign, if it was bounded by seeds.
    pub seeds: Option<u64>,
    /// Wall seconds (the longest shard's, when merged).
    pub seconds: f64,
    /// Whether a signal cut it short (any shard's, when merged).
    pub interrupted: bool,
    /// Totals per scenario.
    pub scenarios: BTreeMap<String, TotalsWithSummary>,
    /// The failures found.
    pub failures: Vec<Listed>,
}

/// Totals with their failover summary beside (for readers of the JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotalsWithSummary {
    /// The figures.
    #[serde(flatten)]
    pub totals: Totals,
    /// min, median, p99, max of the failover samples, seconds.
    #[serde(default)]
    pub failover_s: Option<BTreeMap<String, f64>>,
}

impl TotalsWithSummary {
    /// `totals` with its summary.
    pub fn of(totals: &Totals) -> TotalsWithSummary {
        let failover_s = quantiles(&totals.failovers).map(|(min, median, p99, max)| {
            [("min", min), ("median", median), ("p99", p99), ("max", max)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
        });
        TotalsWithSummary { totals: totals.clone(), failover_s }
    }
}

impl Report {
    /// Writes the report as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self).expect("reports serialize");
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Reads a report; errors are one line.
    pub fn load(path: &Path) -> Result<Report, String> {
        let text = scenarios::limits::read_input(path)?;
        serde_json::from_str(&text).map_err(|e| format!("{} is not a fuzz report of this version: {e}", path.display()))
    }
}

/// min, median, p99, max.
pub fn quantiles(samples: &[f64]) -> Option<(f64, f64, f64, f64)> {
    sim::check::Failovers { samples_s: samples.to_vec() }.summary()
}

/// How many undecided verdicts the summary prints per scenario (the report keeps more).
const UNDECIDED_PRINTED_MAX: usize = 5;

/// The summary table: a row per scenario, a line per violated property.
pub fn summary(totals: &BTreeMap<String, Totals>) {
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
        for u in t.undecided.iter().take(UNDECIDED_PRINTED_MAX) {
            println!(
                "{:<18}   unknown {} under {}: {}\n{:<18}     replay: {}",
                "", u.property, u.seed, u.explanation, "", u.replay
            );
        }
        if !t.undecided.is_empty() {
            println!(
                "{:<18}   (to search harder: the replay with --history h.jsonl, then splitbrain check h.jsonl \
                 --linear-budget 50000000)",
                ""
            );
        }
        if t.unknown > UNDECIDED_PRINTED_MAX as u64 {
            println!(
                "{:<18}   ({} more unknown verdicts; the report lists {} in all)",
                "",
                t.unknown - UNDECIDED_PRINTED_MAX as u64,
                t.undecided.len()
            );
        }
        if !t.families.is_empty() {
            let runs: Vec<String> = t.families.iter().map(|(family, n)| format!("{family} {n}")).collect();
            println!("{:<18}   runs with faults of: {}", "", runs.join(", "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn undecided(seed: u64) -> Undecided {
        Undecided {
            seed: sim::Seed(seed).to_string(),
            property: "Linearizability".into(),
            explanation: "the search gave up".into(),
            replay: format!("run chaos-all --seed {}", sim::Seed(seed)),
        }
    }

    #[test]
    fn undecided_verdicts_keep_the_lowest_seeds_whatever_the_order_they_come_in() {
        let (mut forward, mut backward) = (Totals::default(), Totals::default());
        let count = UNDECIDED_KEPT_MAX as u64 + 20;
        for seed in 0..count {
            forward.unknown += 1;
            forward.keep_undecided(undecided(seed * 7));
            backward.unknown += 1;
            backward.keep_undecided(undecided((count - 1 - seed) * 7));
        }
        assert_eq!(forward.undecided, backward.undecided);
        assert_eq!(forward.undecided.len(), UNDECIDED_KEPT_MAX);
        assert_eq!(forward.undecided[0], undecided(0));
        assert_eq!(forward.undecided.last(), Some(&undecided((UNDECIDED_KEPT_MAX as u64 - 1) * 7)));
        // Added up, the same list: a verdict seen twice is kept once.
        let mut merged = Totals::default();
        merged.add(&backward);
        merged.add(&forward);
        assert_eq!(merged.undecided, forward.undecided);
        assert_eq!(merged.unknown, 2 * count);
    }
}
