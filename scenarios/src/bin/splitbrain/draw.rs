//! `splitbrain report FILE --html OUT`: replays a failure file and draws it as a timeline.

use scenarios::FailureFile;

use crate::args::ReportArgs;
use crate::exit::Exit;

pub fn report(args: ReportArgs) -> Result<Exit, String> {
    crate::output::check_file(&args.html, "page")?;
    if args.file.extension().is_some_and(|e| e == "jsonl") {
        return history_page(&args);
    }
    let failure = FailureFile::load(&args.file)?;
    crate::replay::warn_if_other_version(&failure);
    let outcome = failure.replay()?;
    let exit = crate::replay::reproduced(&failure, &outcome);
    if exit == Exit::NotReproduced {
        eprintln!("warning: the replay diverged; drawing the replay");
    }
    let shown = args.file.display().to_string();
    let page = scenarios::report::html(&failure.file, &shown, &outcome);
    std::fs::write(&args.html, page).map_err(|e| format!("cannot write {}: {e}", args.html.display()))?;
    println!(
        "wrote {} ({} under {}, {} events)",
        args.html.display(),
        failure.scenario.name,
        failure.seed,
        outcome.run.events.len()
    );
    Ok(exit)
}

/// A history file's page: judged, then drawn.
fn history_page(args: &ReportArgs) -> Result<Exit, String> {
    let history = sim::check::History::load(&args.file).map_err(|e| e.to_string())?;
    let verdicts = sim::judge(&history);
    let page = scenarios::report::page(&crate::check::page_of(&args.file, &history), &history, &verdicts.verdicts);
    std::fs::write(&args.html, page).map_err(|e| format!("cannot write {}: {e}", args.html.display()))?;
    println!("wrote {} ({} events)", args.html.display(), history.events.len());
    Ok(Exit::of_violation(!verdicts.passed()))
}
