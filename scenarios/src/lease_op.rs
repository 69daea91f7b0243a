//! The Redis operations on a lease's key, as the nodes sent them and read their replies:
//! what the report draws in its zoomed view and what names the cause of a second leader.

use std::collections::BTreeMap;

use sim::unquote;
use sim::{Event, EventKind};

/// What an operation did to the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// It took the lease (`SET NX` answered OK, the acquire script answered an epoch).
    Granted,
    /// It kept the holder's lease alive (`PEXPIRE`/renew script answered 1).
    Extended,
    /// It removed the lease (`DEL` or the release script answered 1).
    Removed,
    /// It read, or changed nothing, or got no reply.
    Nothing,
}

/// One command on the lease key and its reply.
#[derive(Debug, Clone)]
pub struct LeaseOp {
    /// The node incarnation that sent it, as verdicts name it (`node-1#2`).
    pub who: String,
    /// Its node.
    pub node: sim::NodeId,
    /// When it was sent, µs of true time.
    pub sent_us: u64,
    /// When its reply arrived, if one did.
    pub replied_us: Option<u64>,
    /// The command in words: `SET NX PX 3000`, `DEL`, `EVALSHA release`.
    pub command: String,
    /// The reply as recorded (`OK`, `:1`, `(nil)`, `-ERR ...`), if one came.
    pub reply: Option<String>,
    /// What it did to the lease.
    pub effect: Effect,
}

/// Script names by SHA1, for the scripts of the `election` crate.
fn known_scripts() -> BTreeMap<String, &'static str> {
    [
        (election::ACQUIRE, "acquire"),
        (election::RENEW, "renew"),
        (election::RELEASE, "release"),
        (election::FENCED_WRITE, "fenced-write"),
        (election::CLAIM_SLOT, "claim-slot"),
    ]
    .into_iter()
    .map(|(source, name)| (sha1(source), name))
    .collect()
}

/// A script's SHA1 as Redis names it (lowercase hex of the body).
fn sha1(body: &str) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// Every operation on `key` in `events`, in the order sent.
pub fn lease_ops(events: &[Event], key: &str) -> Vec<LeaseOp> {
    let scripts = known_scripts();
    let mut ops: Vec<LeaseOp> = Vec::new();
    // (node, incarnation, conn, op) -> index in `ops`, for the replies: connections are
    // numbered per node.
    let mut pending: BTreeMap<(&str, u64, u64, u64), usize> = BTreeMap::new();
    for event in events {
        let id = |conn: u64, op: u64| (event.node.as_str(), event.incarnation, conn, op);
        match &event.kind {
            EventKind::RedisInvoke { conn, op, args } => {
                let args: Vec<String> = args.iter().map(|a| unquote(a)).collect();
                if !touches(&args, key) {
                    continue;
                }
                pending.insert(id(*conn, *op), ops.len());
                ops.push(LeaseOp {
                    who: sim::check::who(event),
                    node: event.node.clone(),
                    sent_us: event.at_us,
                    replied_us: None,
                    command: words(&args, &scripts),
                    reply: None,
                    effect: Effect::Nothing,
                });
            }
            EventKind::RedisComplete { conn, op, reply } => {
                if let Some(i) = pending.remove(&id(*conn, *op)) {
                    let op = &mut ops[i];
                    assert!(op.reply.is_none(), "one reply per operation");
                    op.replied_us = Some(event.at_us);
                    op.effect = effect(&op.command, reply);
                    op.reply = Some(reply.clone());
                }
            }
            _ => {}
        }
    }
    ops
}

/// Whether the command names `key`: as its first argument, or among a script's keys.
fn touches(args: &[String], key: &str) -> bool {
    let Some(name) = args.first() else { return false };
    if name.eq_ignore_ascii_case("EVAL") || name.eq_ignore_ascii_case("EVALSHA") {
        let keys = args.get(2).and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
        return args.iter().skip(3).take(keys).any(|k| k == key);
    }
    args.get(1).is_some_and(|k| k == key)
}

/// The command in words: its name, a script's name, and the options that matter to a lease.
fn words(args: &[String], scripts: &BTreeMap<String, &'static str>) -> String {
    let name = args[0].to_ascii_uppercase();
    match name.as_str() {
        "EVALSHA" => {
            let sha = args.get(1).map_or("", String::as_str);
            let script =
                scripts.get(sha).map_or_else(|| format!("script {}", &sha[..sha.len().min(8)]), |n| (*n).to_owned());
            format!("EVALSHA {script}")
        }
        "EVAL" => {
            let body = args.get(1).map_or("", String::as_str);
            let sha = sha1(body);
            let script = scripts.get(&sha).map_or_else(|| format!("script {}", &sha[..8]), |n| (*n).to_owned());
            format!("EVAL {script}")
        }
        "SET" => {
            let options: Vec<String> = args.iter().skip(3).map(|a| a.to_ascii_uppercase()).collect();
            format!("SET {}", options.join(" ")).trim_end().to_owned()
        }
        _ => name,
    }
}

/// What a command with this reply did to the lease.
fn effect(command: &str, reply: &str) -> Effect {
    let script = command.strip_prefix("EVALSHA ").or_else(|| command.strip_prefix("EVAL "));
    match (command, script) {
        (_, Some("acquire")) if reply.starts_with(':') => Effect::Granted,
        (_, Some("renew")) if reply == ":1" => Effect::Extended,
        (_, Some("release")) if reply == ":1" => Effect::Removed,
        (_, Some(_)) => Effect::Nothing,
        (c, None) if c.starts_with("SET") && reply == "OK" => Effect::Granted,
        ("PEXPIRE" | "EXPIRE", None) if reply == ":1" => Effect::Extended,
        ("DEL" | "UNLINK" | "GETDEL", None) if reply == ":1" || (command == "GETDEL" && reply != "(nil)") => {
            Effect::Removed
        }
        _ => Effect::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_unquote_to_their_text_and_scripts_are_named_by_their_sha() {
        assert_eq!(unquote(r#""SET""#), "SET");
        assert_eq!(unquote(r#""a\"b\\c\nd\u{e9}""#), "a\"b\\c\nd\u{e9}");
        let body = format!("{:?}", election::RELEASE);
        let scripts = known_scripts();
        assert_eq!(words(&["EVAL".into(), unquote(&body), "2".into()], &scripts), "EVAL release");
        let sha = election::LuaScript::new(election::RENEW).sha().to_owned();
        assert_eq!(words(&["evalsha".into(), sha, "2".into()], &scripts), "EVALSHA renew");
        assert_eq!(
            words(&["set".into(), "leader".into(), "v".into(), "nx".into(), "px".into(), "3000".into()], &scripts),
            "SET NX PX 3000"
        );
        assert_eq!(effect("DEL", ":1"), Effect::Removed);
        assert_eq!(effect("DEL", ":0"), Effect::Nothing);
        assert_eq!(effect("EVALSHA acquire", ":7"), Effect::Granted);
        assert_eq!(effect("EVALSHA acquire", "\"node-2:1:3\""), Effect::Nothing);
    }
}
