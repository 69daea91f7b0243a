//! The sequential specification of a lease object: its state, what each operation leaves
//! behind and must answer, natively or by replaying it on a Redis.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::ops::{Call, Command, ObjectHistory, Op, Reply, Strings};
use super::LeaseKeys;
use crate::replay::{ObjectKeys, Replayer, Ttl};

/// Redis's clock counts milliseconds: every comparison of a time with a deadline allows one.
pub(super) const SLACK_US: i64 = 1_000;

/// A deadline no operation reaches.
pub(super) const FOREVER: i64 = i64::MAX / 4;

/// A lease's deadline: the range of Redis wall times (µs) it could fall at.
pub(super) type Deadline = (i64, i64);

/// The object's state: the lease's value (interned) and deadline (None without a TTL), and
/// the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct State {
    pub(super) lease: Option<(u32, Option<Deadline>)>,
    pub(super) counter: i64,
}

/// What a linearized operation must have answered.
#[derive(Debug, Clone, Copy)]
pub(super) enum Expect {
    Int(i64),
    IntIn(i64, i64),
    Value(u32),
    Nil,
    Ok,
    Counter(i64),
    /// Exactly this reply (interned), as Redis gave it on a replay.
    Exact(u32),
}

/// What an open operation does to the lease it finds, when it is folded into the state
/// rather than placed: extends its TTL, or deletes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Fold {
    Extends { px_ms: i64 },
    Deletes,
}

/// A replay's outcome, interned.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    reply: u32,
    lease: Option<(u32, Ttl)>,
    counter: i64,
}

type ReplayKey = (u32, Option<(u32, bool)>, i64);

/// The specification of one lease object, with the replays it has made (each distinct
/// command and state is replayed once).
pub(super) struct Spec<'a> {
    keys: &'a LeaseKeys,
    commands: &'a [Command],
    replayer: &'a dyn Replayer,
    strings: RefCell<Strings>,
    replays: RefCell<BTreeMap<ReplayKey, Result<Outcome, String>>>,
    /// The first operation that could not be replayed: the verdict is unknown.
    unreplayable: RefCell<Option<String>>,
}

