//! Property 4: linearizability of the Redis operations on a lease key and its epoch counter,
//! as the clients observed them, against the sequential specification of Redis itself.
//!
//! # The history
//! Every command a node sent is a `redis-invoke` event (true time the client wrote it) and,
//! if an answer came back, a `redis-complete` event (true time the client read it). An
//! operation is that pair; one whose answer never came (a timeout, a cut connection, a crash)
//! is *open*: it may have taken effect at any instant after its invocation, or never. Error
//! replies (`-NOSCRIPT`, `-LOADING`, ...) did nothing. An operation belongs to a lease object
//! when it names the lease key or the counter (a script: among its keys).
//!
//! # The specification
//! `GET`, `SET` (`NX`, `XX`, `PX`, `EX`), `PEXPIRE`/`EXPIRE`, `PTTL`, `DEL`/`UNLINK` on the
//! lease and `INCR`/`GET` on the counter are specified here. Everything else — any script,
//! any other command — is *replayed*: a [`Replayer`] (the simulation lends the Redis model)
//! runs it alone on a server holding the object's two keys as the candidate order left them,
//! and its reply must be the one the client read. So an elector with scripts of its own is
//! held to what Redis would do with them, not to what ours do. Without a replayer, such an
//! operation makes the verdict *unknown*, with the reason, never a violation. A script may
//! read or write other keys too; only the object's two are given to it, so a script whose
//! reply depends on another key is replayed as if that key were absent.
//!
//! # Time and expiry
//! Redis expires a key when *its* wall clock passes the deadline it computed when the TTL was
//! set. Each operation takes effect at one instant (its linearization point) inside its
//! invoke-complete window. The checker maps that window through Redis's clock (drift and
//! jumps included, from the run's [`ClockTrace`]) to the range of Redis times the operation
//! could have seen. A TTL set by an operation gives a deadline *range*: the window's Redis
//! times plus the TTL. An operation may see the key alive if some time in its range is at or
//! before the latest possible deadline, and expired if some time is at or after the earliest;
//! when both are possible the search tries both. Each comparison allows 1 ms for Redis's
//! millisecond clock. The linearization point is not carried from one operation to the next
//! beyond the real-time order the search itself keeps, so the check is slightly permissive
//! (it never reports a history that some choice of points explains); it is exact about
//! values, ownership and epochs.
//!
//! # The search
//! Wing and Gong's algorithm with Lowe's memoisation, as Porcupine does it: repeatedly pick an
//! operation none of whose unpicked peers returned before it was invoked, apply it to the
//! specification, and check its reply; backtrack on a mismatch; remember every
//! (set of picked operations, state) already explored, the set by a 128-bit Zobrist hash. The
//! history is decomposed per lease object (each lease key with its counter), and each is
//! searched on its own. Open operations are tried only where they would change the state
//! (an open operation with no effect is the same as one that never happened), after the
//! completed ones, never after the instant the client saw the server close its connection,
//! and of open operations with the same call only the earliest-invoked (it can go wherever a
//! later twin can). Open operations that only extend the lease's TTL for its current value,
//! or only delete it (an owner's renewal or release), are folded into the state instead: the
//! union of their effects at every place. A search that exceeds its step budget answers
//! *unknown*.

mod explain;
mod ops;
mod search;
mod spec;

use serde::{Deserialize, Serialize};

use crate::clock_trace::ClockTrace;
use crate::event::Event;
use crate::replay::{NoReplay, Replayer};
use crate::verdict::{Property, Verdict};
use ops::ObjectHistory;
use search::{Found, Search};
use spec::Spec;

/// A lease object: the lease key and the counter that hands out its epochs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseKeys {
    /// The lease key.
    pub lease: String,
    /// The epoch counter.
    pub counter: String,
}

impl LeaseKeys {
    /// The keys the `election` crate's elector uses for the election `key`.
    pub fn of_election(key: &str) -> LeaseKeys {
        LeaseKeys { lease: key.to_owned(), counter: format!("{key}:epoch") }
    }
}

/// How many search steps a lease object may take before the checker answers unknown.
pub const DEFAULT_BUDGET: u64 = 2_000_000;

/// The most search steps a caller may allow (`splitbrain check --linear-budget`): about ten
/// minutes of search, with the memo's few gigabytes.
pub const BUDGET_MAX: u64 = 200_000_000;

/// Checks that each lease object's operations are linearizable, with at most `budget` search
/// steps per object, with no Redis to replay scripts on (see [`linearizability_with`]).
pub fn linearizability(events: &[Event], objects: &[LeaseKeys], redis_clock: &ClockTrace, budget: u64) -> Verdict {
    linearizability_with(events, objects, redis_clock, budget, &NoReplay)
}

