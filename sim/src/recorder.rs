//! Recording a run's history as it happens: one shared, append-only journal, and a recorder
//! per node incarnation that stamps its events with the node's name and local time.

use std::sync::{Arc, Mutex};

use check::{Event, EventKind, NodeId};

use crate::clock::{SimClock, TrueTime};

/// A run's events, shared by every recorder.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    events: Arc<Mutex<Vec<Event>>>,
    time: TrueTime,
}

impl Journal {
    pub(crate) fn new(time: TrueTime) -> Journal {
        Journal { events: Arc::default(), time }
    }

    /// Records `kind` for `node` now.
    pub fn record(&self, node: &NodeId, incarnation: u64, local_us: Option<i64>, kind: EventKind) {
        let at_us = self.time.now_us();
        let mut events = self.events.lock().expect("history lock");
        let seq = events.len() as u64;
        // Each event gets the next number: the order of recording breaks ties in true time.
        debug_assert!(events.last().is_none_or(|last| last.seq + 1 == seq));
        events.push(Event { seq, at_us, node: node.clone(), incarnation, local_us, kind });
    }

    /// The events so far, in true-time order.
    pub fn events(&self) -> Vec<Event> {
        let mut events = self.events.lock().expect("history lock").clone();
        // Hosts run one after another within a tick, each at its own exact time: sort.
        events.sort_by_key(|e| (e.at_us, e.seq));
        events
    }

    /// Runs `f` over the recorded events without copying them (recording order).
    pub fn with_events<R>(&self, f: impl FnOnce(&[Event]) -> R) -> R {
        f(&self.events.lock().expect("history lock"))
    }
}

/// Records a node's events, stamped with its name, incarnation and local time.
#[derive(Debug, Clone)]
pub struct Recorder {
    journal: Journal,
    node: NodeId,
    incarnation: u64,
    clock: SimClock,
}

impl Recorder {
    pub(crate) fn new(journal: Journal, node: NodeId, incarnation: u64, clock: SimClock) -> Recorder {
        Recorder { journal, node, incarnation, clock }
    }

    /// Records `kind` now.
    pub fn record(&self, kind: EventKind) {
        self.journal.record(&self.node, self.incarnation, Some(self.clock.local_us()), kind);
    }

    /// True time now, µs.
    pub fn now_us(&self) -> u64 {
        self.journal.time.now_us()
    }

    /// The true instant (µs) at which this node's clock will read `local_us`.
    pub fn true_at(&self, local_us: i64) -> u64 {
        self.clock.true_at(local_us)
    }
}
