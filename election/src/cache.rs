//! A read-through cache of a shared, versioned source of truth, kept coherent by Redis pub/sub
//! invalidation.
//!
//! Pub/sub is at most once: a message published while a subscriber is disconnected, or while
//! its connection is silently dead, is lost, and a naive cache then serves the old value until
//! something else evicts it. This cache is correct under those failures:
//!
//! - **It serves from memory only while its subscription is known live.** The subscription
//!   connection (RESP3, so one connection carries both the messages and the replies) is
//!   checked by `PING` every `ping_interval`. Redis answers a connection's commands and sends
//!   its messages in order, so when the reply to a `PING` sent at local time `p` arrives, every
//!   invalidation published before the `PING` reached Redis has already been applied. The
//!   cache answers from memory only while the last such `p` is less than `liveness` ago;
//!   otherwise it reads through to the source.
//! - **It flushes everything whenever the subscription is lost or re-established** (an error,
//!   a `PING` unanswered within `command_timeout`, the connection closed), and a fill that
//!   began before a flush is not inserted after it.
//! - **It never inserts a value older than an invalidation already seen for its key** (the
//!   fill-after-invalidation race: a slow source read returns version 7 after the
//!   invalidation of version 8 was applied).
//! - **Writes commit to the source first, then publish** `<version> <key>` on the channel, and
//!   drop the writer's own entry.
//! - **Every entry expires `entry_ttl` after its source read began**, the last line of defence
//!   when an invalidation cannot be published at all (the writer loses Redis after committing).
//!
//! The guarantee (docs/cache.md): a read that starts more than `liveness` + the publish's
//! delivery time after a write's invalidation was published returns that version or newer; a
//! read that starts more than `entry_ttl` after a write committed does so even if the
//! invalidation was never published. All durations are measured on the node's own
//! monotonic [`Clock`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{AsyncConnectionConfig, ProtocolVersion, PushKind, RedisConnectionInfo, Value};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::clock::{timeout, Clock, Instant, TokioClock};
use crate::connection::{connect_with, Connection};
use crate::connector::Connector;
use crate::scripts::LuaScript;
use crate::spawn::{Spawner, TokioSpawner};
use crate::BoxFuture;

/// A value of the source with its version (0: the key was never written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// Increases with every committed write of the key.
    pub version: u64,
    /// The value; `None` when the key was never written.
    pub value: Option<String>,
}

/// Why a cache or source operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// No answer within the command timeout.
    #[error("no answer from the {what} within {limit:?}")]
    Timeout {
        /// `source` or `redis`.
        what: &'static str,
        /// The limit.
        limit: Duration,
    },
    /// The client failed.
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    /// The source answered something that is not a versioned value.
    #[error("unexpected reply from the source: {0}")]
    Reply(String),
}

/// The shared, versioned source of truth behind the cache.
pub trait Source: Send + Sync + 'static {
    /// The current value of `key` and its version.
    fn read<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Versioned, CacheError>>;
    /// Commits `value` as the next version of `key`; returns that version.
    fn commit<'a>(&'a self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<u64, CacheError>>;
}

/// Commits a value as the key's next version, atomically: `KEYS[1]` holds `<version>:<value>`.
pub const SOURCE_COMMIT: &str = r#"
local current = redis.call('GET', KEYS[1])
local version = 1
if current then version = tonumber(string.match(current, '^(%d+):')) + 1 end
redis.call('SET', KEYS[1], version .. ':' .. ARGV[1])
return version
"#;

/// A source of truth kept in a Redis-protocol store (its own server, or the same Redis):
/// each key `<prefix><key>` holds `<version>:<value>`, written by [`SOURCE_COMMIT`].
pub struct RedisSource {
    connector: Arc<dyn Connector>,
    spawner: Arc<dyn Spawner>,
    clock: Arc<dyn Clock>,
    prefix: String,
    limit: Duration,
    script: LuaScript,
    conn: tokio::sync::Mutex<Option<Connection>>,
}

impl RedisSource {
    /// A source on `connector`'s server, keys under `prefix`, every request bounded by `limit`
    /// on `clock`.
    pub fn new(connector: impl Connector, prefix: impl Into<String>, limit: Duration) -> RedisSource {
        RedisSource {
            connector: Arc::new(connector),
            spawner: Arc::new(TokioSpawner),
            clock: Arc::new(TokioClock::new()),
            prefix: prefix.into(),
            limit,
            script: LuaScript::new(SOURCE_COMMIT),
            conn: tokio::sync::Mutex::new(None),
        }
    }

