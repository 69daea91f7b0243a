//! The simulated world: the Redis model and N nodes as turmoil hosts, driven step by step
//! while the nemesis applies the schedule's faults at their times; then every fault heals
//! and the liveness phase runs. One seed decides everything.
//! The run's setup is in `config.rs`, what it leaves in `run.rs`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use model::{Persistence, Server, ServerConfig};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use check::fault::{Fault, FaultKind, PersistenceMode, Target};
use check::{believed_leaders, EventKind, NodeId};

use crate::clock::{SimClock, TrueTime, EPOCH_UNIX_MS};
use crate::config::{SimConfig, SimError};
use crate::gate::{Gate, Gated, NodeSpawner};
use crate::late::LateReply;
use crate::net::{SimConnector, TurmoilListener, REDIS_HOST, REDIS_PORT, SOURCE_HOST};
use crate::program::{NodeContext, NodeProgram};
use crate::race::Races;
use crate::recorder::{Journal, Recorder};
use crate::run::Run;
use crate::seed::SimRng;

/// A node as the driver sees it.
struct NodeState {
    name: NodeId,
    incarnation: Rc<Cell<u64>>,
    gate: Arc<Gate>,
    late: Arc<LateReply>,
    clock: SimClock,
    shutdown: Rc<RefCell<CancellationToken>>,
    up: bool,
    /// A client host: not a node of the deployment, never a fault's target.
    client: bool,
}

/// A fault in effect: its number in the history, the fault, and the nodes its targets were
/// resolved to (Redis, as the end of a partition, by its host name).
#[derive(Debug, Clone)]
struct Active {
    id: u64,
    kind: FaultKind,
    nodes: Vec<NodeId>,
}

/// Runs a simulation of `config` with `program` on every node.
pub fn simulate(config: &SimConfig, program: NodeProgram) -> Result<Run, SimError> {
    simulate_with_clients(config, program, Vec::new())
}

/// Runs a simulation of `config` with `program` on every node and, on hosts of their own,
/// `clients` (name and program): they talk to the nodes over the simulated network, record
/// in the history, and are never a fault's target.
pub fn simulate_with_clients(
    config: &SimConfig,
    program: NodeProgram,
    clients: Vec<(String, NodeProgram)>,
) -> Result<Run, SimError> {
    // Every schedule is checked against the limits before it runs, whoever wrote it: the
    // arithmetic of the world relies on them.
    config.schedule.validate(&config.all_node_names()).map_err(|e| SimError { at_ms: 0, message: e.to_string() })?;
    let time = TrueTime::default();
    // A failed assertion of the simulator itself is a finding like any other: it comes back
    // as this seed's error (with its replay command), never as a worker thread that dies and
    // takes the seed with it.
    SimError::catching(
        "the simulator",
        || time.now_us() / 1000,
        || World::new(config, program, clients, time.clone()).run(),
    )?
}

/// turmoil's per-socket buffer and accept backlog. Its default (64) panics when a held link
/// releases what a busy node queued behind it — a cache whose every write times out and
/// reconnects sends a connection attempt every few tens of milliseconds for seconds — where
/// a real kernel would queue or refuse them. Enough for the longest hold the nemesis draws.
const TCP_CAPACITY: usize = 16_384;

struct World<'a> {
    sim: turmoil::Sim<'a>,
    config: SimConfig,
    time: TrueTime,
    history: Journal,
    nodes: Vec<NodeState>,
    redis: Server,
    redis_clock: SimClock,
    rng: SimRng,
    /// Reference counts of link and pause faults, so that overlapping ones heal last-out.
    holds: BTreeMap<Hold, u32>,
    /// Faults begun so far: the next fault's id.
    faults_started: u64,
    /// For nodes added while running.
    program: NodeProgram,
    /// Late source reads raced by another node ([`Races`]).
    races: Races,
}

