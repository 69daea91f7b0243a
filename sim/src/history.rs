//! The recorded history of a run: every event with its true time (simulated microseconds),
//! the node's local time, the node and its incarnation. Checkers read it; its hash is the
//! run's identity.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::clock::{SimClock, TrueTime};
use crate::seed::fnv1a;

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Order of recording (ties in `at_us` keep it).
    pub seq: u64,
    /// True time, µs since the simulation started.
    pub at_us: u64,
    /// The node (or `redis`, or `nemesis` for faults).
    pub node: String,
    /// The node's incarnation (0 for non-node actors).
    pub incarnation: u64,
    /// The node's local monotonic time, µs, when it has a clock.
    pub local_us: Option<i64>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
// Fields are described by their variant's documentation.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// A node program started (a new incarnation).
    ElectionStarted,
    /// An acquire attempt is being sent.
    AcquireAttempt,
    /// A term began; the lease is believed until the deadline.
    Acquired { epoch: u64, deadline_local_us: i64, deadline_true_us: u64 },
    /// The lease was renewed.
    Renewed { epoch: u64, deadline_local_us: i64, deadline_true_us: u64 },
    /// The node's belief moved without a renewal: it now believes it leads until this
    /// deadline (an elector whose deadline follows something else than its monotonic clock —
    /// its wall clock, a count of missed heartbeats — reports it so).
    Believes { epoch: u64, deadline_local_us: i64, deadline_true_us: u64 },
    /// A renewal request failed.
    RenewFailed { epoch: u64 },
    /// A term ended.
    SteppedDown { epoch: u64, reason: String },
    /// A lease was deleted by its holder.
    Released { epoch: u64 },
    /// kill -9.
    Crashed,
    /// Graceful stop asked (SIGTERM).
    StopRequested,
    /// The node program returned.
    Exited,
    /// The node was frozen.
    Paused,
    /// The node runs again.
    Resumed,
    /// A leader-only job started.
    JobStarted { job: String, epoch: u64 },
    /// A leader-only job ended.
    JobFinished { job: String, epoch: u64 },
    /// A leader-only periodic job ran its `slot` (its claim, sent at `sent_us`, was granted).
    SlotRun { job: String, slot: u64, epoch: u64, sent_us: u64 },
    /// A write to the fenced resource (sent at `sent_us`, recorded when answered), whether it
    /// was accepted, and the epoch the resource held before it (None: empty, or unknown).
    FencedWrite { epoch: u64, accepted: bool, value: String, sent_us: u64, replaced: Option<u64> },
    /// A client's HTTP request (`GET /health`), sent first to `first` at `sent_us`, answered by
    /// `served_by` (None: no instance answered) after `attempts` instances were tried.
    HttpRequest { request: u64, first: String, served_by: Option<String>, is_leader: bool, attempts: u32, sent_us: u64 },
    /// A cache read, begun at `started_us`, returned `version` (0: never written); `hit`
    /// when answered from memory.
    CacheRead { key: String, version: u64, started_us: u64, hit: bool },
    /// A write committed `version` (recorded when the write returned); `published` when its
    /// invalidation was published.
    CacheWrite { key: String, version: u64, published: bool },
    /// A fault began (`what` is its JSON, targets resolved).
    FaultInjected { what: String },
    /// A fault ended.
    FaultHealed { what: String },
    /// The safety phase ended: every fault healed.
    LivenessPhase,
    /// A Redis command as the client sent it.
    RedisInvoke { conn: u64, op: u64, args: Vec<String> },
    /// Its reply as the client read it.
    RedisComplete { conn: u64, op: u64, reply: String },
    /// The client found the connection closed by the server (end of stream or reset).
    RedisClosed { conn: u64 },
    /// Data the client read that answered no command (pub/sub).
    RedisPush { conn: u64, reply: String },
    /// Anything a node program wants in the history.
    Note { what: String },
}

/// A run's events, shared by every recorder.
#[derive(Debug, Clone, Default)]
pub struct History {
    events: Arc<Mutex<Vec<Event>>>,
    time: TrueTime,
}

impl History {
    pub(crate) fn new(time: TrueTime) -> History {
        History { events: Arc::default(), time }
    }

    /// Records `kind` for `node` now.
    pub fn record(&self, node: &str, incarnation: u64, local_us: Option<i64>, kind: EventKind) {
        let at_us = self.time.now_us();
        let mut events = self.events.lock().expect("history lock");
        let seq = events.len() as u64;
        events.push(Event { seq, at_us, node: node.to_owned(), incarnation, local_us, kind });
    }