    /// Uses `clock` for timeouts (a simulation's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Starts connection drivers on `spawner` (a simulation's).
    pub fn spawner(mut self, spawner: Arc<dyn Spawner>) -> Self {
        self.spawner = spawner;
        self
    }

    /// `GET key` (`value: None`) or the commit script, on the connection (opened first if
    /// needed) within the limit; any failure drops the connection, so a late answer is never
    /// read as the next request's. A read that finds a kept connection dead (the server
    /// restarted, an idle connection was closed) is tried once more on a new one; a commit is
    /// not, since it may have been applied.
    async fn request(&self, key: &str, value: Option<&str>) -> Result<Value, CacheError> {
        let mut slot = self.conn.lock().await;
        // Out of the slot while in use, back only after an answer: a request its caller gave
        // up on (the cache's own time limit drops this future mid-request) must not leave its
        // connection behind — on a stalled stream every later request would stall too, and
        // the cache would never read its source again.
        let mut taken = slot.take();
        let outcome = timeout(&*self.clock, self.limit, async {
            let mut retry = value.is_none() && taken.is_some();
            loop {
                if taken.is_none() {
                    let options = AsyncConnectionConfig::new();
                    taken = Some(connect_with(&*self.connector, &*self.spawner, &Default::default(), options).await?);
                }
                let conn = taken.as_mut().expect("connected above");
                let reply = match value {
                    None => redis::cmd("GET").arg(key).query_async(conn).await,
                    Some(value) => self.script.invoke(conn, &[key], &[value.to_owned()]).await.map(|r| r.value),
                };
                match reply {
                    Err(e) if retry && (e.is_connection_dropped() || e.is_io_error()) => {
                        taken = None;
                        retry = false;
                    }
                    reply => return reply,
                }
            }
        })
        .await;
        match outcome {
            Some(Ok(value)) => {
                *slot = taken;
                Ok(value)
            }
            Some(Err(e)) => Err(e.into()),
            None => Err(CacheError::Timeout { what: "source", limit: self.limit }),
        }
    }
}

impl Source for RedisSource {
    fn read<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Versioned, CacheError>> {
        Box::pin(async move {
            let full = format!("{}{key}", self.prefix);
            let reply = self.request(&full, None).await?;
            match reply {
                Value::Nil => Ok(Versioned { version: 0, value: None }),
                Value::BulkString(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let (version, value) = text.split_once(':').ok_or_else(|| CacheError::Reply(text.to_string()))?;
                    let version = version.parse().map_err(|_| CacheError::Reply(text.to_string()))?;
                    Ok(Versioned { version, value: Some(value.to_owned()) })
                }
                other => Err(CacheError::Reply(format!("{other:?}"))),
            }
        })
    }

    fn commit<'a>(&'a self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<u64, CacheError>> {
        Box::pin(async move {
            let full = format!("{}{key}", self.prefix);
            let reply = self.request(&full, Some(value)).await?;
            match reply {
                Value::Int(version) if version > 0 => Ok(version as u64),
                other => Err(CacheError::Reply(format!("{other:?}"))),
            }
        })
    }
}

/// How a [`Cache`] behaves. Validate with [`CacheConfig::validate`] (the builder does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// The pub/sub channel invalidations travel on.
    pub channel: String,
    /// Serve from memory only while a `PING` sent less than this long ago was answered.
    pub liveness: Duration,
    /// How often the subscription is checked (below `liveness`).
    pub ping_interval: Duration,
    /// Bound on every request: source reads and commits, `PING`, `SUBSCRIBE`, `PUBLISH`.
    pub command_timeout: Duration,
    /// An entry is dropped this long after its source read began, invalidated or not.
    pub entry_ttl: Duration,
    /// Wait this long before reconnecting a lost subscription.
    pub reconnect_delay: Duration,
}

impl CacheConfig {
    /// Invalidations on `channel`; liveness 1 s, pings every 250 ms, 500 ms timeouts, entries
    /// kept at most 30 s, reconnects after 100 ms.
    pub fn new(channel: impl Into<String>) -> CacheConfig {
        CacheConfig {
            channel: channel.into(),
            liveness: Duration::from_secs(1),
            ping_interval: Duration::from_millis(250),
            command_timeout: Duration::from_millis(500),
            entry_ttl: Duration::from_secs(30),
            reconnect_delay: Duration::from_millis(100),
        }
    }

