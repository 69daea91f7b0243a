//! Hand-written histories for the checkers' unit tests.
use crate::event::{Event, EventKind};
use crate::fault::{Fault, FaultKind};
use crate::node::NodeId;

/// An event at `ms` milliseconds.
pub fn ev(ms: u64, node: &str, incarnation: u64, kind: EventKind) -> Event {
    Event { seq: 0, at_us: ms * 1000, node: node.into(), incarnation, local_us: Some((ms * 1000) as i64), kind }
}

/// A term's start, and its lease's deadline (true and local time agree here).
pub fn acquired(ms: u64, node: &str, epoch: u64, deadline_ms: u64) -> Event {
    let (deadline_local_us, deadline_true_us) = ((deadline_ms * 1000) as i64, deadline_ms * 1000);
    ev(ms, node, 1, EventKind::Acquired { epoch, deadline_local_us, deadline_true_us })
}

/// A renewal, with its new deadline.
pub fn renewed(ms: u64, node: &str, epoch: u64, deadline_ms: u64) -> Event {
    let (deadline_local_us, deadline_true_us) = ((deadline_ms * 1000) as i64, deadline_ms * 1000);
    ev(ms, node, 1, EventKind::Renewed { epoch, deadline_local_us, deadline_true_us })
}

pub fn stepped_down(ms: u64, node: &str, epoch: u64) -> Event {
    ev(ms, node, 1, EventKind::SteppedDown { epoch, reason: "LeaseLost".into() })
}

pub fn write(sent_ms: u64, ms: u64, node: &str, epoch: u64, accepted: bool) -> Event {
    ev(
        ms,
        node,
        1,
        EventKind::FencedWrite {
            epoch,
            accepted,
            value: format!("{node}@{ms}"),
            sent_us: sent_ms * 1000,
            replaced: None,
        },
    )
}

/// A write whose reply said the resource held `replaced` before it.
pub fn write_over(sent_ms: u64, ms: u64, node: &str, epoch: u64, accepted: bool, replaced: u64) -> Event {
    let mut event = write(sent_ms, ms, node, epoch, accepted);
    if let EventKind::FencedWrite { replaced: r, .. } = &mut event.kind {
        *r = Some(replaced);
    }
    event
}

/// Numbers events in order, as a history does.
pub fn history(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by_key(|e| e.at_us);
    for (i, e) in events.iter_mut().enumerate() {
        e.seq = i as u64;
    }
    events
}

/// Fault `id` of `kind`, injected at `ms` on `nodes`.
pub fn injected(ms: u64, id: u64, kind: FaultKind, nodes: &[&str]) -> Event {
    let fault = Fault::at(ms, 1_000, kind);
    let nodes = nodes.iter().map(|n| NodeId::from(*n)).collect();
    Event { local_us: None, ..ev(ms, NodeId::NEMESIS, 0, EventKind::FaultInjected { id, fault, nodes }) }
}

/// Fault `id` healed at `ms`.
pub fn healed(ms: u64, id: u64) -> Event {
    Event { local_us: None, ..ev(ms, NodeId::NEMESIS, 0, EventKind::FaultHealed { id }) }
}

/// `node` (incarnation 1) sends `args` as request `op` on connection 1, each argument in the
/// recorder's quoted form.
pub fn redis_invoke(ms: u64, node: &str, op: u64, args: &[&str]) -> Event {
    let args = args.iter().map(|a| format!("{a:?}")).collect();
    ev(ms, node, 1, EventKind::RedisInvoke { conn: 1, op, args })
}

/// `node` reads `reply` to request `op` on connection 1.
pub fn redis_complete(ms: u64, node: &str, op: u64, reply: &str) -> Event {
    ev(ms, node, 1, EventKind::RedisComplete { conn: 1, op, reply: reply.into() })
}
