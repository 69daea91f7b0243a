//! `splitbrain shrink FILE [--out FILE]`: the smallest schedule that still violates the same
//! property, written as a failure file (`<name>.min.json` by default) each time a smaller one
//! is found; SIGINT keeps the smallest so far.

use std::path::PathBuf;

use scenarios::{FailureFile, ShrinkHooks};

use crate::args::ShrinkArgs;
use crate::exit::Exit;
use crate::progress::Progress;

/// Saves every smaller file as it is found and stops on a signal.
struct Saver {
    out: PathBuf,
    smaller_files: u64,
    error: Option<String>,
    progress: Progress,
    steps: u64,
}

impl ShrinkHooks for Saver {
    fn step(&mut self, what: &str) {
        self.steps += 1;
        self.progress.eprintln(&format!("  {what}"));
        self.progress.update(self.steps, self.smaller_files);
    }

    fn smaller(&mut self, file: &FailureFile) {
        match file.save(&self.out) {
            Ok(()) => self.smaller_files += 1,
            Err(e) => self.error = Some(e),
        }
    }

    fn stop(&self) -> bool {
        crate::interrupt::requested() || self.error.is_some()
    }
}

pub fn shrink(args: ShrinkArgs) -> Result<Exit, String> {
    let path = args.file;
    let failure = FailureFile::load(&path)?;
    let out = args.out.unwrap_or_else(|| {
        let shown = path.display().to_string();
        PathBuf::from(shown.strip_suffix(".json").unwrap_or(&shown).to_owned() + ".min.json")
    });
    crate::output::check_file(&out, "output")?;
    crate::replay::warn_if_other_version(&failure);
    crate::interrupt::install()?;
    let before = failure.file.schedule.faults.len();
    eprintln!(
        "shrinking {} under {} ({before} faults), keeping {} violated",
        failure.scenario.name,
        failure.seed,
        failure.file.property()
    );
    // Steps are reported smaller schedules; their number is not known in advance, so the bar
    // counts them against the faults there are to drop.
    let progress = Progress::new(crate::progress::Total::Count(before as u64 + 1), "steps").counting("smaller file(s)");
    let mut saver = Saver { out: out.clone(), smaller_files: 0, error: None, progress, steps: 0 };
    let (file, outcome) = failure.shrink(&mut saver)?;
    saver.progress.finish(saver.steps, saver.smaller_files);
    if let Some(e) = saver.error {
        return Err(e);
    }
    // The search saves each smaller file; the final one (or the original, if nothing smaller
    // failed) is saved once more with the last verdict.
    file.save(&out)?;
    println!("{before} faults -> {}: {}", file.schedule.faults.len(), file.schedule.to_json().replace('\n', " "));
    if let Some(verdict) = failure.violated(&outcome) {
        println!("  {}", verdict.explanation);
    }
    println!("minimal failure file: {}", out.display());
    println!("  replay: cargo run --release -p splitbrain-scenarios -- replay {}", out.display());
    if crate::interrupt::requested() {
        println!("interrupted: this is the smallest failing schedule found so far");
        return Ok(Exit::Interrupted);
    }
    // The shrunk file still violates its property, as the table says of every verb.
    Ok(Exit::Violated)
}
