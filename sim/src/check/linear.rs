//! Property 4: linearizability of the Redis operations on a lease key and its epoch counter,
//! as the clients observed them, against the sequential specification of a Redis key with a
//! TTL and a counter.
//!
//! # The history
//! Every command a node sent is a `redis-invoke` event (true time the client wrote it) and,
//! if an answer came back, a `redis-complete` event (true time the client read it). An
//! operation is that pair; one whose answer never came (a timeout, a cut connection, a crash)
//! is *open*: it may have taken effect at any instant after its invocation, or never. Error
//! replies (`-NOSCRIPT`, `-LOADING`, ...) did nothing. Recognised on the lease key: the
//! elector's acquire, renew and release scripts (by SHA1 or source), `GET`, `SET` (`NX`, `XX`,
//! `PX`, `EX`), `PEXPIRE`/`EXPIRE`, `PTTL`, `DEL`; on the counter: the acquire script, `INCR`,
//! `GET`. Other keys are not part of the object.
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
//! later twin can). A search that exceeds its step budget answers *unknown*.

use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasherDefault;

use super::{at, Property, Verdict};
use crate::clock::ClockTrace;
use crate::history::{unquote, Event, EventKind};
use crate::seed::SimRng;

/// A lease object: the lease key and the counter that hands out its epochs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseKeys {
    /// The lease key.
    pub lease: String,
    /// The epoch counter.
    pub counter: String,
}

impl LeaseKeys {
    /// The keys an [`election::ElectorConfig`] uses for the election `key`.
    pub fn of_election(key: &str) -> LeaseKeys {
        LeaseKeys { lease: key.to_owned(), counter: format!("{key}:epoch") }
    }
}

/// How many search steps a lease object may take before the checker answers unknown.
pub const DEFAULT_BUDGET: u64 = 2_000_000;

/// Redis's clock counts milliseconds: every comparison of a time with a deadline allows one.
const SLACK_US: i64 = 1_000;

/// A deadline no operation reaches.
const FOREVER: i64 = i64::MAX / 4;

/// Checks that each lease object's operations are linearizable, with at most `budget` search
/// steps per object.
pub fn linearizability(events: &[Event], objects: &[LeaseKeys], redis_clock: &ClockTrace, budget: u64) -> Verdict {
    let end_us = events.last().map_or(0, |e| e.at_us);
    let mut summary = Vec::new();
    let mut unknown = None;
    for keys in objects {
        let history = ObjectHistory::extract(events, keys, redis_clock, end_us);
        let count = history.ops.len();
        match Search::new(&history, budget).run() {
            Found::Linearizable { steps } => summary.push(format!("{}: {count} operations, {steps} steps", keys.lease)),
            Found::Exhausted { steps } => {
                unknown.get_or_insert(format!(
                    "the search for {} gave up after {steps} steps over {count} operations (budget {budget}): \
                     linearizability is not known",
                    keys.lease
                ));
            }
            Found::Stuck(stuck) => return history.violation(keys, stuck, events),
        }
    }
    match unknown {
        Some(explanation) => Verdict::unknown(Property::Linearizability, explanation),
        None => Verdict::pass(Property::Linearizability, format!("linearizable: {}", summary.join("; "))),
    }
}

// ---- the operations ----

/// A value as the specification stores it: a string, or an acquire's prefix with the epoch
/// the counter gave it (known only once the acquire is linearized).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Value {
    Plain(u32),
    Acquired { prefix: u32, epoch: i64 },
}

/// A string from the history, with both the forms a stored value could match it in, and its
/// value as an integer (a counter read by `GET`) when it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Text {
    plain: u32,
    acquired: Option<(u32, i64)>,
    number: Option<i64>,
}

impl Text {
    fn matches(self, value: Value) -> bool {
        match value {
            Value::Plain(id) => id == self.plain,
            Value::Acquired { prefix, epoch } => self.acquired == Some((prefix, epoch)),
        }
    }