impl<'a> World<'a> {
    fn new(config: &SimConfig, program: NodeProgram, clients: Vec<(String, NodeProgram)>, time: TrueTime) -> World<'a> {
        let total = config.safety_phase + config.liveness_phase;
        let sim = turmoil::Builder::new()
            .rng_seed(config.seed.0)
            .epoch(UNIX_EPOCH + Duration::from_millis(EPOCH_UNIX_MS))
            .simulation_duration(total + config.tick * 4)
            .tick_duration(config.tick)
            .min_message_latency(config.latency.0)
            .max_message_latency(config.latency.1)
            .tcp_capacity(TCP_CAPACITY)
            .build();
        let history = Journal::new(time.clone());
        let redis_clock = SimClock::new(time.clone());
        let persistence = config.schedule.faults.iter().find_map(named_persistence).unwrap_or(config.persistence);
        let server_config = ServerConfig { persistence, seed: config.seed.0, ..ServerConfig::default() };
        let redis = Server::new(server_config, Arc::new(redis_clock.clone()));
        let mut world = World {
            sim,
            config: config.clone(),
            rng: SimRng::new(config.seed, "nemesis-targets"),
            time,
            history,
            nodes: Vec::new(),
            redis,
            redis_clock,
            holds: BTreeMap::new(),
            faults_started: 0,
            program: program.clone(),
            races: Races::default(),
        };
        world.add_server_host(REDIS_HOST, world.redis.clone());
        if config.source_db {
            let server_config =
                ServerConfig { persistence: Persistence::AofAlways, seed: !config.seed.0, ..ServerConfig::default() };
            let db = Server::new(server_config, Arc::new(SimClock::new(world.time.clone())));
            world.add_server_host(SOURCE_HOST, db);
        }
        for name in config.node_names() {
            world.add_node(name, program.clone());
        }
        for (name, client) in clients {
            world.add_node(NodeId::new(name), client);
            world.nodes.last_mut().expect("just added").client = true;
        }
        world
    }

    fn add_server_host(&mut self, host: &str, server: Server) {
        self.sim.host(host, move || {
            let server = server.clone();
            async move {
                let listener = turmoil::net::TcpListener::bind(("0.0.0.0", REDIS_PORT)).await?;
                server.serve(TurmoilListener(listener)).await?;
                Ok(())
            }
        });
    }

    fn add_node(&mut self, name: NodeId, program: NodeProgram) {
        assert!(self.nodes.iter().all(|n| n.name != name), "{name} is added once");
        let gate = Arc::new(Gate::default());
        let clock = SimClock::new(self.time.clone());
        let shutdown = Rc::new(RefCell::new(CancellationToken::new()));
        let incarnation = Rc::new(Cell::new(0u64));
        let host_incarnation = incarnation.clone();
        let (history, seed) = (self.history.clone(), self.config.seed);
        let late = Arc::new(LateReply::default());
        let races = self.races.clone();
        let (host_name, host_gate, host_late, host_clock, host_shutdown) =
            (name.clone(), gate.clone(), late.clone(), clock.clone(), shutdown.clone());
        self.sim.host(name.as_str(), move || {
            let inc = host_incarnation.get() + 1;
            host_incarnation.set(inc);
            let token = CancellationToken::new();
            *host_shutdown.borrow_mut() = token.clone();
            let recorder = Recorder::new(history.clone(), host_name.clone(), inc, host_clock.clone());
            let connector = SimConnector::new(
                recorder.clone(),
                host_gate.clone(),
                host_late.clone(),
                races.clone(),
                host_name.clone(),
            );
            let ctx = NodeContext {
                name: host_name.clone(),
                incarnation: inc,
                clock: host_clock.clone(),
                connector: connector.clone(),
                source: connector.to(SOURCE_HOST),
                spawner: NodeSpawner::new(host_gate.clone()),
                rng: SimRng::new(seed, &format!("{host_name}#{inc}")),
                shutdown: token,
                recorder,
                races: races.clone(),
            };
            // Every log line of the node's tasks carries its name and incarnation.
            let span = tracing::info_span!("host", node = %host_name, inc);
            let work = Gated::new(host_gate.clone(), program(ctx).instrument(span));
            async move {
                work.await;
                Ok(())
            }
        });
        self.nodes.push(NodeState { name, incarnation, gate, late, clock, shutdown, up: true, client: false });
    }

    fn run(mut self) -> Result<Run, SimError> {
        let mut timeline = Timeline::of(&self.config);
        let total_us = timeline.safety_us + self.config.liveness_phase.as_micros() as u64;
        let mut liveness = false;
        loop {
            let now = self.sim.elapsed();
            self.time.publish(now);
            let now_us = now.as_micros() as u64;
            // A gate that closed itself in the last step is counted before anything else
            // acts on the node: a pause starting now then finds it paused, not open.
            self.take_fired(&mut timeline, now_us);
            self.take_reached(&mut timeline, now_us);
            self.act_on_due(&mut timeline, now_us);
            if !liveness && now_us >= timeline.safety_us {
                liveness = true;
                self.history.record(&NodeId::nemesis(), 0, None, EventKind::LivenessPhase);
            }
            if now_us >= total_us {
                break;
            }
            self.sim.step().map_err(|e| SimError { at_ms: now.as_millis() as u64, message: e.to_string() })?;
        }
        assert!(liveness, "the run reached its liveness phase");
        Ok(self.finish(timeline.safety_us, total_us))
    }

    /// Starts, heals and disarms what is due by `now_us`.
    fn act_on_due(&mut self, timeline: &mut Timeline, now_us: u64) {
        while let Some(entry) = timeline.entries.first_entry() {
            if entry.key().0 > now_us {
                break;
            }
            match entry.remove() {
                Action::Start(fault) if fault.trigger.is_some() => self.watch(timeline, fault, now_us),
                Action::Start(fault) => {
                    let Some(active) = self.start(&fault) else { continue };
                    if matches!(fault.kind, FaultKind::PauseAt { .. }) {
                        // Armed until the safety phase ends; healed once it fired.
                        timeline.add(timeline.safety_us.max(now_us), Action::Disarm(active.clone()));
                        timeline.armed.push((active, fault.duration_ms.saturating_mul(1000)));
                    } else {
                        let heal_us = (fault.end().as_micros() as u64).min(timeline.safety_us).max(now_us);
                        timeline.add(heal_us, Action::Heal(active));
                    }
                }
                Action::Heal(active) => self.heal(&active),
                Action::Unwatch(node) => {
                    if self.node(&node).gate.unwatch() {
                        timeline.watching.retain(|(_, n)| *n != node);
                    }
                }
                Action::Disarm(active) => {
                    if self.node(&active.nodes[0]).gate.disarm() {
                        timeline.armed.retain(|(a, _)| a.nodes[0] != active.nodes[0]);
                        self.history.record(&NodeId::nemesis(), 0, None, EventKind::FaultHealed { id: active.id });
                    }
                }
            }
        }
    }

    /// Gates armed for a moment of the node's own that closed themselves in the last step:
    /// their pauses begin, to heal a duration later.
    fn take_fired(&mut self, timeline: &mut Timeline, now_us: u64) {
        let mut i = 0;
        while i < timeline.armed.len() {
            let Some(fired_us) = self.node(&timeline.armed[i].0.nodes[0]).gate.take_fired() else {
                i += 1;
                continue;
            };
            let (active, duration_us) = timeline.armed.remove(i);
            self.pause_links(&active.nodes[0], true);
            timeline.add((fired_us + duration_us).min(timeline.safety_us).max(now_us), Action::Heal(active));
        }
    }

    /// Arms a triggered fault: the node whose moment it waits for watches for it until the
    /// safety phase ends. Nothing is recorded until the moment comes: a trigger that never
    /// fires leaves no trace in the history.
    fn watch(&mut self, timeline: &mut Timeline, fault: Fault, now_us: u64) {
        let trigger = fault.trigger.as_ref().expect("a triggered fault");
        let Some(node) = self.resolve(&trigger.node) else { return };
        // One watched moment per node at a time; a later trigger on it is dropped.
        if now_us >= timeline.safety_us || self.node(&node).gate.is_watching() {
            return;
        }
        assert!(timeline.watching.iter().all(|(_, n)| *n != node), "the timeline agrees with the gate");
        self.node(&node).gate.watch(trigger.moment);
        timeline.add(timeline.safety_us, Action::Unwatch(node.clone()));
        timeline.watching.push((fault, node));
    }

    /// Triggered faults whose moment came in the last step: each starts now, and heals its
    /// duration after the moment.
    fn take_reached(&mut self, timeline: &mut Timeline, now_us: u64) {
        let mut i = 0;
        while i < timeline.watching.len() {
            let Some(reached_us) = self.node(&timeline.watching[i].1).gate.take_reached() else {
                i += 1;
                continue;
            };
            let (fault, node) = timeline.watching.remove(i);
            assert!(!self.node(&node).gate.is_watching(), "a moment that came is watched no more");
            assert!(!matches!(fault.kind, FaultKind::PauseAt { .. }), "validation refuses a trigger on a pause-at");
            let Some(active) = self.start(&fault) else { continue };
            let heal_us = reached_us.saturating_add(fault.duration_ms.saturating_mul(1000));
            timeline.add(heal_us.min(timeline.safety_us).max(now_us), Action::Heal(active));
        }
    }

    /// The finished run. The liveness phase ran with every fault undone: no link held or
    /// cut, no node paused.
    fn finish(&self, safety_us: u64, total_us: u64) -> Run {
        assert!(self.holds.is_empty(), "faults still in effect at the end: {:?}", self.holds);
        assert!(self.nodes.iter().all(|n| !n.gate.is_paused()), "a node still paused at the end");
        let events = self.history.events();
        assert!(events.windows(2).all(|w| (w[0].at_us, w[0].seq) < (w[1].at_us, w[1].seq)), "the history is in order");
        Run {
            seed: self.config.seed,
            schedule: self.config.schedule.clone(),
            events,
            nodes: self.nodes.iter().filter(|n| !n.client).map(|n| n.name.clone()).collect(),
            liveness_from_us: safety_us,
            end_us: total_us,
            redis_clock: self.redis_clock.trace(),
            redis_strings: self.strings_at_end(),
        }
    }
}

