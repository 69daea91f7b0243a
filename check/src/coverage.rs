//! Window coverage: which stretches of a node's work a run put a concurrent event into.
//!
//! A *window* is a stretch of one node incarnation's execution where another actor's event
//! would matter. The classes come from the history's own event kinds, so that a new kind of
//! request gets its windows without anyone listing them:
//!
//! - `in-flight <COMMAND>`: a request sent and its reply not yet read, per command name;
//! - `read-then-write`: from a read's reply to the node's next write on that connection;
//! - `near-deadline`: the last tenth of a term's validity;
//! - `after-restart`: the first second of a restarted incarnation;
//! - `after-reconnect`: from a connection closed by the server to the node's next command;
//! - `hand-over`: from a graceful stop asked to the program's exit.
//!
//! A *concurrent event* is another actor's doing: another node's write to a key the window
//! is about, a push delivered to the node, another node's grant of the lease, and each fault
//! family. A request's windows are about the keys its commands name; the others
//! (`near-deadline`, `after-restart`, `after-reconnect`, `hand-over`) are about the node's
//! working set: every key its incarnation touched before the window ended. A cell counts the windows that had at least one such event inside.
//! Cells that stay zero over many seeds are the search's blind spots.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{unquote, Event, EventKind};
use crate::fault::is_read;
use crate::node::NodeId;

/// A restarted incarnation's first stretch counts as just after the restart for this long.
const AFTER_RESTART_US: u64 = 1_000_000;
/// The last tenth of a lease's validity is near its deadline.
const NEAR_DEADLINE_PARTS: u64 = 10;

/// Hits per window class and concurrent event, over one or many runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// How many runs were measured.
    pub runs: u64,
    /// Windows seen, per class.
    pub windows: BTreeMap<String, u64>,
    /// Windows with at least one concurrent event of the kind inside, per (class, kind).
    pub hits: BTreeMap<String, BTreeMap<String, u64>>,
}

/// One window of one node incarnation: its class, its stretch of true time, and the keys the
/// node touched in it. Borrowed from the events: a run has tens of thousands of windows.
struct Window<'a> {
    class: Class,
    node: &'a NodeId,
    incarnation: u64,
    from_us: u64,
    to_us: u64,
    keys: Vec<&'a str>,
}

/// One concurrent event: its kind, when, by whom, on which key (if any).
struct Concurrent<'a> {
    kind: Kind,
    at_us: u64,
    by: &'a NodeId,
    key: Option<&'a str>,
}

/// A window class: the fixed ones, or a command in flight (by its verb).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    ReadThenWrite,
    NearDeadline,
    AfterRestart,
    AfterReconnect,
    HandOver,
    /// The index of the verb among the run's parsed commands' verbs.
    InFlight(usize),
}

/// A concurrent event's kind: the fixed ones, or a fault of a family (by its name).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    OtherNodeWrite,
    PushDelivered,
    OtherNodeGrant,
    /// The index of the fault's name among the run's fault names.
    Fault(usize),
}

impl Kind {
    /// The table's name of a kind, `faults` the run's fault names.
    fn name(self, faults: &[String]) -> String {
        match self {
            Kind::OtherNodeWrite => CONCURRENT_KINDS[0].to_owned(),
            Kind::PushDelivered => CONCURRENT_KINDS[1].to_owned(),
            Kind::OtherNodeGrant => CONCURRENT_KINDS[2].to_owned(),
            Kind::Fault(name) => format!("fault {}", faults[name]),
        }
    }
}

/// A command of the history, parsed once: its verb, its keys, whether it reads or writes.
struct Parsed {
    verb: usize,
    keys: Vec<String>,
    read: Option<bool>,
}

/// The run's commands parsed once: per event, its command (for a `RedisInvoke`); the verbs.
struct Commands {
    of_event: Vec<Option<Parsed>>,
    verbs: Vec<String>,
}

/// The kinds of concurrent event every table has a column for, fault families apart.
pub const CONCURRENT_KINDS: [&str; 3] = ["other-node-write", "push-delivered", "other-node-grant"];