    /// The events so far, in true-time order.
    pub fn events(&self) -> Vec<Event> {
        let mut events = self.events.lock().expect("history lock").clone();
        // Hosts run one after another within a tick, each at its own exact time: sort.
        events.sort_by_key(|e| (e.at_us, e.seq));
        events
    }

    /// Runs `f` over the recorded events without copying them (recording order).
    pub fn with_events<R>(&self, f: impl FnOnce(&[Event]) -> R) -> R {
        f(&self.events.lock().expect("history lock"))
    }
}

/// Records a node's events, stamped with its name, incarnation and local time.
#[derive(Debug, Clone)]
pub struct Recorder {
    history: History,
    node: Arc<str>,
    incarnation: u64,
    clock: SimClock,
}

impl Recorder {
    pub(crate) fn new(history: History, node: &str, incarnation: u64, clock: SimClock) -> Recorder {
        Recorder { history, node: node.into(), incarnation, clock }
    }

    /// Records `kind` now.
    pub fn record(&self, kind: EventKind) {
        self.history.record(&self.node, self.incarnation, Some(self.clock.local_us()), kind);
    }

    /// True time now, µs.
    pub fn now_us(&self) -> u64 {
        self.history.time.now_us()
    }

    /// The true instant (µs) at which this node's clock will read `local_us`.
    pub fn true_at(&self, local_us: i64) -> u64 {
        self.clock.true_at(local_us)
    }
}

/// The hash of a history: FNV-1a over each event's JSON. Equal histories, equal hashes.
pub fn trace_hash(events: &[Event]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for event in events {
        let line = serde_json::to_string(event).expect("events serialize");
        hash = (hash ^ fnv1a(line.as_bytes())).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Where two histories of the same seed first differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// Index of the first differing event.
    pub index: usize,
    /// The first run's event there (None: the first run ended).
    pub first: Option<Event>,
    /// The second run's.
    pub second: Option<Event>,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show =
            |e: &Option<Event>| e.as_ref().map_or("(end of history)".to_owned(), |e| serde_json::to_string(e).unwrap());
        write!(
            f,
            "histories diverge at event {}:\n  first run:  {}\n  second run: {}",
            self.index,
            show(&self.first),
            show(&self.second)
        )
    }
}

/// The first difference between two histories, if any.
pub fn first_divergence(a: &[Event], b: &[Event]) -> Option<Divergence> {
    let index = a.iter().zip(b).position(|(x, y)| x != y).or((a.len() != b.len()).then(|| a.len().min(b.len())))?;
    Some(Divergence { index, first: a.get(index).cloned(), second: b.get(index).cloned() })
}

/// Nodes that believe they lead at `at_us` — a term acquired or renewed with a deadline
/// after `at_us`, not ended since — with their epochs, by node name. Events after `at_us` are
/// ignored; each node's events must be in order (any interleaving of nodes will do).
pub fn believed_leaders(events: &[Event], at_us: u64) -> Vec<(String, u64)> {
    let mut terms: std::collections::BTreeMap<&str, Option<(u64, u64)>> = std::collections::BTreeMap::new();
    for event in events.iter().filter(|e| e.at_us <= at_us) {
        let term = terms.entry(event.node.as_str()).or_insert(None);
        match &event.kind {
            EventKind::Acquired { epoch, deadline_true_us, .. }
            | EventKind::Renewed { epoch, deadline_true_us, .. }
            | EventKind::Believes { epoch, deadline_true_us, .. } => {
                *term = Some((*epoch, *deadline_true_us));
            }
            EventKind::SteppedDown { .. } | EventKind::Crashed | EventKind::ElectionStarted | EventKind::Exited => {
                *term = None;
            }
            _ => {}
        }
    }
    terms
        .into_iter()
        .filter_map(|(node, term)| {
            term.filter(|(_, deadline)| *deadline > at_us).map(|(epoch, _)| (node.to_owned(), epoch))
        })
        .collect()
}

/// A command argument or bulk reply as the history records it (`{:?}` of its bytes,
/// `"SET"`) back to its text.
pub fn unquote(arg: &str) -> String {
    let Some(inner) = arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) else { return arg.to_owned() };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some('u') => {
                // `\u{1f600}`
                let code: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                out.extend(u32::from_str_radix(&code, 16).ok().and_then(char::from_u32));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
