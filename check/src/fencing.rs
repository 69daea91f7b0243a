//! Property 2: no two leaders within a fencing epoch. At any instant at most one node
//! incarnation believes it leads with a given epoch; and the fenced resource's accepted
//! writes are in non-decreasing epoch order in real time, each from that epoch's holder
//! while it believed itself leader.

use super::terms::{by_epoch, held};
use super::{at, terms, who, Property, Term, Verdict};
use crate::event::{Event, EventKind};
use crate::fault::FaultKind;

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
    if let Some(v) = resource_went_back(events) {
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
                let overlap = a.shared_us(b);
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

/// A fenced write as the sweep sees it: the event (completed at its time), when it was
/// sent, the epoch the resource held before it (if its reply said), and the epoch it left.
struct Answer<'a> {
    event: &'a Event,
    sent_us: u64,
    before: Option<u64>,
    after: u64,
}

/// Each of `answers` in the order they were sent, with the answer of highest `after` among
/// those that had completed by then: the floor a write sent then must not go below.
fn with_floor<'a, 'b>(answers: &'b [Answer<'a>]) -> Vec<(&'b Answer<'a>, Option<&'b Answer<'a>>)> {
    let mut by_completion: Vec<&Answer> = answers.iter().collect();
    by_completion.sort_by_key(|a| a.event.at_us);
    let mut by_send: Vec<&Answer> = answers.iter().collect();
    by_send.sort_by_key(|a| a.sent_us);
    let (mut done, mut highest) = (0, None::<&Answer>);
    let mut out = Vec::with_capacity(answers.len());
    for write in by_send {
        while done < by_completion.len() && by_completion[done].event.at_us < write.sent_us {
            if highest.is_none_or(|h| by_completion[done].after > h.after) {
                highest = Some(by_completion[done]);
            }
            done += 1;
        }
        out.push((write, highest));
    }
    out
}

/// The verdict on `write`, sent after `earlier` completed and below the epoch it left: with
/// the epoch `write` found the resource at, when its reply said.
fn below_floor(write: &Answer, earlier: &Answer, found: Option<u64>, why: &str) -> Verdict {
    let (w, sent, x, floor, done) =
        (who(write.event), at(write.sent_us), who(earlier.event), earlier.after, at(earlier.event.at_us));
    let explanation = match found {
        None => format!("{w} wrote with epoch {} at {sent} after {x} had written with epoch {floor} at {done}: {why}", write.after),
        Some(b) => format!(
            "{w} wrote at {sent} and found the fenced resource at epoch {b}, but {x} had left it at epoch {floor} at {done}: {why}"
        ),
    };
    Verdict::violated(Property::FencedEpochs, explanation, vec![earlier.event.clone(), write.event.clone()])
}

/// An accepted write that began after another accepted write had completed, with a lower
/// epoch. Writes that overlap in time may take effect in either order, so only the real-time
/// order is checked: sort by send time and sweep over completions.
fn writes_out_of_order(writes: &[(&Event, u64, u64)]) -> Option<Verdict> {
    let answers: Vec<Answer> =
        writes.iter().map(|&(event, epoch, sent_us)| Answer { event, sent_us, before: None, after: epoch }).collect();
    for (write, floor) in with_floor(&answers) {
        if let Some(earlier) = floor.filter(|h| h.after > write.after) {
            return Some(below_floor(write, earlier, None, "the fenced resource accepted a deposed leader's write."));
        }
    }
    None
}

/// The resource's own answers, against real time. Each write's reply says which epoch the
/// resource held just before it (accepted: the epoch it replaced; refused: the highest). A
/// resource that checks tokens never goes back: an accepted write never replaces a higher
/// epoch, and a write sent after another completed never finds a lower epoch than that one
/// left — which also catches a stale write whose own reply never came. A resource found
/// empty is not compared (Redis lost it; the epochs checker judges that).
fn resource_went_back(events: &[Event]) -> Option<Verdict> {
    let mut answers: Vec<Answer> = Vec::new();
    for e in events {
        if let EventKind::FencedWrite { epoch, accepted, sent_us, replaced, .. } = e.kind {
            if accepted && replaced.is_some_and(|r| r > epoch) {
                let explanation = format!(
                    "the fenced resource accepted {}'s write with epoch {epoch} over epoch {}: it does not check \
                     fencing tokens (or not their order)",
                    who(e),
                    replaced.unwrap_or_default(),
                );
                return Some(Verdict::violated(Property::FencedEpochs, explanation, vec![e.clone()]));
            }
            let after = if accepted { epoch.max(replaced.unwrap_or(0)) } else { replaced.unwrap_or(0) };
            answers.push(Answer { event: e, sent_us, before: replaced, after });
        }
    }
    for (write, floor) in with_floor(&answers) {
        let Some(before) = write.before else { continue };
        if let Some(earlier) = floor.filter(|h| h.after > before) {
            let restarted = events.iter().any(|e| {
                e.at_us >= earlier.event.at_us
                    && e.at_us <= write.sent_us
                    && matches!(&e.kind, EventKind::FaultInjected { fault, .. } if matches!(fault.kind, FaultKind::RedisRestart { .. }))
            });
            let why = if restarted {
                "Redis restarted in between and came back with an older copy: the resource lost accepted writes"
            } else {
                "the resource applied a lower epoch after a higher one (a stale write, perhaps one whose reply never \
                 came) — it does not check fencing tokens"
            };
            return Some(below_floor(write, earlier, Some(before), why));
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
    use crate::fixtures::*;
    use crate::Outcome;

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
    fn a_resource_that_goes_back_is_caught() {
        let mut events = two_terms();
        events.extend([write_over(500, 520, "a", 1, true, 0), write_over(4_500, 4_520, "b", 2, true, 1)]);
        assert!(fenced_epochs(&history(events.clone())).passed());
        // a's stale write landed over b's and its reply says so.
        let mut over = events.clone();
        over.push(write_over(2_900, 4_700, "a", 1, true, 2));
        let verdict = fenced_epochs(&history(over));
        assert!(
            verdict.explanation.contains("accepted a#1's write with epoch 1 over epoch 2"),
            "{}",
            verdict.explanation
        );
        // a's stale write's reply never came, but b's next write found epoch 1.
        events.push(write_over(5_000, 5_020, "b", 2, true, 1));
        let verdict = fenced_epochs(&history(events));
        assert_eq!(verdict.outcome, Outcome::Violated);
        assert!(
            verdict.explanation.contains("found the fenced resource at epoch 1, but b#1 had left it at epoch 2"),
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
