//! The plans' own expectations, each checked on a run's history.

use std::time::Duration;

use sim::check::{at, terms, who, Failovers, Property, Verdict};
use sim::{Event, EventKind, NodeId, Run};

use crate::Scenario;

/// One expectation of a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// At the end, the election key names the one leader (`redis-cli GET key`), and no
    /// other leader key is left behind.
    KeyNamesTheLeader,
    /// Every failover (a leaderless gap ended by a grant) took at most this long, and there
    /// was one.
    FailoverWithin(Duration),
    /// Every failover, if any, took at most this long (random faults may spare the leader).
    EveryFailoverWithin(Duration),
    /// The leader's lease was renewed at least this often, through to the end.
    RenewedEvery(Duration),
    /// One term for the whole run: the lease never ran out.
    OneTerm,
    /// The leader at this instant still leads, in the same epoch, at the end.
    LeaderUndisturbedFrom(Duration),
    /// A leader asked to stop released the key at once (within a second).
    ReleasedOnStop,
    /// The instance never stopped leads at the end.
    LastStandingLeads,
    /// Every client request was answered by some live instance (the load balancer passing it
    /// on when one did not answer).
    EveryRequestAnswered,
    /// Every instance answered (at least 90% of) the requests sent to it first.
    EveryInstanceServesItsShare,
    /// Asked in turn at the end, exactly one instance reports that it leads (`/health`).
    OneInstanceReportsLeader,
    /// MI-06: every update written through instance `writer` is read through instance
    /// `reader` within this long after the write returned, and `reader` serves the key from
    /// its cache in between.
    UpdateSeenWithin {
        /// `node-<writer>` writes.
        writer: u32,
        /// `node-<reader>` reads.
        reader: u32,
        /// The plan's bound.
        within: Duration,
    },
}

impl Expect {
    /// Whether it judges the HTTP requests of the production elector's `/health`.
    pub fn needs_requests(&self) -> bool {
        matches!(
            self,
            Expect::EveryRequestAnswered | Expect::EveryInstanceServesItsShare | Expect::OneInstanceReportsLeader
        )
    }

    /// Whether the expectation judges the cache workload, which runs beside the production
    /// elector or a zoo cache, not beside a zoo elector.
    pub fn needs_cache(&self) -> bool {
        matches!(self, Expect::UpdateSeenWithin { .. })
    }

    /// The expectation for a deployment with timings `to` instead of `from`: durations scale
    /// with the TTL.
    pub fn scaled(self, from: crate::Timings, to: crate::Timings) -> Expect {
        let scale = |d: Duration| d.mul_f64(to.ttl.as_secs_f64() / from.ttl.as_secs_f64());
        match self {
            Expect::FailoverWithin(d) => Expect::FailoverWithin(scale(d)),
            Expect::EveryFailoverWithin(d) => Expect::EveryFailoverWithin(scale(d)),
            Expect::RenewedEvery(d) => Expect::RenewedEvery(scale(d)),
            other => other,
        }
    }

    /// The expectation's verdict on `run`.
    pub fn check(&self, scenario: &Scenario, run: &Run, failovers: &Failovers) -> Verdict {
        match self {
            Expect::KeyNamesTheLeader => key_names_the_leader(scenario, run),
            Expect::EveryFailoverWithin(_) if failovers.samples_s.is_empty() => pass("no failover happened".into()),
            Expect::FailoverWithin(bound) | Expect::EveryFailoverWithin(bound) => failover_within(failovers, *bound),
            Expect::RenewedEvery(every) => renewed_every(run, *every),
            Expect::OneTerm => one_term(run),
            Expect::LeaderUndisturbedFrom(from) => leader_undisturbed(run, *from),
            Expect::ReleasedOnStop => released_on_stop(run),
            Expect::EveryRequestAnswered => every_request_answered(run),
            Expect::EveryInstanceServesItsShare => every_instance_serves_its_share(run),
            Expect::OneInstanceReportsLeader => one_instance_reports_leader(run),
            Expect::UpdateSeenWithin { writer, reader, within } => update_seen(run, *writer, *reader, *within),
            Expect::LastStandingLeads => last_standing_leads(run),
        }
    }
}

/// The expectation failed: why, and the events that show it.
fn fail(text: String, evidence: Vec<Event>) -> Verdict {
    Verdict::violated(Property::Expectation, text, evidence)
}

/// The expectation held: what was seen.
fn pass(text: String) -> Verdict {
    Verdict::pass(Property::Expectation, text)
}

/// MI-01: the key names the leader at the end.
fn key_names_the_leader(scenario: &Scenario, run: &Run) -> Verdict {
    let leaders = run.leaders_at(run.end_us - 1);
    let stored = run.redis_strings.get(scenario.key);
    match (leaders.as_slice(), stored) {
        ([(node, epoch)], Some(value))
            if value.starts_with(&format!("{node}/")) && value.ends_with(&format!("/{epoch}")) =>
        {
            pass(format!("the key {} names the leader {node} (epoch {epoch})", scenario.key))
        }
        _ => fail(
            format!("at the end the key {} holds {stored:?} while the leaders are {leaders:?}", scenario.key),
            vec![],
        ),
    }
}