    /// The rules: a channel; pings often enough to keep the liveness window open
    /// (`ping_interval + command_timeout < liveness`, so one late answer does not close it);
    /// entries outliving the window; no zero durations.
    pub fn validate(&self) -> Result<(), CacheConfigError> {
        if self.channel.is_empty() {
            return Err(CacheConfigError::EmptyChannel);
        }
        for (which, d) in [
            ("liveness", self.liveness),
            ("ping interval", self.ping_interval),
            ("command timeout", self.command_timeout),
            ("reconnect delay", self.reconnect_delay),
        ] {
            if d.is_zero() {
                return Err(CacheConfigError::Zero { which });
            }
        }
        if self.ping_interval + self.command_timeout >= self.liveness {
            return Err(CacheConfigError::PingTooRare {
                ping: self.ping_interval,
                timeout: self.command_timeout,
                liveness: self.liveness,
            });
        }
        if self.entry_ttl <= self.liveness {
            return Err(CacheConfigError::TtlNotAboveLiveness { ttl: self.entry_ttl, liveness: self.liveness });
        }
        Ok(())
    }
}

/// An invalid [`CacheConfig`], in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheConfigError {
    /// No channel name.
    #[error("the invalidation channel must not be empty")]
    EmptyChannel,
    /// A duration that must be positive is zero.
    #[error("the {which} must be above zero")]
    Zero {
        /// Which duration.
        which: &'static str,
    },
    /// The subscription would not be confirmed often enough.
    #[error(
        "ping interval ({ping:?}) + command timeout ({timeout:?}) must be below the liveness window ({liveness:?})"
    )]
    PingTooRare {
        /// The ping interval given.
        ping: Duration,
        /// The command timeout given.
        timeout: Duration,
        /// The liveness window given.
        liveness: Duration,
    },
    /// Entries would expire before the liveness window.
    #[error("entry ttl ({ttl:?}) must be above the liveness window ({liveness:?})")]
    TtlNotAboveLiveness {
        /// The TTL given.
        ttl: Duration,
        /// The liveness window given.
        liveness: Duration,
    },
}

/// Counters of a cache; read them with [`Cache::metrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheMetrics {
    /// Reads answered from memory.
    pub hits: u64,
    /// Reads that went to the source.
    pub misses: u64,
    /// Fills not inserted: an invalidation or a flush came first.
    pub fills_refused: u64,
    /// Invalidation messages applied.
    pub invalidations: u64,
    /// Whole-cache flushes (subscription lost or re-established).
    pub flushes: u64,
    /// Writes committed.
    pub writes: u64,
    /// Writes whose invalidation could not be published (entries elsewhere expire by TTL).
    pub publish_failures: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    fills_refused: AtomicU64,
    invalidations: AtomicU64,
    flushes: AtomicU64,
    writes: AtomicU64,
    publish_failures: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

struct Entry {
    version: u64,
    value: Option<String>,
    expires: Instant,
}

#[derive(Default)]
struct State {
    entries: BTreeMap<String, Entry>,
    /// The highest invalidated version per key since the last flush.
    floor: BTreeMap<String, u64>,
    /// Bumped by every flush; a fill is inserted only into the generation it began in.
    generation: u64,
    /// When (local) the newest answered `PING` was sent; `None` while not subscribed.
    confirmed: Option<Instant>,
}

impl State {
    fn flush(&mut self) {
        self.entries.clear();
        self.floor.clear();
        self.generation += 1;
        self.confirmed = None;
    }

    fn live(&self, now: Instant, liveness: Duration) -> bool {
        self.confirmed.is_some_and(|p| now.saturating_duration_since(p) < liveness)
    }

    fn invalidate(&mut self, key: &str, version: u64) {
        let floor = self.floor.entry(key.to_owned()).or_insert(0);
        *floor = (*floor).max(version);
        if self.entries.get(key).is_some_and(|e| e.version < version) {
            self.entries.remove(key);
        }
    }
}

struct Inner {
    config: CacheConfig,
    clock: Arc<dyn Clock>,
    spawner: Arc<dyn Spawner>,
    redis: Arc<dyn Connector>,
    source: Arc<dyn Source>,
    state: Mutex<State>,
    counters: Counters,
    publisher: tokio::sync::Mutex<Option<Connection>>,
}

/// Builds a [`Cache`].
pub struct CacheBuilder {
    config: CacheConfig,
    redis: Arc<dyn Connector>,
    source: Arc<dyn Source>,
    clock: Arc<dyn Clock>,
    spawner: Arc<dyn Spawner>,
}

impl CacheBuilder {
    /// Uses `clock` (a simulation's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Starts tasks on `spawner` (a simulation's).
    pub fn spawner(mut self, spawner: Arc<dyn Spawner>) -> Self {
        self.spawner = spawner;
        self
    }