impl Coverage {
    /// The coverage of one run's `events` (sorted by true time).
    pub fn of(events: &[Event]) -> Coverage {
        let commands = Commands::of(events);
        let windows = windows(events, &commands);
        let (concurrent, faults) = concurrent(events, &commands);
        let mut seen_windows: BTreeMap<Class, u64> = BTreeMap::new();
        let mut hits: BTreeMap<(Class, Kind), u64> = BTreeMap::new();
        let mut kinds: Vec<Kind> = Vec::new();
        for window in &windows {
            *seen_windows.entry(window.class).or_default() += 1;
            let first = concurrent.partition_point(|c| c.at_us <= window.from_us);
            kinds.clear();
            for c in concurrent[first..].iter().take_while(|c| c.at_us < window.to_us) {
                if kinds.contains(&c.kind) || !c.concerns(window) {
                    continue;
                }
                kinds.push(c.kind);
                *hits.entry((window.class, c.kind)).or_default() += 1;
            }
        }
        // The table's own strings, made once per class and kind.
        let mut coverage = Coverage { runs: 1, ..Coverage::default() };
        for (class, n) in seen_windows {
            coverage.windows.insert(commands.class_name(class), n);
            coverage.hits.entry(commands.class_name(class)).or_default();
        }
        for ((class, kind), n) in hits {
            coverage
                .hits
                .get_mut(&commands.class_name(class))
                .expect("a window of the class")
                .insert(kind.name(&faults), n);
        }
        coverage
    }
    /// Adds another measurement in.
    pub fn merge(&mut self, other: &Coverage) {
        self.runs += other.runs;
        for (class, n) in &other.windows {
            *self.windows.entry(class.clone()).or_default() += n;
        }
        for (class, row) in &other.hits {
            let mine = self.hits.entry(class.clone()).or_default();
            for (kind, n) in row {
                *mine.entry(kind.clone()).or_default() += n;
            }
        }
    }

    /// The table: a row per window class, a column per concurrent event (the fixed kinds,
    /// then every fault family seen), hits per 1,000 runs; `0` marks a blind spot.
    pub fn table(&self) -> String {
        let mut columns: Vec<String> = CONCURRENT_KINDS.iter().map(|k| (*k).to_owned()).collect();
        for row in self.hits.values() {
            for kind in row.keys() {
                if !columns.contains(kind) {
                    columns.push(kind.clone());
                }
            }
        }
        let per_1000 = |n: u64| if self.runs == 0 { 0.0 } else { n as f64 * 1000.0 / self.runs as f64 };
        let width = self.windows.keys().map(String::len).max().unwrap_or(6).max(6);
        let mut out = format!("{:<width$} {:>9}", "window", "windows");
        for column in &columns {
            out += &format!(" {column:>w$}", w = column.len().max(7));
        }
        out += &format!("   (hits per 1,000 runs over {} runs)\n", self.runs);
        for (class, n) in &self.windows {
            out += &format!("{class:<width$} {:>9.0}", per_1000(*n));
            let row = self.hits.get(class);
            for column in &columns {
                let hits = row.and_then(|r| r.get(column)).copied().unwrap_or(0);
                out += &format!(" {:>w$.0}", per_1000(hits), w = column.len().max(7));
            }
            out.push('\n');
        }
        out
    }
}

impl Concurrent<'_> {
    /// Whether this event concerns `window`: another actor's, and for a write, on a key the
    /// window's node touched (a push is delivered to the window's node itself).
    fn concerns(&self, window: &Window) -> bool {
        match self.kind {
            Kind::PushDelivered => self.by == window.node,
            Kind::OtherNodeWrite => self.by != window.node && self.key.is_some_and(|k| window.keys.contains(&k)),
            Kind::OtherNodeGrant => self.by != window.node,
            Kind::Fault(_) => true,
        }
    }
}

