//! The server: the shared state every connection works on, one command (or script) at a
//! time at one frozen instant, and the faults a simulation can inject.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::clock::ServerClock;
use crate::commands::{self, Caller, Exec, Session};
use crate::keyspace::Keyspace;
use crate::meta::Meta;
use crate::persistence::{Databases, Durability, Persistence};
use crate::pubsub::PubSub;
use crate::replication::Replication;
use crate::reply::Reply;
use crate::scripting::Scripting;

/// Where connections come from: tokio's `TcpListener` here; the simulation wraps turmoil's.
pub trait Listener: Send + 'static {
    /// A connected client stream.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Waits for the next client.
    fn accept(&mut self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept(&mut self) -> io::Result<tokio::net::TcpStream> {
        let (stream, _) = tokio::net::TcpListener::accept(self).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// How a server starts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// What survives a restart.
    pub persistence: Persistence,
    /// Seeds the active expiry cycle's sampling.
    pub seed: u64,
    /// How often the active expiry cycle runs (Redis: 100 ms, `hz 10`).
    pub active_expire_interval: Duration,
    /// What scripts cost in server time when the clock stands still while they run (the
    /// simulation's); `None` when the clock is real (the serve binary, the tests' ModelServer).
    pub script_time: Option<crate::scripting::ScriptTime>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            persistence: Persistence::None,
            seed: 0,
            active_expire_interval: Duration::from_millis(100),
            script_time: Some(crate::scripting::ScriptTime::default()),
        }
    }
}

pub(crate) struct State {
    pub(crate) dbs: Databases,
    pub(crate) pubsub: PubSub,
    pub(crate) scripts: Scripting,
    pub(crate) meta: Meta,
    pub(crate) replication: Replication,
    durability: Durability,
    rng: u64,
}

/// Whether the server is up and how slow it is: read by connections without the state's
/// lock (a running script holds that one).
#[derive(Debug, Clone, Copy)]
struct Status {
    up: bool,
    delay: Duration,
}

pub(crate) struct Inner {
    pub(crate) state: Mutex<State>,
    pub(crate) clock: Arc<dyn ServerClock>,
    /// The running script, readable without the state's lock (which the script holds).
    pub(crate) script: Arc<crate::scripting::ScriptControl>,
    status: Mutex<Status>,
    pub(crate) connections: Arc<crate::meta::Connections>,
    /// Bumped to close every connection (restart, drop connections).
    pub(crate) generation: watch::Sender<u64>,
    next_client_id: AtomicU64,
    commands: AtomicU64,
    config: ServerConfig,
}

