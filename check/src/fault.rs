//! Faults as data: what, where, when, how long. A run's faults form a [`FaultSchedule`],
//! generated from the seed by a nemesis profile, written by hand, or loaded from JSON.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock_trace::DRIFT_PPM_MAX;
use crate::node::NodeId;
use crate::swarm::{Family, Swarm};

/// At most this many faults in one schedule (a nemesis draws a few dozen at most): a replay
/// of a hand-edited file must end in seconds, not hours.
pub const FAULTS_MAX: usize = 1_000;
/// At most this many nodes in a run, those that `add-node` faults bring included: each node
/// is a host with its own tasks, and a run's cost grows with the square of their number.
pub const NODES_MAX: usize = 16;
/// A fault begins at most this long after the run starts (a day of simulated time: far past
/// any scenario's end, so later faults are simply never reached).
pub const FAULT_AT_MS_MAX: u64 = 86_400_000;
/// A fault lasts at most this long (a day), so that `at_ms + duration_ms` never overflows.
pub const FAULT_DURATION_MS_MAX: u64 = 86_400_000;
/// A clock jumps by at most this much either way (a day), so that its microseconds fit.
pub const JUMP_MS_MAX: i64 = 86_400_000;
/// Added latency and Redis's per-command delay are at most this long (ten minutes).
pub const DELAY_MS_MAX: u64 = 600_000;

/// Which node a fault hits. `Leader` and `Follower` are resolved when the fault fires, from
/// the history so far (deterministically); `Random` from the run's seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// The node that believes it leads when the fault fires (a random node if none does).
    Leader,
    /// A node that does not lead when the fault fires.
    Follower,
    /// Any node.
    Random,
    /// The node with this name.
    Node(NodeId),
    /// The Redis host (only as an end of a partition).
    Redis,
}

/// What a fault does. Each is undone when its duration ends (clock jumps and dropped
/// connections are instantaneous).
// Fields are described by their variant's documentation.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "kebab-case")]
pub enum FaultKind {
    /// The node and Redis cannot reach each other.
    PartitionRedis { node: Target },
    /// Two nodes cannot reach each other.
    PartitionNodes { a: Target, b: Target },
    /// Messages from `from` to `to` are dropped; the other way works.
    PartitionOneWay { from: Target, to: Target },
    /// The node can reach neither Redis nor the other nodes.
    Isolate { node: Target },
    /// `count` random nodes are cut off from Redis together.
    IsolateSet { count: usize },
    /// Every message between the node and Redis takes `latency_ms` longer.
    Latency { node: Target, latency_ms: u64 },
    /// Messages between the node and Redis are lost with probability `rate`.
    Loss { node: Target, rate: f64 },
    /// Messages between the node and Redis are held, then all released at once.
    Hold { node: Target },
    /// The node's next reply from Redis to a read or a write comes `delay_ms` late, the way
    /// back only (what follows on that connection queues behind it): armed when the fault
    /// begins, for as long as it lasts. One request answered late by more than a node's
    /// margin and less than its time limit is where deadline arithmetic goes wrong.
    LateReply { node: Target, delay_ms: u64 },
    /// The node freezes (a stop-the-world GC, a VM migration); its clock keeps running.
    Pause { node: Target },
    /// The node freezes, as `pause`, but at a moment of its own: armed when the fault begins,
    /// it fires at the node's next `moment` (between a read and the write that depends on it,
    /// or between a check and the act), and the pause lasts the fault's duration from then.
    /// If the moment does not come before the safety phase ends, nothing happens.
    PauseAt { node: Target, moment: Moment },
    /// The node's clock runs `drift_ppm` fast (negative: slow).
    ClockDrift { node: Target, drift_ppm: i64 },
    /// The node's clock jumps by `jump_ms` (instantaneous).
    ClockJump { node: Target, jump_ms: i64 },
    /// kill -9; the node restarts as a new incarnation when the fault ends.
    Crash { node: Target },
    /// Graceful stop (SIGTERM); the node starts again when the fault ends.
    Stop { node: Target },
    /// Redis dies and is down for the duration; it comes back with what its persistence kept:
    /// the deployment's unless `persistence` names one (`none`, `rdb:<seconds>`,
    /// `aof-everysec`, `aof-always`) from this restart on.
    RedisRestart {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        persistence: Option<PersistenceMode>,
    },
    /// Redis closes every client connection (instantaneous).
    RedisDropConnections,
    /// Every Redis command waits `delay_ms` first.
    RedisSlow { delay_ms: u64 },
    /// Redis's clock jumps by `jump_ms` (instantaneous).
    RedisClockJump { jump_ms: i64 },
    /// Redis's clock runs `drift_ppm` fast (negative: slow).
    RedisClockDrift { drift_ppm: i64 },
    /// The node and the cache's source database cannot reach each other (Redis stays
    /// reachable).
    PartitionSource { node: Target },
    /// Every message between the node and the source database takes `latency_ms` longer: a
    /// source read slower than a write, its publication and its delivery together.
    SourceLatency { node: Target, latency_ms: u64 },
    /// Messages between the node and the source database are held, then all released at once.
    SourceHold { node: Target },
    /// Messages between the node and the source database are lost with probability `rate`.
    SourceLoss { node: Target, rate: f64 },
    /// As `late-reply`, from the source database: a source read served before a write and
    /// delivered after the write's invalidation.
    SourceLateReply { node: Target, delay_ms: u64 },
    /// Scale up: a new node (`node-<n+1>`) joins and stays.
    AddNode,
    /// Scale down: the node stops gracefully and does not come back.
    RemoveNode { node: Target },
}

