//! One event of a history: what happened, to whom, at which true time (microseconds since
//! the history began) and, where the actor has a clock, at which local time.

use serde::{Deserialize, Serialize};

use crate::fault::Fault;
use crate::node::NodeId;

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Order of recording (ties in `at_us` keep it). A file may leave it out: its events
    /// are then numbered in the file's order.
    #[serde(default = "seq_unset")]
    pub seq: u64,
    /// True time, µs since the simulation started.
    pub at_us: u64,
    /// The node (or `redis`, or `nemesis` for faults).
    pub node: NodeId,
    /// The node's incarnation (0 for non-node actors).
    #[serde(default)]
    pub incarnation: u64,
    /// The node's local monotonic time, µs, when it has a clock.
    #[serde(default)]
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
    /// Fault `id` began: the schedule's fault (targets as written), and the nodes its
    /// targets were resolved to when it fired, in the order of [`Fault::targets`](crate::fault::FaultKind::targets)
    /// (for `isolate-set`, the nodes cut off).
    FaultInjected { id: u64, fault: Fault, nodes: Vec<NodeId> },
    /// Fault `id` ended (instantaneous faults never heal).
    FaultHealed { id: u64 },
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

/// The `seq` of an event read without one, until it is numbered.
pub(crate) const SEQ_UNSET: u64 = u64::MAX;

fn seq_unset() -> u64 {
    SEQ_UNSET
}

impl Event {
    /// The first of its times beyond `max_us` (either way, for local times), described: a
    /// history read from a file must not make the checkers' arithmetic overflow.
    pub(crate) fn beyond_limits(&self, max_us: u64) -> Option<String> {
        let mut times: Vec<(&str, u64)> = vec![("at_us", self.at_us)];
        let mut local: Vec<(&str, i64)> = self.local_us.map(|l| ("local_us", l)).into_iter().collect();
        match &self.kind {
            EventKind::Acquired { deadline_local_us, deadline_true_us, .. }
            | EventKind::Renewed { deadline_local_us, deadline_true_us, .. }
            | EventKind::Believes { deadline_local_us, deadline_true_us, .. } => {
                times.push(("deadline_true_us", *deadline_true_us));
                local.push(("deadline_local_us", *deadline_local_us));
            }
            EventKind::SlotRun { sent_us, .. }
            | EventKind::FencedWrite { sent_us, .. }
            | EventKind::HttpRequest { sent_us, .. } => times.push(("sent_us", *sent_us)),
            EventKind::CacheRead { started_us, .. } => times.push(("started_us", *started_us)),
            _ => {}
        }
        let far = times.iter().find(|(_, t)| *t > max_us).map(|(name, t)| format!("{name} {t}"));
        far.or_else(|| local.iter().find(|(_, t)| t.unsigned_abs() > max_us).map(|(name, t)| format!("{name} {t}")))
            .map(|what| format!("{what} is beyond the limit of {max_us} µs"))
    }
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