    fn value(self) -> Value {
        match self.acquired {
            Some((prefix, epoch)) => Value::Acquired { prefix, epoch },
            None => Value::Plain(self.plain),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    Acquire { prefix: u32, px_ms: i64 },
    Renew { value: Text, px_ms: i64 },
    Release { value: Text },
    Get,
    Set { value: Text, nx: bool, xx: bool, px_ms: Option<i64> },
    PExpire { px_ms: i64 },
    Pttl,
    Del { others: i64 },
    Incr,
    GetCounter,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Reply {
    Int(i64),
    Bulk(Text),
    Nil,
    Ok,
    /// `-ERR ...`, `-NOSCRIPT ...`: the command did nothing.
    Error,
    Other,
}

#[derive(Debug, Clone)]
struct Op {
    call: Call,
    /// None: open (no answer came).
    reply: Option<Reply>,
    inv_us: u64,
    ret_us: Option<u64>,
    /// For an open operation: when the client saw the server close its connection, after
    /// which it cannot take effect.
    closed_us: Option<u64>,
    /// The Redis wall times (µs) the operation could have seen.
    wall: (i64, i64),
    /// Indices of its invoke and complete events in the history.
    invoke: usize,
    complete: Option<usize>,
}

/// One lease object's operations, sorted by invocation.
struct ObjectHistory {
    ops: Vec<Op>,
    strings: Vec<String>,
}

/// Interns strings and recognises acquired values (`<prefix><epoch>`).
#[derive(Default)]
struct Strings {
    ids: BTreeMap<String, u32>,
    prefixes: Vec<(String, u32)>,
}

impl Strings {
    fn id(&mut self, s: &str) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry(s.to_owned()).or_insert(next)
    }

    fn text(&mut self, s: &str) -> Text {
        let acquired = self.prefixes.iter().find_map(|(prefix, id)| {
            s.strip_prefix(prefix.as_str()).and_then(|rest| rest.parse::<i64>().ok()).map(|epoch| (*id, epoch))
        });
        Text { plain: self.id(s), acquired, number: s.parse().ok() }
    }

    fn into_vec(self) -> Vec<String> {
        let mut strings = vec![String::new(); self.ids.len()];
        for (s, id) in self.ids {
            strings[id as usize] = s;
        }
        strings
    }
}

/// The script a SHA1 or source names.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Script {
    Acquire,
    Renew,
    Release,
}

fn script(name: &str) -> Option<Script> {
    [(election::ACQUIRE, Script::Acquire), (election::RENEW, Script::Renew), (election::RELEASE, Script::Release)]
        .into_iter()
        .find(|(source, _)| name == *source || name.eq_ignore_ascii_case(election::LuaScript::new(source).sha()))
        .map(|(_, script)| script)
}

impl ObjectHistory {
    fn extract(events: &[Event], keys: &LeaseKeys, clock: &ClockTrace, end_us: u64) -> ObjectHistory {
        let mut strings = Strings::default();
        // Every acquire's prefix first, so that values can be recognised wherever they appear.
        for event in events {
            if let EventKind::RedisInvoke { args, .. } = &event.kind {
                let args: Vec<String> = args.iter().map(|a| unquote(a)).collect();
                if let Some((Script::Acquire, keys_of, argv)) = script_call(&args) {
                    if keys_of.first() == Some(&keys.lease.as_str()) && !argv.is_empty() {
                        let id = strings.id(argv[0]);
                        if !strings.prefixes.iter().any(|(p, _)| p == argv[0]) {
                            strings.prefixes.push((argv[0].to_owned(), id));
                        }
                    }
                }
            }
        }
        let mut ops: Vec<Op> = Vec::new();
        let mut pending: BTreeMap<(&str, u64, u64, u64), usize> = BTreeMap::new();
        for (index, event) in events.iter().enumerate() {
            match &event.kind {
                EventKind::RedisInvoke { conn, op, args } => {
                    let args: Vec<String> = args.iter().map(|a| unquote(a)).collect();
                    if let Some(call) = classify(&args, keys, &mut strings) {
                        pending.insert((event.node.as_str(), event.incarnation, *conn, *op), ops.len());
                        ops.push(Op {
                            call,
                            reply: None,
                            inv_us: event.at_us,
                            ret_us: None,
                            closed_us: None,
                            wall: (0, 0),
                            invoke: index,
                            complete: None,
                        });
                    }
                }
                EventKind::RedisClosed { conn } => {
                    let (node, inc) = (event.node.as_str(), event.incarnation);
                    let cut: Vec<_> = pending
                        .range((node, inc, *conn, 0)..=(node, inc, *conn, u64::MAX))
                        .map(|(k, i)| (*k, *i))
                        .collect();
                    for (key, i) in cut {
                        ops[i].closed_us = Some(event.at_us);
                        pending.remove(&key);
                    }
                }
                EventKind::RedisComplete { conn, op, reply } => {
                    if let Some(i) = pending.remove(&(event.node.as_str(), event.incarnation, *conn, *op)) {
                        ops[i].reply = Some(parse_reply(reply, &mut strings));
                        ops[i].ret_us = Some(event.at_us);
                        ops[i].complete = Some(index);
                    }
                }
                _ => {}
            }
        }
        // An error reply means the command did nothing.
        ops.retain(|op| op.reply != Some(Reply::Error));
        for op in &mut ops {
            let until = op.ret_us.or(op.closed_us).unwrap_or(end_us).max(op.inv_us);
            op.wall = clock.wall_range_us(op.inv_us, until);
        }
        ops.sort_by_key(|op| (op.inv_us, op.invoke));
        ObjectHistory { ops, strings: strings.into_vec() }
    }
}

/// `EVALSHA sha numkeys keys... args...` → the script, its keys and its arguments.
fn script_call(args: &[String]) -> Option<(Script, Vec<&str>, Vec<&str>)> {
    let verb = args.first()?;
    if !verb.eq_ignore_ascii_case("EVALSHA") && !verb.eq_ignore_ascii_case("EVAL") {
        return None;
    }
    let script = script(args.get(1)?)?;
    let numkeys: usize = args.get(2)?.parse().ok()?;
    let rest: Vec<&str> = args.get(3..)?.iter().map(String::as_str).collect();
    (rest.len() >= numkeys).then(|| (script, rest[..numkeys].to_vec(), rest[numkeys..].to_vec()))
}

fn classify(args: &[String], keys: &LeaseKeys, strings: &mut Strings) -> Option<Call> {
    if let Some((script, keys_of, argv)) = script_call(args) {
        if keys_of.first() != Some(&keys.lease.as_str()) {
            return None;
        }
        let px = |i: usize| argv.get(i).and_then(|a| a.parse::<i64>().ok());
        return match script {
            Script::Acquire => Some(Call::Acquire { prefix: strings.id(argv.first()?), px_ms: px(1)? }),
            Script::Renew => Some(Call::Renew { value: strings.text(argv.first()?), px_ms: px(1)? }),
            Script::Release => Some(Call::Release { value: strings.text(argv.first()?) }),
        };
    }
    let verb = args.first()?.to_ascii_uppercase();
    let key = args.get(1)?;
    let on_lease = *key == keys.lease;
    let on_counter = *key == keys.counter;
    match verb.as_str() {
        "GET" if on_lease => Some(Call::Get),
        "GET" if on_counter => Some(Call::GetCounter),
        "INCR" if on_counter => Some(Call::Incr),
        "PTTL" if on_lease => Some(Call::Pttl),
        "PEXPIRE" if on_lease => Some(Call::PExpire { px_ms: args.get(2)?.parse().ok()? }),
        "EXPIRE" if on_lease => Some(Call::PExpire { px_ms: args.get(2)?.parse::<i64>().ok()? * 1000 }),
        "SET" if on_lease => {
            let value = strings.text(args.get(2)?);
            let (mut nx, mut xx, mut px_ms) = (false, false, None);
            let mut options = args[3..].iter();
            while let Some(option) = options.next() {
                match option.to_ascii_uppercase().as_str() {
                    "NX" => nx = true,
                    "XX" => xx = true,
                    "PX" => px_ms = Some(options.next()?.parse().ok()?),
                    "EX" => px_ms = Some(options.next()?.parse::<i64>().ok()? * 1000),
                    _ => return None,
                }
            }
            Some(Call::Set { value, nx, xx, px_ms })
        }
        "DEL" | "UNLINK" if args[1..].contains(&keys.lease) => Some(Call::Del { others: args.len() as i64 - 2 }),
        _ => None,
    }
}

fn parse_reply(reply: &str, strings: &mut Strings) -> Reply {
    if let Some(n) = reply.strip_prefix(':') {
        return n.parse().map_or(Reply::Other, Reply::Int);
    }
    match reply {
        "(nil)" => Reply::Nil,
        "OK" => Reply::Ok,
        r if r.starts_with('"') => Reply::Bulk(strings.text(&unquote(r))),
        r if r.starts_with('-') => Reply::Error,
        _ => Reply::Other,
    }
}

// ---- the sequential specification ----

/// The object's state: the lease's value and deadline (a range of Redis wall times, µs; None
/// without a TTL), and the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct State {
    lease: Option<(Value, Option<(i64, i64)>)>,
    counter: i64,
}