/// A moment in a node's own work at which a [`FaultKind::PauseAt`] freezes it. Commands that
/// only read (`GET`, `HGET`, `EXISTS`, `PTTL`, ...) are reads; commands that may change data
/// (`SET`, `DEL`, `PEXPIRE`, `EVAL`, `EVALSHA`, `PUBLISH`, ...) are writes; connection
/// commands (`PING`, `HELLO`, `SUBSCRIBE`, ...) are neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Moment {
    /// Right after the reply to a read arrives, or a pushed message (a pub/sub message, an
    /// invalidation), before the node acts on it.
    AfterRead,
    /// Right before a write leaves, after the node decided to send it.
    BeforeWrite,
    /// Right after the reply to a write arrives (a lease granted or renewed, a write
    /// acknowledged), before the node acts on it: a node that counts from the moment it
    /// reads the reply, not from the moment it asked, counts the pause as lease.
    AfterWrite,
}

/// What a command is to [`Moment`]: a read (`Some(true)`), a write (`Some(false)`), or neither.
pub fn is_read(command: &[u8]) -> Option<bool> {
    const READS: [&str; 16] = [
        "GET",
        "MGET",
        "HGET",
        "HMGET",
        "HGETALL",
        "HEXISTS",
        "EXISTS",
        "TTL",
        "PTTL",
        "STRLEN",
        "TYPE",
        "GETRANGE",
        "SMEMBERS",
        "SISMEMBER",
        "LRANGE",
        "ZRANGE",
    ];
    const NEITHER: [&str; 14] = [
        "PING",
        "HELLO",
        "ECHO",
        "AUTH",
        "SELECT",
        "CLIENT",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "PSUBSCRIBE",
        "PUNSUBSCRIBE",
        "SCRIPT",
        "INFO",
        "QUIT",
        "RESET",
    ];
    let name = std::str::from_utf8(command).ok()?.to_ascii_uppercase();
    if READS.contains(&name.as_str()) {
        Some(true)
    } else if NEITHER.contains(&name.as_str()) {
        None
    } else {
        Some(false)
    }
}

