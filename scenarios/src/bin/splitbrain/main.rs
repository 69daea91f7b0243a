//! `splitbrain`: list the catalogue, run one scenario under one seed, fuzz the catalogue over
//! many seeds on all cores, and debug what a campaign found (replay, shrink, report). The
//! exit codes are one table for every verb (`exit.rs`, docs/cli.md). Threads, wall time,
//! signals and the tracing subscriber live only here, outside the simulation.

#[macro_use]
mod exit;
mod args;
mod bench;
mod campaign;
mod check;
mod collect;
mod coverage;
mod draw;
mod failovers;
mod interrupt;
mod list;
mod merge;
mod output;
mod pool;
mod progress;
mod replay;
mod run;
mod shrink;
mod totals;
mod zoo_table;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Verb};
use crate::exit::Exit;

fn main() -> ExitCode {
    // Die quietly when the reader of our output goes away (`splitbrain list | head`), as
    // command-line tools do, instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match verb(cli.verb) {
        Ok(exit) => exit.into(),
        Err(message) => {
            eprintln!("splitbrain: {message}");
            Exit::BadInput.into()
        }
    }
}

/// Help and version go to stdout with 0; a usage error is one line on stderr with 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            Exit::Held.into()
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!("splitbrain: a verb is needed: list, run, check, coverage, fuzz, failovers, replay, shrink, report, zoo, bench, merge (see splitbrain --help)");
            Exit::BadInput.into()
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or("bad usage");
            let first = first.trim_start_matches("error: ");
            eprintln!("splitbrain: {first} (see splitbrain --help)");
            Exit::BadInput.into()
        }
    }
}

fn verb(verb: Verb) -> Result<Exit, String> {
    match verb {
        Verb::List => Ok(list::list()),
        Verb::Run(args) => run::run(*args),
        Verb::Fuzz(args) => campaign::fuzz(args),
        Verb::Failovers(args) => failovers::failovers(args),
        Verb::Replay(args) => replay::replay(args),
        Verb::Shrink(args) => shrink::shrink(args),
        Verb::Check(args) => check::check(args),
        Verb::Coverage(args) => coverage::coverage(*args),
        Verb::Report(args) => draw::report(args),
        Verb::Zoo(args) => zoo_table::zoo(args),
        Verb::Bench(args) => bench::bench(args),
        Verb::Merge(args) => merge::merge(args),
    }
}

/// The worker count: `jobs`, else one per core.
fn jobs_or_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).min(scenarios::limits::JOBS_MAX)
}

/// A fresh base seed from the OS (a campaign's, when none is given).
fn fresh_campaign_seed() -> Result<sim::Seed, String> {
    getrandom::u64().map(sim::Seed).map_err(|e| format!("cannot draw a campaign seed from the OS: {e}"))
}

/// The command that runs `scenario` under `seed` again.
fn replay_command(scenario: &str, seed: sim::Seed, subject: scenarios::Subject) -> String {
    let mutant = match subject {
        scenarios::Subject::Production => String::new(),
        scenarios::Subject::Zoo(bug) => format!(" --mutant {bug}"),
    };
    format!("cargo run --release -p splitbrain-scenarios -- run {scenario} --seed {seed}{mutant}")
}

/// Each verdict on one line.
fn print_verdicts(outcome: &scenarios::Outcome) {
    print_verdict_lines(&outcome.verdicts);
}

/// Each verdict on one line: outcome, property, explanation.
fn print_verdict_lines(verdicts: &[sim::check::Verdict]) {
    for verdict in verdicts {
        println!(
            "  {:<9} {:?}: {}",
            format!("{:?}", verdict.outcome).to_lowercase(),
            verdict.property,
            verdict.explanation
        );
    }
}