/// What a linearized operation must have answered.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Int(i64),
    IntIn(i64, i64),
    Value(Value),
    Nil,
    Ok,
    Counter(i64),
}

impl Expect {
    fn admits(self, reply: Reply) -> bool {
        match (self, reply) {
            (Expect::Int(n), Reply::Int(m)) => n == m,
            (Expect::IntIn(lo, hi), Reply::Int(m)) => (lo..=hi).contains(&m),
            (Expect::Value(v), Reply::Bulk(text)) => text.matches(v),
            (Expect::Nil, Reply::Nil) | (Expect::Ok, Reply::Ok) => true,
            (Expect::Counter(0), Reply::Nil) => true,
            (Expect::Counter(n), Reply::Bulk(text)) => text.number == Some(n),
            _ => false,
        }
    }
}

impl Op {
    /// Open operations the search never places one by one: reads (no effect), and renewals
    /// and releases (folded into the state by `Search::saturate`).
    fn absorbed(&self) -> bool {
        self.reply.is_none()
            && matches!(
                self.call,
                Call::Get | Call::GetCounter | Call::Pttl | Call::Renew { .. } | Call::Release { .. }
            )
    }

    /// Whether an open operation can still take effect once the linearization has reached
    /// `now_us`: not after its connection was closed.
    fn possible_at(&self, now_us: u64) -> bool {
        self.closed_us.is_none_or(|closed| closed >= now_us)
    }

