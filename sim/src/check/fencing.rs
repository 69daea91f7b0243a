//! Property 2: no two leaders within a fencing epoch. At any instant at most one node
//! incarnation believes it leads with a given epoch; and the fenced resource's accepted
//! writes are in non-decreasing epoch order in real time, each from that epoch's holder
//! while it believed itself leader.

use super::terms::{by_epoch, held};
use super::{at, terms, who, Property, Term, Verdict};
use crate::history::{Event, EventKind};

/// Checks `events` for two leaders in one epoch and for fenced writes out of order.
pub fn fenced_epochs(events: &[Event]) -> Verdict {
    let terms = terms(events);
    if let Some(v) = shared_epoch(&terms) {
        return v;
    }
    let writes: Vec<(&Event, u64, u64)> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::FencedWrite { epoch, accepted: true, sent_us, .. } => Some((e, epoch, sent_us)),
            _ => None,
        })
        .collect();
    if let Some(v) = writes_out_of_order(&writes) {
        return v;
    }
    if let Some(v) = writes_outside_their_term(&writes, &terms) {
        return v;
    }
    Verdict::pass(
        Property::FencedEpochs,
        format!(
            "{} terms, each epoch held by one node at a time; {} accepted fenced writes in epoch order",
            terms.len(),
            writes.len()
        ),
    )
}

/// Two terms of different holders with the same epoch that overlap in time.
fn shared_epoch(terms: &[Term]) -> Option<Verdict> {
    for (epoch, same) in by_epoch(terms) {
        for (i, a) in same.iter().enumerate() {
            for b in &same[i + 1..] {
                let overlap = a.until_us.min(b.until_us).saturating_sub(a.from_us.max(b.from_us));
                if a.holder() != b.holder() && overlap > 0 {
                    let explanation = format!(
                        "two leaders in epoch {epoch}: {} led from {} to {} and {} from {} to {}, overlapping for {:.3} s. \
                         A fenced resource cannot tell their writes apart.",
                        a.holder(),
                        at(a.from_us),
                        at(a.until_us),
                        b.holder(),
                        at(b.from_us),
                        at(b.until_us),
                        overlap as f64 / 1e6,
                    );
                    return Some(Verdict::violated(
                        Property::FencedEpochs,
                        explanation,
                        vec![a.acquired.clone(), b.acquired.clone()],
                    ));
                }
            }
        }
    }
    None
}

/// An accepted write that began after another accepted write had completed, with a lower
/// epoch. Writes that overlap in time may take effect in either order, so only the real-time
/// order is checked: sort by send time and sweep over completions.
fn writes_out_of_order(writes: &[(&Event, u64, u64)]) -> Option<Verdict> {
    let mut by_completion: Vec<&(&Event, u64, u64)> = writes.iter().collect();
    by_completion.sort_by_key(|(e, _, _)| e.at_us);
    let mut by_send: Vec<&(&Event, u64, u64)> = writes.iter().collect();
    by_send.sort_by_key(|(_, _, sent)| *sent);
    let mut done = 0;
    let mut highest: Option<&(&Event, u64, u64)> = None;
    for write in by_send {
        while done < by_completion.len() && by_completion[done].0.at_us < write.2 {
            if highest.is_none_or(|h| by_completion[done].1 > h.1) {
                highest = Some(by_completion[done]);
            }
            done += 1;
        }
        if let Some(earlier) = highest.filter(|h| h.1 > write.1) {
            let explanation = format!(
                "{} wrote with epoch {} at {} after {} had written with epoch {} at {}: the fenced resource accepted a \
                 deposed leader's write.",
                who(write.0),
                write.1,
                at(write.2),
                who(earlier.0),
                earlier.1,
                at(earlier.0.at_us),
            );
            return Some(Verdict::violated(
                Property::FencedEpochs,
                explanation,
                vec![earlier.0.clone(), write.0.clone()],
            ));
        }
    }
    None
}

/// An accepted write not sent by its epoch's holder within that holder's term.
fn writes_outside_their_term(writes: &[(&Event, u64, u64)], terms: &[Term]) -> Option<Verdict> {
    let index = by_epoch(terms);
    for (event, epoch, sent_us) in writes {
        if !held(&index, event, *epoch, *sent_us) {
            let explanation = format!(
                "{} wrote with epoch {epoch} at {} without believing it led in epoch {epoch} then: a write must come \
                 from the epoch's holder during its lease.",
                who(event),
                at(*sent_us),
            );
            return Some(Verdict::violated(Property::FencedEpochs, explanation, vec![(*event).clone()]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixtures::*;
    use crate::check::Outcome;

    fn two_terms() -> Vec<Event> {
        vec![acquired(0, "a", 1, 3_000), acquired(4_000, "b", 2, 7_000)]
    }

    #[test]
    fn writes_in_order_by_their_holders_pass() {
        let mut events = two_terms();
        events.extend([
            write(500, 520, "a", 1, true),
            write(4_500, 4_520, "b", 2, true),
            write(2_000, 2_010, "a", 1, false),
        ]);
        assert!(fenced_epochs(&history(events)).passed());
    }

    #[test]
    fn a_lower_epoch_accepted_after_a_higher_one_is_caught() {
        let mut events = two_terms();
        // a's lease ran to 3 s on its clock; a write it sent at 2.9 s landed after b's.
        events.extend([write(4_500, 4_520, "b", 2, true), write(4_600, 4_620, "a", 1, true)]);
        let verdict = fenced_epochs(&history(events));
        assert_eq!(verdict.outcome, Outcome::Violated);
        assert!(
            verdict
                .explanation
                .starts_with("a#1 wrote with epoch 1 at t=4.600 s after b#1 had written with epoch 2 at t=4.520 s"),
            "{}",
            verdict.explanation
        );
    }

    #[test]
    fn overlapping_writes_may_land_in_either_order() {
        let mut events = two_terms();
        events.extend([write(2_900, 4_700, "a", 1, true), write(4_500, 4_520, "b", 2, true)]);
        assert!(fenced_epochs(&history(events)).passed());
    }

    #[test]
    fn two_holders_of_one_epoch_at_once_are_caught() {
        let events = history(vec![acquired(0, "a", 1, 3_000), acquired(1_000, "c", 1, 4_000)]);
        let verdict = fenced_epochs(&events);
        assert!(
            verdict.explanation.starts_with("two leaders in epoch 1: a#1 led from t=0.000 s to t=3.000 s"),
            "{}",
            verdict.explanation
        );
    }

    #[test]
    fn a_write_outside_its_term_is_caught() {
        let mut events = two_terms();
        events.push(write(3_500, 3_510, "a", 1, true));
        assert!(fenced_epochs(&history(events)).explanation.contains("without believing it led"));
    }
}
