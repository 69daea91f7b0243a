//! Property 1: each fencing epoch is granted to one node incarnation, once, and grants come
//! in strictly increasing epoch order in true time.
//!
//! Redis grants a lease at some instant between the request and the reply the node reads
//! ([`Grant`]), so the order of grants is known only where those spans do not overlap: a
//! lower epoch is out of order when its request was sent after a higher epoch's grant had
//! already been read. A node paused with its grant in flight reads it after a later grant
//! of a higher epoch — late, not out of order.

use std::collections::BTreeMap;

use super::{at, who, Property, Verdict};
use crate::event::Event;
use crate::grant::{grants, Grant};

/// Checks the grants (Acquired events) of `events`.
pub fn epochs(events: &[Event]) -> Verdict {
    let grants = grants(events);
    let mut by_epoch: BTreeMap<u64, &Grant<'_>> = BTreeMap::new();
    // The grant with the highest epoch among those read before the current one was asked for.
    let mut highest_read: Option<&Grant<'_>> = None;
    let mut read = 0;
    for grant in &grants {
        while let Some(earlier) = grants.get(read).filter(|g| g.acquired.at_us < grant.requested_us) {
            if highest_read.is_none_or(|h| earlier.epoch > h.epoch) {
                highest_read = Some(earlier);
            }
            read += 1;
        }
        if let Some(first) = by_epoch.get(&grant.epoch) {
            return violated(first, grant, "granted a second time");
        }
        if let Some(higher) = highest_read.filter(|h| h.epoch > grant.epoch) {
            return violated(higher, grant, "granted after a higher one");
        }
        by_epoch.insert(grant.epoch, grant);
    }
    debug_assert_eq!(by_epoch.len(), grants.len());
    Verdict::pass(
        Property::Epochs,
        format!("{} grants, each epoch once, none after a higher one had been read", grants.len()),
    )
}

fn violated(earlier: &Grant<'_>, grant: &Grant<'_>, how: &str) -> Verdict {
    let (event, previous) = (grant.acquired, earlier.acquired);
    let asked = if grant.requested_us < event.at_us {
        format!(" (asked for at {})", at(grant.requested_us))
    } else {
        String::new()
    };
    let explanation = format!(
        "epoch {} was {how}: {} acquired it at {}{asked}, but {} had acquired epoch {} at {}. Epochs must \
         increase with every grant; a Redis that lost its epoch counter (a restart without durable \
         persistence) hands old epochs out again.",
        grant.epoch,
        who(event),
        at(event.at_us),
        who(previous),
        earlier.epoch,
        at(previous.at_us),
    );
    Verdict::violated(Property::Epochs, explanation, vec![previous.clone(), event.clone()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::Outcome;

    #[test]
    fn increasing_grants_pass() {
        let events =
            history(vec![acquired(0, "a", 1, 3_000), acquired(4_000, "b", 2, 7_000), acquired(9_000, "a", 5, 12_000)]);
        assert!(epochs(&events).passed());
    }

    #[test]
    fn a_repeated_epoch_is_caught_with_both_grants() {
        let events = history(vec![acquired(0, "a", 1, 3_000), acquired(9_060, "c", 1, 12_000)]);
        let verdict = epochs(&events);
        assert_eq!(verdict.outcome, Outcome::Violated);
        assert_eq!(verdict.evidence.len(), 2);
        assert!(
            verdict.explanation.starts_with("epoch 1 was granted a second time: c#1 acquired it at t=9.060 s"),
            "{}",
            verdict.explanation
        );
    }

    #[test]
    fn a_lower_epoch_after_a_higher_one_is_caught() {
        let events = history(vec![acquired(0, "a", 4, 3_000), acquired(5_000, "b", 2, 8_000)]);
        assert!(epochs(&events).explanation.contains("granted after a higher one"));
    }

    #[test]
    fn a_grant_read_late_is_not_out_of_order_but_one_asked_for_after_a_higher_was_read_is() {
        // c asks at 29,290 ms and is paused with the reply in flight; Redis's clock jumps, the
        // lease expires, a is granted epoch 6 at 29,600; c reads epoch 5 at 29,680.
        let late = history(vec![
            redis_invoke(29_290, "c", 7, &["EVAL"]),
            acquired(29_600, "a", 6, 31_000),
            redis_complete(29_680, "c", 7, ":5"),
            acquired(29_680, "c", 5, 30_724),
        ]);
        assert!(epochs(&late).passed(), "{}", epochs(&late).explanation);
        // The same reply to a request sent after a's grant was read: Redis handed out 5 after 6.
        let inverted = history(vec![
            acquired(29_600, "a", 6, 31_000),
            redis_invoke(29_610, "c", 7, &["EVAL"]),
            redis_complete(29_680, "c", 7, ":5"),
            acquired(29_680, "c", 5, 30_724),
        ]);
        let verdict = epochs(&inverted);
        assert_eq!(verdict.outcome, Outcome::Violated);
        assert!(verdict.explanation.contains("(asked for at t=29.610 s)"), "{}", verdict.explanation);
    }

    #[test]
    fn an_epoch_granted_twice_is_caught_however_the_spans_overlap() {
        let events = history(vec![
            redis_invoke(900, "b", 7, &["EVAL"]),
            acquired(1_000, "a", 3, 4_000),
            redis_complete(1_100, "b", 7, ":3"),
            acquired(1_100, "b", 3, 4_100),
        ]);
        assert!(epochs(&events).explanation.contains("epoch 3 was granted a second time"));
    }
}