    /// Checks the configuration and starts the subscription task.
    pub fn start(self) -> Result<Cache, CacheConfigError> {
        self.config.validate()?;
        let inner = Arc::new(Inner {
            config: self.config,
            clock: self.clock,
            spawner: self.spawner.clone(),
            redis: self.redis,
            source: self.source,
            state: Mutex::new(State::default()),
            counters: Counters::default(),
            publisher: tokio::sync::Mutex::new(None),
        });
        let stop = CancellationToken::new();
        self.spawner.spawn(Box::pin(subscription(inner.clone(), stop.clone())));
        Ok(Cache { inner, _stop: Arc::new(stop.drop_guard()) })
    }
}

/// The cache. Clones share it; dropping the last one stops its subscription.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
    _stop: Arc<DropGuard>,
}

/// What [`Cache::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Put {
    /// The committed version.
    pub version: u64,
    /// Whether the invalidation was published (if not, other caches drop their entry only
    /// when it expires).
    pub published: bool,
}

impl Cache {
    /// A cache of `source`, invalidated over `redis`'s pub/sub.
    pub fn builder(config: CacheConfig, redis: impl Connector, source: Arc<dyn Source>) -> CacheBuilder {
        CacheBuilder {
            config,
            redis: Arc::new(redis),
            source,
            clock: Arc::new(TokioClock::new()),
            spawner: Arc::new(TokioSpawner),
        }
    }

    /// The counters so far.
    pub fn metrics(&self) -> CacheMetrics {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheMetrics {
            hits: get(&c.hits),
            misses: get(&c.misses),
            fills_refused: get(&c.fills_refused),
            invalidations: get(&c.invalidations),
            flushes: get(&c.flushes),
            writes: get(&c.writes),
            publish_failures: get(&c.publish_failures),
        }
    }

    /// Whether the cache answers from memory now (its subscription confirmed live).
    pub fn is_live(&self) -> bool {
        let state = self.inner.state.lock().expect("cache state");
        state.live(self.inner.clock.now(), self.inner.config.liveness)
    }

    /// The value of `key`: from memory while the subscription is live and the entry fresh,
    /// else from the source (and kept, unless an invalidation or a flush came first).
    pub async fn get(&self, key: &str) -> Result<Versioned, CacheError> {
        let inner = &*self.inner;
        let (generation, started) = {
            let mut state = inner.state.lock().expect("cache state");
            let now = inner.clock.now();
            if state.live(now, inner.config.liveness) {
                match state.entries.get(key) {
                    Some(e) if e.expires > now => {
                        bump(&inner.counters.hits);
                        return Ok(Versioned { version: e.version, value: e.value.clone() });
                    }
                    Some(_) => {
                        state.entries.remove(key);
                    }
                    None => {}
                }
            }
            (state.generation, now)
        };
        bump(&inner.counters.misses);
        let limit = inner.config.command_timeout;
        let read = timeout(&*inner.clock, limit, inner.source.read(key))
            .await
            .ok_or(CacheError::Timeout { what: "source", limit })??;
        let mut state = inner.state.lock().expect("cache state");
        let floor = state.floor.get(key).copied().unwrap_or(0);
        if state.generation == generation && state.confirmed.is_some() && read.version >= floor {
            let expires = started + inner.config.entry_ttl;
            state.entries.insert(key.to_owned(), Entry { version: read.version, value: read.value.clone(), expires });
        } else {
            bump(&inner.counters.fills_refused);
            tracing::debug!(key, version = read.version, floor, "fill refused: invalidated or flushed meanwhile");
        }
        Ok(read)
    }

    /// Commits `value` to the source, then publishes the invalidation `<version> <key>`.
    pub async fn put(&self, key: &str, value: &str) -> Result<Put, CacheError> {
        let inner = &*self.inner;
        let limit = inner.config.command_timeout;
        let version = timeout(&*inner.clock, limit, inner.source.commit(key, value))
            .await
            .ok_or(CacheError::Timeout { what: "source", limit })??;
        bump(&inner.counters.writes);
        inner.state.lock().expect("cache state").invalidate(key, version);
        let published = self.publish(key, version).await;
        if !published {
            bump(&inner.counters.publish_failures);
            tracing::warn!(
                key,
                version,
                "invalidation not published: other caches keep the old value until it expires"
            );
        }
        Ok(Put { version, published })
    }

