//! Command dispatch: the command table, Redis's arity and context rules, and the shared
//! argument parsing. Each family of commands lives in its own file.

mod connection;
mod hashes;
mod keys;
mod pubsub;
mod scripting;
mod strings;

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedSender;

use crate::keyspace::Keyspace;
use crate::pubsub::PubSub;
use crate::reply::Reply;
use crate::scripting::Scripting;

/// One client connection's own state.
#[derive(Debug)]
pub struct Session {
    /// `CLIENT ID`.
    pub id: u64,
    /// `CLIENT SETNAME`.
    pub name: Option<Bytes>,
    /// Protocol version: 2, or 3 after `HELLO 3`.
    pub resp: u8,
    /// Set by QUIT: close after replying.
    pub quit: bool,
    /// Where pub/sub messages for this client go.
    pub push: UnboundedSender<Reply>,
}

/// What a command may touch while it runs. Time is frozen at `now_ms` for the whole command
/// (and for a whole script).
pub struct Exec<'a> {
    pub(crate) db: &'a mut Keyspace,
    pub(crate) pubsub: &'a mut PubSub,
    /// `None` inside a script: scripts cannot run scripts.
    pub(crate) scripts: Option<&'a mut Scripting>,
    pub(crate) session: &'a mut Session,
    pub(crate) now_ms: i64,
}

type Handler = fn(&mut Exec<'_>, &[Bytes]) -> Reply;

struct Spec {
    name: &'static str,
    /// Redis's arity: `n` exactly n arguments (with the name), `-n` at least n.
    arity: i32,
    /// Callable from `redis.call`.
    script: bool,
    /// Allowed on a RESP2 connection in subscribed mode.
    subscribed: bool,
    handler: Handler,
}

const fn spec(name: &'static str, arity: i32, script: bool, subscribed: bool, handler: Handler) -> Spec {
    Spec { name, arity, script, subscribed, handler }
}

static COMMANDS: &[Spec] = &[
    spec("ping", -1, true, true, connection::ping),
    spec("echo", 2, true, false, connection::echo),
    spec("hello", -1, false, false, connection::hello),
    spec("client", -2, false, false, connection::client),
    spec("select", 2, true, false, connection::select),
    spec("quit", -1, false, true, connection::quit),
    spec("get", 2, true, false, strings::get),
    spec("set", -3, true, false, strings::set),
    spec("incr", 2, true, false, strings::incr),
    spec("decr", 2, true, false, strings::decr),
    spec("incrby", 3, true, false, strings::incrby),
    spec("del", -2, true, false, keys::del),
    spec("exists", -2, true, false, keys::exists),
    spec("expire", -3, true, false, keys::expire),
    spec("pexpire", -3, true, false, keys::pexpire),
    spec("ttl", 2, true, false, keys::ttl),
    spec("pttl", 2, true, false, keys::pttl),
    spec("persist", 2, true, false, keys::persist),
    spec("keys", 2, true, false, keys::keys),
    spec("dbsize", 1, true, false, keys::dbsize),
    spec("flushall", -1, true, false, keys::flushall),
    spec("hset", -4, true, false, hashes::hset),
    spec("hget", 3, true, false, hashes::hget),
    spec("hgetall", 2, true, false, hashes::hgetall),
    spec("hdel", -3, true, false, hashes::hdel),
    spec("eval", -3, false, false, scripting::eval),
    spec("evalsha", -3, false, false, scripting::evalsha),
    spec("script", -2, false, false, scripting::script),
    spec("publish", 3, true, false, pubsub::publish),
    spec("subscribe", -2, false, true, pubsub::subscribe),
    spec("unsubscribe", -1, false, true, pubsub::unsubscribe),
    spec("psubscribe", -2, false, true, pubsub::psubscribe),
    spec("punsubscribe", -1, false, true, pubsub::punsubscribe),
];

/// Where a command comes from: a client connection, or `redis.call` inside a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A client connection.
    Client,
    /// `redis.call` / `redis.pcall`.
    Script,
}

