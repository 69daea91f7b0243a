//! `splitbrain run SCENARIO --seed S [--mutant M]`.

use scenarios::Subject;

use crate::args::RunArgs;
use crate::exit::Exit;

pub fn run(args: RunArgs) -> Result<Exit, String> {
    let RunArgs { scenario, seed, mutant, history } = args;
    let subject = mutant.map_or(Subject::Production, Subject::Zoo);
    if let Some(reason) = scenario.inapplicable(subject) {
        return Err(format!("--mutant does not apply: {reason}"));
    }
    if let Some(path) = &history {
        crate::output::check_file(path, "history")?;
    }
    let mut outcome =
        scenario.run_subject(seed, subject).map_err(|e| format!("{} under {seed}: {e}", scenario.name))?;
    if let Some(path) = &history {
        outcome.history.header.origin.replay = Some(crate::replay_command(&scenario.name, seed, subject));
        outcome.history.save(path).map_err(|e| e.to_string())?;
        println!("history: {} ({} events)", path.display(), outcome.history.events.len());
    }
    println!("{} under seed {seed}: trace hash {:016x}", scenario.name, outcome.run.trace_hash());
    println!("schedule: {}", serde_json::to_string(&outcome.run.schedule).expect("schedules serialize"));
    crate::print_verdicts(&outcome);
    if let Some((min, median, p99, max)) = outcome.failovers.summary() {
        println!(
            "failovers: {} — min {min:.3} s, median {median:.3} s, p99 {p99:.3} s, max {max:.3} s",
            outcome.failovers.samples_s.len()
        );
    }
    Ok(Exit::of_violation(!outcome.failures().is_empty()))
}
