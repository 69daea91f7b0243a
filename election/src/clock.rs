//! Time, as the elector sees it: a monotonic clock for lease deadlines, a wall clock for
//! what people read, and sleeping. Production uses [`TokioClock`]; the simulation gives each
//! node a clock of its own with offset, drift and jumps.

use std::ops::{Add, Sub};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::BoxFuture;

/// A point on a [`Clock`]'s monotonic timeline, measured from the clock's origin.
///
/// Instants from different clocks are not comparable; the elector only ever compares
/// instants read from its own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The clock's origin.
    pub const ORIGIN: Instant = Instant(Duration::ZERO);
    /// Far enough in the future to stand for "never".
    pub const FAR_FUTURE: Instant = Instant(Duration::from_secs(u32::MAX as u64));

    /// The instant `since_origin` after the clock's origin.
    pub const fn from_origin(since_origin: Duration) -> Self {
        Instant(since_origin)
    }

    /// Time elapsed from the clock's origin to this instant.
    pub const fn since_origin(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero when `earlier` is later than `self`.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// `self - duration`, clamped at the origin.
    pub fn saturating_sub(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_sub(duration))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturating: an instant minus a later one is zero.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

/// The time source of an elector. Implementations must be monotonic in [`Clock::now`]
/// (the wall clock may jump) and must end [`Clock::sleep`] once `now` has advanced by at
/// least the requested duration.
pub trait Clock: Send + Sync + 'static {
    /// Monotonic time on this clock.
    fn now(&self) -> Instant;
    /// Wall-clock time, for humans and for the leader-info record. May jump.
    fn wall(&self) -> SystemTime;
    /// Completes once this clock's `now` has advanced by at least `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;

    /// Completes once this clock's `now` has reached `deadline`.
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        self.sleep(deadline.saturating_duration_since(self.now()))
    }
}

/// Runs `future` for at most `limit` of `clock`'s time; `None` when the limit won.
pub async fn timeout<F: std::future::Future>(clock: &dyn Clock, limit: Duration, future: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        output = future => Some(output),
        () = clock.sleep(limit) => None,
    }
}

/// The production clock: tokio's monotonic time and the system's wall clock.
#[derive(Debug, Clone)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose origin is the moment of this call.
    pub fn new() -> Self {
        TokioClock { origin: tokio::time::Instant::now() }
    }

    /// This clock behind the trait object the elector takes.
    pub fn shared() -> Arc<dyn Clock> {
        Arc::new(Self::new())
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant(tokio::time::Instant::now().duration_since(self.origin))
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates_instead_of_panicking() {
        let a = Instant::from_origin(Duration::from_millis(100));
        let b = a + Duration::from_millis(50);
        assert_eq!(b - a, Duration::from_millis(50));
        assert_eq!(a - b, Duration::ZERO);
        assert_eq!(a.saturating_sub(Duration::from_secs(1)), Instant::ORIGIN);
        assert!(Instant::FAR_FUTURE > b);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_sleeps_on_tokio_time() {
        let clock = TokioClock::new();
        let before = clock.now();
        clock.sleep(Duration::from_secs(3)).await;
        assert!(clock.now() - before >= Duration::from_secs(3));
        let late = timeout(&clock, Duration::from_millis(10), clock.sleep(Duration::from_secs(1))).await;
        assert!(late.is_none(), "a 1 s sleep cannot finish within a 10 ms limit");
    }
}
