//! Property 3: strict lease exclusivity — believed-leadership intervals of different nodes
//! never overlap in true time. A correct elector keeps it while clocks drift within its
//! margin; when it fails, the verdict says by how much and names the likely cause.

use super::{at, terms, Property, Term, Verdict};
use crate::event::{Event, EventKind};
use crate::fault::{FaultKind, Overlap};
use crate::grant::requested_us;
use crate::node::NodeId;

/// Checks that no two nodes believed they led at the same instant.
pub fn strict_exclusivity(events: &[Event]) -> Verdict {
    exclusivity(events, false)
}

/// Checks that no two nodes believed they led at the same instant unless an injected fault
/// explains it (a node's clock drifted, Redis's clock ran fast or jumped, Redis restarted):
/// under those faults a lease alone cannot keep leaders apart, and fencing (property 2) must.
/// An overlap no fault explains — a release that deleted another node's lease, a renewal
/// acting on what it read before a pause — is a bug.
pub fn unexplained_overlaps(events: &[Event]) -> Verdict {
    exclusivity(events, true)
}

/// The longest lease any node was granted or renewed for, in true time (from the event to
/// its deadline).
fn longest_lease_us(events: &[Event]) -> u64 {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Acquired { deadline_true_us, .. } | EventKind::Renewed { deadline_true_us, .. } => {
                Some(deadline_true_us.saturating_sub(e.at_us))
            }
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

fn exclusivity(events: &[Event], excuse: bool) -> Verdict {
    let terms = terms(events);
    // A fault can make a lease run out behind its holder's back, but a correct holder finds
    // out at its next renewal at the latest: an overlap longer than a whole lease (with a
    // quarter for drift) means the earlier leader went on renewing a lease no longer its own.
    let lease_us = longest_lease_us(events);
    let excusable_us = lease_us / 4 * 5;
    let mut latest: Option<&Term> = None;
    let mut excused = 0;
    for term in &terms {
        // Both believed at once only outside the earlier holder's lapses (a deadline that
        // passed, then a late renewal reply that revived it).
        let overlapping = latest
            .filter(|b| b.acquired.node != term.acquired.node && b.until_us > term.from_us)
            .map(|b| (b, b.shared_us(term)))
            .filter(|&(_, overlap_us)| overlap_us > 0);
        if let Some((before, overlap_us)) = overlapping {
            let Cause { mut explained, why: mut cause, accounted_us } = cause(events, before, term, lease_us);
            if explained && overlap_us > excusable_us {
                explained = false;
                cause = format!(
                    "{cause} — but the overlap outlasted any lease ({:.3} s): {} went on renewing a lease that was no longer its own",
                    excusable_us as f64 / 1e6,
                    before.holder()
                );
            } else if explained && overlap_us > accounted_us + OVERLAP_SLACK_US {
                explained = false;
                cause = format!(
                    "{cause} — but those faults account for at most {:.3} s of it: a bug in the elector (a lease \
                     deleted or renewed behind its holder's back?)",
                    accounted_us as f64 / 1e6
                );
            }
            if excuse && explained {
                excused += 1;
                if term.until_us > before.until_us {
                    latest = Some(term);
                }
                continue;
            }
            let lapsed_us = before.lapsed_us(term.from_us, term.until_us);
            let lapsed = if lapsed_us > 0 {
                format!(
                    " (not counting {:.3} s when {} had stopped believing, before a late renewal reply revived it)",
                    lapsed_us as f64 / 1e6,
                    before.holder()
                )
            } else {
                String::new()
            };
            let explanation = format!(
                "{} and {} both believed they led for {:.3} s{lapsed}: {} (epoch {}) until {}, {} (epoch {}) from {}. Likely cause: {cause}.",
                before.holder(),
                term.holder(),
                overlap_us as f64 / 1e6,
                before.holder(),
                before.epoch,
                at(before.until_us),
                term.holder(),
                term.epoch,
                at(term.from_us),
            );
            return Verdict::violated(
                Property::StrictExclusivity,
                explanation,
                vec![before.acquired.clone(), term.acquired.clone()],
            );
        }
        if latest.is_none_or(|l| term.until_us > l.until_us) {
            latest = Some(term);
        }
    }
    let note =
        if excused > 0 { format!(" ({excused} overlaps explained by the injected faults)") } else { String::new() };
    Verdict::pass(Property::StrictExclusivity, format!("{} terms, none overlapping another node's{note}", terms.len()))
}

/// The faults in play during the overlap that explain it, and whether they do.
///
/// A lease deadline kept on the monotonic clock from the moment the request was sent, less a
/// margin, ends before Redis lets the lease go, whatever happens to the holder after: a pause
/// freezes the holder but not its clock, and a node's clock jump moves its wall clock back
/// or its monotonic clock forward (an earlier step-down). So only faults that break that
/// argument explain an overlap: a holder's clock running slower than its margin allows,
/// Redis's clock running fast or jumping, and Redis losing the lease. A pause or a wall-clock
/// jump is named in the verdict, as the likely trigger of the bug, not as its excuse.
fn cause(events: &[Event], before: &Term, after: &Term, lease_us: u64) -> Cause {
    // The lease that ran out behind its holder's back is the one granted first, and epochs
    // are the order Redis granted them in: a holder that read its grant late (it was paused
    // with the reply in flight) begins to believe after a node granted a higher epoch since.
    let (first, second) = if after.epoch < before.epoch { (after, before) } else { (before, after) };
    // From the grant's request on: Redis may have begun the lease any time after it was sent.
    let requested = requested_us(events, &first.acquired);
    let until_us = second.from_us.max(first.from_us);
    let window = |e: &&Event| e.at_us >= requested && e.at_us <= until_us;
    let faults = active_faults(events, requested, second.from_us);
    let holder = &first.acquired.node;
    let explaining: Vec<(Overlap, &FaultKind)> =
        faults.iter().filter_map(|(kind, nodes)| kind.explains_overlap(nodes, holder).map(|o| (o, *kind))).collect();
    let hit = |which: Overlap| explaining.iter().any(|(o, _)| *o == which);
    let accounted_us = explaining.iter().map(|(_, kind)| overlap_accounted_us(kind, lease_us)).sum();
    let explained = |why: String| Cause { explained: true, why, accounted_us };
    if hit(Overlap::HolderClockSlow) {
        return explained(format!("{}'s clock drifted beyond the elector's drift margin", first.holder()));
    }
    if hit(Overlap::RedisClock) {
        return explained("Redis's clock ran fast or jumped, expiring the lease early".to_owned());
    }
    if hit(Overlap::RedisLostLease) {
        return explained("the lease was lost behind the leader's back (a Redis restart)".to_owned());
    }
    let paused = events.iter().filter(window).any(|e| e.node == *holder && e.kind == EventKind::Paused);
    let cause = if paused {
        format!(
            "{} was paused, but its lease deadline runs on through a pause: it believed a lease it no longer held \
             after the pause — a bug in the elector (acting on what it read before the pause?)",
            first.holder()
        )
    } else if faults.iter().any(|(kind, _)| matches!(kind, FaultKind::ClockJump { .. })) {
        "a node's clock jumped, which moves only its wall clock back (or its monotonic clock forward): a bug in \
         the elector (a lease deadline kept in wall time?)"
            .to_owned()
    } else {
        "none of the injected faults explains it: a bug in the elector".to_owned()
    };
    Cause { explained: false, why: cause, accounted_us: 0 }
}

/// What the faults in play make of an overlap.
struct Cause {
    /// Whether one of them can explain an overlap at all.
    explained: bool,
    /// The likely cause, as the verdict names it.
    why: String,
    /// The most of an overlap they can account for, together (µs).
    accounted_us: u64,
}

/// The overlap's measurement allows for the simulation's time steps (10 ms), twice.
const OVERLAP_SLACK_US: u64 = 20_000;

/// The most of an overlap one explaining fault can account for, on a lease of `lease_us`: a
/// holder's clock slow by `d` stretches its belief by `lease · d / (1 - d)`; Redis's clock
/// fast by `d` ends the lease `lease · d` early, a jump by its size (at most the lease); a
/// restart loses the whole lease. A fault accounts for no more than that however long the
/// overlap it is in play during: a 1 % drift does not explain a second of two leaders.
fn overlap_accounted_us(kind: &FaultKind, lease_us: u64) -> u64 {
    const PPM: u64 = 1_000_000;
    let scaled = |ppm: u64, of_ppm: u64| (u128::from(lease_us) * u128::from(ppm) / u128::from(of_ppm.max(1))) as u64;
    match kind {
        FaultKind::ClockDrift { drift_ppm, .. } => {
            let slow = drift_ppm.unsigned_abs().min(PPM / 2);
            scaled(slow, PPM - slow)
        }
        FaultKind::RedisClockDrift { drift_ppm } => scaled(drift_ppm.unsigned_abs(), PPM),
        FaultKind::RedisClockJump { jump_ms } => jump_ms.unsigned_abs().saturating_mul(1_000).min(lease_us),
        _ => lease_us,
    }
}

/// The faults in play between `from_us` and `to_us`, with the nodes each hit. A lasting
/// fault (a drift) counts if it began before `to_us` and had not healed by `from_us`; an
/// instantaneous one (a jump) if it happened in between.
fn active_faults(events: &[Event], from_us: u64, to_us: u64) -> Vec<(&FaultKind, &[NodeId])> {
    let mut faults = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let EventKind::FaultInjected { id, fault, nodes } = &e.kind else { continue };
        if e.at_us > to_us {
            break;
        }
        let active = if fault.kind.lasts() {
            let healed = events[i..].iter().find_map(|h| match h.kind {
                EventKind::FaultHealed { id: healed } if healed == *id => Some(h.at_us),
                _ => None,
            });
            healed.is_none_or(|h| h >= from_us)
        } else {
            e.at_us >= from_us
        };
        if active {
            faults.push((&fault.kind, nodes.as_slice()));
        }
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Target;
    use crate::fixtures::*;
    use crate::Outcome;

    #[test]
    fn back_to_back_terms_pass() {
        let events =
            history(vec![acquired(0, "a", 1, 3_000), acquired(3_000, "b", 2, 6_000), acquired(7_000, "a", 3, 9_000)]);
        assert!(strict_exclusivity(&events).passed());
    }

    #[test]
    fn an_overlap_is_measured_and_a_pause_named_but_not_taken_as_an_excuse() {
        let events = history(vec![
            acquired(0, "a", 1, 10_000),
            ev(1_000, "a", 1, EventKind::Paused),
            acquired(4_000, "b", 2, 7_000),
        ]);
        let verdict = strict_exclusivity(&events);
        assert_eq!(verdict.outcome, Outcome::Violated);
        assert!(verdict.explanation.contains("both believed they led for 3.000 s"), "{}", verdict.explanation);
        assert!(
            verdict.explanation.contains("a#1 was paused, but its lease deadline runs on"),
            "{}",
            verdict.explanation
        );
        assert_eq!(unexplained_overlaps(&events).outcome, Outcome::Violated);
    }

    #[test]
    fn an_overlap_is_explained_by_a_drifting_clock_but_not_by_a_wall_clock_jump() {
        fn drift_on(node: &str) -> (FaultKind, Vec<&str>) {
            (FaultKind::ClockDrift { node: Target::Leader, drift_ppm: -50_000 }, vec![node])
        }
        let fault = |(kind, on): (FaultKind, Vec<&str>)| injected(1_000, 1, kind, &on);
        // 5 % slow on a 3.2 s lease: up to 168 ms longer; b's grant 150 ms before a's end.
        let drift = history(vec![acquired(0, "a", 1, 3_200), fault(drift_on("a")), acquired(3_050, "b", 2, 6_000)]);
        let excused = unexplained_overlaps(&drift);
        assert!(excused.passed() && excused.explanation.contains("1 overlaps explained"), "{}", excused.explanation);
        // A drift that began before the term, and still runs, explains it too; another
        // node's drift does not.
        let earlier = |on: &str| {
            let (kind, nodes) = drift_on(on);
            history(vec![injected(0, 1, kind, &nodes), acquired(500, "a", 1, 3_700), acquired(3_550, "b", 2, 6_000)])
        };
        assert!(unexplained_overlaps(&earlier("a")).passed());
        // One healed before the term began explains nothing.
        let (kind, nodes) = drift_on("a");
        let healed_before = history(vec![
            injected(0, 1, kind, &nodes),
            healed(400, 1),
            acquired(500, "a", 1, 3_700),
            acquired(3_500, "b", 2, 6_000),
        ]);
        assert_eq!(unexplained_overlaps(&healed_before).outcome, Outcome::Violated);
        assert_eq!(unexplained_overlaps(&earlier("c")).outcome, Outcome::Violated);
        let jump = history(vec![
            acquired(0, "a", 1, 4_000),
            fault((FaultKind::ClockJump { node: Target::Leader, jump_ms: -1_000 }, vec!["a"])),
            acquired(3_000, "b", 2, 6_000),
        ]);
        let verdict = unexplained_overlaps(&jump);
        assert_eq!(verdict.outcome, Outcome::Violated);
        assert!(verdict.explanation.contains("kept in wall time"), "{}", verdict.explanation);
    }

    #[test]
    fn a_fault_explains_no_more_of_an_overlap_than_it_can_account_for() {
        // Found by the get-then-del-release mutant (chaos-all 0x22f608f122ed643b): a's lease
        // deleted behind its back, b granted 1.45 s before a's deadline, while a's clock ran
        // 0.96 % slow — which stretches a 3 s lease by 29 ms, not 1.45 s.
        let slow = FaultKind::ClockDrift { node: Target::Leader, drift_ppm: -9_641 };
        let events = history(vec![
            acquired(0, "a", 1, 1_510),
            injected(100, 1, slow.clone(), &["a"]),
            renewed(140, "a", 1, 3_140),
            acquired(1_690, "b", 2, 4_690),
        ]);
        let verdict = unexplained_overlaps(&events);
        assert_eq!(verdict.outcome, Outcome::Violated, "{}", verdict.explanation);
        assert!(verdict.explanation.contains("account for at most 0.029 s"), "{}", verdict.explanation);
        // The same drift with b granted 40 ms before a's end is explained.
        let near = history(vec![
            acquired(0, "a", 1, 1_510),
            injected(100, 1, slow, &["a"]),
            renewed(140, "a", 1, 3_140),
            acquired(3_100, "b", 2, 6_100),
        ]);
        assert!(unexplained_overlaps(&near).passed(), "{}", unexplained_overlaps(&near).explanation);
        // Redis's clock jumping 500 ms ahead explains half a second, not two.
        let jump = FaultKind::RedisClockJump { jump_ms: 500 };
        let long =
            history(vec![acquired(0, "a", 1, 3_000), injected(100, 1, jump, &[]), acquired(1_000, "b", 2, 4_000)]);
        assert_eq!(unexplained_overlaps(&long).outcome, Outcome::Violated);
    }

    #[test]
    fn an_overlap_longer_than_any_lease_is_not_excused_by_a_fault() {
        let events = history(vec![
            acquired(0, "a", 1, 3_000),
            injected(1_000, 1, FaultKind::RedisClockJump { jump_ms: 2_000 }, &[]),
            acquired(2_000, "b", 2, 5_000),
            renewed(2_900, "a", 1, 5_900),
            renewed(5_800, "a", 1, 8_800),
            renewed(4_900, "b", 2, 7_900),
        ]);
        let verdict = unexplained_overlaps(&events);
        assert_eq!(verdict.outcome, Outcome::Violated, "{}", verdict.explanation);
        assert!(verdict.explanation.contains("no longer its own"), "{}", verdict.explanation);
        let short = history(vec![
            acquired(0, "a", 1, 3_000),
            injected(1_000, 1, FaultKind::RedisClockJump { jump_ms: 2_000 }, &[]),
            acquired(2_000, "b", 2, 5_000),
        ]);
        assert!(unexplained_overlaps(&short).passed());
    }

    #[test]
    fn a_jump_of_redis_clock_while_the_grant_was_in_flight_explains_an_overlap() {
        // a's acquire is sent at 900 ms; Redis's clock jumps at 950 ms; a reads the grant at
        // 1,000 ms; the lease, begun before the jump, expires early and b takes it.
        let invoke = EventKind::RedisInvoke { conn: 3, op: 7, args: vec!["\"EVALSHA\"".into()] };
        let complete = EventKind::RedisComplete { conn: 3, op: 7, reply: ":1".into() };
        let jump = FaultKind::RedisClockJump { jump_ms: 2_900 };
        let events = history(vec![
            ev(900, "a", 1, invoke),
            injected(950, 1, jump.clone(), &[]),
            ev(1_000, "a", 1, complete),
            acquired(1_000, "a", 1, 3_900),
            acquired(1_100, "b", 2, 4_000),
        ]);
        assert!(unexplained_overlaps(&events).passed(), "{}", unexplained_overlaps(&events).explanation);
        // The same jump before the request was sent explains nothing: the lease began after it.
        let before = history(vec![
            injected(850, 1, jump, &[]),
            ev(900, "a", 1, EventKind::RedisInvoke { conn: 3, op: 7, args: vec!["\"EVALSHA\"".into()] }),
            ev(1_000, "a", 1, EventKind::RedisComplete { conn: 3, op: 7, reply: ":1".into() }),
            acquired(1_000, "a", 1, 3_900),
            acquired(1_100, "b", 2, 4_000),
        ]);
        assert_eq!(unexplained_overlaps(&before).outcome, Outcome::Violated);
    }

    #[test]
    fn an_overlap_does_not_count_the_time_a_revived_belief_had_lapsed() {
        // a's deadline passes at 3 s while it is paused; b leads from 4 s; a reads a late
        // renewal reply at 6.5 s that moves its deadline to 9 s: they overlap 6.5 s to 7 s.
        let revived = history(vec![
            acquired(0, "a", 1, 3_000),
            ev(1_000, "a", 1, EventKind::Paused),
            acquired(4_000, "b", 2, 7_000),
            renewed(6_500, "a", 1, 9_000),
        ]);
        let verdict = strict_exclusivity(&revived);
        assert_eq!(verdict.outcome, Outcome::Violated);
        assert!(verdict.explanation.contains("both believed they led for 0.500 s"), "{}", verdict.explanation);
        assert!(verdict.explanation.contains("not counting 2.500 s when a#1 had stopped"), "{}", verdict.explanation);
        // b's whole term inside a's lapse: never two leaders at once.
        let apart =
            history(vec![acquired(0, "a", 1, 3_000), acquired(4_000, "b", 2, 6_000), renewed(6_500, "a", 1, 9_000)]);
        assert!(strict_exclusivity(&apart).passed(), "{}", strict_exclusivity(&apart).explanation);
    }

    #[test]
    fn an_unexplained_overlap_is_called_a_bug() {
        let events = history(vec![acquired(0, "a", 1, 5_000), acquired(4_000, "b", 2, 7_000)]);
        assert!(strict_exclusivity(&events).explanation.contains("a bug in the elector"));
        assert_eq!(unexplained_overlaps(&events).outcome, Outcome::Violated);
    }

    #[test]
    fn a_jump_of_redis_clock_under_a_grant_read_late_explains_the_overlap_with_the_next_leader() {
        // Found by chaos-all 0xab5e2ad96ace76ba: c asks at 29,290 ms and is paused with the
        // reply in flight; Redis grants epoch 5, then its clock jumps 1,340 ms at 29,371 and
        // the lease expires; a is granted epoch 6 at 29,600; c reads epoch 5 at 29,680, its
        // deadline (30,724) counted from its request. The lease cut short is c's, granted first.
        let jump = FaultKind::RedisClockJump { jump_ms: 1_340 };
        let read_late = |faults: Vec<Event>| {
            let mut events = vec![
                redis_invoke(29_290, "c", 7, &["EVAL"]),
                acquired(29_600, "a", 6, 31_000),
                redis_complete(29_680, "c", 7, ":5"),
                acquired(29_680, "c", 5, 30_724),
            ];
            events.extend(faults);
            history(events)
        };
        let jumped = read_late(vec![injected(29_371, 1, jump.clone(), &[])]);
        let verdict = unexplained_overlaps(&jumped);
        assert!(verdict.passed(), "{}", verdict.explanation);
        assert!(verdict.explanation.contains("1 overlaps explained"), "{}", verdict.explanation);
        // Without the jump nothing explains it; a jump before c asked explains nothing either.
        let bare = unexplained_overlaps(&read_late(Vec::new()));
        assert!(bare.explanation.contains("a bug in the elector"), "{}", bare.explanation);
        let earlier = unexplained_overlaps(&read_late(vec![injected(29_000, 1, jump, &[])]));
        assert_eq!(earlier.outcome, Outcome::Violated, "{}", earlier.explanation);
    }
}
