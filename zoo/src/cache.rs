//! The zoo's cache, written as a user writes one on `sim`'s public API ([`sim::CacheClient`])
//! with the real redis client and [`election::RedisSource`]: a read-through cache invalidated
//! by RESP3 pub/sub, served from memory only while a `PING` was answered within the liveness
//! window. Correct under [`Bug::None`]; [`Bug::CacheNoFlushOnReconnect`] keeps its entries when
//! the subscription drops and comes back, [`Bug::CachePublishBeforeCommit`] publishes the
//! invalidation before the write commits.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use election::{connect_with, timeout, Clock, Connection, Instant, RedisSource, Source};
use redis::{AsyncConnectionConfig, ProtocolVersion, PushInfo, PushKind, RedisConnectionInfo, Value};
use sim::{CacheClient, CacheLoad, NodeContext, CACHE_CHANNEL, CACHE_PREFIX};
use tokio::sync::mpsc;

use crate::Bug;

#[derive(Default)]
struct State {
    /// key -> (version, expires)
    entries: BTreeMap<String, (u64, Instant)>,
    floor: BTreeMap<String, u64>,
    generation: u64,
    confirmed: Option<Instant>,
}

/// The zoo cache of one node; clones share it.
#[derive(Clone)]
pub struct ZooCache {
    ctx: NodeContext,
    load: CacheLoad,
    bug: Bug,
    state: Rc<RefCell<State>>,
    source: Rc<RedisSource>,
    publisher: Rc<tokio::sync::Mutex<Option<Connection>>>,
}

impl ZooCache {
    /// Starts the cache (its subscription task) on the node.
    pub fn start(ctx: &NodeContext, load: CacheLoad, bug: Bug) -> ZooCache {
        let source = RedisSource::new(ctx.source.clone(), CACHE_PREFIX, load.command_timeout)
            .clock(Arc::new(ctx.clock.clone()))
            .spawner(Arc::new(ctx.spawner.clone()));
        let cache = ZooCache {
            ctx: ctx.clone(),
            load,
            bug,
            state: Rc::default(),
            source: Rc::new(source),
            publisher: Rc::default(),
        };
        ctx.spawner.spawn_local(cache.clone().subscription());
        cache
    }

    fn now(&self) -> Instant {
        self.ctx.clock.now()
    }

    fn flush(&self) {
        let mut state = self.state.borrow_mut();
        state.confirmed = None;
        if self.bug != Bug::CacheNoFlushOnReconnect {
            state.entries.clear();
            state.floor.clear();
            state.generation += 1;
        }
    }

    fn invalidate(&self, key: &str, version: u64) {
        let mut state = self.state.borrow_mut();
        let floor = state.floor.entry(key.to_owned()).or_insert(0);
        *floor = (*floor).max(version);
        if state.entries.get(key).is_some_and(|(v, _)| *v < version) {
            state.entries.remove(key);
        }
    }

    async fn publish(&self, key: &str, version: u64) -> bool {
        let mut slot = self.publisher.lock().await;
        let message = format!("{version} {key}");
        let sent = timeout(&self.ctx.clock, self.load.command_timeout, async {
            if slot.is_none() {
                *slot = Some(
                    connect_with(
                        &self.ctx.connector,
                        &self.ctx.spawner,
                        &Default::default(),
                        AsyncConnectionConfig::new(),
                    )
                    .await?,
                );
            }
            let conn = slot.as_mut().expect("connected above");
            redis::cmd("PUBLISH").arg(CACHE_CHANNEL).arg(&message).query_async::<i64>(conn).await
        })
        .await;
        let published = matches!(sent, Some(Ok(_)));
        if !published {
            *slot = None;
        }
        published
    }

    async fn subscription(self) {
        loop {
            let why = self.session().await;
            tracing::info!(%why, "zoo cache: subscription lost");
            self.flush();
            self.ctx.clock.sleep(self.load.config().reconnect_delay).await;
        }
    }