impl FaultKind {
    /// The nodes (or Redis, as the end of a partition) the fault is aimed at, in order.
    pub fn targets(&self) -> Vec<&Target> {
        match self {
            FaultKind::PartitionNodes { a, b } => vec![a, b],
            FaultKind::PartitionOneWay { from, to } => vec![from, to],
            FaultKind::PartitionRedis { node }
            | FaultKind::Isolate { node }
            | FaultKind::Latency { node, .. }
            | FaultKind::Loss { node, .. }
            | FaultKind::Hold { node }
            | FaultKind::LateReply { node, .. }
            | FaultKind::SourceLateReply { node, .. }
            | FaultKind::Pause { node }
            | FaultKind::PauseAt { node, .. }
            | FaultKind::ClockDrift { node, .. }
            | FaultKind::ClockJump { node, .. }
            | FaultKind::Crash { node }
            | FaultKind::Stop { node }
            | FaultKind::RemoveNode { node }
            | FaultKind::PartitionSource { node }
            | FaultKind::SourceLatency { node, .. }
            | FaultKind::SourceHold { node }
            | FaultKind::SourceLoss { node, .. } => vec![node],
            _ => vec![],
        }
    }

    /// The family the fault belongs to (what a swarm turns on or off), if any: scaling is
    /// part of a plan, not of a nemesis.
    pub fn family(&self) -> Option<Family> {
        Some(match self {
            FaultKind::PartitionRedis { .. }
            | FaultKind::PartitionNodes { .. }
            | FaultKind::PartitionOneWay { .. }
            | FaultKind::Isolate { .. }
            | FaultKind::IsolateSet { .. }
            | FaultKind::Latency { .. }
            | FaultKind::Loss { .. }
            | FaultKind::Hold { .. }
            | FaultKind::LateReply { .. } => Family::Partitions,
            FaultKind::Pause { .. } | FaultKind::PauseAt { .. } => Family::Pauses,
            FaultKind::ClockDrift { .. }
            | FaultKind::ClockJump { .. }
            | FaultKind::RedisClockJump { .. }
            | FaultKind::RedisClockDrift { .. } => Family::Clocks,
            FaultKind::Crash { .. } | FaultKind::Stop { .. } => Family::Crashes,
            FaultKind::RedisRestart { .. } | FaultKind::RedisDropConnections | FaultKind::RedisSlow { .. } => {
                Family::Redis
            }
            FaultKind::PartitionSource { .. }
            | FaultKind::SourceLatency { .. }
            | FaultKind::SourceHold { .. }
            | FaultKind::SourceLoss { .. }
            | FaultKind::SourceLateReply { .. } => Family::Source,
            FaultKind::AddNode | FaultKind::RemoveNode { .. } => return None,
        })
    }
}

/// What survives a Redis restart, as a schedule names it: `none`, `rdb:<seconds>` (a
/// snapshot every so many seconds, at least 1), `aof-everysec`, `aof-always`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PersistenceMode {
    /// Nothing: a restart comes back empty.
    None,
    /// A snapshot every `seconds`.
    Rdb {
        /// The period, in seconds (1 to [`RDB_SECONDS_MAX`]).
        seconds: u64,
    },
    /// An append-only file synced every second.
    AofEverysec,
    /// An append-only file synced on every write.
    AofAlways,
}

/// A snapshot period is at most this long (a day).
pub const RDB_SECONDS_MAX: u64 = 86_400;

impl TryFrom<String> for PersistenceMode {
    type Error = String;
    fn try_from(text: String) -> Result<PersistenceMode, String> {
        let rdb = |s: &str| s.parse::<u64>().ok().filter(|s| (1..=RDB_SECONDS_MAX).contains(s));
        match text.as_str() {
            "none" => Ok(PersistenceMode::None),
            "aof-everysec" => Ok(PersistenceMode::AofEverysec),
            "aof-always" => Ok(PersistenceMode::AofAlways),
            other => match other.strip_prefix("rdb:").and_then(rdb) {
                Some(seconds) => Ok(PersistenceMode::Rdb { seconds }),
                None => Err(format!(
                    "unknown persistence {other:?} (none, rdb:<seconds> with 1 to {RDB_SECONDS_MAX} seconds, \
                     aof-everysec, aof-always)"
                )),
            },
        }
    }
}

