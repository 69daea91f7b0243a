//! A sequential Redis for the linearizability checker: what a command, or a script, answers
//! and leaves behind when run alone on a given lease object. The checker needs no Redis of
//! its own: a caller with one (the simulation's model) lends it, so that any command and any
//! script a user writes is held to what Redis itself would do.

/// A lease object's keys before or after a command: the lease's value (None: absent) and
/// whether it has a TTL, and the counter (0: absent).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKeys {
    /// The lease key's value, and whether it has a TTL.
    pub lease: Option<(String, bool)>,
    /// The epoch counter.
    pub counter: i64,
}

/// What a command did when run alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Its reply, written as histories write replies (`:1`, `"text"`, `(nil)`, `OK`, `-ERR ...`,
    /// `[a, b]`).
    pub reply: String,
    /// The lease afterwards: absent, or its value and what became of its TTL.
    pub lease: Option<(String, Ttl)>,
    /// The counter afterwards.
    pub counter: i64,
}

/// What a command did to the lease's TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Left it as it was.
    Kept,
    /// Set it to this many milliseconds from the command's instant.
    Set(i64),
    /// Removed it (the key no longer expires).
    Removed,
}

/// Runs one command on a Redis holding only a lease object's two keys.
pub trait Replayer {
    /// Runs `args` (a command as the history recorded it, arguments unquoted) on a server
    /// holding exactly `before` under `lease_key` and `counter_key`, at an instant well before
    /// the lease's TTL (if any) runs out. `Err` with a reason when it cannot be replayed.
    fn replay(
        &self,
        lease_key: &str,
        counter_key: &str,
        before: &ObjectKeys,
        args: &[String],
    ) -> Result<Replayed, String>;
}

/// No Redis at hand: operations the checker does not know natively (scripts above all) make
/// its verdict unknown, with the reason.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReplay;

impl Replayer for NoReplay {
    fn replay(&self, _: &str, _: &str, _: &ObjectKeys, args: &[String]) -> Result<Replayed, String> {
        Err(format!(
            "{} needs a Redis to replay it (judge with `splitbrain check`, which lends the Redis model)",
            args.first().map_or("an empty command", String::as_str)
        ))
    }
}