    /// The deadline range a TTL of `px_ms` set by this operation gives.
    fn deadline(&self, px_ms: i64) -> Option<(i64, i64)> {
        Some((self.wall.0 + px_ms * 1000 - SLACK_US, self.wall.1 + px_ms * 1000 + SLACK_US))
    }

    /// Each state this operation could leave behind from `state`, with what it must answer.
    fn apply(&self, state: State) -> Vec<(State, Expect)> {
        let mut outcomes = Vec::with_capacity(2);
        match state.lease {
            Some((value, Some((earliest, latest)))) => {
                if self.wall.0 <= latest + SLACK_US {
                    outcomes.push(self.step(state, Some((value, Some((earliest, latest))))));
                }
                if self.wall.1 + SLACK_US >= earliest {
                    outcomes.push(self.step(state, None));
                }
            }
            lease => outcomes.push(self.step(state, lease)),
        }
        outcomes
    }

    fn step(&self, state: State, lease: Option<(Value, Option<(i64, i64)>)>) -> (State, Expect) {
        let mut next = State { lease, ..state };
        let expect = match (self.call, lease) {
            (Call::Acquire { prefix, px_ms }, None) => {
                next.counter += 1;
                next.lease = Some((Value::Acquired { prefix, epoch: next.counter }, self.deadline(px_ms)));
                Expect::Int(next.counter)
            }
            (Call::Acquire { .. }, Some((held, _))) => Expect::Value(held),
            (Call::Renew { value, px_ms }, Some((held, _))) if value.matches(held) => {
                next.lease = Some((held, self.deadline(px_ms)));
                Expect::Int(1)
            }
            (Call::Release { value }, Some((held, _))) if value.matches(held) => {
                next.lease = None;
                Expect::Int(1)
            }
            (Call::Renew { .. } | Call::Release { .. }, _) => Expect::Int(0),
            (Call::Get, Some((held, _))) => Expect::Value(held),
            (Call::Get, None) => Expect::Nil,
            (Call::Set { nx: true, .. }, Some(_)) | (Call::Set { xx: true, .. }, None) => Expect::Nil,
            (Call::Set { value, px_ms, .. }, _) => {
                next.lease = Some((value.value(), px_ms.and_then(|px| self.deadline(px))));
                Expect::Ok
            }
            (Call::PExpire { px_ms }, Some((held, _))) => {
                next.lease = Some((held, self.deadline(px_ms)));
                Expect::Int(1)
            }
            (Call::PExpire { .. }, None) => Expect::Int(0),
            (Call::Pttl, None) => Expect::Int(-2),
            (Call::Pttl, Some((_, None))) => Expect::Int(-1),
            (Call::Pttl, Some((_, Some((earliest, latest))))) => Expect::IntIn(
                ((earliest - self.wall.1 - SLACK_US) / 1000).max(0),
                (latest - self.wall.0 + SLACK_US) / 1000 + 1,
            ),
            (Call::Del { others }, Some(_)) => {
                next.lease = None;
                Expect::IntIn(1, 1 + others)
            }
            (Call::Del { others }, None) => Expect::IntIn(0, others),
            (Call::Incr, _) => {
                next.counter += 1;
                Expect::Int(next.counter)
            }
            (Call::GetCounter, _) => Expect::Counter(next.counter),
        };
        (next, expect)
    }
}

// ---- the search ----

enum Found {
    Linearizable { steps: u64 },
    Exhausted { steps: u64 },
    Stuck(Stuck),
}

/// Where the search got furthest: the operations it linearized, in order, and the first
/// completed operation it could not place after them.
struct Stuck {
    path: Vec<usize>,
    next: usize,
    state: State,
}

type Memo = HashSet<(u128, State), BuildHasherDefault<std::hash::DefaultHasher>>;

struct Frame {
    children: Vec<(usize, State)>,
    next: usize,
    /// The operation this frame linearized and the state before it.
    applied: Option<(usize, State)>,
    /// The first completed operation not linearized when the frame began: candidates are
    /// looked for from there (open ones are listed apart).
    first_completed: usize,
    /// The latest invocation among the operations linearized so far: every later
    /// linearization point is at or after it.
    now_us: u64,
}

struct Search<'a> {
    history: &'a ObjectHistory,
    budget: u64,
    linearized: Vec<bool>,
    zobrist: Vec<u128>,
    open: Vec<usize>,
    completed: usize,
}

