//! PUBLISH and the (un)subscribe commands, with RESP2's reply shapes.

use bytes::Bytes;

use super::{unknown_subcommand, wrong_arity, Exec};
use crate::pubsub::Kind;
use crate::reply::Reply;

pub(super) fn publish(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    Reply::Int(exec.pubsub.publish(&args[1], &args[2]) as i64)
}

pub(super) fn subscribe(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    subscribe_generic(exec, &args[1..], Kind::Channel)
}

pub(super) fn psubscribe(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    subscribe_generic(exec, &args[1..], Kind::Pattern)
}

pub(super) fn unsubscribe(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    unsubscribe_generic(exec, &args[1..], Kind::Channel)
}

pub(super) fn punsubscribe(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    unsubscribe_generic(exec, &args[1..], Kind::Pattern)
}

fn verb(kind: Kind, subscribe: bool) -> &'static str {
    match (kind, subscribe) {
        (Kind::Channel, true) => "subscribe",
        (Kind::Channel, false) => "unsubscribe",
        (Kind::Pattern, true) => "psubscribe",
        (Kind::Pattern, false) => "punsubscribe",
    }
}

fn confirmation(kind: Kind, subscribe: bool, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(verb(kind, subscribe)),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::Int(count as i64),
    ])
}

/// One confirmation per name, each with the subscription count after it.
fn subscribe_generic(exec: &mut Exec<'_>, names: &[Bytes], kind: Kind) -> Reply {
    let (id, push) = (exec.session.id, exec.session.push.clone());
    Reply::Multi(
        names
            .iter()
            .map(|name| {
                let count = exec.pubsub.subscribe(id, &push, kind, name.clone());
                confirmation(kind, true, Some(name.clone()), count)
            })
            .collect(),
    )
}

/// Without names: from everything of that kind, and with nothing subscribed one
/// confirmation with a nil name and count 0.
fn unsubscribe_generic(exec: &mut Exec<'_>, names: &[Bytes], kind: Kind) -> Reply {
    let id = exec.session.id;
    let names = if names.is_empty() { exec.pubsub.subscriptions(id, kind) } else { names.to_vec() };
    if names.is_empty() {
        return confirmation(kind, false, None, exec.pubsub.subscription_count(id));
    }
    Reply::Multi(
        names
            .into_iter()
            .map(|name| {
                let count = exec.pubsub.unsubscribe(id, kind, &name);
                confirmation(kind, false, Some(name), count)
            })
            .collect(),
    )
}

pub(super) fn pubsub(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "channels" if args.len() <= 3 => {
            Reply::Array(exec.pubsub.channels(args.get(2).map(|p| &p[..])).into_iter().map(Reply::Bulk).collect())
        }
        "numsub" => Reply::Array(
            args[2..].iter().flat_map(|c| [Reply::Bulk(c.clone()), Reply::Int(exec.pubsub.numsub(c) as i64)]).collect(),
        ),
        "numpat" if args.len() == 2 => Reply::Int(exec.pubsub.numpat() as i64),
        "channels" | "numpat" => wrong_arity(&format!("pubsub|{sub}")),
        "shardchannels" => Reply::Array(vec![]),
        "shardnumsub" => Reply::Array(args[2..].iter().flat_map(|c| [Reply::Bulk(c.clone()), Reply::Int(0)]).collect()),
        _ => unknown_subcommand(&args[1], "PUBSUB"),
    }
}
