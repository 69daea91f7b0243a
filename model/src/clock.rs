//! The server's clock: key expiry, snapshots and delays read time only from it, so that a
//! simulation can skew it or make it jump.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::BoxFuture;

/// Time as the Redis server sees it.
pub trait ServerClock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch (Redis's `mstime()`); may jump.
    fn now_ms(&self) -> i64;
    /// Completes after `duration` has passed (for slow-command delays and background cycles).
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Real time: the system clock and tokio's timers. For tests against real redis-server.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl ServerClock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Another clock shifted by an adjustable offset: a server clock that is wrong, or jumps.
#[derive(Clone)]
pub struct OffsetClock {
    base: Arc<dyn ServerClock>,
    offset_ms: Arc<AtomicI64>,
}

impl OffsetClock {
    /// `base`, shifted by nothing yet.
    pub fn new(base: Arc<dyn ServerClock>) -> Self {
        OffsetClock { base, offset_ms: Arc::new(AtomicI64::new(0)) }
    }

    /// Moves this clock by `delta_ms` (negative: backwards) from now on.
    pub fn jump(&self, delta_ms: i64) {
        self.offset_ms.fetch_add(delta_ms, Ordering::Relaxed);
    }
}

impl ServerClock for OffsetClock {
    fn now_ms(&self) -> i64 {
        self.base.now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.base.sleep(duration)
    }
}