/// What the driver will do, in order of true time (ties in order of scheduling), the
/// `pause-at` faults armed and not fired yet (with their durations, µs), and the triggered
/// faults waiting for their node's moment.
struct Timeline {
    entries: BTreeMap<(u64, u64), Action>,
    scheduled: u64,
    armed: Vec<(Active, u64)>,
    watching: Vec<(Fault, NodeId)>,
    safety_us: u64,
}

impl Timeline {
    /// The schedule's faults, each to start at its time.
    fn of(config: &SimConfig) -> Timeline {
        let safety_us = config.safety_phase.as_micros() as u64;
        let mut timeline =
            Timeline { entries: BTreeMap::new(), scheduled: 0, armed: Vec::new(), watching: Vec::new(), safety_us };
        for fault in &config.schedule.faults {
            timeline.add(fault.start().as_micros() as u64, Action::Start(fault.clone()));
        }
        timeline
    }

    fn add(&mut self, at_us: u64, action: Action) {
        let replaced = self.entries.insert((at_us, self.scheduled), action);
        assert!(replaced.is_none(), "each action has a place of its own");
        self.scheduled += 1;
    }
}

impl World<'_> {
    fn strings_at_end(&self) -> BTreeMap<String, String> {
        let now_ms = self.redis_clock.wall_ms();
        self.redis
            .keyspace()
            .iter()
            .filter(|(_, entry)| entry.expires_at_ms.is_none_or(|at| at > now_ms))
            .filter_map(|(key, entry)| match &entry.value {
                model::Value::Str(value) => {
                    Some((String::from_utf8_lossy(key).into_owned(), String::from_utf8_lossy(value).into_owned()))
                }
                _ => None,
            })
            .collect()
    }
}

