//! `splitbrain report FILE --html OUT`: replays a failure file and draws it as a timeline.

use scenarios::FailureFile;

use crate::args::ReportArgs;
use crate::exit::Exit;

pub fn report(args: ReportArgs) -> Result<Exit, String> {
    let failure = FailureFile::load(&args.file)?;
    crate::output::check_file(&args.html, "page")?;
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
