//! A running script, as other connections see it: after `busy-reply-threshold` of server
//! time they get BUSY instead of waiting, and SCRIPT KILL / FUNCTION KILL can stop a script
//! that has not written. Kept outside the server's lock, which the script holds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

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
    /// With simulated script time: when the script, already run, ends in server time.
    pub(crate) ends_ms: Option<i64>,
}

/// Scripts' cost in server time, for a server whose clock does not move while a script runs
/// (the simulation's): each 1,000 Lua instructions cost `per_kilo_instructions`, and a script
/// is stopped once it has cost `limit` (it would otherwise never end, or stall the run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptTime {
    /// Server time per 1,000 instructions.
    pub per_kilo_instructions: Duration,
    /// The most server time one script may take.
    pub limit: Duration,
}

impl Default for ScriptTime {
    /// 1 ms per 1,000 instructions (a slow server: the 5 s BUSY threshold comes after about
    /// five million instructions, a fraction of a second of real time), at most 60 s.
    fn default() -> Self {
        ScriptTime { per_kilo_instructions: Duration::from_millis(1), limit: Duration::from_secs(60) }
    }
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
    /// Thousands of instructions the running script has executed.
    kilo_instructions: AtomicU64,
    /// Simulated script time, if the server's clock stands still during a script.
    time: Mutex<Option<ScriptTime>>,
}

/// What a connection does about a running script.
pub(crate) enum Verdict {
    /// Not busy (or not yet past the threshold): run the command (waiting for the lock).
    Proceed,
    /// A script, already run, still takes this long in server time and is not yet past its
    /// threshold: wait, then ask again.
    Wait(i64),
    /// Answer this instead.
    Reply(Reply),
}

impl ScriptControl {
    pub(crate) fn set_time(&self, time: Option<ScriptTime>) {
        *self.time.lock().unwrap_or_else(|p| p.into_inner()) = time;
    }

    pub(crate) fn time(&self) -> Option<ScriptTime> {
        *self.time.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts 1,000 more instructions; `Err` once the script passed its limit of simulated time.
    pub(crate) fn tick(&self) -> Result<(), Duration> {
        let kilo = self.kilo_instructions.fetch_add(1, Ordering::SeqCst) + 1;
        match self.time() {
            Some(t) if t.per_kilo_instructions.saturating_mul(kilo.min(u64::from(u32::MAX)) as u32) > t.limit => {
                Err(t.limit)
            }
            _ => Ok(()),
        }
    }

    /// What the script has cost in simulated time so far (zero without simulated time).
    pub(crate) fn cost(&self) -> Duration {
        let kilo = self.kilo_instructions.load(Ordering::SeqCst).min(u64::from(u32::MAX)) as u32;
        self.time().map_or(Duration::ZERO, |t| t.per_kilo_instructions.saturating_mul(kilo))
    }

    /// The script ran; it still occupies the server until `ends_ms` of server time.
    pub(crate) fn hold_until(&self, ends_ms: i64) {
        if let Some(running) = self.running.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            running.ends_ms = Some(ends_ms);
        }
    }

    /// The held script's end, if one is held.
    pub(crate) fn held_until(&self) -> Option<i64> {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).and_then(|r| r.ends_ms)
    }

    /// Whether the running script wrote (UNKILLABLE).
    pub(crate) fn has_written(&self) -> bool {
        self.wrote.load(Ordering::SeqCst)
    }

    pub(crate) fn start(&self, running: Running) {
        self.kill.store(false, Ordering::SeqCst);
        self.wrote.store(false, Ordering::SeqCst);
        self.kilo_instructions.store(0, Ordering::SeqCst);
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
        if running.owner == client || running.ends_ms.is_some_and(|end| now_ms >= end) {
            return Verdict::Proceed;
        }
        if now_ms - running.started_ms < running.threshold_ms {
            return match running.ends_ms {
                // Simulated time: the script has run; the client waits as it would have.
                Some(end) => Verdict::Wait((running.started_ms + running.threshold_ms).min(end) - now_ms),
                None => Verdict::Proceed,
            };
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
