//! A clock's past, as data: how a machine's clock read beside true time. The checkers use
//! Redis's to decide when a TTL ran out; a simulated clock records one as it goes.

use serde::{Deserialize, Serialize};

/// The largest drift a clock may be given: 10%, in parts per million.
pub const DRIFT_PPM_MAX: i64 = 100_000;

/// The state of one clock: a line through (anchor_true, anchor_local) with slope 1 + drift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockLine {
    /// The true instant (µs) the line passes through.
    pub anchor_true_us: u64,
    /// The local time (µs) it reads then.
    pub anchor_local_us: i64,
    /// How fast it runs beside true time, in parts per million (negative: slow).
    pub drift_ppm: i64,
    /// Added to the wall clock only (backward jumps never move the monotonic clock).
    pub wall_offset_us: i64,
}

impl ClockLine {
    /// Local time at true instant `true_us` (at or after the anchor).
    pub fn local_at(&self, true_us: u64) -> i64 {
        let since = true_us.saturating_sub(self.anchor_true_us) as i128;
        self.anchor_local_us + (since * i128::from(1_000_000 + self.drift_ppm) / 1_000_000) as i64
    }

    /// The true instant at which local time reaches `local_us` on this line.
    pub fn true_at(&self, local_us: i64) -> u64 {
        let ahead = (local_us - self.anchor_local_us).max(0) as i128;
        let rate = i128::from(1_000_000 + self.drift_ppm);
        self.anchor_true_us + ((ahead * 1_000_000 + rate - 1) / rate) as u64
    }
}

/// A clock's past: its wall time as a function of true time, piecewise linear, with the
/// steps that jumps made. Checkers use Redis's to decide when a TTL ran out.
///
/// In a history file it is a list of `[from_true_us, line]` pairs, the first from 0, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(u64, ClockLine)>", into = "Vec<(u64, ClockLine)>")]
pub struct ClockTrace {
    lines: Vec<(u64, ClockLine)>,
}

/// A clock trace read from a file has at most this many lines (a run changes a clock a few
/// times per fault; a million lines is far past any history and still fits in memory).
pub const CLOCK_LINES_MAX: usize = 1_000_000;

impl TryFrom<Vec<(u64, ClockLine)>> for ClockTrace {
    type Error = String;

    fn try_from(lines: Vec<(u64, ClockLine)>) -> Result<ClockTrace, String> {
        if lines.is_empty() || lines.len() > CLOCK_LINES_MAX {
            return Err(format!("a clock trace has 1 to {CLOCK_LINES_MAX} lines, not {}", lines.len()));
        }
        if lines[0].0 != 0 {
            return Err("a clock trace's first line starts at true time 0".to_owned());
        }
        if let Some(w) = lines.windows(2).find(|w| w[1].0 < w[0].0) {
            return Err(format!("clock trace lines out of order ({} after {})", w[1].0, w[0].0));
        }
        if let Some((_, line)) = lines.iter().find(|(_, l)| !(-DRIFT_PPM_MAX..=DRIFT_PPM_MAX).contains(&l.drift_ppm)) {
            return Err(format!("clock drift {} ppm is beyond ±{DRIFT_PPM_MAX}", line.drift_ppm));
        }
        // Local times are microseconds in an i64: far from its ends, so that arithmetic on
        // them cannot overflow.
        const LOCAL_US_MAX: i64 = 1 << 52;
        if let Some((_, line)) = lines.iter().find(|(at, l)| {
            *at > LOCAL_US_MAX as u64
                || l.anchor_true_us > LOCAL_US_MAX as u64
                || l.anchor_local_us.unsigned_abs() > LOCAL_US_MAX as u64
                || l.wall_offset_us.unsigned_abs() > LOCAL_US_MAX as u64
        }) {
            return Err(format!("clock trace line {line:?} is beyond ±2^52 µs"));
        }
        Ok(ClockTrace { lines })
    }
}

impl From<ClockTrace> for Vec<(u64, ClockLine)> {
    fn from(trace: ClockTrace) -> Self {
        trace.lines
    }
}

impl Default for ClockTrace {
    /// A clock that always read true time.
    fn default() -> Self {
        ClockTrace {
            lines: vec![(0, ClockLine { anchor_true_us: 0, anchor_local_us: 0, drift_ppm: 0, wall_offset_us: 0 })],
        }
    }
}

impl ClockTrace {
    /// The trace of a clock that followed `lines`, each from its true instant (a simulated
    /// clock's record of itself: in order, the first from 0).
    pub fn new(lines: Vec<(u64, ClockLine)>) -> ClockTrace {
        match ClockTrace::try_from(lines) {
            Ok(trace) => trace,
            Err(problem) => panic!("a simulated clock recorded an impossible trace: {problem}"),
        }
    }

    /// Wall time (µs since the simulation's epoch) at true instant `true_us`.
    pub fn wall_us_at(&self, true_us: u64) -> i64 {
        let i = self.lines.partition_point(|(from, _)| *from <= true_us).max(1) - 1;
        let line = &self.lines[i].1;
        line.local_at(true_us) + line.wall_offset_us
    }

    /// The least and the greatest wall time read during the true interval `[from, to]`.
    pub fn wall_range_us(&self, from_us: u64, to_us: u64) -> (i64, i64) {
        let mut low = self.wall_us_at(from_us).min(self.wall_us_at(to_us));
        let mut high = self.wall_us_at(from_us).max(self.wall_us_at(to_us));
        // Within a line the clock only moves forward; the extremes sit at the line changes.
        for (change, _) in self.lines.iter().filter(|(at, _)| *at > from_us && *at <= to_us) {
            let (before, after) = (self.wall_us_at(change - 1), self.wall_us_at(*change));
            low = low.min(before).min(after);
            high = high.max(before).max(after);
        }
        (low, high)
    }
}