enum Action {
    Start(Fault),
    Heal(Active),
    /// The end of a `pause-at` fault's window: disarmed if it has not fired.
    Disarm(Active),
    /// The end of a triggered fault's wait: the node's watch ends if its moment never came.
    Unwatch(NodeId),
}

/// What a reference count in `World::holds` counts: a link fault on one link (partitions
/// and holds on the unordered pair), or a node's pause.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Hold {
    Link(LinkFault, String, String),
    Pause(String),
}

/// Whether a fault with its targets resolved to `nodes` changes anything: a partition of a
/// node from itself does not, and is not recorded as injected.
fn does_something(kind: &FaultKind, nodes: &[NodeId]) -> bool {
    match kind {
        FaultKind::PartitionNodes { .. } | FaultKind::PartitionOneWay { .. } => nodes[0] != nodes[1],
        FaultKind::IsolateSet { .. } => !nodes.is_empty(),
        _ => true,
    }
}

/// What a link fault does to its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum LinkFault {
    /// Dropped, both ways.
    Partition,
    /// Held, both ways, until released.
    Hold,
    /// Dropped from the first end to the second.
    OneWay,
}

/// The persistence a `redis-restart` fault names, if it names one.
fn named_persistence(fault: &Fault) -> Option<Persistence> {
    match &fault.kind {
        FaultKind::RedisRestart { persistence: Some(mode) } => Some(persistence_of(*mode)),
        _ => None,
    }
}

