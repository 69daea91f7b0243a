//! A lease object's operations, taken from a history: each command on the object's keys
//! with its window, its reply (none: open), and the Redis times it could have seen.

use std::collections::BTreeMap;

use super::LeaseKeys;
use crate::clock_trace::ClockTrace;
use crate::event::{unquote, Event, EventKind};
use crate::fault::FaultKind;

/// Interns strings: values, replies, commands are compared by number.
#[derive(Debug, Clone, Default)]
pub(super) struct Strings {
    ids: BTreeMap<String, u32>,
    texts: Vec<String>,
}

impl Strings {
    pub(super) fn id(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = u32::try_from(self.texts.len()).expect("fewer than 2^32 distinct strings");
        self.ids.insert(s.to_owned(), id);
        self.texts.push(s.to_owned());
        id
    }

    pub(super) fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }
}

/// A call the specification knows natively, or one to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Call {
    Get,
    Set {
        value: u32,
        nx: bool,
        xx: bool,
        px_ms: Option<i64>,
    },
    PExpire {
        px_ms: i64,
    },
    Pttl,
    Del {
        others: i64,
    },
    Incr,
    GetCounter,
    /// Anything else on the object's keys: [`ObjectHistory::commands`]`[command]`.
    Replay {
        command: u32,
    },
}

/// A reply as the client read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Reply {
    Int(i64),
    /// A bulk string: its interned text, and its value as an integer when it is one.
    Bulk {
        text: u32,
        number: Option<i64>,
    },
    Nil,
    Ok,
    /// `-ERR ...`, `-NOSCRIPT ...`: the command did nothing.
    Error,
    Other,
}

#[derive(Debug, Clone)]
pub(super) struct Op {
    pub(super) call: Call,
    /// None: open (no answer came).
    pub(super) reply: Option<Reply>,
    /// The reply exactly as recorded, interned (for replayed calls).
    pub(super) raw: Option<u32>,
    pub(super) inv_us: u64,
    pub(super) ret_us: Option<u64>,
    /// For an open operation: when the client saw the server close its connection, or Redis
    /// went down, after which it cannot take effect. (One sent while Redis was down is not
    /// an operation at all.)
    pub(super) closed_us: Option<u64>,
    /// The Redis wall times (µs) the operation could have seen.
    pub(super) wall: (i64, i64),
    /// Indices of its invoke and complete events in the history.
    pub(super) invoke: usize,
    pub(super) complete: Option<usize>,
}

impl Op {
    /// It cannot take effect after `at_us` (nor after any earlier bound it had).
    fn close_by(&mut self, at_us: u64) {
        self.closed_us = Some(self.closed_us.map_or(at_us, |c| c.min(at_us)));
    }
}

/// A command to replay: its arguments (a script called by SHA1 rewritten to `EVAL` with its
/// source), or why it cannot be replayed.
pub(super) type Command = Result<Vec<String>, String>;

/// One lease object's operations, sorted by invocation.
pub(super) struct ObjectHistory {
    pub(super) ops: Vec<Op>,
    pub(super) strings: Strings,
    /// The distinct commands to replay (the same command sent twice is replayed once per
    /// state, whoever sent it).
    pub(super) commands: Vec<Command>,
    command_ids: BTreeMap<Command, u32>,
}