impl Commands {
    /// Every `RedisInvoke` of `events` parsed.
    fn of(events: &[Event]) -> Commands {
        let mut verbs: Vec<String> = Vec::new();
        let of_event = events
            .iter()
            .map(|e| {
                let EventKind::RedisInvoke { args, .. } = &e.kind else { return None };
                let (verb, keys) = verb_and_keys(args);
                let read = is_read(verb.as_bytes());
                let index = verbs.iter().position(|v| *v == verb).unwrap_or_else(|| {
                    verbs.push(verb);
                    verbs.len() - 1
                });
                Some(Parsed { verb: index, keys, read })
            })
            .collect();
        Commands { of_event, verbs }
    }

    /// The table's name of a class.
    fn class_name(&self, class: Class) -> String {
        match class {
            Class::ReadThenWrite => "read-then-write".to_owned(),
            Class::NearDeadline => "near-deadline".to_owned(),
            Class::AfterRestart => "after-restart".to_owned(),
            Class::AfterReconnect => "after-reconnect".to_owned(),
            Class::HandOver => "hand-over".to_owned(),
            Class::InFlight(verb) => format!("in-flight {}", self.verbs[verb]),
        }
    }
}

/// A command's name (upper-cased) and the keys it names — a script's `KEYS`, or a plain
/// command's first argument — unquoted; the rest (a script's source above all) is not read.
fn verb_and_keys(args: &[String]) -> (String, Vec<String>) {
    let verb = args.first().map(|v| unquote(v).to_ascii_uppercase()).unwrap_or_default();
    let keys = if verb.starts_with("EVAL") || verb.starts_with("FCALL") {
        let numkeys: usize = args.get(2).and_then(|n| unquote(n).parse().ok()).unwrap_or(0);
        args.iter().skip(3).take(numkeys).map(|k| unquote(k)).collect()
    } else {
        args.get(1).map(|k| unquote(k)).into_iter().collect()
    };
    (verb, keys)
}

/// Every window of the run, from the events each node recorded.
fn windows<'a>(events: &'a [Event], commands: &'a Commands) -> Vec<Window<'a>> {
    let mut out = Vec::new();
    requests(events, commands, &mut out);
    lifecycle(events, &mut out);
    working_sets(events, commands, &mut out);
    out
}

/// Fills the keys of the windows that are about the node's working set (those built
/// without keys): every key the node incarnation named in a command before the window ended.
fn working_sets<'a>(events: &'a [Event], commands: &'a Commands, out: &mut [Window<'a>]) {
    // Per node incarnation: each key with the first time it was named, in order.
    let mut touched: BTreeMap<(&NodeId, u64), Vec<(u64, &str)>> = BTreeMap::new();
    for (e, parsed) in events.iter().zip(&commands.of_event) {
        let Some(parsed) = parsed else { continue };
        let keys = touched.entry((&e.node, e.incarnation)).or_default();
        for key in &parsed.keys {
            if !keys.iter().any(|(_, k)| k == key) {
                keys.push((e.at_us, key));
            }
        }
    }
    for window in out.iter_mut().filter(|w| w.keys.is_empty()) {
        let Some(keys) = touched.get(&(window.node, window.incarnation)) else { continue };
        window.keys = keys.iter().take_while(|(at_us, _)| *at_us < window.to_us).map(|(_, k)| *k).collect();
    }
}

