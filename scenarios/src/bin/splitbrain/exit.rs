//! The one table of exit codes, the same for every verb.

use std::process::ExitCode;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every property held (or the verb checks none and did its work).
    Held,
    /// A property was violated (a campaign found one, a replayed, drawn or shrunk file shows one).
    Violated,
    /// The input was refused: one line on stderr, no work done.
    BadInput,
    /// A replay did not reproduce its file: the trace hash differs.
    NotReproduced,
    /// SIGINT or SIGTERM: what was found so far is on disk and summarised.
    Interrupted,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Held => 0,
            Exit::Violated => 1,
            Exit::BadInput => 2,
            Exit::NotReproduced => 3,
            Exit::Interrupted => 130,
        }
    }

    /// A verdict's exit: a violation, or every property held.
    pub fn of_violation(violated: bool) -> Exit {
        if violated {
            Exit::Violated
        } else {
            Exit::Held
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// The table as `--help` and docs/cli.md show it (a macro, so that each verb's help can
/// `concat!` it under its examples).
macro_rules! exit_codes {
    () => {
        "Exit codes (every verb):
  0    every property held (list, bench: the work was done)
  1    a property was violated: found by fuzz, zoo, failovers or merge; shown by run, replay, report, shrink
  2    bad input: one line on stderr, nothing run
  3    replay or report did not reproduce the file (trace hash differs)
  130  interrupted (SIGINT/SIGTERM): failure files, summary and --report written first"
    };
}

/// The table, for the top-level help.
pub const EXIT_CODES: &str = exit_codes!();