    async fn session(&self) -> String {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let info = RedisConnectionInfo::default().set_protocol(ProtocolVersion::RESP3);
        let limit = self.load.command_timeout;
        let sent = self.now();
        let opened = timeout(&self.ctx.clock, limit, async {
            let options = AsyncConnectionConfig::new().set_push_sender(tx);
            let mut conn = connect_with(&self.ctx.connector, &self.ctx.spawner, &info, options).await?;
            conn.subscribe(CACHE_CHANNEL).await?;
            redis::RedisResult::Ok(conn)
        })
        .await;
        let mut conn = match opened {
            Some(Ok(conn)) => conn,
            Some(Err(e)) => return format!("subscribe failed: {e}"),
            None => return "subscribe timed out".into(),
        };
        self.flush();
        self.state.borrow_mut().confirmed = Some(sent);
        let mut next_ping = sent + self.load.ping_interval;
        loop {
            let wait = next_ping.saturating_duration_since(self.now());
            tokio::select! {
                biased;
                push = rx.recv() => match push {
                    Some(push) if self.apply(&push) => {}
                    _ => return "connection closed".into(),
                },
                () = self.ctx.clock.sleep(wait) => {
                    let pinged = self.now();
                    let pong = timeout(&self.ctx.clock, limit, redis::cmd("PING").query_async::<Value>(&mut conn)).await;
                    if !matches!(pong, Some(Ok(_))) {
                        return "PING failed".into();
                    }
                    while let Ok(push) = rx.try_recv() {
                        if !self.apply(&push) {
                            return "connection closed".into();
                        }
                    }
                    self.state.borrow_mut().confirmed = Some(pinged);
                    next_ping = pinged + self.load.ping_interval;
                }
            }
        }
    }

    /// Applies a push; false when the connection is gone.
    fn apply(&self, push: &PushInfo) -> bool {
        match push.kind {
            PushKind::Disconnection => false,
            PushKind::Message => {
                if let Some(Value::BulkString(bytes)) = push.data.get(1) {
                    let payload = String::from_utf8_lossy(bytes);
                    if let Some((version, key)) = payload.split_once(' ') {
                        if let Ok(version) = version.parse() {
                            self.invalidate(key, version);
                        }
                    }
                }
                true
            }
            _ => true,
        }
    }
}

impl CacheClient for ZooCache {
    async fn get(&self, key: &str) -> Option<(u64, bool)> {
        let (generation, started) = {
            let state = self.state.borrow();
            let now = self.now();
            let live = state.confirmed.is_some_and(|p| now.saturating_duration_since(p) < self.load.liveness);
            match state.entries.get(key) {
                Some((version, expires)) if live && *expires > now => return Some((*version, true)),
                _ => (state.generation, now),
            }
        };
        let read = timeout(&self.ctx.clock, self.load.command_timeout, self.source.read(key)).await?.ok()?;
        let mut state = self.state.borrow_mut();
        let floor = state.floor.get(key).copied().unwrap_or(0);
        // The fill-after-invalidation mutant: "an invalidation deletes the entry; a miss
        // fills it" — with no floor, a read that began before the newer version's
        // invalidation arrived stores the older version after it.
        let floored = self.bug == Bug::CacheFillAfterInvalidation || read.version >= floor;
        if state.generation == generation && state.confirmed.is_some() && floored {
            state.entries.insert(key.to_owned(), (read.version, started + self.load.entry_ttl));
        }
        Some((read.version, false))
    }

    async fn put(&self, key: &str, value: &str) -> Option<(u64, bool)> {
        let limit = self.load.command_timeout;
        if self.bug == Bug::CachePublishBeforeCommit {
            // "The key changed as of what I read": announced before the commit, so a reader
            // may refill the old value between the two and keep it until it expires.
            let current = timeout(&self.ctx.clock, limit, self.source.read(key)).await?.ok()?;
            let published = self.publish(key, current.version).await;
            let version = timeout(&self.ctx.clock, limit, self.source.commit(key, value)).await?.ok()?;
            self.invalidate(key, version);
            return Some((version, published));
        }
        let version = timeout(&self.ctx.clock, limit, self.source.commit(key, value)).await?.ok()?;
        self.invalidate(key, version);
        Some((version, self.publish(key, version).await))
    }
}

/// The zoo cache's node task: the cache workload through a [`ZooCache`] with `bug`.
pub async fn cache_node(ctx: NodeContext, load: CacheLoad, bug: Bug) {
    let cache = ZooCache::start(&ctx, load, bug);
    sim::cache_workload(ctx, load, cache).await
}

impl std::fmt::Debug for ZooCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZooCache").field("node", &self.ctx.name).field("bug", &self.bug).finish_non_exhaustive()
    }
}