/// The model's persistence for a mode a schedule names.
pub(crate) fn persistence_of(mode: PersistenceMode) -> Persistence {
    match mode {
        PersistenceMode::None => Persistence::None,
        PersistenceMode::Rdb { seconds } => Persistence::Rdb { every: Duration::from_secs(seconds) },
        PersistenceMode::AofEverysec => Persistence::AofEverysec,
        PersistenceMode::AofAlways => Persistence::AofAlways,
    }
}

// ---- applying faults ----

impl World<'_> {
    fn node(&self, name: &str) -> &NodeState {
        self.nodes.iter().find(|n| n.name == name).expect("targets resolve to known nodes")
    }

    /// Records a driver-side event of node `name` (paused, crashed, ...).
    fn record_for(&self, name: &str, kind: EventKind) {
        let node = self.node(name);
        self.history.record(&node.name, node.incarnation.get(), Some(node.clock.local_us()), kind);
    }

    fn node_mut(&mut self, name: &str) -> &mut NodeState {
        self.nodes.iter_mut().find(|n| n.name == name).expect("targets resolve to known nodes")
    }

    /// Resolves `target` now: `None` when no live node fits.
    fn resolve(&mut self, target: &Target) -> Option<NodeId> {
        if *target == Target::Redis {
            return Some(NodeId::new(REDIS_HOST));
        }
        let up: Vec<NodeId> = self.nodes.iter().filter(|n| n.up && !n.client).map(|n| n.name.clone()).collect();
        // Between steps every recorded event is at or before now, and each node's events are
        // in order: no need to copy and sort the history.
        let now_us = self.time.now_us();
        let leaders: Vec<NodeId> =
            self.history.with_events(|events| believed_leaders(events, now_us)).into_iter().map(|(n, _)| n).collect();
        let pool: Vec<NodeId> = match target {
            Target::Node(name) => return up.contains(name).then(|| name.clone()),
            Target::Leader => up.iter().filter(|n| leaders.contains(n)).cloned().collect(),
            Target::Follower => up.iter().filter(|n| !leaders.contains(n)).cloned().collect(),
            Target::Random | Target::Redis => up.clone(),
        };
        let pool = if pool.is_empty() && *target == Target::Leader { up } else { pool };
        (!pool.is_empty()).then(|| self.rng.pick(&pool).clone())
    }

    fn start(&mut self, fault: &Fault) -> Option<Active> {
        let mut nodes = Vec::new();
        for target in fault.kind.targets() {
            nodes.push(self.resolve(target)?);
        }
        if let FaultKind::IsolateSet { count } = fault.kind {
            let mut up: Vec<NodeId> = self.nodes.iter().filter(|n| n.up && !n.client).map(|n| n.name.clone()).collect();
            while nodes.len() < count.min(up.len() + nodes.len()) && !up.is_empty() {
                nodes.push(up.remove(self.rng.below(up.len() as u64) as usize));
            }
        }
        if matches!(fault.kind, FaultKind::PauseAt { .. }) && self.node(&nodes[0]).gate.armed().is_some() {
            // One armed moment per node at a time.
            return None;
        }
        let late = matches!(fault.kind, FaultKind::LateReply { .. } | FaultKind::SourceLateReply { .. });
        if late && self.node(&nodes[0]).late.is_armed() {
            // One late reply per node at a time.
            return None;
        }
        // A fault on the source database's link does nothing where there is none.
        let sourceless = fault.kind.family() == Some(check::Family::Source) && !self.config.source_db;
        if sourceless || !does_something(&fault.kind, &nodes) {
            return None;
        }
        let id = self.faults_started;
        self.faults_started += 1;
        let injected = EventKind::FaultInjected { id, fault: fault.clone(), nodes: nodes.clone() };
        self.history.record(&NodeId::nemesis(), 0, None, injected);
        let active = Active { id, kind: fault.kind.clone(), nodes };
        self.apply(&active, true);
        Some(active)
    }

    fn heal(&mut self, active: &Active) {
        assert!(active.id < self.faults_started, "a fault heals after it began");
        self.apply(active, false);
        self.history.record(&NodeId::nemesis(), 0, None, EventKind::FaultHealed { id: active.id });
    }

    /// Counts a link fault in (`on`) or out; returns whether the link changes state.
    fn count(&mut self, key: Hold, on: bool) -> bool {
        if on {
            let n = self.holds.entry(key).or_insert(0);
            *n += 1;
            return *n == 1;
        }
        // A heal without its start would be a bug of the driver, not a repair.
        let n = self.holds.get_mut(&key).unwrap_or_else(|| panic!("{key:?} heals without having begun"));
        assert!(*n > 0, "a held count is never zero");
        *n -= 1;
        let last = *n == 0;
        if last {
            self.holds.remove(&key);
        }
        last
    }

    /// Starts (`on`) or ends a link fault between `a` and `b`. Overlapping faults of one kind
    /// on one link are counted, so the link changes only with the first and the last.
    fn link(&mut self, fault: LinkFault, a: &str, b: &str, on: bool) {
        // Partitions and holds cut both ways: one count per unordered pair.
        assert_ne!(a, b, "a link joins two hosts");
        let (x, y) = if fault != LinkFault::OneWay && b < a { (b, a) } else { (a, b) };
        if !self.count(Hold::Link(fault, x.to_owned(), y.to_owned()), on) {
            return;
        }
        match (fault, on) {
            (LinkFault::Partition, true) => self.sim.partition(x, y),
            (LinkFault::Partition, false) => self.sim.repair(x, y),
            (LinkFault::Hold, true) => self.sim.hold(x, y),
            (LinkFault::Hold, false) => self.sim.release(x, y),
            (LinkFault::OneWay, true) => self.sim.partition_oneway(x, y),
            (LinkFault::OneWay, false) => self.sim.repair_oneway(x, y),
        }
    }

    fn peers(&self, node: &str) -> Vec<String> {
        let mut peers: Vec<String> = self.nodes.iter().map(|n| n.name.to_string()).filter(|n| n != node).collect();
        peers.push(REDIS_HOST.to_owned());
        if self.config.source_db {
            peers.push(SOURCE_HOST.to_owned());
        }
        peers
    }

    fn apply(&mut self, active: &Active, on: bool) {
        let nodes = &active.nodes;
        match &active.kind {
            FaultKind::PartitionRedis { .. } => self.link(LinkFault::Partition, &nodes[0], REDIS_HOST, on),
            FaultKind::PartitionNodes { .. } => self.link(LinkFault::Partition, &nodes[0], &nodes[1], on),
            FaultKind::PartitionOneWay { .. } => self.link(LinkFault::OneWay, &nodes[0], &nodes[1], on),
            FaultKind::Isolate { .. } => {
                for peer in self.peers(&nodes[0]) {
                    self.link(LinkFault::Partition, &nodes[0], &peer, on);
                }
            }
            FaultKind::IsolateSet { .. } => {
                nodes.iter().for_each(|n| self.link(LinkFault::Partition, n, REDIS_HOST, on))
            }
            FaultKind::Latency { latency_ms, .. } => {
                self.link_latency(&nodes[0], REDIS_HOST, on.then(|| Duration::from_millis(*latency_ms)));
            }
            FaultKind::Loss { rate, .. } => {
                self.sim.set_link_fail_rate(nodes[0].as_str(), REDIS_HOST, if on { *rate } else { 0.0 })
            }
            FaultKind::Hold { .. } => self.link(LinkFault::Hold, &nodes[0], REDIS_HOST, on),
            FaultKind::PartitionSource { .. } => self.link(LinkFault::Partition, &nodes[0], SOURCE_HOST, on),
            FaultKind::SourceHold { .. } => self.link(LinkFault::Hold, &nodes[0], SOURCE_HOST, on),
            FaultKind::SourceLatency { latency_ms, .. } => {
                self.link_latency(&nodes[0], SOURCE_HOST, on.then(|| Duration::from_millis(*latency_ms)));
            }
            FaultKind::SourceLoss { rate, .. } => {
                self.sim.set_link_fail_rate(nodes[0].as_str(), SOURCE_HOST, if on { *rate } else { 0.0 })
            }
            FaultKind::LateReply { delay_ms, .. } => self.late_reply(&nodes[0], REDIS_HOST, *delay_ms, on),
            FaultKind::SourceLateReply { delay_ms, .. } => self.late_reply(&nodes[0], SOURCE_HOST, *delay_ms, on),
            FaultKind::Pause { .. } => self.pause(&nodes[0], on),
            FaultKind::PauseAt { moment, .. } if on => self.node(&nodes[0]).gate.arm(*moment),
            FaultKind::PauseAt { .. } => self.pause(&nodes[0], false),
            FaultKind::ClockDrift { drift_ppm, .. } => {
                self.node(&nodes[0]).clock.set_drift(if on { *drift_ppm } else { 0 })
            }
            FaultKind::ClockJump { jump_ms, .. } if on => self.node(&nodes[0]).clock.jump(jump_ms.saturating_mul(1000)),
            FaultKind::Crash { .. } => self.crash(&nodes[0], on),
            FaultKind::Stop { .. } => self.stop(&nodes[0], on),
            FaultKind::RedisRestart { .. } => self.restart_redis(on),
            FaultKind::RedisDropConnections if on => self.redis.drop_connections(),
            FaultKind::RedisSlow { delay_ms } => {
                self.redis.set_delay(if on { Duration::from_millis(*delay_ms) } else { Duration::ZERO })
            }
            FaultKind::RedisClockJump { jump_ms } if on => self.redis_clock.jump(jump_ms.saturating_mul(1000)),
            FaultKind::RedisClockDrift { drift_ppm } => self.redis_clock.set_drift(if on { *drift_ppm } else { 0 }),
            FaultKind::AddNode if on => {
                let name = NodeId::replica(self.nodes.iter().filter(|n| !n.client).count() + 1);
                self.add_node(name, self.program.clone());
            }
            FaultKind::RemoveNode { .. } if on => self.stop(&nodes[0], true),
            // Instantaneous faults have nothing to undo; `start` refused faults that do nothing.
            FaultKind::ClockJump { .. }
            | FaultKind::RedisClockJump { .. }
            | FaultKind::RedisDropConnections
            | FaultKind::AddNode
            | FaultKind::RemoveNode { .. } => assert!(!on, "instantaneous faults act when they start"),
        }
    }

    /// Sets the link between `a` and `b` to a fixed `latency`, or (`None`) back to the
    /// run's own range: a healed link is as fast and as variable as the others, not faster.
    fn link_latency(&self, a: &str, b: &str, latency: Option<Duration>) {
        match latency {
            Some(latency) => self.sim.set_link_latency(a, b, latency),
            None => {
                self.sim.set_link_latency(a, b, self.config.latency.0);
                self.sim.set_link_max_message_latency(a, b, self.config.latency.1);
            }
        }
    }

    /// Arms (`on`) the node's next reply from `host` to come `delay_ms` late, or disarms it
    /// if it has not come by the fault's end.
    fn late_reply(&mut self, name: &str, host: &'static str, delay_ms: u64, on: bool) {
        let late = &self.node(name).late;
        if on {
            late.arm(host, delay_ms);
            assert!(late.is_armed());
        } else {
            late.disarm();
            assert!(!late.is_armed());
        }
    }

    fn pause(&mut self, name: &str, on: bool) {
        if !self.pause_links(name, on) {
            return;
        }
        if on {
            self.node(name).gate.pause();
            self.record_for(name, EventKind::Paused);
        } else {
            self.record_for(name, EventKind::Resumed);
            self.node(name).gate.resume();
        }
    }

    /// Counts a pause of `name` in (`on`) or out, holding its links while it is paused;
    /// whether the node's pause state changes.
    fn pause_links(&mut self, name: &str, on: bool) -> bool {
        if !self.count(Hold::Pause(name.to_owned()), on) {
            return false;
        }
        for peer in self.peers(name) {
            self.link(LinkFault::Hold, name, &peer, on);
        }
        true
    }

    fn crash(&mut self, name: &str, on: bool) {
        if on {
            self.sim.crash(name);
            self.record_for(name, EventKind::Crashed);
            self.node_mut(name).up = false;
        } else {
            self.sim.bounce(name);
            self.node_mut(name).up = true;
        }
    }

    fn stop(&mut self, name: &str, on: bool) {
        if on {
            self.node(name).shutdown.borrow().cancel();
            self.record_for(name, EventKind::StopRequested);
            self.node_mut(name).up = false;
        } else {
            self.sim.bounce(name);
            self.node_mut(name).up = true;
        }
    }

    fn restart_redis(&mut self, on: bool) {
        if on {
            self.redis.crash();
        } else {
            self.redis.start();
            // The next restart's mode governs from now on; the keyspace just recovered is
            // all there is, so it is durable under any mode.
            let now = self.time.now_us() / 1000;
            let next = self.config.schedule.faults.iter().filter(|f| f.at_ms > now).find_map(named_persistence);
            if let Some(mode) = next {
                self.redis.set_persistence(mode);
            }
        }
    }
}