/// An in-memory Redis server. Cloning gives another handle to the same server.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// use std::sync::Arc;
/// use model::{Server, ServerConfig, SystemClock};
///
/// let server = Server::new(ServerConfig::default(), Arc::new(SystemClock));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// tokio::spawn(server.clone().serve(listener));
/// // ... point a redis client at `addr` ...
/// # let _ = addr; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl Server {
    /// A server that is up, with an empty keyspace.
    pub fn new(config: ServerConfig, clock: Arc<dyn ServerClock>) -> Server {
        let started_ms = clock.now_ms();
        let meta = Meta { rng: config.seed ^ 0x5eed, started_ms, last_save_s: started_ms / 1000, ..Meta::default() };
        let state = State {
            dbs: (0..commands::DATABASES).map(|_| Keyspace::new()).collect(),
            pubsub: PubSub::default(),
            scripts: Scripting::new(),
            meta,
            replication: Replication::default(),
            durability: Durability::new(config.persistence),
            rng: config.seed,
        };
        let (generation, _) = watch::channel(0);
        let script = state.scripts.control();
        script.set_time(config.script_time);
        let connections = state.meta.connections.clone();
        Server {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                script,
                status: Mutex::new(Status { up: true, delay: Duration::ZERO }),
                connections,
                clock,
                generation,
                next_client_id: AtomicU64::new(1),
                commands: AtomicU64::new(0),
                config,
            }),
        }
    }

    /// Accepts connections from `listener` forever and serves each on its own task, while
    /// running the active expiry cycle. Returns when accepting fails.
    pub async fn serve<L: Listener>(self, mut listener: L) -> io::Result<()> {
        let background = self.clone();
        let cycle = tokio::spawn(async move { background.background_cycle().await });
        let result = loop {
            match listener.accept().await {
                Ok(stream) => {
                    tokio::spawn(self.clone().serve_connection(stream));
                }
                Err(e) => break Err(e),
            }
        };
        cycle.abort();
        result
    }

    /// The active expiry cycle and the persistence timer, forever.
    async fn background_cycle(&self) {
        loop {
            self.inner.clock.sleep(self.inner.config.active_expire_interval).await;
            let now_ms = self.inner.clock.now_ms();
            // A running (or, in simulated time, held) script: Redis runs no expiry cycle
            // meanwhile either.
            if self.inner.script.held_until().is_some() {
                continue;
            }
            let mut state = match self.inner.state.try_lock() {
                Ok(guard) => guard,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => continue,
            };
            let State { dbs, durability, rng, meta, .. } = &mut *state;
            durability.tick(now_ms, dbs);
            if meta.active_expire_off {
                continue;
            }
            for db in dbs.iter_mut() {
                db.active_expire(now_ms, |n| (splitmix64(rng) % n as u64) as usize);
            }
            let mut session = Session::new(0, tokio::sync::mpsc::unbounded_channel().0);
            self.finish_step(&mut state, &mut session, now_ms, Vec::new());
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug in the model; the state is still the
        // best account of what the server holds, so keep serving it.
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn next_client_id(&self) -> u64 {
        self.inner.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    fn status(&self) -> MutexGuard<'_, Status> {
        self.inner.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn is_up(&self) -> bool {
        self.status().up
    }

    pub(crate) fn delay(&self) -> Duration {
        self.status().delay
    }

    /// Runs one command for `session`, atomically, at the server clock's now; `None` when the
    /// server is down (it serves nothing then).
    pub(crate) fn execute(&self, session: &mut Session, args: &[Bytes]) -> Option<Reply> {
        self.step(session, args, false).map(|(reply, _)| reply)
    }

    /// [`Server::execute`], and whether the step touched any key (wrote, or opened a key for
    /// writing): a step that touched none left the keyspace as it was.
    pub(crate) fn execute_noting_writes(&self, session: &mut Session, args: &[Bytes]) -> Option<(Reply, bool)> {
        self.step(session, args, true)
    }

    /// One step; with `note_writes`, whether it touched a key (counted only when asked: the
    /// simulation's Redis runs this for every command and never asks).
    fn step(&self, session: &mut Session, args: &[Bytes], note_writes: bool) -> Option<(Reply, bool)> {
        if !self.is_up() {
            return None;
        }
        let mut state = match self.lock_or_busy(session.id, args) {
            Ok(state) => state,
            Err(wait @ Reply::Wait(_)) => return Some((wait, false)),
            Err(busy) => return Some((commands::busy_reply(session, args, busy), false)),
        };
        let now_ms = self.inner.clock.now_ms();
        let State { dbs, pubsub, scripts, durability, meta, .. } = &mut *state;
        durability.tick(now_ms, dbs);
        let touched = |dbs: &Databases| dbs.iter().map(Keyspace::touched_len).sum::<usize>();
        let touched_before = if note_writes { touched(dbs) } else { 0 };
        let mut exec = Exec::step(dbs, pubsub, Some(scripts), session, meta, now_ms);
        let reply = commands::execute(&mut exec, Caller::Client, args);
        let effects = std::mem::take(&mut exec.effects);
        let wrote = note_writes && (touched(&state.dbs) > touched_before || !effects.is_empty());
        self.finish_step(&mut state, session, now_ms, effects);
        self.inner.commands.fetch_add(1, Ordering::Relaxed);
        Some((reply, wrote))
    }

    /// The state's lock, or the reply a running script's other clients get. A client that
    /// arrived before the script passed its threshold waits, then is told BUSY, as in Redis.
    /// Waiting happens only when another thread holds the lock (the serve binary's runtime);
    /// on the simulation's single thread the lock is always free here.
    fn lock_or_busy(&self, client: u64, args: &[Bytes]) -> Result<MutexGuard<'_, State>, Reply> {
        let sub = args.get(1).map(|a| &a[..]);
        loop {
            let now_ms = self.inner.clock.now_ms();
            match self.inner.script.verdict(client, &args[0], sub, now_ms) {
                crate::scripting::Verdict::Reply(reply) => return Err(reply),
                crate::scripting::Verdict::Wait(ms) => return Err(Reply::Wait(ms)),
                crate::scripting::Verdict::Proceed => {}
            }
            match self.inner.state.try_lock() {
                Ok(guard) => return Ok(guard),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => return Ok(poisoned.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    /// After a step: keys that expired in it are notified and propagated, written keys spoil
    /// the transactions that WATCH them, and the step's effects go to the replicas.
    fn finish_step(
        &self,
        state: &mut State,
        session: &mut Session,
        now_ms: i64,
        mut effects: Vec<(usize, Vec<Bytes>)>,
    ) {
        let State { dbs, pubsub, meta, .. } = state;
        let mut exec = Exec::step(dbs, pubsub, None, session, meta, now_ms);
        commands::record_expired(&mut exec);
        let expired = std::mem::take(&mut exec.effects);
        for (index, db) in state.dbs.iter_mut().enumerate() {
            for key in db.drain_touched() {
                state.meta.watches.touch(index, &key);
                if let Some(own) = state.meta.tracking.invalidate(&key, Some(session.id)) {
                    session.after_reply.push(own);
                }
            }
        }
        state.meta.tracking.end_step();
        effects.splice(0..0, expired);
        state.replication.feed(&effects);
    }

    /// Fault: the process dies. Every connection closes, new ones are closed at once, and
    /// the keyspace falls back to what the persistence mode kept; scripts and subscriptions
    /// are gone.
    pub fn crash(&self) {
        let now_ms = self.inner.clock.now_ms();
        {
            let mut state = self.lock();
            let live = std::mem::take(&mut state.dbs);
            state.dbs = state.durability.recover(now_ms, live);
            state.scripts.reset();
            state.pubsub.clear();
            state.replication.clear();
            state.meta.watches = Default::default();
            state.meta.tracking = Default::default();
            self.status().up = false;
        }
        // A script the process was running (or holding, in simulated time) dies with it.
        let _ = self.inner.script.finish();
        self.drop_connections();
        tracing::info!(persistence = ?self.persistence(), "redis model crashed");
    }

    /// Fault recovery: the process is back and accepts connections.
    pub fn start(&self) {
        self.status().up = true;
        tracing::info!("redis model started");
    }

    /// Fault: crash and start again at once.
    pub fn restart(&self) {
        self.crash();
        self.start();
    }

    /// Fault: close every client connection (the server stays up).
    pub fn drop_connections(&self) {
        self.inner.generation.send_modify(|g| *g += 1);
    }

    /// Fault: every command waits `delay` before it runs (a slow server). Zero ends it.
    pub fn set_delay(&self, delay: Duration) {
        self.status().delay = delay;
    }

    /// Changes the persistence mode from now on.
    pub fn set_persistence(&self, mode: Persistence) {
        let mut state = self.lock();
        let State { dbs, durability, .. } = &mut *state;
        durability.set_mode(mode, dbs);
    }

    /// The persistence mode.
    pub fn persistence(&self) -> Persistence {
        self.lock().durability.mode()
    }

    /// A copy of database 0, for inspection.
    pub fn keyspace(&self) -> Keyspace {
        self.lock().dbs[0].clone()
    }

    /// Commands executed since the server was created.
    pub fn commands_processed(&self) -> u64 {
        self.inner.commands.load(Ordering::Relaxed)
    }
}

/// SplitMix64, for the active expiry cycle's sampling and the commands' random picks.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
