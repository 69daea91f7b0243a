//! `splitbrain check FILE [--html PAGE] [--json] [--linear-budget STEPS]`: judges a history file, from any recorder,
//! on every property, with the Redis model to replay scripts on.

use scenarios::report::Page;
use sim::check::History;

use crate::args::CheckArgs;
use crate::exit::Exit;

pub fn check(args: CheckArgs) -> Result<Exit, String> {
    if let Some(page) = &args.html {
        crate::output::check_file(page, "page")?;
    }
    let history = History::load(&args.file).map_err(|e| e.to_string())?;
    let verdicts = sim::judge_with_budget(&history, args.linear_budget);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdicts).expect("verdicts serialize"));
    } else {
        let origin = &history.header.origin;
        let from = origin.seed.as_ref().map(|s| format!(", seed {s}")).unwrap_or_default();
        println!("{}: {} events from {}{from}", args.file.display(), history.events.len(), origin.recorder);
        crate::print_verdict_lines(&verdicts.verdicts);
    }
    if let Some(path) = &args.html {
        let page = scenarios::report::page(&page_of(&args.file, &history), &history, &verdicts.verdicts);
        std::fs::write(path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(Exit::of_violation(!verdicts.passed()))
}

/// A history file's page: titled by the file, with what its header says of where it came
/// from.
pub fn page_of<'a>(file: &std::path::Path, history: &'a History) -> Page<'a> {
    let origin = &history.header.origin;
    let mut facts = Vec::new();
    facts.extend(origin.scenario.iter().map(|s| format!("scenario {s}")));
    facts.extend(origin.seed.iter().map(|s| format!("seed {s}")));
    facts.push(format!("recorded by {}", origin.recorder));
    Page {
        title: file.display().to_string(),
        facts,
        replay: origin.replay.clone(),
        lease_key: history.header.lease_keys.first().map_or("leader", |k| k.lease.as_str()),
    }
}
