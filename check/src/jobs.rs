//! Property 5: leader-only jobs. Each slot of a periodic job runs at most once; a node runs a
//! slot only while it believes it leads with the epoch it claimed the slot under; and in a
//! healthy stretch (faults healed, a leader elected) no slot is skipped.

use std::collections::BTreeMap;
use std::time::Duration;

use super::terms::{by_epoch, held};
use super::{at, terms, who, Property, Verdict};
use crate::event::{Event, EventKind};

/// A slot run: the event, the job, the slot, the epoch, when the claim was sent.
type Run<'a> = (&'a Event, &'a str, u64, u64, u64);

/// Checks the slots of every periodic job in `events`; slots are `every` long and the
/// healthy stretch is `[healthy_from_us, end_us)`.
pub fn job_slots(events: &[Event], healthy_from_us: u64, end_us: u64, every: Duration) -> Verdict {
    let runs: Vec<Run> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SlotRun { job, slot, epoch, sent_us } => Some((e, job.as_str(), *slot, *epoch, *sent_us)),
            _ => None,
        })
        .collect();
    let mut first_run: BTreeMap<(&str, u64), &Event> = BTreeMap::new();
    for &(event, job, slot, _, _) in &runs {
        if let Some(earlier) = first_run.insert((job, slot), event) {
            let explanation = format!(
                "slot {slot} of {job} ran twice: by {} at {} and by {} at {}",
                who(earlier),
                at(earlier.at_us),
                who(event),
                at(event.at_us)
            );
            return Verdict::violated(Property::LeaderOnlyJobs, explanation, vec![earlier.clone(), event.clone()]);
        }
    }
    let terms = terms(events);
    let index = by_epoch(&terms);
    for &(event, job, slot, epoch, sent_us) in &runs {
        if !held(&index, event, epoch, sent_us) {
            let mine = |t: &&super::Term| t.acquired.node == event.node && t.acquired.incarnation == event.incarnation;
            let last = terms.iter().filter(mine).rfind(|t| t.from_us <= sent_us);
            let context = match last {
                Some(t) => format!("its term of epoch {} had ended at {}", t.epoch, at(t.until_us)),
                None => "it had never led".to_owned(),
            };
            let explanation = format!(
                "{} ran slot {slot} of {job} with epoch {epoch} (claimed at {}) while it did not believe it led with that epoch: {context}",
                who(event),
                at(sent_us)
            );
            let mut evidence: Vec<Event> = last.map(|t| t.acquired.clone()).into_iter().collect();
            evidence.push(event.clone());
            return Verdict::violated(Property::LeaderOnlyJobs, explanation, evidence);
        }
    }
    let every_us = every.as_micros() as u64;
    let healthy: Vec<_> = runs.iter().filter(|r| r.0.at_us >= healthy_from_us && r.0.at_us < end_us).collect();
    if healthy.is_empty() && end_us.saturating_sub(healthy_from_us) >= 3 * every_us {
        let explanation = format!(
            "no slot of any job ran in the healthy stretch from {} to {}, {} slots long",
            at(healthy_from_us),
            at(end_us),
            end_us.saturating_sub(healthy_from_us) / every_us.max(1)
        );
        return Verdict::violated(Property::LeaderOnlyJobs, explanation, vec![]);
    }
    // One term runs consecutive slots: a gap is a slot that never ran.
    let mut last_of_term: BTreeMap<(&str, &str, u64, u64), &Run> = BTreeMap::new();
    for run in healthy {
        let (event, job, slot, epoch, _) = *run;
        let key = (job, event.node.as_str(), event.incarnation, epoch);
        if let Some(previous) = last_of_term.insert(key, run) {
            if slot != previous.2 + 1 {
                let explanation = format!(
                    "slots {}..{} of {job} never ran although {} led throughout the healthy stretch: it ran slot {} at {}, then slot {slot} at {}",
                    previous.2 + 1,
                    slot - 1,
                    who(event),
                    previous.2,
                    at(previous.0.at_us),
                    at(event.at_us)
                );
                return Verdict::violated(
                    Property::LeaderOnlyJobs,
                    explanation,
                    vec![previous.0.clone(), event.clone()],
                );
            }
        }
    }
    Verdict::pass(Property::LeaderOnlyJobs, format!("{} slots ran, each once, each by its leader", runs.len()))
}