impl<'a> Search<'a> {
    fn new(history: &'a ObjectHistory, budget: u64) -> Search<'a> {
        let mut rng = SimRng::new(crate::seed::Seed(0x11ea), "zobrist");
        let zobrist =
            history.ops.iter().map(|_| (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())).collect();
        let open = (0..history.ops.len()).filter(|&i| history.ops[i].reply.is_none()).collect();
        let completed = history.ops.iter().filter(|op| op.reply.is_some()).count();
        Search { history, budget, linearized: vec![false; history.ops.len()], zobrist, open, completed }
    }

    /// The operations that may come next, with the states they lead to: completed ones first,
    /// then open ones that change the state.
    fn children(&self, state: State, first: usize, now_us: u64) -> Vec<(usize, State)> {
        let ops = &self.history.ops;
        let horizon = self.horizon(first);
        let state = self.saturate(state, horizon, now_us);
        let mut children = Vec::new();
        for (i, op) in ops.iter().enumerate().skip(first) {
            if op.inv_us > horizon {
                break;
            }
            if self.linearized[i] {
                continue;
            }
            let Some(reply) = op.reply else { continue };
            for (next, expect) in op.apply(state) {
                if expect.admits(reply) {
                    children.push((i, next));
                }
            }
        }
        // Open operations with the same call and the same closing are interchangeable but for
        // their invocation: the earliest can go wherever a later one can, so only it is tried.
        let mut tried: Vec<(Call, Option<u64>)> = Vec::new();
        for &i in &self.open {
            let op = &ops[i];
            if self.linearized[i] || op.inv_us > horizon || op.absorbed() || !op.possible_at(now_us) {
                continue;
            }
            if tried.contains(&(op.call, op.closed_us)) {
                continue;
            }
            tried.push((op.call, op.closed_us));
            for (next, _) in op.apply(state) {
                if next != state && !children.contains(&(i, next)) {
                    children.push((i, next));
                }
            }
        }
        children
    }

    /// No operation may go before one that returned before it was invoked: the earliest
    /// return among the operations not yet linearized.
    fn horizon(&self, first: usize) -> u64 {
        let mut horizon = u64::MAX;
        for (i, op) in self.history.ops.iter().enumerate().skip(first) {
            if op.inv_us > horizon {
                break;
            }
            if !self.linearized[i] {
                if let Some(ret) = op.ret_us {
                    horizon = horizon.min(ret);
                }
            }
        }
        horizon
    }

    /// Folds in the open renewals and releases that could have run by now: an owner's
    /// unanswered renewal may have extended its lease to any later deadline, and an
    /// unanswered release may have removed it at any time. Trying each at every place
    /// instead would multiply the search by the places; their effects are the union of those.
    fn saturate(&self, mut state: State, horizon: u64, now_us: u64) -> State {
        let Some((value, Some((mut earliest, mut latest)))) = state.lease else { return state };
        for &i in &self.open {
            let op = &self.history.ops[i];
            if op.inv_us > horizon || !op.possible_at(now_us) {
                continue;
            }
            match op.call {
                Call::Renew { value: owner, px_ms } if owner.matches(value) => {
                    latest = latest.max(op.deadline(px_ms).map_or(FOREVER, |d| d.1));
                }
                Call::Release { value: owner } if owner.matches(value) => earliest = i64::MIN / 4,
                _ => {}
            }
        }
        state.lease = Some((value, Some((earliest, latest))));
        state
    }

    /// The first completed operation not yet linearized, at or after `from`.
    fn first_completed(&self, from: usize) -> usize {
        let ops = &self.history.ops;
        (from..ops.len()).find(|&i| !self.linearized[i] && ops[i].reply.is_some()).unwrap_or(ops.len())
    }

    fn run(mut self) -> Found {
        let initial = State { lease: None, counter: 0 };
        if self.completed == 0 {
            return Found::Linearizable { steps: 0 };
        }
        let mut memo = Memo::default();
        let mut state = initial;
        let mut hash = 0u128;
        let mut done = 0usize;
        let mut steps = 0u64;
        let mut path: Vec<usize> = Vec::new();
        let mut best: Option<(usize, Stuck)> = None;
        let first = self.first_completed(0);
        let children = self.children(state, first, 0);
        let mut stack = vec![Frame { children, next: 0, applied: None, first_completed: first, now_us: 0 }];
        loop {
            let Some(top) = stack.last_mut() else {
                let (_, stuck) = best.expect("a failed search got somewhere");
                return Found::Stuck(stuck);
            };
            if top.next == top.children.len() {
                let frame = stack.pop().expect("a frame");
                if best.as_ref().is_none_or(|(depth, _)| done > *depth) {
                    let stuck = Stuck { path: path.clone(), next: self.first_completed(frame.first_completed), state };
                    best = Some((done, stuck));
                }
                if let Some((i, before)) = frame.applied {
                    self.linearized[i] = false;
                    hash ^= self.zobrist[i];
                    state = before;
                    done -= usize::from(self.history.ops[i].reply.is_some());
                    path.pop();
                }
                continue;
            }
            let (i, next) = top.children[top.next];
            top.next += 1;
            let first = top.first_completed;
            let now_us = top.now_us.max(self.history.ops[i].inv_us);
            steps += 1;
            if steps > self.budget {
                return Found::Exhausted { steps: steps - 1 };
            }
            if !memo.insert((hash ^ self.zobrist[i], next)) {
                continue;
            }
            let before = state;
            self.linearized[i] = true;
            hash ^= self.zobrist[i];
            state = next;
            path.push(i);
            done += usize::from(self.history.ops[i].reply.is_some());
            if done == self.completed {
                return Found::Linearizable { steps };
            }
            let first = self.first_completed(first);
            let children = self.children(state, first, now_us);
            stack.push(Frame { children, next: 0, applied: Some((i, before)), first_completed: first, now_us });
        }
    }
}

// ---- explaining a violation ----

impl ObjectHistory {
    fn describe(&self, i: usize, events: &[Event]) -> String {
        let op = &self.ops[i];
        let invoke = &events[op.invoke];
        let name = match op.call {
            Call::Acquire { .. } => "acquire".to_owned(),
            Call::Renew { .. } => "renew".to_owned(),
            Call::Release { .. } => "release".to_owned(),
            _ => match &invoke.kind {
                EventKind::RedisInvoke { args, .. } => args.iter().map(|a| unquote(a)).collect::<Vec<_>>().join(" "),
                _ => unreachable!("operations start at invocations"),
            },
        };
        let reply = match op.complete.map(|c| &events[c].kind) {
            Some(EventKind::RedisComplete { reply, .. }) => {
                format!("answered {reply} at {}", at(events[op.complete.unwrap()].at_us))
            }
            _ => "never answered".to_owned(),
        };
        format!("{}#{}'s {name} (sent {}, {reply})", invoke.node, invoke.incarnation, at(op.inv_us))
    }