/// In-flight and read-then-write windows, and reconnects, from the Redis traffic.
fn requests<'a>(events: &'a [Event], commands: &'a Commands, out: &mut Vec<Window<'a>>) {
    // Per request: when it was sent, and its command.
    let mut pending: BTreeMap<(&NodeId, u64, u64, u64), (u64, &Parsed)> = BTreeMap::new();
    // Per connection: when the last read's reply came, with its keys.
    let mut read: BTreeMap<(&NodeId, u64, u64), (u64, &[String])> = BTreeMap::new();
    // Per node incarnation: when the server last closed one of its connections.
    let mut closed: BTreeMap<(&NodeId, u64), u64> = BTreeMap::new();
    for (e, parsed) in events.iter().zip(&commands.of_event) {
        let node = (&e.node, e.incarnation);
        let window = |class: Class, from_us: u64, keys: Vec<&'a str>| Window {
            class,
            node: &e.node,
            incarnation: e.incarnation,
            from_us,
            to_us: e.at_us,
            keys,
        };
        match (&e.kind, parsed) {
            (EventKind::RedisInvoke { conn, op, .. }, Some(parsed)) => {
                if parsed.read == Some(false) {
                    if let Some((from_us, read_keys)) = read.remove(&(&e.node, e.incarnation, *conn)) {
                        let keys = read_keys.iter().chain(&parsed.keys).map(String::as_str).collect();
                        out.push(window(Class::ReadThenWrite, from_us, keys));
                    }
                }
                if let Some(from_us) = closed.remove(&node) {
                    // About the working set: the first command back is often the client's
                    // own handshake, which names no key of the program's.
                    out.push(window(Class::AfterReconnect, from_us, Vec::new()));
                }
                pending.insert((&e.node, e.incarnation, *conn, *op), (e.at_us, parsed));
            }
            (EventKind::RedisComplete { conn, op, .. }, _) => {
                let Some((sent_us, sent)) = pending.remove(&(&e.node, e.incarnation, *conn, *op)) else { continue };
                if sent.read == Some(true) {
                    read.insert((&e.node, e.incarnation, *conn), (e.at_us, &sent.keys));
                }
                let keys = sent.keys.iter().map(String::as_str).collect();
                out.push(window(Class::InFlight(sent.verb), sent_us, keys));
            }
            (EventKind::RedisClosed { .. }, _) => {
                closed.insert(node, e.at_us);
            }
            _ => {}
        }
    }
}

/// Near-deadline, after-restart and hand-over windows, from the elector's and the node's
/// transitions.
fn lifecycle<'a>(events: &'a [Event], out: &mut Vec<Window<'a>>) {
    let mut stopping: BTreeMap<(&NodeId, u64), u64> = BTreeMap::new();
    let mut started: BTreeMap<&NodeId, u64> = BTreeMap::new();
    for e in events {
        let window = |class: Class, from_us: u64, to_us: u64| Window {
            class,
            node: &e.node,
            incarnation: e.incarnation,
            from_us,
            to_us,
            keys: Vec::new(),
        };
        match &e.kind {
            EventKind::Acquired { deadline_true_us, .. } | EventKind::Renewed { deadline_true_us, .. } => {
                let validity = deadline_true_us.saturating_sub(e.at_us);
                let from_us = deadline_true_us.saturating_sub(validity / NEAR_DEADLINE_PARTS);
                out.push(window(Class::NearDeadline, from_us.max(e.at_us), *deadline_true_us));
            }
            // A node's first start is not a restart.
            EventKind::ElectionStarted if started.insert(&e.node, e.incarnation).is_some() => {
                out.push(window(Class::AfterRestart, e.at_us, e.at_us + AFTER_RESTART_US));
            }
            EventKind::StopRequested => {
                stopping.insert((&e.node, e.incarnation), e.at_us);
            }
            EventKind::Exited => {
                if let Some(from_us) = stopping.remove(&(&e.node, e.incarnation)) {
                    out.push(window(Class::HandOver, from_us, e.at_us));
                }
            }
            _ => {}
        }
    }
}

