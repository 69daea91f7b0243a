//! Terms: the intervals in which a node believed it led, from the elector's transitions.

use std::collections::BTreeMap;

use crate::history::{Event, EventKind};

/// One believed-leadership interval of one node incarnation.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The Acquired event.
    pub acquired: Event,
    /// The epoch.
    pub epoch: u64,
    /// True time it began (µs).
    pub from_us: u64,
    /// True time it ended (µs): the step-down (or crash, or exit), or the last local deadline
    /// if that came first — a node stops believing at its deadline even when it is paused.
    pub until_us: u64,
    /// The event that ended it, when one did before the deadline.
    pub ended_by: Option<Event>,
}

impl Term {
    /// `node-1#2`.
    pub fn holder(&self) -> String {
        super::who(&self.acquired)
    }

    /// Whether the term covers `at_us`.
    pub fn covers(&self, at_us: u64) -> bool {
        self.from_us <= at_us && at_us < self.until_us
    }
}

/// Whether `event`'s node incarnation held `epoch` at `at_us`, by an index of terms by epoch.
/// The instant a term ends counts as within it: a check of the lease made at the same instant
/// as the step-down may have come first (one instant's events have no order in true time).
pub(crate) fn held(by_epoch: &BTreeMap<u64, Vec<&Term>>, event: &Event, epoch: u64, at_us: u64) -> bool {
    by_epoch.get(&epoch).is_some_and(|terms| {
        terms.iter().any(|t| {
            t.acquired.node == event.node
                && t.acquired.incarnation == event.incarnation
                && t.from_us <= at_us
                && at_us <= t.until_us
        })
    })
}

/// Terms indexed by epoch.
pub(crate) fn by_epoch(terms: &[Term]) -> BTreeMap<u64, Vec<&Term>> {
    let mut index: BTreeMap<u64, Vec<&Term>> = BTreeMap::new();
    for term in terms {
        index.entry(term.epoch).or_default().push(term);
    }
    index
}

/// Every term in `events` (sorted by true time), in order of their start.
pub fn terms(events: &[Event]) -> Vec<Term> {
    let mut open: BTreeMap<(String, u64), (Event, u64, u64)> = BTreeMap::new();
    let mut done = Vec::new();
    let close = |acquired: Event, epoch: u64, deadline: u64, ended: Option<&Event>| {
        let (until_us, ended_by) = match ended {
            Some(e) if e.at_us < deadline => (e.at_us, Some(e.clone())),
            _ => (deadline, None),
        };
        Term { from_us: acquired.at_us, acquired, epoch, until_us, ended_by }
    };
    for event in events {
        let key = (event.node.clone(), event.incarnation);
        match &event.kind {
            EventKind::Acquired { epoch, deadline_true_us, .. } => {
                if let Some((acquired, epoch, deadline)) = open.remove(&key) {
                    done.push(close(acquired, epoch, deadline, Some(event)));
                }
                open.insert(key, (event.clone(), *epoch, *deadline_true_us));
            }
            EventKind::Renewed { deadline_true_us, .. } => {
                if let Some(term) = open.get_mut(&key) {
                    term.2 = term.2.max(*deadline_true_us);
                }
            }
            EventKind::Believes { deadline_true_us, .. } => {
                // Reported before the old deadline passed; it may move either way.
                if let Some(term) = open.get_mut(&key) {
                    if event.at_us <= term.2 {
                        term.2 = *deadline_true_us;
                    }
                }
            }
            EventKind::SteppedDown { .. } | EventKind::Crashed | EventKind::Exited => {
                if let Some((acquired, epoch, deadline)) = open.remove(&key) {
                    done.push(close(acquired, epoch, deadline, Some(event)));
                }
            }
            _ => {}
        }
    }
    done.extend(open.into_values().map(|(acquired, epoch, deadline)| close(acquired, epoch, deadline, None)));
    done.sort_by_key(|t| (t.from_us, t.acquired.seq));
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixtures::*;

    #[test]
    fn a_term_ends_at_its_step_down_or_its_deadline_whichever_is_first() {
        let events = history(vec![
            acquired(0, "a", 1, 3_000),
            renewed(1_000, "a", 1, 4_000),
            stepped_down(2_500, "a", 1),
            acquired(5_000, "b", 2, 8_000),
        ]);
        let terms = terms(&events);
        assert_eq!(terms.len(), 2);
        assert_eq!((terms[0].from_us, terms[0].until_us), (0, 2_500_000));
        assert!(terms[0].ended_by.is_some());
        assert_eq!((terms[1].from_us, terms[1].until_us, terms[1].ended_by.clone()), (5_000_000, 8_000_000, None));
    }
}
