//! A history as a file anyone can write: JSON Lines, a header line, then one event per line
//! (docs/history.md specifies it).

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::bounds::Bounds;
use crate::clock_trace::ClockTrace;
use crate::event::Event;
use crate::linear::LeaseKeys;
use crate::node::NodeId;

/// The format version this crate reads and writes.
pub const HISTORY_FORMAT: u32 = 1;
/// A history file holds at most this many events (a long simulated run records a few
/// hundred thousand).
pub const EVENTS_MAX: usize = 20_000_000;
/// A line of a history file is at most this long: an event is a few hundred bytes; a Redis
/// command with a large script a few kilobytes.
pub const LINE_BYTES_MAX: usize = 1 << 20;
/// Times in a history are at most this many microseconds (about 142 years), so that sums of
/// times and bounds cannot overflow.
pub const TIME_US_MAX: u64 = 1 << 52;
/// At most this many nodes and this many lease objects in a header.
const HEADER_ITEMS_MAX: usize = 1_000;

/// Where a history came from, for the person reading a verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// What recorded it: `splitbrain-sim 0.1.0`, `my-harness`, ...
    pub recorder: String,
    /// The seed of a simulated run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// The scenario it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The command that records it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
}

/// The first line of a history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`HISTORY_FORMAT`].
    pub format: u32,
    /// The nodes of the system under test.
    pub nodes: Vec<NodeId>,
    /// The lease objects whose Redis operations are checked for linearizability.
    pub lease_keys: Vec<LeaseKeys>,
    /// What the history is judged against.
    pub bounds: Bounds,
    /// Where it came from.
    #[serde(default)]
    pub origin: Origin,
    /// When the faults healed and the liveness phase began (µs); absent: at the
    /// `liveness-phase` event, or else at the last fault's heal, or else at 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_from_us: Option<u64>,
    /// When the history ends (µs); absent: at its last event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_us: Option<u64>,
    /// Redis's clock beside true time; absent: it read true time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_clock: Option<ClockTrace>,
}

/// A history: its header and its events in true-time order.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The header.
    pub header: Header,
    /// The events, sorted by true time (ties by `seq`).
    pub events: Vec<Event>,
}

/// A history file that cannot be read, in one line.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not what the format says.
    #[error("{path}:{line}: {problem}")]
    Malformed {
        /// The file.
        path: String,
        /// The line (from 1).
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

impl History {
    /// The time the liveness phase began: the header's, or the `liveness-phase` event's, or
    /// the last heal's.
    pub fn liveness_from_us(&self) -> u64 {
        use crate::event::EventKind;
        self.header.liveness_from_us.unwrap_or_else(|| {
            let marked = self.events.iter().find(|e| e.kind == EventKind::LivenessPhase).map(|e| e.at_us);
            let healed = self.events.iter().rfind(|e| matches!(e.kind, EventKind::FaultHealed { .. }));
            marked.or(healed.map(|e| e.at_us)).unwrap_or(0)
        })
    }

    /// The time the history ends: the header's, or its last event's.
    pub fn end_us(&self) -> u64 {
        let last = self.events.last().map_or(0, |e| e.at_us);
        self.header.end_us.unwrap_or(last).max(last)
    }

    /// Redis's clock.
    pub fn redis_clock(&self) -> ClockTrace {
        self.header.redis_clock.clone().unwrap_or_default()
    }

    /// Writes the history as JSON Lines.
    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &self.header)?;
        out.write_all(b"\n")?;
        for event in &self.events {
            serde_json::to_writer(&mut *out, event)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Writes the history to `path`.
    pub fn save(&self, path: &std::path::Path) -> Result<(), HistoryError> {
        let io = |source| HistoryError::Io { path: path.display().to_string(), source };
        let file = std::fs::File::create(path).map_err(io)?;
        self.write(&mut std::io::BufWriter::new(file)).map_err(io)
    }

    /// Reads a history file.
    pub fn load(path: &std::path::Path) -> Result<History, HistoryError> {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| HistoryError::Io { path: shown.clone(), source })?;
        History::read(std::io::BufReader::new(file), &shown)
    }

    /// Reads a history from JSON Lines; `path` names it in errors. Every line is held to the
    /// limits ([`LINE_BYTES_MAX`], [`EVENTS_MAX`], [`TIME_US_MAX`]) before it is used.
    pub fn read(input: impl BufRead, path: &str) -> Result<History, HistoryError> {
        let mut reader = Lines { input, path, number: 0, line: Vec::new() };
        let header = reader.header()?;
        let mut events: Vec<Event> = Vec::new();
        while let Some(text) = reader.next_line()? {
            if events.len() == EVENTS_MAX {
                return Err(reader.malformed(format!("more than {EVENTS_MAX} events")));
            }
            let mut event: Event = serde_json::from_str(text).map_err(|e| reader.malformed(one_line(&e)))?;
            if event.seq == crate::event::SEQ_UNSET {
                event.seq = events.len() as u64;
            }
            if let Some(problem) = event.beyond_limits(TIME_US_MAX) {
                return Err(reader.malformed(problem));
            }
            events.push(event);
        }
        // A writer need not sort; ties keep the file's order.
        events.sort_by_key(|e| e.at_us);
        assert!(events.windows(2).all(|w| w[0].at_us <= w[1].at_us), "a history is in true-time order");
        Ok(History { header, events })
    }
}