/// Every concurrent event of the run, in true-time order, and the names of its faults.
fn concurrent<'a>(events: &'a [Event], commands: &'a Commands) -> (Vec<Concurrent<'a>>, Vec<String>) {
    let mut out = Vec::new();
    let mut faults: Vec<String> = Vec::new();
    for (e, parsed) in events.iter().zip(&commands.of_event) {
        let (kind, key) = match &e.kind {
            EventKind::RedisInvoke { .. } => {
                let parsed = parsed.as_ref().expect("every invoke is parsed");
                if parsed.read != Some(false) {
                    continue;
                }
                // One event per key written: a window on any of them is hit.
                for key in &parsed.keys {
                    out.push(Concurrent { kind: Kind::OtherNodeWrite, at_us: e.at_us, by: &e.node, key: Some(key) });
                }
                continue;
            }
            EventKind::RedisPush { .. } => (Kind::PushDelivered, None),
            EventKind::Acquired { .. } => (Kind::OtherNodeGrant, None),
            EventKind::FaultInjected { fault, .. } => {
                let name = fault.kind.name();
                let index = faults.iter().position(|f| *f == name).unwrap_or_else(|| {
                    faults.push(name);
                    faults.len() - 1
                });
                (Kind::Fault(index), None)
            }
            _ => continue,
        };
        out.push(Concurrent { kind, at_us: e.at_us, by: &e.node, key });
    }
    debug_assert!(out.windows(2).all(|w| w[0].at_us <= w[1].at_us), "concurrent events in order");
    (out, faults)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{FaultKind, Target};
    use crate::fixtures::{acquired, ev, history, injected, redis_complete as complete, redis_invoke as invoke};

    #[test]
    fn another_nodes_write_inside_a_read_then_write_window_is_a_hit() {
        let events = history(vec![
            invoke(0, "a", 0, &["GET", "k"]),
            complete(10, "a", 0, "\"1\""),
            invoke(20, "b", 0, &["SET", "k", "2"]),
            complete(25, "b", 0, "OK"),
            invoke(40, "a", 1, &["SET", "k", "3"]),
            complete(45, "a", 1, "OK"),
            // Another key written in the same stretch is no hit.
            invoke(30, "b", 1, &["SET", "other", "x"]),
        ]);
        let coverage = Coverage::of(&events);
        assert_eq!(coverage.windows["read-then-write"], 1);
        assert_eq!(coverage.hits["read-then-write"]["other-node-write"], 1, "{coverage:?}");
        assert_eq!(coverage.windows["in-flight GET"], 1);
        assert!(!coverage.hits["in-flight GET"].contains_key("other-node-write"), "b wrote after a's reply");
    }

    #[test]
    fn a_restarted_nodes_window_is_about_its_working_set() {
        let events = history(vec![
            ev(0, "a", 1, EventKind::ElectionStarted),
            ev(100, "a", 2, EventKind::ElectionStarted),
            ev(
                150,
                "a",
                2,
                EventKind::RedisInvoke { conn: 1, op: 0, args: vec!["\"GET\"".into(), "\"lease\"".into()] },
            ),
            invoke(400, "b", 0, &["SET", "lease", "b"]),
            invoke(500, "b", 1, &["SET", "unrelated", "b"]),
        ]);
        let coverage = Coverage::of(&events);
        assert_eq!(coverage.windows["after-restart"], 1);
        assert_eq!(coverage.hits["after-restart"]["other-node-write"], 1, "b wrote the key a's new incarnation reads");
    }

    #[test]
    fn a_grant_or_a_fault_near_a_deadline_is_a_hit_and_tables_add_up() {
        let pause = FaultKind::Pause { node: Target::Leader };
        let events = history(vec![
            acquired(0, "a", 1, 3_000),
            injected(2_800, 0, pause, &["a"]),
            acquired(2_900, "b", 2, 6_000),
        ]);
        let coverage = Coverage::of(&events);
        assert_eq!(coverage.windows["near-deadline"], 2);
        let near = &coverage.hits["near-deadline"];
        assert_eq!(near["other-node-grant"], 1, "b's grant in a's last tenth");
        assert_eq!(near["fault pause"], 1);
        let mut total = Coverage::default();
        total.merge(&coverage);
        total.merge(&coverage);
        assert_eq!(total.runs, 2);
        assert_eq!(total.hits["near-deadline"]["other-node-grant"], 2);
        let table = total.table();
        assert!(table.contains("near-deadline") && table.contains("fault pause"), "{table}");
        // Per 1,000 runs: 2 windows in each of 2 runs.
        assert!(table.lines().any(|l| l.starts_with("near-deadline") && l.contains(" 2000 ")), "{table}");
    }
}
