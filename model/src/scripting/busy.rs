//! A running script, as other connections see it: after `busy-reply-threshold` of server
//! time they get BUSY instead of waiting, and SCRIPT KILL / FUNCTION KILL can stop a script
//! that has not written. Kept outside the server's lock, which the script holds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::reply::Reply;

/// The script in execution, if any.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Running {
    /// The connection running it.
    pub(crate) owner: u64,
    pub(crate) started_ms: i64,
    pub(crate) threshold_ms: i64,
    /// FCALL rather than EVAL.
    pub(crate) function: bool,
}

/// Shared between the interpreter (which sets and clears it, and whose hook polls `kill`)
/// and every connection.
#[derive(Debug, Default)]
pub(crate) struct ScriptControl {
    running: Mutex<Option<Running>>,
    kill: AtomicBool,
    wrote: AtomicBool,
    /// The kill hook runs at every instruction now.
    tightened: AtomicBool,
}

/// What a connection does about a running script.
pub(crate) enum Verdict {
    /// Not busy (or not yet past the threshold): run the command (waiting for the lock).
    Proceed,
    /// Answer this instead.
    Reply(Reply),
}

impl ScriptControl {
    pub(crate) fn start(&self, running: Running) {
        self.kill.store(false, Ordering::SeqCst);
        self.wrote.store(false, Ordering::SeqCst);
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(running);
    }

    /// The script ended; whether the hook must be loosened again.
    pub(crate) fn finish(&self) -> bool {
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.kill.store(false, Ordering::SeqCst);
        self.tightened.swap(false, Ordering::SeqCst)
    }

    /// Marks the hook as running at every instruction; whether it already was.
    pub(crate) fn tighten(&self) -> bool {
        self.tightened.swap(true, Ordering::SeqCst)
    }

    pub(crate) fn wrote(&self) {
        self.wrote.store(true, Ordering::SeqCst);
    }

    pub(crate) fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::SeqCst)
    }

    /// What `client` sending `command` (lowercase name, subcommand) gets at `now_ms`.
    pub(crate) fn verdict(&self, client: u64, command: &[u8], sub: Option<&[u8]>, now_ms: i64) -> Verdict {
        let Some(running) = *self.running.lock().unwrap_or_else(|p| p.into_inner()) else { return Verdict::Proceed };
        if running.owner == client || now_ms - running.started_ms < running.threshold_ms {
            return Verdict::Proceed;
        }
        let kill =
            |is_function: bool| sub.is_some_and(|s| s.eq_ignore_ascii_case(b"kill")) && running.function == is_function;
        if command.eq_ignore_ascii_case(b"script") && kill(false)
            || command.eq_ignore_ascii_case(b"function") && kill(true)
        {
            if self.wrote.load(Ordering::SeqCst) {
                return Verdict::Reply(Reply::error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."));
            }
            self.kill.store(true, Ordering::SeqCst);
            return Verdict::Reply(Reply::ok());
        }
        let how = if running.function { "FUNCTION KILL" } else { "SCRIPT KILL" };
        Verdict::Reply(Reply::error(format!(
            "BUSY Redis is busy running a script. You can only call {how} or SHUTDOWN NOSAVE."
        )))
    }
}
