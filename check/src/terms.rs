//! Terms: the intervals in which a node believed it led, from the elector's transitions.

use std::collections::BTreeMap;

use crate::event::{Event, EventKind};
use crate::local_clock::LocalClocks;
use crate::node::NodeId;

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
    /// Stretches inside `[from_us, until_us)` when the node did not believe it led: its
    /// deadline passed (it was paused, or its elector never looked), then a renewal reply
    /// read late moved the deadline on again. Sorted, disjoint.
    pub lapses: Vec<(u64, u64)>,
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

    /// Whether the node believed it led at `at_us`: inside the term (its end instant
    /// included, see [`held`]) and not in a lapse.
    fn believed_at(&self, at_us: u64) -> bool {
        self.from_us <= at_us && at_us <= self.until_us && !self.lapses.iter().any(|&(a, b)| a < at_us && at_us < b)
    }

    /// The stretches the node believed it led, in order: the term less its lapses.
    pub fn believed(&self) -> Vec<(u64, u64)> {
        let mut pieces = Vec::with_capacity(self.lapses.len() + 1);
        let mut from = self.from_us;
        for &(lapsed, revived) in &self.lapses {
            pieces.push((from, lapsed));
            from = revived;
        }
        pieces.push((from, self.until_us));
        pieces
    }

    /// For how long both `self` and `other` believed they led (µs).
    pub fn shared_us(&self, other: &Term) -> u64 {
        let theirs = other.believed();
        self.believed()
            .iter()
            .flat_map(|&(a0, a1)| theirs.iter().map(move |&(b0, b1)| a1.min(b1).saturating_sub(a0.max(b0))))
            .sum()
    }

    /// The total length of the lapses between `from_us` and `to_us` (µs).
    pub fn lapsed_us(&self, from_us: u64, to_us: u64) -> u64 {
        self.lapses.iter().map(|&(a, b)| b.min(to_us).saturating_sub(a.max(from_us))).sum()
    }
}