/// The longest failover within `bound`.
fn failover_within(failovers: &Failovers, bound: Duration) -> Verdict {
    match failovers.samples_s.iter().copied().reduce(f64::max) {
        None => fail("the plan causes a failover, but none was measured".into(), vec![]),
        Some(worst) if worst > bound.as_secs_f64() => {
            fail(format!("a failover took {worst:.3} s, beyond the plan's {:.3} s", bound.as_secs_f64()), vec![])
        }
        Some(worst) => pass(format!(
            "{} failover(s), the longest {worst:.3} s, within {:.3} s",
            failovers.samples_s.len(),
            bound.as_secs_f64()
        )),
    }
}

/// One term for the whole run.
fn one_term(run: &Run) -> Verdict {
    let grants: Vec<&Event> = run.events.iter().filter(|e| matches!(e.kind, EventKind::Acquired { .. })).collect();
    match grants.as_slice() {
        [only] => pass(format!("one term, {} from {}", who(only), at(only.at_us))),
        _ => fail(format!("{} terms where the plan expects one", grants.len()), grants.into_iter().cloned().collect()),
    }
}

/// The leader at `from` leads to the end.
fn leader_undisturbed(run: &Run, from: Duration) -> Verdict {
    let leaders = run.leaders_at(run.end_us - 1);
    let before = run.leaders_at(from.as_micros() as u64);
    if before.len() == 1 && before == leaders {
        pass(format!("{} led in epoch {} from {} to the end", before[0].0, before[0].1, at(from.as_micros() as u64)))
    } else {
        fail(
            format!("the leaders were {before:?} at {} and {leaders:?} at the end", at(from.as_micros() as u64)),
            vec![],
        )
    }
}

/// Every HTTP request answered by some instance.
fn every_request_answered(run: &Run) -> Verdict {
    let requests = http_requests(run);
    match requests.iter().find(|(_, served_by, _)| served_by.is_none()) {
        Some((event, _, _)) => {
            fail(format!("request sent at {} was answered by no instance", at(event.at_us)), vec![(*event).clone()])
        }
        None if requests.is_empty() => fail("no request was sent".into(), vec![]),
        None => {
            let passed_on = requests
                .iter()
                .filter(|(e, _, _)| matches!(e.kind, EventKind::HttpRequest { attempts, .. } if attempts > 1))
                .count();
            pass(format!("all {} requests answered ({passed_on} passed on to another instance)", requests.len()))
        }
    }
}

/// Each instance answered nine in ten of the requests sent to it first.
fn every_instance_serves_its_share(run: &Run) -> Verdict {
    let requests = http_requests(run);
    for node in &run.nodes {
        let sent = requests.iter().filter(|(_, _, first)| *first == node.as_str()).count();
        let served =
            requests.iter().filter(|(_, by, first)| *first == node.as_str() && *by == Some(node.as_str())).count();
        if sent == 0 || served * 10 < sent * 9 {
            return fail(format!("{node} answered {served} of the {sent} requests sent to it first"), vec![]);
        }
    }
    pass(format!("each of {} instances answered its share of {} requests", run.nodes.len(), requests.len()))
}

/// Asked in turn at the end, exactly one instance reports it leads.
fn one_instance_reports_leader(run: &Run) -> Verdict {
    let requests = http_requests(run);
    let last_round = &requests[requests.len().saturating_sub(run.nodes.len())..];
    let leaders: Vec<&str> = last_round
        .iter()
        .filter(|(e, _, _)| matches!(e.kind, EventKind::HttpRequest { is_leader: true, .. }))
        .filter_map(|(_, by, _)| *by)
        .collect();
    let asked: Vec<&str> = last_round.iter().filter_map(|(_, by, _)| *by).collect();
    if leaders.len() == 1 && asked.len() == run.nodes.len() {
        pass(format!("asked in turn at the end, only {} reports it leads", leaders[0]))
    } else {
        fail(format!("asked in turn at the end, {asked:?} answered and {leaders:?} reported leading"), vec![])
    }
}

/// The node never stopped leads at the end.
fn last_standing_leads(run: &Run) -> Verdict {
    let leaders = run.leaders_at(run.end_us - 1);
    let stopped: Vec<&str> = run
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::StopRequested | EventKind::Crashed))
        .map(|e| e.node.as_str())
        .collect();
    match leaders.as_slice() {
        [(node, _)] if !stopped.contains(&node.as_str()) => pass(format!("{node}, never stopped, leads at the end")),
        _ => fail(format!("at the end the leaders are {leaders:?}; stopped were {stopped:?}"), vec![]),
    }
}