    fn show_state(&self, state: State) -> String {
        let lease = match state.lease {
            None => "absent".to_owned(),
            Some((value, deadline)) => {
                let value = match value {
                    Value::Plain(id) => self.strings[id as usize].clone(),
                    Value::Acquired { prefix, epoch } => format!("{}{epoch}", self.strings[prefix as usize]),
                };
                match deadline {
                    Some((_, latest)) => {
                        format!("{value:?} until Redis time {:.3} s at the latest", latest as f64 / 1e6)
                    }
                    None => format!("{value:?} without a TTL"),
                }
            }
        };
        format!("lease {lease}, counter {}", state.counter)
    }

    fn violation(&self, keys: &LeaseKeys, stuck: Stuck, events: &[Event]) -> Verdict {
        let next = stuck.next.min(self.ops.len() - 1);
        let last_change = stuck.path.iter().rev().copied().find(|&i| {
            !matches!(self.ops[i].call, Call::Get | Call::Pttl | Call::GetCounter)
                && !matches!(self.ops[i].reply, Some(Reply::Int(0)) | Some(Reply::Nil))
        });
        let mut explanation = format!(
            "the operations on {} are not linearizable: no order of them inside their windows explains every reply. \
             The longest explainable prefix has {} operations and leaves {}",
            keys.lease,
            stuck.path.len(),
            self.show_state(stuck.state)
        );
        if let Some(change) = last_change {
            explanation += &format!(" (last changed by {})", self.describe(change, events));
        }
        explanation += &format!(
            "; then {} cannot be placed. A write Redis acknowledged was lost (a restart without durable persistence, \
             a failover), or a command changed the lease behind its owner's back.",
            self.describe(next, events)
        );
        let mut evidence = Vec::new();
        for i in last_change.into_iter().chain([next]) {
            evidence.push(events[self.ops[i].invoke].clone());
            evidence.extend(self.ops[i].complete.map(|c| events[c].clone()));
        }
        evidence.sort_by_key(|e| (e.at_us, e.seq));
        Verdict::violated(Property::Linearizability, explanation, evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixtures::{ev, history};
    use crate::check::Outcome;
    use crate::clock::{SimClock, TrueTime};
    use std::time::Duration;

    /// One command: invoked at `inv_ms`, answered `reply` at `ret_ms` (never, if None).
    fn cmd(node: &str, op: u64, inv_ms: u64, ret_ms: Option<u64>, args: &[&str], reply: &str) -> Vec<Event> {
        let args = args.iter().map(|a| format!("{a:?}")).collect();
        let mut events = vec![ev(inv_ms, node, 1, EventKind::RedisInvoke { conn: 1, op, args })];
        if let Some(ret) = ret_ms {
            events.push(ev(ret, node, 1, EventKind::RedisComplete { conn: 1, op, reply: reply.into() }));
        }
        events
    }

    fn acquire(node: &str, op: u64, inv_ms: u64, ret_ms: Option<u64>, reply: &str) -> Vec<Event> {
        let sha = election::LuaScript::new(election::ACQUIRE).sha().to_owned();
        let prefix = format!("{node}/0000000000000001/");
        cmd(
            node,
            op,
            inv_ms,
            ret_ms,
            &["EVALSHA", &sha, "3", "leader", "leader:epoch", "leader:info", &prefix, "3000", "{"],
            reply,
        )
    }

    fn renew(node: &str, op: u64, inv_ms: u64, ret_ms: u64, epoch: u64, reply: &str) -> Vec<Event> {
        let value = format!("{node}/0000000000000001/{epoch}");
        cmd(
            node,
            op,
            inv_ms,
            Some(ret_ms),
            &["EVAL", election::RENEW, "2", "leader", "leader:info", &value, "3000"],
            reply,
        )
    }

    fn release(node: &str, op: u64, inv_ms: u64, ret_ms: u64, epoch: u64, reply: &str) -> Vec<Event> {
        let value = format!("{node}/0000000000000001/{epoch}");
        let sha = election::LuaScript::new(election::RELEASE).sha().to_owned();
        cmd(node, op, inv_ms, Some(ret_ms), &["EVALSHA", &sha, "2", "leader", "leader:info", &value], reply)
    }

    fn check(parts: Vec<Vec<Event>>) -> Verdict {
        check_with(parts, &ClockTrace::default(), DEFAULT_BUDGET)
    }

    fn check_with(parts: Vec<Vec<Event>>, clock: &ClockTrace, budget: u64) -> Verdict {
        let events = history(parts.into_iter().flatten().collect());
        linearizability(&events, &[LeaseKeys::of_election("leader")], clock, budget)
    }

    #[test]
    fn a_lease_acquired_renewed_released_and_taken_over_is_linearizable() {
        let verdict = check(vec![
            acquire("a", 0, 0, Some(10), ":1"),
            acquire("b", 0, 500, Some(510), "\"a/0000000000000001/1\""),
            renew("a", 1, 1000, 1010, 1, ":1"),
            renew("b", 1, 1005, 1012, 1, ":0"),
            release("a", 2, 2000, 2010, 1, ":1"),
            acquire("b", 2, 2100, Some(2110), ":2"),
            cmd("c", 0, 2200, Some(2210), &["GET", "leader"], "\"b/0000000000000001/2\""),
            cmd("c", 1, 2300, Some(2310), &["PTTL", "leader"], ":2800"),
        ]);
        assert!(verdict.passed(), "{}", verdict.explanation);
    }

    #[test]
    fn a_lease_that_expires_may_be_taken_over() {
        let verdict = check(vec![acquire("a", 0, 0, Some(10), ":1"), acquire("b", 0, 3_500, Some(3_510), ":2")]);
        assert!(verdict.passed(), "{}", verdict.explanation);
    }

    #[test]
    fn a_lease_lost_before_its_ttl_is_caught() {
        let verdict = check(vec![acquire("a", 0, 0, Some(10), ":1"), acquire("b", 0, 1_000, Some(1_010), ":2")]);
        assert_eq!(verdict.outcome, Outcome::Violated);
        assert!(verdict.explanation.contains("b#1's acquire (sent t=1.000 s, answered :2"), "{}", verdict.explanation);
        assert!(verdict.explanation.contains("last changed by a#1's acquire"), "{}", verdict.explanation);
        assert_eq!(verdict.evidence.len(), 4, "both acquires, invoked and answered");
    }

    #[test]
    fn an_epoch_handed_out_twice_is_caught() {
        let verdict = check(vec![acquire("a", 0, 0, Some(10), ":1"), acquire("b", 0, 3_500, Some(3_510), ":1")]);
        assert_eq!(verdict.outcome, Outcome::Violated, "{}", verdict.explanation);
    }

    #[test]
    fn an_unanswered_acquire_may_have_taken_effect_or_not() {
        let took_effect =
            check(vec![acquire("a", 0, 0, None, ""), acquire("b", 0, 100, Some(110), "\"a/0000000000000001/1\"")]);
        assert!(took_effect.passed(), "{}", took_effect.explanation);
        let did_not = check(vec![acquire("a", 0, 0, None, ""), acquire("b", 0, 100, Some(110), ":1")]);
        assert!(did_not.passed(), "{}", did_not.explanation);
        let both = check(vec![
            acquire("a", 0, 0, None, ""),
            acquire("b", 0, 100, Some(110), ":1"),
            acquire("c", 0, 200, Some(210), "\"a/0000000000000001/1\""),
        ]);
        assert_eq!(both.outcome, Outcome::Violated, "a's acquire cannot both fail and hold epoch 1");
    }

    #[test]
    fn an_unanswered_renewal_may_have_kept_the_lease_alive() {
        let open_renew = cmd(
            "a",
            1,
            2_000,
            None,
            &["EVAL", election::RENEW, "2", "leader", "leader:info", "a/0000000000000001/1", "3000"],
            "",
        );
        let still_held = check(vec![
            acquire("a", 0, 0, Some(10), ":1"),
            open_renew.clone(),
            acquire("b", 0, 4_000, Some(4_010), "\"a/0000000000000001/1\""),
        ]);
        assert!(still_held.passed(), "{}", still_held.explanation);
        let lost_early =
            check(vec![acquire("a", 0, 0, Some(10), ":1"), open_renew, acquire("b", 0, 2_500, Some(2_510), ":2")]);
        assert_eq!(lost_early.outcome, Outcome::Violated, "the lease was due until 3 s whatever the renewal did");
    }

    #[test]
    fn an_unanswered_command_cannot_take_effect_after_its_connection_closed() {
        let parts = |closed: bool| {
            let mut a = acquire("a", 0, 0, None, "");
            if closed {
                a.push(ev(50, "a", 1, EventKind::RedisClosed { conn: 1 }));
            }
            vec![
                a,
                cmd("b", 0, 100, Some(110), &["GET", "leader"], "(nil)"),
                cmd("c", 0, 200, Some(210), &["GET", "leader"], "\"a/0000000000000001/1\""),
            ]
        };
        assert!(check(parts(false)).passed(), "a's acquire may have run at t=0.15 s");
        assert_eq!(check(parts(true)).outcome, Outcome::Violated, "not after its connection closed at t=0.05 s");
    }

    #[test]
    fn error_replies_did_nothing() {
        let verdict = check(vec![
            acquire("a", 0, 0, Some(10), "-NOSCRIPT No matching script."),
            acquire("a", 1, 20, Some(30), ":1"),
        ]);
        assert!(verdict.passed(), "{}", verdict.explanation);
    }

    #[test]
    fn plain_commands_on_the_lease_and_counter_are_checked() {
        let ok = check(vec![
            cmd("a", 0, 0, Some(10), &["SET", "leader", "x", "NX", "PX", "3000"], "OK"),
            cmd("b", 0, 100, Some(110), &["SET", "leader", "y", "NX", "PX", "3000"], "(nil)"),
            cmd("a", 1, 200, Some(210), &["PEXPIRE", "leader", "5000"], ":1"),
            cmd("b", 1, 4_000, Some(4_010), &["GET", "leader"], "\"x\""),
            cmd("b", 2, 4_100, Some(4_110), &["INCR", "leader:epoch"], ":1"),
            cmd("b", 3, 4_200, Some(4_210), &["GET", "leader:epoch"], "\"1\""),
            cmd("a", 2, 4_300, Some(4_310), &["DEL", "leader"], ":1"),
            cmd("b", 4, 4_400, Some(4_410), &["PTTL", "leader"], ":-2"),
        ]);
        assert!(ok.passed(), "{}", ok.explanation);
        let stale_read = check(vec![
            cmd("a", 0, 0, Some(10), &["SET", "leader", "x", "PX", "3000"], "OK"),
            cmd("b", 0, 4_000, Some(4_010), &["GET", "leader"], "\"x\""),
        ]);
        assert_eq!(stale_read.outcome, Outcome::Violated, "x expired at 3.01 s at the latest");
    }

    #[test]
    fn expiry_follows_redis_clock() {
        // Redis's clock jumps 2 s ahead at t=0.5 s: the lease set at t=0 expires at t=1 s.
        let time = TrueTime::default();
        let redis = SimClock::new(time.clone());
        time.publish(Duration::from_millis(500));
        redis.jump(2_000_000);
        let parts = || vec![acquire("a", 0, 0, Some(10), ":1"), acquire("b", 0, 1_500, Some(1_510), ":2")];
        assert!(check_with(parts(), &redis.trace(), DEFAULT_BUDGET).passed());
        assert_eq!(check(parts()).outcome, Outcome::Violated, "on a true clock the lease was still live");
    }

    #[test]
    fn an_exhausted_budget_answers_unknown() {
        let verdict = check_with(
            vec![acquire("a", 0, 0, Some(10), ":1"), acquire("b", 0, 5, Some(20), "\"a/0000000000000001/1\"")],
            &ClockTrace::default(),
            1,
        );
        assert_eq!(verdict.outcome, Outcome::Unknown, "{}", verdict.explanation);
        assert!(verdict.explanation.contains("gave up after 1 steps"), "{}", verdict.explanation);
    }
}