/// Whether `event`'s node incarnation held `epoch` at `at_us`, by an index of terms by epoch.
/// The instant a term ends counts as within it: a check of the lease made at the same instant
/// as the step-down may have come first (one instant's events have no order in true time).
pub(crate) fn held(by_epoch: &BTreeMap<u64, Vec<&Term>>, event: &Event, epoch: u64, at_us: u64) -> bool {
    by_epoch.get(&epoch).is_some_and(|terms| {
        terms.iter().any(|t| {
            t.acquired.node == event.node && t.acquired.incarnation == event.incarnation && t.believed_at(at_us)
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

/// Every term in `events` (sorted by true time), in order of their start. A term's deadline
/// is kept on its node's own clock: it passes when that clock reaches it ([`LocalClocks`]),
/// not at the true instant it was converted to when it was set (the clock's rate may change
/// after: a drift that begins during a pause).
pub fn terms(events: &[Event]) -> Vec<Term> {
    let clocks = LocalClocks::of(events);
    let mut open: BTreeMap<(NodeId, u64), Open> = BTreeMap::new();
    let mut done = Vec::new();
    for event in events {
        let key = (event.node.clone(), event.incarnation);
        match &event.kind {
            EventKind::Acquired { epoch, deadline_true_us, deadline_local_us } => {
                if let Some(term) = open.remove(&key) {
                    done.push(term.close(Some(event)));
                }
                let deadline = clocks.true_at(event, *deadline_local_us, *deadline_true_us);
                let term = Open {
                    acquired: event.clone(),
                    epoch: *epoch,
                    deadline,
                    deadline_local: *deadline_local_us,
                    lapses: Vec::new(),
                };
                open.insert(key, term);
            }
            EventKind::Renewed { deadline_true_us, deadline_local_us, .. } => {
                if let Some(term) = open.get_mut(&key) {
                    term.renewed(
                        event,
                        *deadline_local_us,
                        clocks.true_at(event, *deadline_local_us, *deadline_true_us),
                    );
                }
            }
            EventKind::Believes { deadline_true_us, deadline_local_us, .. } => {
                // Reported before the old deadline passed; it may move either way.
                if let Some(term) = open.get_mut(&key) {
                    if event.at_us <= term.deadline {
                        term.deadline = clocks.true_at(event, *deadline_local_us, *deadline_true_us);
                        term.deadline_local = *deadline_local_us;
                    }
                }
            }
            EventKind::SteppedDown { .. } | EventKind::Crashed | EventKind::Exited => {
                if let Some(term) = open.remove(&key) {
                    done.push(term.close(Some(event)));
                }
            }
            _ => {}
        }
    }
    done.extend(open.into_values().map(|term| term.close(None)));
    done.sort_by_key(|t| (t.from_us, t.acquired.seq));
    done
}

/// A term still open: its Acquired event, epoch, current deadline (true time, and on the
/// node's own clock: whether it passed is the node's to say) and lapses so far.
struct Open {
    acquired: Event,
    epoch: u64,
    deadline: u64,
    deadline_local: i64,
    lapses: Vec<(u64, u64)>,
}

impl Open {
    /// A renewal read at `event` moving the deadline to `deadline_local` (true `deadline`).
    fn renewed(&mut self, event: &Event, deadline_local: i64, deadline: u64) {
        let local = event.local_us.unwrap_or(event.at_us as i64);
        if local <= self.deadline_local {
            self.deadline = self.deadline.max(deadline);
            self.deadline_local = self.deadline_local.max(deadline_local);
        } else if deadline_local > local {
            // A reply read after the deadline passed revives a belief that had lapsed.
            let lapse = (self.deadline.min(event.at_us), event.at_us);
            assert!(lapse.0 <= lapse.1 && self.lapses.last().is_none_or(|l| l.1 <= lapse.0), "lapses in order");
            self.lapses.push(lapse);
            self.deadline = deadline;
            self.deadline_local = deadline_local;
        }
    }

    /// The term, ended by `ended` if that came before the deadline.
    fn close(self, ended: Option<&Event>) -> Term {
        let (until_us, ended_by) = match ended {
            Some(e) if e.at_us < self.deadline => (e.at_us, Some(e.clone())),
            _ => (self.deadline, None),
        };
        Term {
            from_us: self.acquired.at_us,
            acquired: self.acquired,
            epoch: self.epoch,
            until_us,
            ended_by,
            lapses: self.lapses,
        }
    }
}

/// Nodes that believe they lead at `at_us` — a term acquired or renewed with a deadline
/// after `at_us`, not ended since — with their epochs, by node name. Events after `at_us` are
/// ignored; each node's events must be in order (any interleaving of nodes will do).
pub fn believed_leaders(events: &[Event], at_us: u64) -> Vec<(NodeId, u64)> {
    let mut terms: BTreeMap<&NodeId, Option<(u64, u64)>> = BTreeMap::new();
    for event in events.iter().filter(|e| e.at_us <= at_us) {
        let term = terms.entry(&event.node).or_insert(None);
        match &event.kind {
            EventKind::Acquired { epoch, deadline_true_us, .. }
            | EventKind::Renewed { epoch, deadline_true_us, .. }
            | EventKind::Believes { epoch, deadline_true_us, .. } => {
                *term = Some((*epoch, *deadline_true_us));
            }
            EventKind::SteppedDown { .. } | EventKind::Crashed | EventKind::ElectionStarted | EventKind::Exited => {
                *term = None;
            }
            _ => {}
        }
    }
    terms
        .into_iter()
        .filter_map(|(node, term)| {
            term.filter(|(_, deadline)| *deadline > at_us).map(|(epoch, _)| (node.clone(), epoch))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;

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

    #[test]
    fn a_renewal_read_after_the_deadline_revives_the_belief_after_a_lapse() {
        let events = history(vec![
            acquired(0, "a", 1, 3_000),
            // Read at 5 s, two seconds after the deadline, moving it to 9 s.
            renewed(5_000, "a", 1, 9_000),
            // Read after the deadline and already past: revives nothing.
            renewed(9_500, "a", 1, 9_400),
            acquired(4_000, "b", 2, 7_000),
        ]);
        let terms = terms(&events);
        let (a, b) = (&terms[0], &terms[1]);
        assert_eq!((a.from_us, a.until_us), (0, 9_000_000));
        assert_eq!(a.lapses, vec![(3_000_000, 5_000_000)]);
        assert_eq!(a.believed(), vec![(0, 3_000_000), (5_000_000, 9_000_000)]);
        // b (4 s to 7 s) shares only 5 s to 7 s with a.
        assert_eq!(a.shared_us(b), 2_000_000);
        assert_eq!(a.lapsed_us(4_000_000, 7_000_000), 1_000_000);
        let index = by_epoch(&terms);
        assert!(held(&index, &a.acquired, 1, 2_000_000));
        assert!(!held(&index, &a.acquired, 1, 4_000_000));
        assert!(held(&index, &a.acquired, 1, 6_000_000));
        // A node whose clock runs slow reads the reply past its deadline in true time but
        // before it on its own clock: it never stopped believing.
        let mut slow = renewed(3_500, "a", 1, 6_000);
        slow.local_us = Some(2_900_000);
        let slowed = super::terms(&history(vec![acquired(0, "a", 1, 3_000), slow]));
        assert_eq!(slowed[0].lapses, vec![]);
        // Its clock reads 2.9 s at true 3.5 s, its last reading: it reaches 6 s at true 6.6 s.
        assert_eq!(slowed[0].until_us, 6_600_000);
    }
}
