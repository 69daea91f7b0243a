//! The coherent cache, unchanged, against a real redis-server and against the Redis model:
//! invalidation between two caches, the flush when the subscription is re-established, and
//! the fill that loses the race with an invalidation. The source of truth is kept in the same
//! server under `src:`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use election::{Cache, CacheConfig, CacheConfigError, CacheError, RedisSource, Source, TcpConnector, Versioned};
use redis::Commands;
use splitbrain_tests::Backend;
use tokio::sync::Notify;

const CHANNEL: &str = "cache-invalidations";

fn config() -> CacheConfig {
    let mut config = CacheConfig::new(CHANNEL);
    config.liveness = Duration::from_millis(600);
    config.ping_interval = Duration::from_millis(100);
    config.command_timeout = Duration::from_millis(300);
    config.entry_ttl = Duration::from_secs(30);
    config
}

fn source(server: &impl Backend) -> Arc<dyn Source> {
    Arc::new(RedisSource::new(TcpConnector::new(server.addr()), "src:", Duration::from_millis(300)))
}

fn cache(server: &impl Backend, source: Arc<dyn Source>) -> Cache {
    Cache::builder(config(), TcpConnector::new(server.addr()), source).start().expect("a valid configuration")
}

/// Polls `condition` every 5 ms; panics after `limit`.
async fn within(limit: Duration, what: &str, mut condition: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

async fn live(cache: &Cache) {
    within(Duration::from_secs(5), "the cache subscribes", async || cache.is_live()).await;
}

async fn version(cache: &Cache, key: &str) -> u64 {
    cache.get(key).await.expect("a read").version
}

async fn a_write_on_one_cache_is_seen_by_another_within_the_liveness_window(server: impl Backend) {
    let (a, b) = (cache(&server, source(&server)), cache(&server, source(&server)));
    live(&a).await;
    live(&b).await;
    assert_eq!(a.put("user:1", "alice").await.unwrap().version, 1);
    assert_eq!(b.get("user:1").await.unwrap(), Versioned { version: 1, value: Some("alice".into()) });
    assert_eq!(version(&b, "user:1").await, 1);
    assert_eq!(b.metrics().hits, 1, "the second read is served from memory");
    let put = a.put("user:1", "bob").await.unwrap();
    assert!(put.published && put.version == 2, "{put:?}");
    let took = within(Duration::from_secs(1), "B sees version 2", async || version(&b, "user:1").await == 2).await;
    assert!(b.metrics().invalidations >= 1, "{:?}", b.metrics());
    eprintln!("B saw the update after {took:?}");
}

async fn a_cache_flushes_when_its_subscription_is_re_established(mut server: impl Backend) {
    let b = cache(&server, source(&server));
    live(&b).await;
    let writer = source(&server);
    writer.commit("user:2", "carol").await.unwrap();
    assert_eq!(version(&b, "user:2").await, 1);
    assert_eq!(version(&b, "user:2").await, 1);
    assert_eq!(b.metrics().hits, 1);
    let flushes = b.metrics().flushes;
    server.kill();
    server.restart();
    // A write whose invalidation is lost: B is not subscribed when it happens, or it is and
    // no message is ever sent. Only the flush on re-subscribing makes B read it.
    let mut client = server.client();
    let _: () = client.set("src:user:2", "2:dave").unwrap();
    within(Duration::from_secs(5), "B re-subscribes", async || b.metrics().flushes > flushes && b.is_live()).await;
    assert_eq!(b.get("user:2").await.unwrap(), Versioned { version: 2, value: Some("dave".into()) });
}

/// A source whose reads wait, after reading, until released: the reader paused between its
/// source read and its cache fill.
struct HeldSource {
    inner: Arc<dyn Source>,
    release: Arc<Notify>,
    read: Arc<Notify>,
}

impl Source for HeldSource {
    fn read<'a>(&'a self, key: &'a str) -> election::BoxFuture<'a, Result<Versioned, CacheError>> {
        Box::pin(async move {
            let value = self.inner.read(key).await;
            self.read.notify_one();
            self.release.notified().await;
            value
        })
    }
    fn commit<'a>(&'a self, key: &'a str, value: &'a str) -> election::BoxFuture<'a, Result<u64, CacheError>> {
        self.inner.commit(key, value)
    }
}

async fn a_fill_that_loses_the_race_with_an_invalidation_is_not_kept(server: impl Backend) {
    let a = cache(&server, source(&server));
    let (release, read) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let held = HeldSource { inner: source(&server), release: release.clone(), read: read.clone() };
    let b = Cache::builder(config(), TcpConnector::new(server.addr()), Arc::new(held)).start().unwrap();
    live(&a).await;
    live(&b).await;
    a.put("user:3", "erin").await.unwrap();
    let reader = tokio::spawn({
        let b = b.clone();
        async move { b.get("user:3").await.unwrap().version }
    });
    read.notified().await; // B has read version 1 and waits to fill
    a.put("user:3", "frank").await.unwrap();
    within(Duration::from_secs(2), "B applies the invalidation", async || b.metrics().invalidations >= 2).await;
    release.notify_one();
    assert_eq!(reader.await.unwrap(), 1, "the read itself returns what it read");
    assert_eq!(b.metrics().fills_refused, 1, "{:?}", b.metrics());
    let again = tokio::spawn({
        let b = b.clone();
        async move { b.get("user:3").await.unwrap().version }
    });
    read.notified().await;
    release.notify_one();
    assert_eq!(again.await.unwrap(), 2, "the stale fill was not kept");
}

#[test]
fn invalid_configurations_are_refused() {
    let mut bad = config();
    bad.ping_interval = Duration::from_millis(400);
    let error = Cache::builder(bad, TcpConnector::new("127.0.0.1:1"), Arc::new(NoSource)).start().err().unwrap();
    assert!(matches!(error, CacheConfigError::PingTooRare { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "ping interval (400ms) + command timeout (300ms) must be below the liveness window (600ms)"
    );
    let mut bad = config();
    bad.entry_ttl = Duration::from_millis(500);
    assert_eq!(bad.validate().unwrap_err().to_string(), "entry ttl (500ms) must be above the liveness window (600ms)");
}

struct NoSource;

impl Source for NoSource {
    fn read<'a>(&'a self, _: &'a str) -> election::BoxFuture<'a, Result<Versioned, CacheError>> {
        Box::pin(async { Ok(Versioned { version: 0, value: None }) })
    }
    fn commit<'a>(&'a self, _: &'a str, _: &'a str) -> election::BoxFuture<'a, Result<u64, CacheError>> {
        Box::pin(async { Ok(1) })
    }
}

splitbrain_tests::on_both! {
    a_write_on_one_cache_is_seen_by_another_within_the_liveness_window;
    a_cache_flushes_when_its_subscription_is_re_established;
    a_fill_that_loses_the_race_with_an_invalidation_is_not_kept;
}
