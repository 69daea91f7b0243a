//! The cache workload: every node runs a cache over the source database, invalidated through
//! Redis, reading and writing random keys, each read and write recorded.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use election::{Cache, CacheConfig, Clock, RedisSource};

use check::EventKind;

use crate::program::NodeContext;

/// The pub/sub channel of the cache workload's invalidations.
pub const CACHE_CHANNEL: &str = "splitbrain:invalidations";

/// The prefix of the cache workload's keys in the source database.
pub const CACHE_PREFIX: &str = "cache:";

/// The cache workload: every node runs an [`election::Cache`] over the source database
/// ([`crate::SOURCE_HOST`]), invalidated through Redis; it reads a random key every
/// `read_every` and (if it is a writer) writes one every `write_every`, jittered ±50 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLoad {
    /// Keys `k0` .. `k<keys-1>`.
    pub keys: u32,
    /// Between reads.
    pub read_every: Duration,
    /// Between writes (on average).
    pub write_every: Duration,
    /// Only `node-<writer>` writes; `None`: every node.
    pub writer: Option<u32>,
    /// [`CacheConfig::liveness`].
    pub liveness: Duration,
    /// [`CacheConfig::ping_interval`].
    pub ping_interval: Duration,
    /// [`CacheConfig::command_timeout`].
    pub command_timeout: Duration,
    /// [`CacheConfig::entry_ttl`].
    pub entry_ttl: Duration,
    /// Whether each write is raced by a read of the same key, issued on the same node while
    /// the write is in flight (a swarm's racing mix).
    pub read_during_write: bool,
}

impl CacheLoad {
    /// 3 keys read every 100 ms and written about every second by every node; the cache's
    /// defaults except entries kept 10 s.
    pub fn new() -> CacheLoad {
        let defaults = CacheConfig::new(CACHE_CHANNEL);
        CacheLoad {
            keys: 3,
            read_every: Duration::from_millis(100),
            write_every: Duration::from_secs(1),
            writer: None,
            liveness: defaults.liveness,
            ping_interval: defaults.ping_interval,
            command_timeout: defaults.command_timeout,
            entry_ttl: Duration::from_secs(10),
            read_during_write: false,
        }
    }

    /// This load with a swarm's mix: its keys, rates and racing reads.
    pub fn with_mix(self, mix: &check::CacheMix) -> CacheLoad {
        CacheLoad {
            keys: mix.keys,
            read_every: Duration::from_millis(mix.read_every_ms),
            write_every: Duration::from_millis(mix.write_every_ms),
            read_during_write: mix.read_during_write,
            ..self
        }
    }

    /// The cache's configuration.
    pub fn config(&self) -> CacheConfig {
        CacheConfig {
            liveness: self.liveness,
            ping_interval: self.ping_interval,
            command_timeout: self.command_timeout,
            entry_ttl: self.entry_ttl,
            ..CacheConfig::new(CACHE_CHANNEL)
        }
    }
}

impl Default for CacheLoad {
    fn default() -> Self {
        CacheLoad::new()
    }
}

/// A cache as the cache workload uses it: the production [`election::Cache`], or one of
/// the user's own (the zoo's mutants plug in here).
pub trait CacheClient: Clone + 'static {
    /// Reads `key`: its version, and whether it came from memory.
    fn get(&self, key: &str) -> impl Future<Output = Option<(u64, bool)>>;
    /// Writes `key`: the committed version, and whether its invalidation was published.
    fn put(&self, key: &str, value: &str) -> impl Future<Output = Option<(u64, bool)>>;
}

impl CacheClient for Cache {
    async fn get(&self, key: &str) -> Option<(u64, bool)> {
        let hits = self.metrics().hits;
        let read = Cache::get(self, key).await.ok()?;
        Some((read.version, self.metrics().hits > hits))
    }

    async fn put(&self, key: &str, value: &str) -> Option<(u64, bool)> {
        Cache::put(self, key, value).await.ok().map(|put| (put.version, put.published))
    }
}

/// The production cache of a node: [`election::Cache`] over the source database
/// ([`crate::SOURCE_HOST`]), invalidated through Redis, on the node's clock and spawner.
pub fn production_cache(ctx: &NodeContext, load: CacheLoad) -> Cache {
    let clock: Arc<dyn Clock> = Arc::new(ctx.clock.clone());
    let spawner: Arc<dyn election::Spawner> = Arc::new(ctx.spawner.clone());
    let source = RedisSource::new(ctx.source.clone(), CACHE_PREFIX, load.command_timeout)
        .clock(clock.clone())
        .spawner(spawner.clone());
    match Cache::builder(load.config(), ctx.connector.clone(), Arc::new(source)).clock(clock).spawner(spawner).start() {
        Ok(cache) => cache,
        Err(e) => panic!("invalid cache configuration for {}: {e}", ctx.name),
    }
}

/// The cache workload on one node, through `cache`: a reader of a random key every
/// `read_every`, and, if this node writes, a writer of a random key about every
/// `write_every` — or at once of the key of another node's late source read, when the world
/// asks for the race ([`crate::Races`]); each read and write recorded ([`EventKind::CacheRead`],
/// [`EventKind::CacheWrite`]).
pub async fn cache_workload(ctx: NodeContext, load: CacheLoad, cache: impl CacheClient) {
    let number = ctx.name.replica_number().and_then(|n| u32::try_from(n).ok());
    if load.writer.is_none() || load.writer == number {
        let (cache, ctx) = (cache.clone(), ctx.clone());
        let mut rng = ctx.rng.clone().fork("cache-writer");
        ctx.spawner.clone().spawn_local(async move {
            for n in 0u64.. {
                let every = load.write_every.as_micros() as u64;
                let wait = Duration::from_micros(rng.between(every / 2, every * 3 / 2));
                // Another node's source read held late (a `source-late-reply`) is raced at
                // once: its key written while the read is in flight. Biased: the same order
                // every run.
                let raced = tokio::select! {
                    biased;
                    key = ctx.races.claim(&ctx.name) => Some(key),
                    () = ctx.clock.sleep(wait) => None,
                };
                let raced = raced.and_then(|key| key.strip_prefix(CACHE_PREFIX).map(str::to_owned));
                let key = raced.unwrap_or_else(|| format!("k{}", rng.below(u64::from(load.keys))));
                let value = format!("{}#{n}", ctx.name);
                if load.read_during_write {
                    // Issued now, it reaches the source while the write is in flight.
                    ctx.spawner.spawn_local(read(ctx.clone(), cache.clone(), key.clone()));
                }
                if let Some((version, published)) = cache.put(&key, &value).await {
                    ctx.recorder.record(EventKind::CacheWrite { key, version, published });
                }
            }
        });
    }
    let mut rng = ctx.rng.clone().fork("cache-reader");
    loop {
        ctx.clock.sleep(load.read_every).await;
        let key = format!("k{}", rng.below(u64::from(load.keys)));
        read(ctx.clone(), cache.clone(), key).await;
    }
}

/// One recorded read of `key`.
async fn read(ctx: NodeContext, cache: impl CacheClient, key: String) {
    let started_us = ctx.recorder.now_us();
    if let Some((version, hit)) = cache.get(&key).await {
        ctx.recorder.record(EventKind::CacheRead { key, version, started_us, hit });
    }
}