impl From<PersistenceMode> for String {
    fn from(mode: PersistenceMode) -> String {
        match mode {
            PersistenceMode::None => "none".to_owned(),
            PersistenceMode::Rdb { seconds } => format!("rdb:{seconds}"),
            PersistenceMode::AofEverysec => "aof-everysec".to_owned(),
            PersistenceMode::AofAlways => "aof-always".to_owned(),
        }
    }
}

/// How an injected fault can explain two nodes believing they led at once (see
/// [`FaultKind::explains_overlap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// The earlier holder's own clock ran slow: its belief outlasted its lease.
    HolderClockSlow,
    /// Redis's clock ran fast or jumped: the lease expired early.
    RedisClock,
    /// Redis restarted and lost the lease behind the holder's back.
    RedisLostLease,
}

impl FaultKind {
    /// The fault's name, as a schedule spells it (`pause`, `redis-restart`, ...).
    pub fn name(&self) -> String {
        let json = serde_json::to_value(self).expect("faults serialize");
        json.get("fault").and_then(|name| name.as_str()).expect("every fault is tagged").to_owned()
    }

    /// Whether the fault acts for as long as it lasts (a drift) rather than once, or only
    /// while it lasts on a link or a node.
    pub fn lasts(&self) -> bool {
        matches!(self, FaultKind::ClockDrift { .. } | FaultKind::RedisClockDrift { .. })
    }

    /// Whether the fault, having hit `nodes`, explains an overlap of the lease `holder` held
    /// with a later holder's, and how. A lease deadline kept on the monotonic clock from the
    /// moment the request was sent, less a margin, ends before Redis lets the lease go, so
    /// only what breaks that argument explains it: the holder's clock running slow, Redis's
    /// clock running fast or jumping, Redis losing the lease. A pause or a node's clock jump
    /// does not.
    pub fn explains_overlap(&self, nodes: &[NodeId], holder: &NodeId) -> Option<Overlap> {
        match self {
            FaultKind::ClockDrift { drift_ppm, .. } if *drift_ppm < 0 && nodes.contains(holder) => {
                Some(Overlap::HolderClockSlow)
            }
            FaultKind::RedisClockDrift { drift_ppm } if *drift_ppm > 0 => Some(Overlap::RedisClock),
            FaultKind::RedisClockJump { jump_ms } if *jump_ms > 0 => Some(Overlap::RedisClock),
            FaultKind::RedisRestart { .. } => Some(Overlap::RedisLostLease),
            _ => None,
        }
    }

    /// Whether the fault is on the Redis server itself (and so touches every client).
    pub fn on_redis(&self) -> bool {
        matches!(
            self,
            FaultKind::RedisRestart { .. }
                | FaultKind::RedisDropConnections
                | FaultKind::RedisSlow { .. }
                | FaultKind::RedisClockJump { .. }
                | FaultKind::RedisClockDrift { .. }
        )
    }

    /// Whether the fault, having hit `nodes`, touches `node`: it hit it, or it is on Redis.
    pub fn touches(&self, nodes: &[NodeId], node: &NodeId) -> bool {
        self.on_redis() || nodes.contains(node)
    }

    /// Whether the fault is aimed at whichever node leads when it fires.
    pub fn aims_at_leader(&self) -> bool {
        self.targets().contains(&&Target::Leader)
    }
}

/// One fault: what, and when, in milliseconds of true time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// When it begins (with a trigger: when the trigger is armed).
    pub at_ms: u64,
    /// How long it lasts (ignored by instantaneous faults).
    pub duration_ms: u64,
    /// What it does.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// With a trigger the fault waits, from `at_ms` to the end of the safety phase, for a
    /// moment of one node's own work, and begins there; if the moment never comes, nothing
    /// happens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
}