/// Reads a file line by line, each within [`LINE_BYTES_MAX`], skipping blank lines.
struct Lines<'a, R> {
    input: R,
    path: &'a str,
    number: usize,
    line: Vec<u8>,
}

impl<R: BufRead> Lines<'_, R> {
    fn malformed(&self, problem: String) -> HistoryError {
        HistoryError::Malformed { path: self.path.to_owned(), line: self.number, problem }
    }

    fn next_line(&mut self) -> Result<Option<&str>, HistoryError> {
        loop {
            self.line.clear();
            self.number += 1;
            let limit = (LINE_BYTES_MAX + 1) as u64;
            let read = std::io::Read::take(&mut self.input, limit)
                .read_until(b'\n', &mut self.line)
                .map_err(|source| HistoryError::Io { path: self.path.to_owned(), source })?;
            if read == 0 {
                return Ok(None);
            }
            if self.line.len() > LINE_BYTES_MAX {
                return Err(self.malformed(format!("line longer than {LINE_BYTES_MAX} bytes")));
            }
            if !self.line.iter().all(u8::is_ascii_whitespace) {
                break;
            }
        }
        let number = self.number;
        std::str::from_utf8(&self.line).map(Some).map_err(|_| HistoryError::Malformed {
            path: self.path.to_owned(),
            line: number,
            problem: "not UTF-8".to_owned(),
        })
    }

    fn header(&mut self) -> Result<Header, HistoryError> {
        let Some(text) = self.next_line()? else { return Err(self.malformed("empty: no header line".to_owned())) };
        let header: Header =
            serde_json::from_str(text).map_err(|e| self.malformed(format!("header: {}", one_line(&e))))?;
        if header.format != HISTORY_FORMAT {
            return Err(self.malformed(format!("format {} (this version reads {HISTORY_FORMAT})", header.format)));
        }
        if header.nodes.len() > HEADER_ITEMS_MAX || header.lease_keys.len() > HEADER_ITEMS_MAX {
            return Err(self.malformed(format!("more than {HEADER_ITEMS_MAX} nodes or lease objects")));
        }
        header.bounds.validate().map_err(|problem| self.malformed(problem))?;
        let times = [header.liveness_from_us, header.end_us];
        if times.iter().flatten().any(|t| *t > TIME_US_MAX) {
            return Err(self.malformed(format!("a header time is beyond the limit of {TIME_US_MAX} µs")));
        }
        Ok(header)
    }
}

/// serde_json's message, which is one line already, without its position (the line number
/// is given by the caller).
fn one_line(error: &serde_json::Error) -> String {
    let text = error.to_string();
    text.split(" at line ").next().unwrap_or(&text).replace('\n', " ")
}
