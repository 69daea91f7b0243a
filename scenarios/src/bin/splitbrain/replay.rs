//! `splitbrain replay FILE`: re-runs a failure file exactly, with every node's logs (as
//! `RUST_LOG` filters them, `info` by default) stamped with simulated time, node and
//! incarnation; checks the trace hash and prints the verdicts.

use scenarios::{Failure, FailureFile, Outcome};

use crate::args::FileArgs;
use crate::exit::Exit;

/// Log lines stamped with simulated time.
struct SimTime;

impl tracing_subscriber::fmt::time::FormatTime for SimTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        match sim::true_now_us() {
            Some(us) => write!(w, "t={:>10.6}s", us as f64 / 1e6),
            None => write!(w, "t=         -"),
        }
    }
}

pub fn replay(args: FileArgs) -> Result<Exit, String> {
    let failure = FailureFile::load(&args.file)?;
    warn_if_other_version(&failure);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(SimTime)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_writer(std::io::stdout)
        .init();
    if failure.file.property() == scenarios::SIMULATION_FAILED {
        return Ok(replay_error(&failure));
    }
    let outcome = failure.replay()?;
    println!();
    crate::print_verdicts(&outcome);
    let exit = reproduced(&failure, &outcome);
    if exit != Exit::NotReproduced {
        println!(
            "replayed {} under seed {}: the same trace hash {}",
            failure.scenario.name, failure.seed, failure.file.trace_hash
        );
    }
    Ok(exit)
}

/// A run that did not finish is reproduced when it fails again.
fn replay_error(failure: &Failure) -> Exit {
    match failure.replay() {
        Err(e) => {
            println!(
                "\nreplayed {} under seed {}: the simulation failed again: {e}",
                failure.scenario.name, failure.seed
            );
            Exit::Violated
        }
        Ok(_) => {
            println!("\nthe replay DIVERGED: the run finished; the failure file recorded it failing");
            Exit::NotReproduced
        }
    }
}

/// A file written by another build may replay differently: say so before the replay.
pub fn warn_if_other_version(failure: &Failure) {
    if failure.file.version != scenarios::VERSION {
        eprintln!(
            "warning: the file was written by splitbrain {}, this is {}: a different trace is to be expected",
            failure.file.version,
            scenarios::VERSION
        );
    }
}

/// The exit of a replay: not reproduced when the hash differs (said on stdout), else its verdict.
pub fn reproduced(failure: &Failure, outcome: &Outcome) -> Exit {
    let hash = format!("{:016x}", outcome.run.trace_hash());
    if hash != failure.file.trace_hash {
        println!("the replay DIVERGED: trace hash {hash}, the failure file recorded {}", failure.file.trace_hash);
        return Exit::NotReproduced;
    }
    Exit::of_violation(!outcome.failures().is_empty())
}