/// A moment of one node's own work that starts a fault: any fault, on any node or on Redis,
/// lands inside that node's window — a request in flight, a read not yet acted on — where a
/// fault at a fixed time almost never does. (A `pause-at` is the same idea for a pause of
/// the node itself.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// Whose moment; resolved when the trigger is armed.
    pub node: Target,
    /// Which moment: the fault begins right after it (a write's reply read and the node's
    /// next command sent in the same instant, as after a `NOSCRIPT`, is in flight then).
    pub moment: Moment,
}

impl Fault {
    /// A fault that begins at `at_ms`, with no trigger.
    pub fn at(at_ms: u64, duration_ms: u64, kind: FaultKind) -> Fault {
        Fault { at_ms, duration_ms, kind, trigger: None }
    }

    /// When it begins.
    pub fn start(&self) -> Duration {
        Duration::from_millis(self.at_ms)
    }

    /// The fault in one line for a person: its schedule form and the nodes it hit
    /// (`{"fault":"pause","node":"leader"} on [node-2]`).
    pub fn describe(&self, nodes: &[NodeId]) -> String {
        let names: Vec<&str> = nodes.iter().map(NodeId::as_str).collect();
        format!("{} on [{}]", serde_json::to_string(&self.kind).expect("faults serialize"), names.join(", "))
    }

    /// When it ends. Validated faults end within [`FAULT_AT_MS_MAX`] +
    /// [`FAULT_DURATION_MS_MAX`]; unvalidated ones saturate rather than wrap.
    pub fn end(&self) -> Duration {
        Duration::from_millis(self.at_ms.saturating_add(self.duration_ms))
    }
}

/// A run's faults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultSchedule {
    /// The faults, in start order.
    pub faults: Vec<Fault>,
    /// The deployment and fault mix the seed drew (swarm testing), when the schedule came
    /// from a nemesis that draws one; a run of the schedule uses it in place of the
    /// scenario's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<Swarm>,
}

/// A schedule that cannot be used, in one line.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The file could not be read.
    #[error("cannot read schedule {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a schedule.
    #[error("malformed schedule {path}: {message}")]
    Malformed {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// The schedule is beyond a limit as a whole.
    #[error("schedule too large: {problem}")]
    TooLarge {
        /// Which limit, by how much.
        problem: String,
    },
    /// The swarm is beyond its limits.
    #[error("swarm: {problem}")]
    Swarm {
        /// What is wrong with it.
        problem: String,
    },
    /// A fault makes no sense for this run.
    #[error("fault {index} ({fault}): {problem}")]
    Invalid {
        /// Its position in the schedule.
        index: usize,
        /// The fault as JSON.
        fault: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl FaultSchedule {
    /// Reads a schedule from a JSON file.
    pub fn load(path: &Path) -> Result<FaultSchedule, ScheduleError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ScheduleError::Read { path: shown.clone(), source })?;
        serde_json::from_str(&text).map_err(|e| ScheduleError::Malformed { path: shown, message: e.to_string() })
    }

    /// The schedule as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("schedules serialize")
    }

    /// Checks the schedule against the run's nodes (`nodes`: those the run starts with and
    /// those its `add-node` faults will add) and every limit: [`FAULTS_MAX`], [`NODES_MAX`],
    /// and each fault's times and magnitudes.
    pub fn validate(&self, nodes: &[NodeId]) -> Result<(), ScheduleError> {
        if self.faults.len() > FAULTS_MAX {
            return Err(ScheduleError::TooLarge {
                problem: format!("{} faults, more than the limit of {FAULTS_MAX}", self.faults.len()),
            });
        }
        if nodes.len() > NODES_MAX {
            return Err(ScheduleError::TooLarge {
                problem: format!("{} nodes with those it adds, more than the limit of {NODES_MAX}", nodes.len()),
            });
        }
        if let Some(swarm) = &self.swarm {
            swarm.validate().map_err(|problem| ScheduleError::Swarm { problem })?;
        }
        for (index, fault) in self.faults.iter().enumerate() {
            let checked = check_times(fault).and_then(|()| check(&fault.kind, nodes));
            if let Err(problem) = checked.and_then(|()| check_trigger(fault, nodes)) {
                let fault = serde_json::to_string(fault).expect("faults serialize");
                return Err(ScheduleError::Invalid { index, fault, problem });
            }
        }
        Ok(())
    }
}