impl ObjectHistory {
    pub(super) fn extract(events: &[Event], keys: &LeaseKeys, clock: &ClockTrace, end_us: u64) -> ObjectHistory {
        let sources = script_sources(events);
        let mut history = ObjectHistory {
            ops: Vec::new(),
            strings: Strings::default(),
            commands: Vec::new(),
            command_ids: BTreeMap::new(),
        };
        let mut pending: BTreeMap<(&str, u64, u64, u64), usize> = BTreeMap::new();
        // While Redis is down (from a restart fault's injection, which crashes it, to the
        // next heal of one, which starts it: restarts may overlap), what is sent reaches no
        // server; a crash ends every connection, so nothing sent before it runs after it.
        let mut down = false;
        let mut restarts: Vec<u64> = Vec::new();
        for (index, event) in events.iter().enumerate() {
            let node = (event.node.as_str(), event.incarnation);
            match &event.kind {
                // Sent while Redis is down, it reaches no server: it never runs.
                EventKind::RedisInvoke { .. } if down => {}
                EventKind::RedisInvoke { conn, op, args } => {
                    let args: Vec<String> = args.iter().map(|a| unquote(a)).collect();
                    if let Some(call) = history.classify(args, keys, &sources) {
                        pending.insert((node.0, node.1, *conn, *op), history.ops.len());
                        history.ops.push(Op {
                            call,
                            reply: None,
                            raw: None,
                            inv_us: event.at_us,
                            ret_us: None,
                            closed_us: None,
                            wall: (0, 0),
                            invoke: index,
                            complete: None,
                        });
                    }
                }
                EventKind::FaultInjected { id, fault, .. } if matches!(fault.kind, FaultKind::RedisRestart { .. }) => {
                    down = true;
                    restarts.push(*id);
                    // Still pending: a reply Redis sent before it went down may yet arrive.
                    for &i in pending.values() {
                        history.ops[i].close_by(event.at_us);
                    }
                }
                EventKind::FaultHealed { id } if restarts.contains(id) => down = false,
                EventKind::RedisClosed { conn } => {
                    let cut: Vec<_> = pending
                        .range((node.0, node.1, *conn, 0)..=(node.0, node.1, *conn, u64::MAX))
                        .map(|(k, i)| (*k, *i))
                        .collect();
                    for (key, i) in cut {
                        history.ops[i].close_by(event.at_us);
                        pending.remove(&key);
                    }
                }
                EventKind::RedisComplete { conn, op, reply } => {
                    if let Some(i) = pending.remove(&(node.0, node.1, *conn, *op)) {
                        let parsed = parse_reply(reply, &mut history.strings);
                        let op = &mut history.ops[i];
                        op.reply = Some(parsed);
                        op.raw = Some(history.strings.id(reply));
                        op.ret_us = Some(event.at_us);
                        op.complete = Some(index);
                    }
                }
                _ => {}
            }
        }
        // An error reply means the command did nothing.
        history.ops.retain(|op| op.reply != Some(Reply::Error));
        for op in &mut history.ops {
            let until = op.ret_us.or(op.closed_us).unwrap_or(end_us).max(op.inv_us);
            op.wall = clock.wall_range_us(op.inv_us, until);
        }
        history.ops.sort_by_key(|op| (op.inv_us, op.invoke));
        history
    }

    /// The call `args` makes on the object, if it touches the object's keys.
    fn classify(&mut self, args: Vec<String>, keys: &LeaseKeys, sources: &BTreeMap<String, String>) -> Option<Call> {
        if let Some(script_keys) = script_keys(&args) {
            if !script_keys.iter().any(|k| *k == keys.lease || *k == keys.counter) {
                return None;
            }
            let command = with_source(args, sources);
            return Some(self.replay(command));
        }
        if let Some(call) = self.native(&args, keys) {
            return Some(call);
        }
        // A command of unknown shape touches the object if any argument names a key of it:
        // replaying it on Redis gives its real meaning either way.
        let touches = args.iter().skip(1).any(|a| *a == keys.lease || *a == keys.counter);
        touches.then(|| self.replay(Ok(args)))
    }

    fn replay(&mut self, command: Command) -> Call {
        if let Some(&index) = self.command_ids.get(&command) {
            return Call::Replay { command: index };
        }
        let index = u32::try_from(self.commands.len()).expect("fewer than 2^32 commands");
        self.command_ids.insert(command.clone(), index);
        self.commands.push(command);
        Call::Replay { command: index }
    }

    /// The calls the specification knows natively.
    fn native(&mut self, args: &[String], keys: &LeaseKeys) -> Option<Call> {
        let verb = args.first()?.to_ascii_uppercase();
        let key = args.get(1)?;
        let (on_lease, on_counter) = (*key == keys.lease, *key == keys.counter);
        match verb.as_str() {
            "GET" if on_lease && args.len() == 2 => Some(Call::Get),
            "GET" if on_counter && args.len() == 2 => Some(Call::GetCounter),
            "INCR" if on_counter && args.len() == 2 => Some(Call::Incr),
            "PTTL" if on_lease && args.len() == 2 => Some(Call::Pttl),
            "PEXPIRE" if on_lease && args.len() == 3 => Some(Call::PExpire { px_ms: args[2].parse().ok()? }),
            "EXPIRE" if on_lease && args.len() == 3 => {
                Some(Call::PExpire { px_ms: args[2].parse::<i64>().ok()?.checked_mul(1000)? })
            }
            "SET" if on_lease => self.set(args),
            "DEL" | "UNLINK" if args[1..].contains(&keys.lease) && !args[1..].contains(&keys.counter) => {
                Some(Call::Del { others: args.len() as i64 - 2 })
            }
            _ => None,
        }
    }

