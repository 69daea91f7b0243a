//! A violation in words: the longest explainable prefix, the state it leaves, and the
//! operation that cannot follow it.

use super::ops::{Call, ObjectHistory, Reply};
use super::search::Stuck;
use super::spec::{Spec, State};
use super::LeaseKeys;
use crate::event::{unquote, Event, EventKind};
use crate::verdict::{at, Property, Verdict};

impl ObjectHistory {
    fn describe(&self, i: usize, events: &[Event]) -> String {
        let op = &self.ops[i];
        let invoke = &events[op.invoke];
        let name = match &invoke.kind {
            EventKind::RedisInvoke { args, .. } => command_in_words(args),
            _ => unreachable!("operations start at invocations"),
        };
        let reply = match op.complete.map(|c| &events[c].kind) {
            Some(EventKind::RedisComplete { reply, .. }) => {
                format!("answered {reply} at {}", at(events[op.complete.unwrap()].at_us))
            }
            _ => "never answered".to_owned(),
        };
        format!("{}#{}'s {name} (sent {}, {reply})", invoke.node, invoke.incarnation, at(op.inv_us))
    }

    fn show_state(&self, spec: &Spec, state: State) -> String {
        let lease = match state.lease {
            None => "absent".to_owned(),
            Some((value, deadline)) => {
                let value = spec.text(value);
                match deadline {
                    Some((_, latest)) => {
                        format!("{value:?} until Redis time {:.3} s at the latest", latest as f64 / 1e6)
                    }
                    None => format!("{value:?} without a TTL"),
                }
            }
        };
        format!("lease {lease}, counter {}", state.counter)
    }

    pub(super) fn violation(&self, keys: &LeaseKeys, spec: &Spec, stuck: Stuck, events: &[Event]) -> Verdict {
        let next = stuck.next.min(self.ops.len() - 1);
        let last_change = stuck.path.iter().rev().copied().find(|&i| {
            !matches!(self.ops[i].call, Call::Get | Call::Pttl | Call::GetCounter)
                && !matches!(self.ops[i].reply, Some(Reply::Int(0)) | Some(Reply::Nil))
        });
        let mut explanation = format!(
            "the operations on {} are not linearizable: no order of them inside their windows explains every reply. \
             The longest explainable prefix has {} operations and leaves {}",
            keys.lease,
            stuck.path.len(),
            self.show_state(spec, stuck.state)
        );
        if let Some(change) = last_change {
            explanation += &format!(" (last changed by {})", self.describe(change, events));
        }
        explanation += &format!(
            "; then {} cannot be placed. A write Redis acknowledged was lost (a restart without durable persistence, \
             a failover), or a command changed the lease behind its owner's back.",
            self.describe(next, events)
        );
        let mut evidence = Vec::new();
        for i in last_change.into_iter().chain([next]) {
            evidence.push(events[self.ops[i].invoke].clone());
            evidence.extend(self.ops[i].complete.map(|c| events[c].clone()));
        }
        evidence.sort_by_key(|e| (e.at_us, e.seq));
        Verdict::violated(Property::Linearizability, explanation, evidence)
    }
}

/// A command for a person: a script's source shortened to its first line.
fn command_in_words(args: &[String]) -> String {
    let args: Vec<String> = args.iter().map(|a| unquote(a)).collect();
    let is_script =
        args.first().is_some_and(|verb| verb.eq_ignore_ascii_case("EVAL") || verb.eq_ignore_ascii_case("EVAL_RO"));
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            if is_script && i == 1 {
                let first = a.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
                let short: String = first.chars().take(40).collect();
                format!("<script {short}...>")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