/// A fault's start and duration within their limits.
fn check_times(fault: &Fault) -> Result<(), String> {
    if fault.at_ms > FAULT_AT_MS_MAX {
        return Err(format!("at_ms {} is beyond the limit of {FAULT_AT_MS_MAX}", fault.at_ms));
    }
    if fault.duration_ms > FAULT_DURATION_MS_MAX {
        return Err(format!("duration_ms {} is beyond the limit of {FAULT_DURATION_MS_MAX}", fault.duration_ms));
    }
    Ok(())
}

/// A trigger on a node of the run, and not on a `pause-at` (which has its own moment).
fn check_trigger(fault: &Fault, nodes: &[NodeId]) -> Result<(), String> {
    let Some(trigger) = &fault.trigger else { return Ok(()) };
    if matches!(fault.kind, FaultKind::PauseAt { .. }) {
        return Err("a pause-at has its own moment: it takes no trigger".to_owned());
    }
    check_node(&trigger.node, nodes).map_err(|e| format!("trigger: {e}"))
}

/// A target that may be an end of a partition: Redis, or a node of the run.
fn check_end(target: &Target, nodes: &[NodeId]) -> Result<(), String> {
    match target {
        Target::Node(name) if !nodes.contains(name) => {
            let names: Vec<&str> = nodes.iter().map(NodeId::as_str).collect();
            Err(format!("no node named {:?} (nodes: {})", name.as_str(), names.join(", ")))
        }
        _ => Ok(()),
    }
}

/// A target that must be a node (a fault on a node, a trigger's node): not Redis.
fn check_node(target: &Target, nodes: &[NodeId]) -> Result<(), String> {
    match target {
        Target::Redis => Err("redis can only be an end of a partition".to_owned()),
        other => check_end(other, nodes),
    }
}