/// Checks that each lease object's operations are linearizable, replaying on `replay` what
/// the specification does not know natively.
pub fn linearizability_with(
    events: &[Event],
    objects: &[LeaseKeys],
    redis_clock: &ClockTrace,
    budget: u64,
    replay: &dyn Replayer,
) -> Verdict {
    let end_us = events.last().map_or(0, |e| e.at_us);
    let mut summary = Vec::new();
    let mut unknown = None;
    for keys in objects {
        let history = ObjectHistory::extract(events, keys, redis_clock, end_us);
        let count = history.ops.len();
        let spec = Spec::new(&history, keys, replay);
        match Search::new(&history, &spec, budget).run() {
            Found::Linearizable { steps } => summary.push(format!("{}: {count} operations, {steps} steps", keys.lease)),
            Found::Exhausted { steps } => {
                unknown.get_or_insert(format!(
                    "the search for {} gave up after {steps} steps over {count} operations (budget {budget}): \
                     linearizability is not known",
                    keys.lease
                ));
            }
            Found::Unreplayable(reason) => {
                unknown.get_or_insert(format!(
                    "an operation on {} is outside what the specification can replay ({reason}): linearizability \
                     is not known",
                    keys.lease
                ));
            }
            Found::Stuck(stuck) => return history.violation(keys, &spec, stuck, events),
        }
    }
    match unknown {
        Some(explanation) => Verdict::unknown(Property::Linearizability, explanation),
        None => Verdict::pass(Property::Linearizability, format!("linearizable: {}", summary.join("; "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultKind;
    use crate::fixtures::{healed, history, injected, redis_complete as complete, redis_invoke as invoke};
    use crate::Outcome;

    fn verdict(events: &[Event]) -> Verdict {
        linearizability(events, &[LeaseKeys::of_election("leader")], &ClockTrace::default(), DEFAULT_BUDGET)
    }

    #[test]
    fn a_request_unanswered_when_redis_went_down_takes_effect_before_it_or_never() {
        // a's SET is never answered; Redis is down from 100 ms to 500 ms; at 5 s b reads a's
        // value, which a SET run before the crash (TTL 3 s) cannot explain.
        let set_a = invoke(0, "a", 0, &["SET", "leader", "a", "NX", "PX", "3000"]);
        let restart = FaultKind::RedisRestart { persistence: None };
        let read = |at_ms: u64| vec![invoke(at_ms, "b", 0, &["GET", "leader"]), complete(at_ms + 5, "b", 0, "\"a\"")];
        let late = history(
            [vec![set_a.clone(), injected(100, 1, restart.clone(), &[]), healed(500, 1)], read(5_000)].concat(),
        );
        assert_eq!(verdict(&late).outcome, Outcome::Violated, "{}", verdict(&late).explanation);
        // Read within its TTL of the crash, it is explained.
        let early = history(
            [vec![set_a.clone(), injected(100, 1, restart.clone(), &[]), healed(500, 1)], read(2_000)].concat(),
        );
        assert!(verdict(&early).passed(), "{}", verdict(&early).explanation);
        // Sent while Redis was down, it never runs.
        let down = history(
            [
                vec![
                    injected(0, 1, restart.clone(), &[]),
                    invoke(100, "a", 0, &["SET", "leader", "a", "NX", "PX", "3000"]),
                ],
                vec![healed(500, 1)],
                read(1_000),
            ]
            .concat(),
        );
        assert_eq!(verdict(&down).outcome, Outcome::Violated, "{}", verdict(&down).explanation);
        // Restarts overlap: the first heal starts Redis, and what is sent after it runs.
        let overlapping = history(vec![
            injected(0, 1, restart.clone(), &[]),
            injected(50, 2, restart.clone(), &[]),
            healed(80, 1),
            invoke(100, "a", 0, &["SET", "leader", "a", "NX", "PX", "3000"]),
            healed(900, 2),
            invoke(1_000, "b", 0, &["GET", "leader"]),
            complete(1_005, "b", 0, "\"a\""),
        ]);
        assert!(verdict(&overlapping).passed(), "{}", verdict(&overlapping).explanation);
        // Without the restart, a's SET may have run at any time: the late read is explained.
        let no_restart = history([vec![set_a], read(5_000)].concat());
        assert!(verdict(&no_restart).passed(), "{}", verdict(&no_restart).explanation);
    }
}