    fn set(&mut self, args: &[String]) -> Option<Call> {
        let value = self.strings.id(args.get(2)?);
        let (mut nx, mut xx, mut px_ms) = (false, false, None);
        let mut options = args[3..].iter();
        while let Some(option) = options.next() {
            match option.to_ascii_uppercase().as_str() {
                "NX" => nx = true,
                "XX" => xx = true,
                "PX" => px_ms = Some(options.next()?.parse().ok().filter(|ms| *ms > 0)?),
                "EX" => px_ms = Some(options.next()?.parse::<i64>().ok().filter(|s| *s > 0)?.checked_mul(1000)?),
                // GET, KEEPTTL, EXAT...: replayed.
                _ => return None,
            }
        }
        (!(nx && xx)).then_some(Call::Set { value, nx, xx, px_ms })
    }
}

/// The keys of a script call (`EVAL`, `EVALSHA`, their `_RO` forms, `FCALL`, `FCALL_RO`).
fn script_keys(args: &[String]) -> Option<&[String]> {
    let verb = args.first()?.to_ascii_uppercase();
    if !["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"].contains(&verb.as_str()) {
        return None;
    }
    let numkeys: usize = args.get(2)?.parse().ok()?;
    args.get(3..)?.get(..numkeys)
}

/// A script called by SHA1 as `EVAL` with its source, when the history shows the source.
fn with_source(mut args: Vec<String>, sources: &BTreeMap<String, String>) -> Command {
    let verb = args[0].to_ascii_uppercase();
    if verb.starts_with("FCALL") {
        // A function needs its library loaded, which a replay on a fresh keyspace has not.
        return Err(format!(
            "{verb} of {} (functions are not replayed: their libraries are not in the history)",
            args[1]
        ));
    }
    if verb != "EVALSHA" && verb != "EVALSHA_RO" {
        return Ok(args);
    }
    let sha = args[1].to_ascii_lowercase();
    let Some(source) = sources.get(&sha) else {
        return Err(format!("the source of script {sha} is never sent in the history (EVAL or SCRIPT LOAD)"));
    };
    args[0] = if verb == "EVALSHA" { "EVAL".to_owned() } else { "EVAL_RO".to_owned() };
    args[1] = source.clone();
    Ok(args)
}

/// Every script source the history sends (`EVAL`, `SCRIPT LOAD`), by SHA1.
fn script_sources(events: &[Event]) -> BTreeMap<String, String> {
    let mut sources = BTreeMap::new();
    for event in events {
        let EventKind::RedisInvoke { args, .. } = &event.kind else { continue };
        let verb = args.first().map(|a| unquote(a).to_ascii_uppercase());
        let source = match verb.as_deref() {
            Some("EVAL" | "EVAL_RO") => args.get(1),
            Some("SCRIPT") if args.get(1).is_some_and(|a| unquote(a).eq_ignore_ascii_case("LOAD")) => args.get(2),
            _ => None,
        };
        if let Some(source) = source.map(|s| unquote(s)) {
            sources.entry(sha1_smol::Sha1::from(&source).digest().to_string()).or_insert(source);
        }
    }
    sources
}

fn parse_reply(reply: &str, strings: &mut Strings) -> Reply {
    if let Some(n) = reply.strip_prefix(':') {
        return n.parse().map_or(Reply::Other, Reply::Int);
    }
    match reply {
        "(nil)" => Reply::Nil,
        "OK" => Reply::Ok,
        r if r.starts_with('"') => {
            let text = unquote(r);
            Reply::Bulk { number: text.parse().ok(), text: strings.id(&text) }
        }
        r if r.starts_with('-') => Reply::Error,
        _ => Reply::Other,
    }
}