/// Renewals (or the grant) of each term at most `every` apart, and up to the term's end.
fn renewed_every(run: &Run, every: Duration) -> Verdict {
    let every_us = every.as_micros() as u64;
    for term in terms(&run.events) {
        let mut last = term.from_us;
        let until = term.until_us.min(run.end_us);
        let renewals = run.events.iter().filter(|e| {
            e.node == term.acquired.node
                && e.incarnation == term.acquired.incarnation
                && matches!(e.kind, EventKind::Renewed { epoch, .. } if epoch == term.epoch)
        });
        for at_us in renewals.map(|e| e.at_us).chain([until]) {
            if at_us.saturating_sub(last) > every_us {
                return Verdict::violated(
                    Property::Expectation,
                    format!(
                        "{} went {:.3} s without renewing (from {} to {}), beyond the plan's {:.3} s",
                        term.holder(),
                        (at_us - last) as f64 / 1e6,
                        at(last),
                        at(at_us),
                        every.as_secs_f64()
                    ),
                    vec![term.acquired.clone()],
                );
            }
            last = at_us;
        }
    }
    Verdict::pass(Property::Expectation, format!("every term renewed at least every {:.3} s", every.as_secs_f64()))
}

/// Every leader asked to stop released within a second.
fn released_on_stop(run: &Run) -> Verdict {
    let mut stops = 0;
    for stop in run.events.iter().filter(|e| e.kind == EventKind::StopRequested) {
        let led = run.leaders_at(stop.at_us).iter().any(|(node, _)| *node == stop.node);
        if !led {
            continue;
        }
        stops += 1;
        let released = run.events.iter().any(|e| {
            e.node == stop.node
                && e.incarnation == stop.incarnation
                && matches!(e.kind, EventKind::Released { .. })
                && e.at_us >= stop.at_us
                && e.at_us - stop.at_us <= 1_000_000
        });
        if !released {
            return Verdict::violated(
                Property::Expectation,
                format!(
                    "{} was asked to stop at {} while leading and did not release the key within 1 s",
                    who(stop),
                    at(stop.at_us)
                ),
                vec![stop.clone()],
            );
        }
    }
    if stops == 0 {
        return Verdict::violated(Property::Expectation, "no leader was asked to stop".to_owned(), vec![]);
    }
    Verdict::pass(Property::Expectation, format!("{stops} stopping leader(s) released the key within 1 s"))
}

/// Each HTTP request: its event, who answered, whom it was sent to first.
fn http_requests(run: &Run) -> Vec<(&Event, Option<&str>, &str)> {
    run.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::HttpRequest { served_by, first, .. } => Some((e, served_by.as_deref(), first.as_str())),
            _ => None,
        })
        .collect()
}

/// MI-06: each write on `node-<writer>` is first seen on `node-<reader>` within `within`.
fn update_seen(run: &Run, writer: u32, reader: u32, within: Duration) -> Verdict {
    let (writer, reader) = (NodeId::replica(writer as usize), NodeId::replica(reader as usize));
    let reads: Vec<(&Event, u64, &str, bool)> = run
        .events
        .iter()
        .filter(|e| e.node == reader)
        .filter_map(|e| match &e.kind {
            EventKind::CacheRead { key, version, hit, .. } => Some((e, *version, key.as_str(), *hit)),
            _ => None,
        })
        .collect();
    let (mut writes, mut slowest) = (0, 0u64);
    for w in run.events.iter().filter(|e| e.node == writer) {
        let EventKind::CacheWrite { key, version, .. } = &w.kind else { continue };
        let seen = reads.iter().find(|(r, v, k, _)| *k == key && *v >= *version && r.at_us >= w.at_us);
        let Some((r, _, _, _)) = seen else {
            if run.end_us - w.at_us > within.as_micros() as u64 {
                let text =
                    format!("{reader} never read version {version} of {key}, written by {} at {}", who(w), at(w.at_us));
                return Verdict::violated(Property::Expectation, text, vec![w.clone()]);
            }
            continue;
        };
        let took = r.at_us - w.at_us;
        if took > within.as_micros() as u64 {
            let text = format!(
                "{reader} first read version {version} of {key} at {}, {:.3} s after {} wrote it at {} (the plan: within {:.1} s)",
                at(r.at_us),
                took as f64 / 1e6,
                who(w),
                at(w.at_us),
                within.as_secs_f64()
            );
            return Verdict::violated(Property::Expectation, text, vec![w.clone(), (*r).clone()]);
        }
        writes += 1;
        slowest = slowest.max(took);
    }
    let hits = reads.iter().filter(|(_, _, _, hit)| *hit).count();
    if writes == 0 || hits == 0 {
        let text = format!(
            "{writes} updates by {writer} seen by {reader}, {hits} of its reads from its cache: nothing to judge"
        );
        return Verdict::violated(Property::Expectation, text, vec![]);
    }
    Verdict::pass(
        Property::Expectation,
        format!(
            "{writes} updates by {writer}, each read by {reader} within {:.3} s (the plan: {:.1} s); {hits} of {} reads from its cache",
            slowest as f64 / 1e6,
            within.as_secs_f64(),
            reads.len()
        ),
    )
}