fn check(kind: &FaultKind, nodes: &[NodeId]) -> Result<(), String> {
    let end = |t: &Target| check_end(t, nodes);
    let node = |t: &Target| check_node(t, nodes);
    // Ranges, not `abs`: `i64::MIN.abs()` overflows.
    let drift = |ppm: i64| {
        if (-DRIFT_PPM_MAX..=DRIFT_PPM_MAX).contains(&ppm) {
            Ok(())
        } else {
            Err(format!("drift {ppm} ppm is beyond ±{DRIFT_PPM_MAX}"))
        }
    };
    let jump = |ms: i64| {
        if (-JUMP_MS_MAX..=JUMP_MS_MAX).contains(&ms) {
            Ok(())
        } else {
            Err(format!("jump {ms} ms is beyond ±{JUMP_MS_MAX}"))
        }
    };
    let delay = |ms: u64| {
        if ms <= DELAY_MS_MAX {
            Ok(())
        } else {
            Err(format!("delay {ms} ms is beyond the limit of {DELAY_MS_MAX}"))
        }
    };
    match kind {
        FaultKind::PartitionRedis { node: t }
        | FaultKind::Isolate { node: t }
        | FaultKind::Hold { node: t }
        | FaultKind::Pause { node: t }
        | FaultKind::PauseAt { node: t, .. }
        | FaultKind::Crash { node: t }
        | FaultKind::Stop { node: t }
        | FaultKind::RemoveNode { node: t }
        | FaultKind::PartitionSource { node: t }
        | FaultKind::SourceHold { node: t } => node(t),
        FaultKind::PartitionNodes { a, b } => end(a).and(end(b)),
        FaultKind::PartitionOneWay { from, to } => end(from).and(end(to)),
        FaultKind::IsolateSet { count } if *count == 0 || *count > nodes.len() => {
            Err(format!("cannot isolate {count} of {} nodes", nodes.len()))
        }
        FaultKind::Loss { rate, .. } if !(0.0..=1.0).contains(rate) => {
            Err(format!("loss rate {rate} is not in [0, 1]"))
        }
        FaultKind::Loss { node: t, .. } => node(t),
        FaultKind::SourceLoss { rate, .. } if !(0.0..=1.0).contains(rate) => {
            Err(format!("loss rate {rate} is not in [0, 1]"))
        }
        FaultKind::SourceLoss { node: t, .. } => node(t),
        FaultKind::SourceLatency { node: t, latency_ms } => node(t).and(delay(*latency_ms)),
        FaultKind::LateReply { node: t, delay_ms } | FaultKind::SourceLateReply { node: t, delay_ms } => {
            node(t).and(delay(*delay_ms))
        }
        FaultKind::ClockDrift { node: t, drift_ppm } => node(t).and(drift(*drift_ppm)),
        FaultKind::RedisClockDrift { drift_ppm } => drift(*drift_ppm),
        FaultKind::Latency { node: t, latency_ms } => node(t).and(delay(*latency_ms)),
        FaultKind::ClockJump { node: t, jump_ms } => node(t).and(jump(*jump_ms)),
        FaultKind::RedisClockJump { jump_ms } => jump(*jump_ms),
        FaultKind::RedisSlow { delay_ms } => delay(*delay_ms),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_round_trip_through_json() {
        let schedule = FaultSchedule {
            swarm: None,
            faults: vec![
                Fault::at(1_000, 500, FaultKind::Pause { node: Target::Leader }),
                Fault::at(2_000, 0, FaultKind::ClockJump { node: Target::Node(NodeId::replica(2)), jump_ms: -300 }),
                Fault::at(3_000, 4_000, FaultKind::RedisRestart { persistence: Some(PersistenceMode::AofEverysec) }),
                Fault::at(4_000, 2_000, FaultKind::PauseAt { node: Target::Leader, moment: Moment::AfterRead }),
                Fault {
                    trigger: Some(Trigger { node: Target::Follower, moment: Moment::AfterWrite }),
                    ..Fault::at(5_000, 1_000, FaultKind::IsolateSet { count: 2 })
                },
            ],
        };
        let json = schedule.to_json();
        assert!(json.contains(r#""fault": "pause""#) && json.contains(r#""node": "leader""#), "{json}");
        assert!(json.contains(r#""fault": "pause-at""#) && json.contains(r#""moment": "after-read""#), "{json}");
        assert_eq!(json.matches("trigger").count(), 1, "only a triggered fault names a trigger: {json}");
        assert_eq!(serde_json::from_str::<FaultSchedule>(&json).unwrap(), schedule);
    }

    #[test]
    fn a_trigger_on_no_node_or_on_a_pause_at_is_refused() {
        let nodes = vec![NodeId::replica(1), NodeId::replica(2)];
        let triggered = |kind, node| Fault {
            trigger: Some(Trigger { node, moment: Moment::BeforeWrite }),
            ..Fault::at(0, 1, kind)
        };
        let pause_at = FaultKind::PauseAt { node: Target::Leader, moment: Moment::AfterRead };
        let restart = FaultKind::RedisRestart { persistence: None };
        let bad = [
            (triggered(restart.clone(), Target::Redis), "trigger: redis"),
            (triggered(restart.clone(), Target::Node(NodeId::replica(7))), "trigger: no node named"),
            (triggered(pause_at, Target::Leader), "takes no trigger"),
        ];
        for (fault, expected) in bad {
            let err = FaultSchedule { swarm: None, faults: vec![fault] }.validate(&nodes).unwrap_err().to_string();
            assert!(err.contains(expected) && !err.contains('\n'), "{err}");
        }
        let good = FaultSchedule { swarm: None, faults: vec![triggered(restart, Target::Follower)] };
        assert!(good.validate(&nodes).is_ok());
    }

    #[test]
    fn invalid_faults_are_refused_in_one_line() {
        let nodes = vec![NodeId::replica(1), NodeId::replica(2)];
        let bad = [
            FaultKind::Crash { node: Target::Node(NodeId::replica(9)) },
            FaultKind::ClockDrift { node: Target::Random, drift_ppm: 500_000 },
            FaultKind::IsolateSet { count: 3 },
            FaultKind::Loss { node: Target::Leader, rate: 1.5 },
            FaultKind::ClockDrift { node: Target::Leader, drift_ppm: i64::MIN },
            FaultKind::RedisClockDrift { drift_ppm: i64::MIN },
            FaultKind::ClockJump { node: Target::Leader, jump_ms: i64::MIN },
            FaultKind::ClockJump { node: Target::Leader, jump_ms: i64::MAX },
            FaultKind::RedisClockJump { jump_ms: i64::MAX },
            FaultKind::Latency { node: Target::Leader, latency_ms: u64::MAX },
            FaultKind::RedisSlow { delay_ms: u64::MAX },
            FaultKind::LateReply { node: Target::Leader, delay_ms: DELAY_MS_MAX + 1 },
            FaultKind::SourceLateReply { node: Target::Random, delay_ms: u64::MAX },
        ];
        for kind in bad {
            let schedule = FaultSchedule { swarm: None, faults: vec![Fault::at(0, 1, kind)] };
            let err = schedule.validate(&nodes).unwrap_err().to_string();
            assert!(err.starts_with("fault 0 (") && !err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn times_and_sizes_beyond_their_limits_are_refused() {
        let nodes = vec![NodeId::replica(1)];
        let pause = |at_ms, duration_ms| Fault::at(at_ms, duration_ms, FaultKind::Pause { node: Target::Leader });
        for fault in [pause(u64::MAX, 1), pause(0, u64::MAX), pause(FAULT_AT_MS_MAX + 1, 0)] {
            let err =
                FaultSchedule { swarm: None, faults: vec![fault.clone()] }.validate(&nodes).unwrap_err().to_string();
            assert!(err.contains("beyond the limit") && !err.contains('\n'), "{err}");
            assert!(fault.end() >= fault.start(), "end saturates");
        }
        let many = FaultSchedule { swarm: None, faults: vec![pause(0, 1); FAULTS_MAX + 1] };
        assert!(many.validate(&nodes).unwrap_err().to_string().starts_with("schedule too large"));
        let crowd: Vec<NodeId> = (1..=NODES_MAX + 1).map(NodeId::replica).collect();
        let err = FaultSchedule::default().validate(&crowd).unwrap_err().to_string();
        assert!(err.contains("nodes"), "{err}");
        let at_limits =
            FaultSchedule { swarm: None, faults: vec![pause(FAULT_AT_MS_MAX, FAULT_DURATION_MS_MAX); FAULTS_MAX] };
        assert!(at_limits.validate(&nodes).is_ok());
    }

    #[test]
    fn persistence_modes_are_named_as_redis_configures_them() {
        for text in ["none", "rdb:5", "aof-everysec", "aof-always"] {
            let mode = PersistenceMode::try_from(text.to_owned()).unwrap();
            assert_eq!(String::from(mode), text);
        }
        for bad in ["disk", "rdb:0", "rdb:-1", "rdb:86401", "rdb:"] {
            let err = PersistenceMode::try_from(bad.to_owned()).unwrap_err();
            assert!(err.starts_with("unknown persistence") && !err.contains('\n'), "{err}");
        }
        let json = r#"{"faults":[{"at_ms":0,"duration_ms":1,"fault":"redis-restart","persistence":"disk"}]}"#;
        assert!(serde_json::from_str::<FaultSchedule>(json).unwrap_err().to_string().contains("unknown persistence"));
    }

    #[test]
    fn commands_are_reads_writes_or_neither() {
        assert_eq!(is_read(b"get"), Some(true));
        assert_eq!(is_read(b"HGETALL"), Some(true));
        assert_eq!(is_read(b"EVALSHA"), Some(false));
        assert_eq!(is_read(b"del"), Some(false));
        assert_eq!(is_read(b"PING"), None);
        assert_eq!(is_read(b"SUBSCRIBE"), None);
    }
}
