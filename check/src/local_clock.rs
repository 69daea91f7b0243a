//! Each node incarnation's clock as its own events saw it: the pairs (true time, local time)
//! its events carry. A deadline a node keeps on its own clock passes, in true time, when that
//! clock reaches it — later than the true instant it was converted to when it was set if the
//! clock slowed down since (a drift that began with a pause), earlier if it sped up.

use std::collections::BTreeMap;

use crate::event::Event;
use crate::node::NodeId;

/// The clocks of every node incarnation in a history.
#[derive(Debug, Clone, Default)]
pub struct LocalClocks {
    /// Per node incarnation, (true µs, local µs) in true-time order, local time made
    /// non-decreasing (a monotonic clock).
    samples: BTreeMap<NodeId, BTreeMap<u64, Vec<(u64, i64)>>>,
}

impl LocalClocks {
    /// The clocks seen by `events` (sorted by true time).
    pub fn of(events: &[Event]) -> LocalClocks {
        let mut samples: BTreeMap<NodeId, BTreeMap<u64, Vec<(u64, i64)>>> = BTreeMap::new();
        for event in events {
            let Some(local_us) = event.local_us else { continue };
            if !samples.contains_key(event.node.as_str()) {
                samples.insert(event.node.clone(), BTreeMap::new());
            }
            let node = samples.get_mut(event.node.as_str()).expect("just inserted");
            let line = node.entry(event.incarnation).or_default();
            let floor = line.last().map_or(i64::MIN, |&(_, l)| l);
            line.push((event.at_us, local_us.max(floor)));
        }
        LocalClocks { samples }
    }

    /// The true instant at which `event`'s node incarnation's clock reached `local_us`,
    /// interpolated between the two of its events around it (exact when the clock's rate
    /// changed only at its own events — a pause, a resume — and within the rate change
    /// between two events otherwise). Past its last event, from that event at the true
    /// rate: what the clock did after it is not seen, and it is the latest reading (the
    /// conversion the node made when it set the deadline is older: a drift that began after
    /// it, as in a pause, moved the deadline; chaos-all 0xd926a884254ea47d). `fallback_us`
    /// when the history has no reading of the node's clock.
    pub fn true_at(&self, event: &Event, local_us: i64, fallback_us: u64) -> u64 {
        let line = self.samples.get(event.node.as_str()).and_then(|node| node.get(&event.incarnation));
        let Some(line) = line else { return fallback_us };
        let after = line.partition_point(|&(_, l)| l < local_us);
        if after == line.len() {
            let Some(&(t_last, l_last)) = line.last() else { return fallback_us };
            debug_assert!(l_last < local_us, "past the last reading");
            return t_last.saturating_add(local_us.abs_diff(l_last));
        }
        let (t1, l1) = line[after];
        if after == 0 {
            return t1.min(fallback_us);
        }
        let (t0, l0) = line[after - 1];
        debug_assert!(l0 < local_us && local_us <= l1 && t0 <= t1, "the interpolation brackets the deadline");
        let span_local = (l1 - l0) as u128;
        let ahead = (local_us - l0) as u128;
        t0 + ((t1 - t0) as u128 * ahead / span_local) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    fn at(true_ms: u64, local_ms: i64) -> Event {
        Event {
            seq: 0,
            at_us: true_ms * 1000,
            node: NodeId::replica(1),
            incarnation: 1,
            local_us: Some(local_ms * 1000),
            kind: EventKind::Paused,
        }
    }

    #[test]
    fn a_deadline_passes_when_the_nodes_own_clock_reaches_it() {
        // A clock at true rate until 20 s, then 3 % slow: its 21.94 s is true 22 s.
        let events = vec![at(10_000, 10_000), at(20_000, 20_000), at(22_000, 21_940)];
        let clocks = LocalClocks::of(&events);
        assert_eq!(clocks.true_at(&events[0], 21_940_000, 0), 22_000_000);
        assert_eq!(clocks.true_at(&events[0], 15_000_000, 0), 15_000_000);
        // Past its last event: from it, at the true rate (not the conversion made earlier).
        assert_eq!(clocks.true_at(&events[0], 30_000_000, 31_000_000), 30_060_000);
        // No reading at all: the node's own conversion.
        let other = Event { node: NodeId::replica(2), ..at(0, 0) };
        assert_eq!(LocalClocks::of(&events).true_at(&other, 5_000_000, 4_900_000), 4_900_000);
    }
}