impl<'a> Spec<'a> {
    pub(super) fn new(history: &'a ObjectHistory, keys: &'a LeaseKeys, replayer: &'a dyn Replayer) -> Spec<'a> {
        Spec {
            keys,
            commands: &history.commands,
            replayer,
            strings: RefCell::new(history.strings.clone()),
            replays: RefCell::default(),
            unreplayable: RefCell::default(),
        }
    }

    /// Why an operation could not be replayed, if one could not.
    pub(super) fn unreplayable(&self) -> Option<String> {
        self.unreplayable.borrow().clone()
    }

    /// An interned string.
    pub(super) fn text(&self, id: u32) -> String {
        self.strings.borrow().text(id).to_owned()
    }

    /// Whether `reply` is what `expect` says.
    pub(super) fn admits(&self, op: &Op, expect: Expect) -> bool {
        let Some(reply) = op.reply else { return false };
        match (expect, reply) {
            (Expect::Exact(id), _) => op.raw == Some(id),
            (Expect::Int(n), Reply::Int(m)) => n == m,
            (Expect::IntIn(lo, hi), Reply::Int(m)) => (lo..=hi).contains(&m),
            (Expect::Value(v), Reply::Bulk { text, .. }) => text == v,
            (Expect::Nil, Reply::Nil) | (Expect::Ok, Reply::Ok) => true,
            (Expect::Counter(0), Reply::Nil) => true,
            (Expect::Counter(n), Reply::Bulk { number, .. }) => number == Some(n),
            _ => false,
        }
    }

    /// Each state `op` could leave behind from `state`, with what it must answer: with the
    /// lease alive and with it expired, where its deadline allows both.
    pub(super) fn apply(&self, op: &Op, state: State) -> Vec<(State, Expect)> {
        let mut outcomes = Vec::with_capacity(2);
        match state.lease {
            Some((value, Some((earliest, latest)))) => {
                if op.wall.0 <= latest + SLACK_US {
                    outcomes.extend(self.step(op, state, Some((value, Some((earliest, latest))))));
                }
                if op.wall.1 + SLACK_US >= earliest {
                    outcomes.extend(self.step(op, state, None));
                }
            }
            lease => outcomes.extend(self.step(op, state, lease)),
        }
        outcomes
    }

    /// What an open operation does to a live lease with a TTL, when that is only to extend
    /// the TTL or only to delete it (and so can be folded into the state).
    pub(super) fn fold(&self, op: &Op, state: State) -> Option<Fold> {
        let Call::Replay { command } = op.call else { return None };
        let Some((value, Some(_))) = state.lease else { return None };
        let outcome = self.replayed(command, Some((value, true)), state.counter).ok()?;
        if outcome.counter != state.counter {
            return None;
        }
        match outcome.lease {
            Some((after, Ttl::Set(px_ms))) if after == value => Some(Fold::Extends { px_ms }),
            None => Some(Fold::Deletes),
            _ => None,
        }
    }

    fn step(&self, op: &Op, state: State, lease: Option<(u32, Option<Deadline>)>) -> Option<(State, Expect)> {
        let mut next = State { lease, ..state };
        let expect = match (op.call, lease) {
            (Call::Get, Some((held, _))) => Expect::Value(held),
            (Call::Get, None) => Expect::Nil,
            (Call::Set { nx: true, .. }, Some(_)) | (Call::Set { xx: true, .. }, None) => Expect::Nil,
            (Call::Set { value, px_ms, .. }, _) => {
                next.lease = Some((value, px_ms.and_then(|px| op.deadline(px))));
                Expect::Ok
            }
            (Call::PExpire { px_ms }, Some((held, _))) if px_ms > 0 => {
                next.lease = Some((held, op.deadline(px_ms)));
                Expect::Int(1)
            }
            // A TTL of zero or less deletes the key at once.
            (Call::PExpire { .. }, Some(_)) => {
                next.lease = None;
                Expect::Int(1)
            }
            (Call::PExpire { .. }, None) => Expect::Int(0),
            (Call::Pttl, None) => Expect::Int(-2),
            (Call::Pttl, Some((_, None))) => Expect::Int(-1),
            (Call::Pttl, Some((_, Some((earliest, latest))))) => Expect::IntIn(
                ((earliest - op.wall.1 - SLACK_US) / 1000).max(0),
                (latest - op.wall.0 + SLACK_US) / 1000 + 1,
            ),
            (Call::Del { others }, Some(_)) => {
                next.lease = None;
                Expect::IntIn(1, 1 + others)
            }
            (Call::Del { others }, None) => Expect::IntIn(0, others),
            (Call::Incr, _) => {
                next.counter = next.counter.checked_add(1)?;
                Expect::Int(next.counter)
            }
            (Call::GetCounter, _) => Expect::Counter(next.counter),
            (Call::Replay { command }, lease) => {
                let before = lease.map(|(value, deadline)| (value, deadline.is_some()));
                let outcome = match self.replayed(command, before, state.counter) {
                    Ok(outcome) => outcome,
                    Err(reason) => {
                        self.unreplayable.borrow_mut().get_or_insert(reason);
                        return None;
                    }
                };
                next.counter = outcome.counter;
                next.lease = outcome.lease.map(|(value, ttl)| {
                    let deadline = match ttl {
                        Ttl::Kept => lease.and_then(|(_, d)| d),
                        Ttl::Set(px_ms) => op.deadline(px_ms),
                        Ttl::Removed => None,
                    };
                    (value, deadline)
                });
                Expect::Exact(outcome.reply)
            }
        };
        Some((next, expect))
    }

    /// Replays `command` on a Redis holding `lease` (value, whether it has a TTL) and the
    /// counter, once per distinct command and state.
    fn replayed(&self, command: u32, lease: Option<(u32, bool)>, counter: i64) -> Result<Outcome, String> {
        let key = (command, lease, counter);
        if let Some(known) = self.replays.borrow().get(&key) {
            return known.clone();
        }
        let outcome = self.replay_now(command, lease, counter);
        self.replays.borrow_mut().insert(key, outcome.clone());
        outcome
    }

    fn replay_now(&self, command: u32, lease: Option<(u32, bool)>, counter: i64) -> Result<Outcome, String> {
        let args = self.commands[command as usize].as_ref().map_err(Clone::clone)?;
        let before = ObjectKeys { lease: lease.map(|(value, ttl)| (self.text(value), ttl)), counter };
        let replayed = self.replayer.replay(&self.keys.lease, &self.keys.counter, &before, args)?;
        let mut strings = self.strings.borrow_mut();
        Ok(Outcome {
            reply: strings.id(&replayed.reply),
            lease: replayed.lease.map(|(value, ttl)| (strings.id(&value), ttl)),
            counter: replayed.counter,
        })
    }
}

impl Op {
    /// Whether an open operation can still take effect once the linearization has reached
    /// `now_us`: not after its connection was closed.
    pub(super) fn possible_at(&self, now_us: u64) -> bool {
        self.closed_us.is_none_or(|closed| closed >= now_us)
    }

    /// The deadline range a TTL of `px_ms` set by this operation gives.
    pub(super) fn deadline(&self, px_ms: i64) -> Option<Deadline> {
        let ttl_us = px_ms.checked_mul(1000)?;
        Some((self.wall.0.saturating_add(ttl_us) - SLACK_US, self.wall.1.saturating_add(ttl_us) + SLACK_US))
    }

    /// A read: never changes the state.
    pub(super) fn reads(&self) -> bool {
        matches!(self.call, Call::Get | Call::GetCounter | Call::Pttl)
    }
}
