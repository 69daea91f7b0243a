//! Grants: each lease a node acquired, with the span in which the server granted it — from
//! the moment the node sent the request whose reply carried it to the moment it read that
//! reply. A history records what the client saw, so the server's own instant of granting is
//! known only to lie somewhere in that span.

use std::collections::BTreeMap;

use crate::event::{Event, EventKind};
use crate::node::NodeId;

/// One grant: an Acquired event and when its request was sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grant<'a> {
    /// The Acquired event (its `at_us` is when the reply was read).
    pub(crate) acquired: &'a Event,
    /// The epoch granted.
    pub(crate) epoch: u64,
    /// When the request was sent (µs): the Acquired event's own time if the history does not
    /// show the request (a history written by hand, or without Redis traffic).
    pub(crate) requested_us: u64,
}

/// A node incarnation's Redis operation: `(node, incarnation, conn, op)`.
type OpKey<'a> = (&'a NodeId, u64, u64, u64);

/// Every grant in `events` (sorted by true time), in the order they were read. A grant's
/// request is the one answered by the node incarnation's last reply before its Acquired
/// event: an elector records the grant as soon as it reads the reply that carries it.
pub(crate) fn grants(events: &[Event]) -> Vec<Grant<'_>> {
    let mut sent: BTreeMap<OpKey<'_>, u64> = BTreeMap::new();
    let mut last_reply: BTreeMap<(&NodeId, u64), Option<u64>> = BTreeMap::new();
    let mut grants = Vec::new();
    for event in events {
        let who = (&event.node, event.incarnation);
        match event.kind {
            EventKind::RedisInvoke { conn, op, .. } => {
                sent.insert((who.0, who.1, conn, op), event.at_us);
            }
            EventKind::RedisComplete { conn, op, .. } => {
                last_reply.insert(who, sent.remove(&(who.0, who.1, conn, op)));
            }
            EventKind::Acquired { epoch, .. } => {
                let requested_us = last_reply.get(&who).copied().flatten().unwrap_or(event.at_us);
                // A history from outside may put a reply before its request: never let the
                // span run backwards.
                let requested_us = requested_us.min(event.at_us);
                grants.push(Grant { acquired: event, epoch, requested_us });
            }
            _ => {}
        }
    }
    debug_assert!(grants.iter().all(|g| g.requested_us <= g.acquired.at_us));
    grants
}

/// When the request behind `acquired`'s grant was sent (see [`grants`]).
pub(crate) fn requested_us(events: &[Event], acquired: &Event) -> u64 {
    // Only the events up to the grant bear on it.
    let end = events.partition_point(|e| (e.at_us, e.seq) <= (acquired.at_us, acquired.seq));
    grants(&events[..end]).iter().rev().find(|g| g.acquired == acquired).map_or(acquired.at_us, |g| g.requested_us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;

    #[test]
    fn a_grant_spans_from_its_request_to_its_reply() {
        let events = history(vec![
            redis_invoke(900, "a", 7, &["EVALSHA"]),
            redis_invoke(950, "b", 7, &["EVALSHA"]),
            redis_complete(1_000, "a", 7, ":1"),
            acquired(1_000, "a", 1, 3_900),
            acquired(1_200, "c", 2, 4_000),
        ]);
        let spans: Vec<(u64, u64)> = grants(&events).iter().map(|g| (g.requested_us, g.acquired.at_us)).collect();
        assert_eq!(spans, vec![(900_000, 1_000_000), (1_200_000, 1_200_000)]);
        assert_eq!(requested_us(&events, &events[3]), 900_000);
    }
}