    /// Publishes, retrying once on a fresh connection.
    async fn publish(&self, key: &str, version: u64) -> bool {
        let inner = &*self.inner;
        let message = format!("{version} {key}");
        let mut slot = inner.publisher.lock().await;
        for _ in 0..2 {
            // Out of the slot while in use (see `RedisSource::request`): a publish abandoned
            // mid-way leaves no connection behind.
            let mut taken = slot.take();
            let sent = timeout(&*inner.clock, inner.config.command_timeout, async {
                if taken.is_none() {
                    let conn =
                        connect_with(&*inner.redis, &*inner.spawner, &Default::default(), AsyncConnectionConfig::new())
                            .await?;
                    taken = Some(conn);
                }
                let conn = taken.as_mut().expect("connected above");
                redis::cmd("PUBLISH").arg(&inner.config.channel).arg(&message).query_async::<i64>(conn).await
            })
            .await;
            if let Some(Ok(_)) = sent {
                *slot = taken;
                return true;
            }
        }
        false
    }
}

/// The subscription: connect (RESP3), subscribe, then apply invalidations and confirm the
/// connection by `PING` until it fails; flush at every loss and every new subscription.
async fn subscription(inner: Arc<Inner>, stop: CancellationToken) {
    let sessions = async {
        loop {
            let why = subscribed(&inner).await;
            inner.state.lock().expect("cache state").flush();
            bump(&inner.counters.flushes);
            tracing::info!(reason = %why, "cache flushed: subscription lost");
            inner.clock.sleep(inner.config.reconnect_delay).await;
        }
    };
    tokio::select! {
        biased;
        () = stop.cancelled() => {}
        () = sessions => {}
    }
}

/// One subscription session; returns why it ended.
async fn subscribed(inner: &Inner) -> String {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let info = RedisConnectionInfo::default().set_protocol(ProtocolVersion::RESP3);
    let limit = inner.config.command_timeout;
    let opened = timeout(&*inner.clock, limit, async {
        let mut conn =
            connect_with(&*inner.redis, &*inner.spawner, &info, AsyncConnectionConfig::new().set_push_sender(tx))
                .await?;
        conn.subscribe(&inner.config.channel).await?;
        redis::RedisResult::Ok(conn)
    });
    let sent = inner.clock.now();
    let mut conn = match opened.await {
        Some(Ok(conn)) => conn,
        Some(Err(e)) => return format!("subscribe failed: {e}"),
        None => return format!("no subscription within {limit:?}"),
    };
    {
        // Subscribed: whatever was cached before may have missed messages.
        let mut state = inner.state.lock().expect("cache state");
        state.flush();
        state.confirmed = Some(sent);
    }
    bump(&inner.counters.flushes);
    tracing::info!(channel = %inner.config.channel, "cache subscribed; serving from memory");
    let mut next_ping = sent + inner.config.ping_interval;
    loop {
        let wait = next_ping.saturating_duration_since(inner.clock.now());
        tokio::select! {
            biased;
            push = rx.recv() => match push {
                Some(push) => {
                    if let Err(why) = apply(inner, push) {
                        return why;
                    }
                }
                None => return "connection closed".into(),
            },
            () = inner.clock.sleep(wait) => {
                let pinged = inner.clock.now();
                match timeout(&*inner.clock, limit, redis::cmd("PING").query_async::<Value>(&mut conn)).await {
                    Some(Ok(_)) => {
                        // Everything Redis sent before the PONG is in the channel: apply it first.
                        while let Ok(push) = rx.try_recv() {
                            if let Err(why) = apply(inner, push) {
                                return why;
                            }
                        }
                        inner.state.lock().expect("cache state").confirmed = Some(pinged);
                    }
                    Some(Err(e)) => return format!("PING failed: {e}"),
                    None => return format!("PING unanswered within {limit:?}"),
                }
                next_ping = pinged + inner.config.ping_interval;
            }
        }
    }
}

/// Applies one push; `Err` when it says the connection is gone.
fn apply(inner: &Inner, push: redis::PushInfo) -> Result<(), String> {
    match push.kind {
        PushKind::Disconnection => Err("connection closed".into()),
        PushKind::Message => {
            let payload = match push.data.get(1) {
                Some(Value::BulkString(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
                _ => return Ok(()),
            };
            let Some((version, key)) = payload.split_once(' ') else { return Ok(()) };
            let Ok(version) = version.parse::<u64>() else { return Ok(()) };
            inner.state.lock().expect("cache state").invalidate(key, version);
            bump(&inner.counters.invalidations);
            tracing::debug!(key, version, "invalidated");
            Ok(())
        }
        _ => Ok(()),
    }
}
