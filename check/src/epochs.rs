//! Property 1: each fencing epoch is granted to one node incarnation, once, and grants come
//! in strictly increasing epoch order in true time.

use super::{at, who, Property, Verdict};
use crate::event::{Event, EventKind};

/// Checks the grants (Acquired events) of `events`.
pub fn epochs(events: &[Event]) -> Verdict {
    let mut highest: Option<(&Event, u64)> = None;
    let mut grants = 0;
    for event in events {
        let EventKind::Acquired { epoch, .. } = event.kind else { continue };
        grants += 1;
        if let Some((previous, top)) = highest {
            if epoch <= top {
                let how = if epoch == top { "granted a second time" } else { "granted after a higher one" };
                let explanation = format!(
                    "epoch {epoch} was {how}: {} acquired it at {}, but {} had acquired epoch {top} at {}. Epochs must \
                     increase with every grant; a Redis that lost its epoch counter (a restart without durable \
                     persistence) hands old epochs out again.",
                    who(event),
                    at(event.at_us),
                    who(previous),
                    at(previous.at_us),
                );
                return Verdict::violated(Property::Epochs, explanation, vec![previous.clone(), event.clone()]);
            }
        }
        highest = Some((event, epoch));
    }
    Verdict::pass(Property::Epochs, format!("{grants} grants, each with a higher epoch than the last"))
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
}
