//! Time in the simulation. True time is the simulation's elapsed time; each node reads a
//! clock of its own, `local = (1 + drift) * true + jumps`, piecewise as drift changes; the
//! Redis server has one too. A fast clock's sleeps end early in true time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use check::{ClockLine, ClockTrace};
use tokio::sync::watch;

/// The wall-clock instant every simulation starts at: 2026-01-01T00:00:00Z. Fixed, so that
/// no run depends on when it ran.
pub const EPOCH_UNIX_MS: u64 = 1_767_225_600_000;

/// True time, readable inside a host (exact, from turmoil) and from the driver between
/// steps (the driver publishes it before each step).
#[derive(Debug, Clone, Default)]
pub struct TrueTime {
    driver_us: Arc<AtomicU64>,
}

impl TrueTime {
    /// True time now, in microseconds since the simulation started.
    pub fn now_us(&self) -> u64 {
        match turmoil::sim_elapsed() {
            Some(elapsed) => elapsed.as_micros() as u64,
            None => self.driver_us.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn publish(&self, elapsed: Duration) {
        self.driver_us.store(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
}

/// True time now, µs since the simulation started, when called inside a simulated host (for
/// log timestamps); None outside one.
pub fn true_now_us() -> Option<u64> {
    turmoil::sim_elapsed().map(|elapsed| elapsed.as_micros() as u64)
}

/// A machine's clock: what its processes read, and what faults change. Cloning shares it.
#[derive(Debug, Clone)]
pub struct SimClock {
    line: Arc<Mutex<ClockLine>>,
    /// Every line the clock has followed, from the true instant it took effect.
    past: Arc<Mutex<Vec<(u64, ClockLine)>>>,
    changed: Arc<watch::Sender<u64>>,
    time: TrueTime,
}

pub use check::DRIFT_PPM_MAX;

impl SimClock {
    /// A clock that reads true time until a fault changes it.
    pub fn new(time: TrueTime) -> SimClock {
        let line = ClockLine { anchor_true_us: 0, anchor_local_us: 0, drift_ppm: 0, wall_offset_us: 0 };
        SimClock {
            line: Arc::new(Mutex::new(line)),
            past: Arc::new(Mutex::new(vec![(0, line)])),
            changed: Arc::new(watch::channel(0).0),
            time,
        }
    }

    fn line(&self) -> ClockLine {
        *self.line.lock().expect("clock lock")
    }

    fn update(&self, change: impl FnOnce(&mut ClockLine, u64)) {
        let now = self.time.now_us();
        let mut line = self.line.lock().expect("clock lock");
        change(&mut line, now);
        self.past.lock().expect("clock lock").push((now, *line));
        drop(line);
        self.changed.send_modify(|v| *v += 1);
    }

    /// What this clock's wall time read at every true instant so far.
    pub fn trace(&self) -> ClockTrace {
        ClockTrace::new(self.past.lock().expect("clock lock").clone())
    }

    /// Local monotonic time in microseconds.
    pub fn local_us(&self) -> i64 {
        self.line().local_at(self.time.now_us())
    }

    /// The true instant (µs) at which this clock will read `local_us`, as it runs now.
    pub fn true_at(&self, local_us: i64) -> u64 {
        self.line().true_at(local_us)
    }

    /// Fault: from now on the clock runs `drift_ppm` parts per million fast (negative: slow).
    pub fn set_drift(&self, drift_ppm: i64) {
        assert!((-DRIFT_PPM_MAX..=DRIFT_PPM_MAX).contains(&drift_ppm), "drift {drift_ppm} ppm beyond ±{DRIFT_PPM_MAX}");
        self.update(|line, now| {
            line.anchor_local_us = line.local_at(now);
            line.anchor_true_us = now;
            line.drift_ppm = drift_ppm;
        });
    }

    /// Fault: the clock jumps by `jump_us`. Forward jumps move monotonic and wall time (a VM
    /// resumed after migration); backward jumps move only the wall clock (NTP stepping it).
    pub fn jump(&self, jump_us: i64) {
        self.update(|line, _| {
            if jump_us > 0 {
                line.anchor_local_us += jump_us;
            } else {
                line.wall_offset_us += jump_us;
            }
        });
    }

    /// The drift in ppm.
    pub fn drift_ppm(&self) -> i64 {
        self.line().drift_ppm
    }

    /// Wall-clock milliseconds since the Unix epoch.
    pub fn wall_ms(&self) -> i64 {
        let line = self.line();
        EPOCH_UNIX_MS as i64 + (line.local_at(self.time.now_us()) + line.wall_offset_us) / 1000
    }

    /// Sleeps until this clock reads `local_us`, following drift changes and jumps that
    /// happen meanwhile.
    pub async fn sleep_until_local(&self, local_us: i64) {
        let mut changed = self.changed.subscribe();
        loop {
            let now = self.time.now_us();
            let line = self.line();
            if line.local_at(now) >= local_us {
                return;
            }
            let wait = Duration::from_micros(line.true_at(local_us).saturating_sub(now).max(1));
            tokio::select! {
                biased;
                _ = changed.changed() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

impl election::Clock for SimClock {
    fn now(&self) -> election::Instant {
        election::Instant::from_origin(Duration::from_micros(self.local_us().max(0) as u64))
    }

    fn wall(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.wall_ms().max(0) as u64)
    }

    fn sleep(&self, duration: Duration) -> election::BoxFuture<'static, ()> {
        let clock = self.clone();
        let until = self.local_us() + micros_rounded_up(duration);
        Box::pin(async move { clock.sleep_until_local(until).await })
    }
}

/// A duration in whole microseconds, rounded up: this clock counts microseconds, and a sleep
/// must never end before its duration has passed (a 156 ns sleep truncated to 0 µs would
/// return at once, and a loop waiting for that instant would spin without time advancing).
fn micros_rounded_up(duration: Duration) -> i64 {
    duration.as_nanos().div_ceil(1_000) as i64
}

impl model::ServerClock for SimClock {
    fn now_ms(&self) -> i64 {
        self.wall_ms()
    }

    fn sleep(&self, duration: Duration) -> model::BoxFuture<'static, ()> {
        election::Clock::sleep(self, duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_shorter_than_a_microsecond_still_wait_one() {
        assert_eq!(micros_rounded_up(Duration::from_nanos(156)), 1);
        assert_eq!(micros_rounded_up(Duration::from_nanos(1_000)), 1);
        assert_eq!(micros_rounded_up(Duration::from_nanos(1_001)), 2);
        assert_eq!(micros_rounded_up(Duration::ZERO), 0);
    }

    #[test]
    fn traces_remember_every_line_with_its_jumps() {
        let time = TrueTime::default();
        let clock = SimClock::new(time.clone());
        time.publish(Duration::from_secs(1));
        clock.set_drift(100_000);
        time.publish(Duration::from_secs(2));
        clock.jump(-500_000);
        time.publish(Duration::from_secs(3));
        let trace = clock.trace();
        assert_eq!(trace.wall_us_at(500_000), 500_000);
        assert_eq!(trace.wall_us_at(1_500_000), 1_550_000, "10% fast after 1 s");
        assert_eq!(trace.wall_us_at(2_000_000), 1_600_000, "stepped back 0.5 s at 2 s");
        assert_eq!(trace.wall_range_us(1_900_000, 2_100_000), (1_600_000, 2_099_998));
        assert_eq!(ClockTrace::default().wall_us_at(42), 42);
    }

    #[test]
    fn lines_map_true_time_to_local_time_and_back() {
        let fast = ClockLine { anchor_true_us: 1_000, anchor_local_us: 5_000, drift_ppm: 50_000, wall_offset_us: 0 };
        assert_eq!(fast.local_at(1_000), 5_000);
        assert_eq!(fast.local_at(1_001_000), 5_000 + 1_050_000);
        assert_eq!(fast.true_at(5_000 + 1_050_000), 1_001_000);
        let slow = ClockLine { drift_ppm: -50_000, ..fast };
        assert_eq!(slow.local_at(1_001_000), 5_000 + 950_000);
        assert!(slow.local_at(slow.true_at(777_777)) >= 777_777, "true_at rounds up: the sleep never ends early");
    }
}