/// Runs one command (`args[0]` is its name) and returns its reply.
pub fn execute(exec: &mut Exec<'_>, caller: Caller, args: &[Bytes]) -> Reply {
    debug_assert!(!args.is_empty(), "the connection never dispatches an empty command");
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let Some(spec) = COMMANDS.iter().find(|s| s.name == name) else {
        return match caller {
            Caller::Client => unknown_command(args),
            Caller::Script => Reply::error("ERR Unknown Redis command called from script"),
        };
    };
    let arity_ok =
        if spec.arity >= 0 { args.len() == spec.arity as usize } else { args.len() >= (-spec.arity) as usize };
    if !arity_ok {
        return match caller {
            Caller::Client => wrong_arity(spec.name),
            Caller::Script => Reply::error("ERR Wrong number of args calling Redis command from script"),
        };
    }
    if caller == Caller::Script && !spec.script {
        return Reply::error("ERR This Redis command is not allowed from script");
    }
    if exec.session.resp == 2 && !spec.subscribed && exec.pubsub.subscription_count(exec.session.id) > 0 {
        return Reply::error(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        ));
    }
    (spec.handler)(exec, args)
}

/// Redis's wording, including the trailing space after each quoted argument.
fn unknown_command(args: &[Bytes]) -> Reply {
    let mut listed = String::new();
    for arg in &args[1..] {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        let arg = String::from_utf8_lossy(arg);
        let shown: String = arg.chars().take(room).collect();
        listed.push_str(&format!("'{shown}' "));
    }
    let name: String = String::from_utf8_lossy(&args[0]).chars().take(128).collect();
    Reply::error(format!("ERR unknown command '{name}', with args beginning with: {listed}"))
}

pub(crate) fn wrong_arity(name: &str) -> Reply {
    Reply::error(format!("ERR wrong number of arguments for '{name}' command"))
}

pub(crate) fn syntax_error() -> Reply {
    Reply::error("ERR syntax error")
}

pub(crate) fn not_an_integer() -> Reply {
    Reply::error("ERR value is not an integer or out of range")
}

pub(crate) fn wrong_type() -> Reply {
    Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value")
}

pub(crate) fn unknown_subcommand(sub: &[u8], command: &str) -> Reply {
    Reply::error(format!(
        "ERR unknown subcommand '{}'. Try {command} HELP.",
        String::from_utf8_lossy(sub).chars().take(128).collect::<String>()
    ))
}

/// Redis's `string2ll`: an optional `-`, then digits without leading zeros (except `0`
/// itself), no `+`, no spaces, within `i64`.
pub(crate) fn parse_i64(bytes: &[u8]) -> Option<i64> {
    if bytes == b"0" {
        return Some(0);
    }
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 19 || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut magnitude: u64 = 0;
    for d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if magnitude > i64::MAX as u64 + 1 {
            return None;
        }
        Some((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).ok()
    }
}

pub(crate) fn eq_ignore_case(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_as_string2ll_does() {
        for (text, value) in
            [("0", Some(0)), ("-1", Some(-1)), ("42", Some(42)), ("9223372036854775807", Some(i64::MAX))]
        {
            assert_eq!(parse_i64(text.as_bytes()), value, "{text}");
        }
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in ["", "-", "+1", " 1", "01", "-0", "1.5", "9223372036854775808", "-9223372036854775809", "1a"] {
            assert_eq!(parse_i64(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn unknown_commands_are_worded_as_redis_words_them() {
        let args: Vec<Bytes> = ["foo", "a", "b"].iter().map(|s| Bytes::from(*s)).collect();
        assert_eq!(
            unknown_command(&args),
            Reply::error("ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
        );
        assert_eq!(
            unknown_command(&[Bytes::from("Nope")]),
            Reply::error("ERR unknown command 'Nope', with args beginning with: ")
        );
    }
}
