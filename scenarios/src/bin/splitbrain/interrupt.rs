//! SIGINT and SIGTERM, counted: the first asks a long command to stop drawing work and
//! finish what is in flight; the second to abandon what is in flight; a third ends the
//! process at once. Installed only by the verbs that stop cleanly (fuzz, zoo, failovers,
//! shrink); the others die on the first signal as any command does.

use std::sync::atomic::{AtomicU32, Ordering};

static SIGNALS: AtomicU32 = AtomicU32::new(0);

/// Signals beyond which the handler exits by itself, whatever the command is doing.
const SIGNALS_BEFORE_EXIT: u32 = 2;

/// Installs the handler (once per process).
pub fn install() -> Result<(), String> {
    ctrlc::set_handler(|| {
        let seen = SIGNALS.fetch_add(1, Ordering::SeqCst) + 1;
        if seen > SIGNALS_BEFORE_EXIT {
            std::process::exit(130);
        }
    })
    .map_err(|e| format!("cannot handle SIGINT/SIGTERM: {e}"))
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    SIGNALS.load(Ordering::SeqCst) >= 1
}

/// Whether the work in flight is to be abandoned.
pub fn abandoned() -> bool {
    SIGNALS.load(Ordering::SeqCst) >= 2
}