/// Checks that a node releases a lease only after the leader-only jobs of that term stopped:
/// a release tells every other node it may take over at once, and a successor's jobs must not
/// run beside the old ones.
pub fn jobs_stopped_before_release(events: &[Event]) -> Verdict {
    // Jobs running, by (node, incarnation, epoch): the job and its start event.
    type Term<'a> = (&'a str, u64, u64);
    let mut running: BTreeMap<Term, Vec<(&str, &Event)>> = BTreeMap::new();
    let mut releases = 0;
    for event in events {
        let key = |epoch: u64| (event.node.as_str(), event.incarnation, epoch);
        match &event.kind {
            EventKind::JobStarted { job, epoch } => running.entry(key(*epoch)).or_default().push((job, event)),
            EventKind::JobFinished { job, epoch } => {
                if let Some(jobs) = running.get_mut(&key(*epoch)) {
                    if let Some(i) = jobs.iter().position(|(j, _)| j == job) {
                        jobs.remove(i);
                    }
                }
            }
            EventKind::Released { epoch } => {
                releases += 1;
                if let Some((job, started)) = running.get(&key(*epoch)).and_then(|jobs| jobs.first()) {
                    let stopped = events.iter().find(|e| {
                        e.node == event.node
                            && e.incarnation == event.incarnation
                            && e.at_us >= event.at_us
                            && matches!(&e.kind, EventKind::JobFinished { job: j, epoch: x } if j == job && x == epoch)
                    });
                    let after = match stopped {
                        Some(e) => format!("it stopped only at {}", at(e.at_us)),
                        None => "it never stopped".to_owned(),
                    };
                    let explanation = format!(
                        "{} released its lease of epoch {epoch} at {} while its job {job} (started at {}) still ran — \
                         {after}: a successor could start {job} beside it",
                        who(event),
                        at(event.at_us),
                        at(started.at_us),
                    );
                    let mut evidence = vec![(*started).clone(), event.clone()];
                    evidence.extend(stopped.cloned());
                    return Verdict::violated(Property::LeaderOnlyJobs, explanation, evidence);
                }
            }
            _ => {}
        }
    }
    Verdict::pass(Property::LeaderOnlyJobs, format!("{releases} releases, each after its term's jobs stopped"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::Outcome;

    fn slot(ms: u64, node: &str, slot: u64, epoch: u64) -> Event {
        ev(ms, node, 1, EventKind::SlotRun { job: "health-check".into(), slot, epoch, sent_us: (ms - 5) * 1000 })
    }

    const EVERY: Duration = Duration::from_secs(1);

    #[test]
    fn a_release_while_a_job_runs_is_caught() {
        let started = |ms| ev(ms, "a", 1, EventKind::JobStarted { job: "writer".into(), epoch: 1 });
        let finished = |ms| ev(ms, "a", 1, EventKind::JobFinished { job: "writer".into(), epoch: 1 });
        let released = |ms| ev(ms, "a", 1, EventKind::Released { epoch: 1 });
        let good = history(vec![acquired(0, "a", 1, 3_000), started(10), finished(2_000), released(2_010)]);
        assert!(jobs_stopped_before_release(&good).passed());
        let bad = history(vec![acquired(0, "a", 1, 3_000), started(10), released(2_000), finished(2_300)]);
        let verdict = jobs_stopped_before_release(&bad);
        assert_eq!(verdict.outcome, Outcome::Violated);
        assert!(
            verdict.explanation.starts_with(
                "a#1 released its lease of epoch 1 at t=2.000 s while its job writer (started at t=0.010 s) still ran \
                 — it stopped only at t=2.300 s"
            ),
            "{}",
            verdict.explanation
        );
    }

    #[test]
    fn slots_run_once_by_their_leaders_pass() {
        let events = history(vec![
            acquired(0, "a", 1, 3_000),
            slot(1_000, "a", 1, 1),
            slot(2_000, "a", 2, 1),
            acquired(3_000, "b", 2, 9_000),
            slot(3_500, "b", 3, 2),
            slot(4_500, "b", 4, 2),
            slot(5_500, "b", 5, 2),
        ]);
        assert!(job_slots(&events, 3_000_000, 6_000_000, EVERY).passed());
    }

    #[test]
    fn a_slot_run_twice_is_caught() {
        let events = history(vec![
            acquired(0, "a", 1, 3_000),
            slot(1_000, "a", 1, 1),
            acquired(3_000, "b", 2, 6_000),
            slot(3_100, "b", 1, 2),
        ]);
        let verdict = job_slots(&events, 0, 6_000_000, EVERY);
        assert_eq!(verdict.outcome, Outcome::Violated);
        assert!(
            verdict.explanation.starts_with("slot 1 of health-check ran twice: by a#1 at t=1.000 s and by b#1"),
            "{}",
            verdict.explanation
        );
    }

    #[test]
    fn a_slot_run_by_a_deposed_leader_is_caught() {
        let events = history(vec![acquired(0, "a", 1, 3_000), slot(3_500, "a", 3, 1)]);
        let verdict = job_slots(&events, 10_000_000, 10_000_000, EVERY);
        assert_eq!(verdict.outcome, Outcome::Violated);
        assert!(verdict.explanation.contains("its term of epoch 1 had ended at t=3.000 s"), "{}", verdict.explanation);
    }

    #[test]
    fn a_skipped_slot_while_healthy_is_caught() {
        let events = history(vec![
            acquired(0, "a", 1, 9_000),
            slot(1_000, "a", 1, 1),
            slot(2_000, "a", 2, 1),
            slot(4_000, "a", 4, 1),
        ]);
        let verdict = job_slots(&events, 0, 5_000_000, EVERY);
        assert!(verdict.explanation.starts_with("slots 3..3 of health-check never ran"), "{}", verdict.explanation);
        let none = job_slots(&history(vec![acquired(0, "a", 1, 9_000)]), 0, 5_000_000, EVERY);
        assert!(none.explanation.starts_with("no slot of any job ran in the healthy stretch"), "{}", none.explanation);
    }
}
