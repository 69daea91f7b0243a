//! Command dispatch: the command table with Redis's arity and flags, the rules that apply
//! before a command runs (scripts, subscribed mode, MULTI queueing, read-only scripts,
//! maxmemory), and the helpers every family shares. Each family lives in its own file.

mod connection;
mod hashes;
mod keys;
mod lists;
mod multi;
mod pubsub;
mod scripting;
mod server;
mod sets;
mod sort;
mod strings;
mod table;
mod zsets;

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedSender;

use crate::keyspace::{Entry, Keyspace, Value};
use crate::meta::Meta;

use crate::notify::Class;
use crate::pubsub::PubSub;
use crate::reply::Reply;
use crate::scripting::Scripting;

pub(crate) use keys::DATABASES;
pub(crate) use multi::{busy as busy_reply, Transaction};
pub(crate) use table::{lookup, Spec, DENYOOM, MAY_REPLICATE, NOSCRIPT, NO_MULTI, PUBSUB, READONLY, STALE, WRITE};

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
    /// The selected database.
    pub db: usize,
    /// MULTI state and WATCHed keys.
    pub(crate) tx: Transaction,
    /// `CLIENT REPLY OFF|SKIP`: replies are not sent.
    pub(crate) reply_mode: ReplyMode,
    /// Set by SYNC/PSYNC: the connection now carries the replication stream.
    pub(crate) replica: bool,
    /// Set by DEBUG SLEEP: the connection waits this long after replying.
    pub(crate) pending_sleep_ms: u64,
    /// Pushes that go out after this command's reply (its own tracking invalidations).
    pub(crate) after_reply: Vec<Reply>,
    /// This connection's script holds the server for its simulated time before replying.
    pub(crate) script_hold: bool,
    /// `CLIENT CACHING yes|no`: applies to the next command.
    pub(crate) caching_next: Option<bool>,
}

/// `CLIENT REPLY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ReplyMode {
    #[default]
    On,
    Off,
    /// Skip the next command's reply.
    Skip,
}

impl Session {
    /// A fresh connection's state.
    pub fn new(id: u64, push: UnboundedSender<Reply>) -> Session {
        Session {
            id,
            name: None,
            resp: 2,
            quit: false,
            push,
            db: 0,
            tx: Transaction::default(),
            reply_mode: ReplyMode::On,
            replica: false,
            pending_sleep_ms: 0,
            after_reply: Vec::new(),
            script_hold: false,
            caching_next: None,
        }
    }
}

/// Where a command comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A client connection.
    Client,
    /// `redis.call` / `redis.pcall`.
    Script,
}

/// What the running script may do (`None` outside scripts).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ScriptRules {
    /// EVAL_RO, FCALL_RO, `no-writes`: write commands are refused.
    pub(crate) read_only: bool,
    /// `allow-oom`: write commands run past maxmemory.
    pub(crate) allow_oom: bool,
    /// Set once the script has written: later OOM checks no longer apply (Redis checks OOM
    /// only before the first write).
    pub(crate) wrote: bool,
}

/// What a command may touch while it runs. Time is frozen at `now_ms` for the whole command
/// (and for a whole script or transaction).
pub struct Exec<'a> {
    pub(crate) dbs: &'a mut [Keyspace],
    pub(crate) pubsub: &'a mut PubSub,
    /// `None` inside a script: scripts cannot run scripts.
    pub(crate) scripts: Option<&'a mut Scripting>,
    pub(crate) session: &'a mut Session,
    pub(crate) meta: &'a mut Meta,
    pub(crate) now_ms: i64,
    /// Inside a script: its rules.
    pub(crate) script: Option<ScriptRules>,
    /// Set by a command that propagates as something other than itself (e.g. SET EX as SET
    /// PXAT), or as several commands; `Some(vec![])` propagates nothing.
    pub(crate) propagate_as: Option<Vec<Vec<Bytes>>>,
    /// What this step propagates to replicas, in order: each a command and its database.
    pub(crate) effects: Vec<(usize, Vec<Bytes>)>,
    /// Running EXEC's queued commands: no OOM check (it was done when they were queued).
    pub(crate) in_exec: bool,
}

impl<'a> Exec<'a> {
    /// A client's top-level step: outside scripts and transactions, no effects yet.
    pub(crate) fn step(
        dbs: &'a mut [Keyspace],
        pubsub: &'a mut PubSub,
        scripts: Option<&'a mut Scripting>,
        session: &'a mut Session,
        meta: &'a mut Meta,
        now_ms: i64,
    ) -> Exec<'a> {
        Exec {
            dbs,
            pubsub,
            scripts,
            session,
            meta,
            now_ms,
            script: None,
            propagate_as: None,
            effects: Vec::new(),
            in_exec: false,
        }
    }

    /// The selected database.
    pub(crate) fn db(&mut self) -> &mut Keyspace {
        &mut self.dbs[self.session.db]
    }

    /// The live entry under `key` in the selected database.
    pub(crate) fn get(&mut self, key: &[u8]) -> Option<&Entry> {
        let now_ms = self.now_ms;
        self.dbs[self.session.db].get(key, now_ms)
    }

    /// The live entry under `key`, for writing.
    pub(crate) fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let now_ms = self.now_ms;
        self.dbs[self.session.db].get_mut(key, now_ms)
    }

    /// Stores `entry` under `key`.
    pub(crate) fn insert(&mut self, key: Bytes, entry: Entry) {
        self.db().insert(key, entry);
    }

    /// Removes `key`; returns whether it was there.
    pub(crate) fn remove(&mut self, key: &[u8]) -> bool {
        let now_ms = self.now_ms;
        self.dbs[self.session.db].remove(key, now_ms)
    }

    /// Removes and returns the entry under `key`.
    pub(crate) fn take(&mut self, key: &[u8]) -> Option<Entry> {
        let now_ms = self.now_ms;
        self.dbs[self.session.db].take(key, now_ms)
    }

    /// Publishes a keyspace notification for `key` in the selected database.
    pub(crate) fn notify(&mut self, class: Class, event: &str, key: &[u8]) {
        let db = self.session.db;
        crate::notify::notify(&self.meta.config, self.pubsub, class, event, key, db);
    }

    /// The value under `key` must be of the kind `pick` accepts: `Ok(None)` when missing,
    /// WRONGTYPE otherwise.
    pub(crate) fn read<T>(&mut self, key: &[u8], pick: impl FnOnce(&Value) -> Option<T>) -> Result<Option<T>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some(entry) => pick(&entry.value).map(Some).ok_or_else(wrong_type),
        }
    }

    /// Propagate this command as `commands` instead of itself.
    pub(crate) fn propagate(&mut self, commands: Vec<Vec<Bytes>>) {
        self.propagate_as = Some(commands);
    }
}

/// Runs one command (`args[0]` is its name) and returns its reply.
pub fn execute(exec: &mut Exec<'_>, caller: Caller, args: &[Bytes]) -> Reply {
    debug_assert!(!args.is_empty(), "the connection never dispatches an empty command");
    let spec = match check(exec, caller, args) {
        Ok(spec) => spec,
        Err(e) => {
            if let Some(spec) = lookup(&args[0]) {
                exec.meta.stats.count_rejected(spec.name);
            }
            exec.meta.stats.count_error(&e);
            if caller == Caller::Client {
                multi::flag_queueing_error(exec);
            }
            return e;
        }
    };
    if caller == Caller::Client && exec.session.tx.active() && !spec.is_transaction_control() {
        exec.session.tx.queue(args.to_vec());
        return Reply::Status("QUEUED".into());
    }
    if let Some(rules) = &mut exec.script {
        if spec.flags & WRITE != 0 {
            rules.wrote = true;
        }
    }
    let touched_before: usize = exec.dbs.iter().map(Keyspace::touched_len).sum();
    exec.propagate_as = None;
    // CLIENT CACHING applies to the one command after it.
    let caching =
        if caller == Caller::Client && spec.name != "client" { exec.session.caching_next.take() } else { None };
    let reply = (spec.handler)(exec, args);
    exec.meta.stats.count_call(spec.name, &reply);
    let remembered = match exec.meta.tracking.opt(exec.session.id) {
        None => false,
        Some(crate::tracking::Opt::All) => true,
        Some(crate::tracking::Opt::In) => caching == Some(true),
        Some(crate::tracking::Opt::Out) => caching != Some(false),
    };
    if spec.flags & READONLY != 0 && remembered {
        for key in read_keys(spec.name, args) {
            exec.meta.tracking.read(exec.session.id, key);
        }
    }
    record_expired(exec);
    let touched_after: usize = exec.dbs.iter().map(Keyspace::touched_len).sum();
    let db = exec.session.db;
    match exec.propagate_as.take() {
        Some(commands) => exec.effects.extend(commands.into_iter().map(|c| (db, c))),
        None if spec.flags & WRITE != 0 && touched_after > touched_before => exec.effects.push((db, args.to_vec())),
        None if spec.flags & MAY_REPLICATE != 0 => exec.effects.push((db, args.to_vec())),
        None => {}
    }
    reply
}

/// The keys a read-only command reads (CLIENT TRACKING remembers them).
fn read_keys<'a>(name: &str, args: &'a [Bytes]) -> &'a [Bytes] {
    match name {
        "mget" | "exists" | "touch" | "sinter" | "sunion" | "sdiff" => &args[1..],
        "lcs" => &args[1..3.min(args.len())],
        "dbsize" | "keys" | "scan" | "randomkey" | "time" | "info" | "lastsave" | "echo" | "ping" | "command"
        | "memory" | "object" => &[],
        _ => &args[1..2.min(args.len())],
    }
}

/// Keys that expired while the command ran: counted, notified (`expired`), and propagated
/// as DEL, as Redis does on lazy expiry.
pub(crate) fn record_expired(exec: &mut Exec<'_>) {
    for db in 0..exec.dbs.len() {
        for key in exec.dbs[db].drain_expired() {
            exec.meta.stats.expired_keys += 1;
            crate::notify::notify(&exec.meta.config, exec.pubsub, Class::EXPIRED, "expired", &key, db);
            let _ = exec.meta.tracking.invalidate(&key, None);
            exec.effects.push((db, vec![Bytes::from_static(b"DEL"), key]));
        }
    }
}

/// Redis's checks before a command runs, in Redis's order; the spec when it may run.
fn check(exec: &mut Exec<'_>, caller: Caller, args: &[Bytes]) -> Result<&'static Spec, Reply> {
    let Some(spec) = lookup(&args[0]) else {
        return Err(match caller {
            Caller::Client => unknown_command(args),
            Caller::Script => Reply::error("ERR Unknown Redis command called from script"),
        });
    };
    if !spec.arity_ok(args.len()) {
        return Err(match caller {
            Caller::Client => wrong_arity(spec.name),
            Caller::Script => Reply::error("ERR Wrong number of args calling Redis command from script"),
        });
    }
    evict(exec);
    if caller == Caller::Script {
        check_script(exec, spec)?;
    } else if spec.flags & DENYOOM != 0 && !exec.in_exec && exec.meta.out_of_memory(exec.dbs) {
        return Err(oom());
    }
    // EXEC checked the server's state once for all its commands.
    if let Some(refusal) = state_refusal(exec, spec).filter(|_| !exec.in_exec) {
        return Err(refusal);
    }
    if caller == Caller::Client && spec.flags & NO_MULTI != 0 && exec.session.tx.active() {
        return Err(Reply::error("ERR Command not allowed inside a transaction"));
    }
    if exec.session.resp == 2 && spec.flags & PUBSUB == 0 && exec.pubsub.subscription_count(exec.session.id) > 0 {
        return Err(Reply::error(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        )));
    }
    Ok(spec)
}

/// Redis's eviction before each command: past `maxmemory`, with a policy other than
/// `noeviction`, keys go (any key, or only keys with a TTL for the `volatile-*` policies;
/// chosen by the seeded generator: the model keeps no LRU or LFU data) until memory is
/// under the limit or nothing is left to evict. Each is notified `evicted` and propagated as DEL.
pub(crate) fn evict(exec: &mut Exec<'_>) {
    let limit = exec.meta.config.maxmemory;
    if limit == 0 || exec.meta.config.maxmemory_policy() == "noeviction" {
        return;
    }
    let volatile_only = exec.meta.config.maxmemory_policy().starts_with("volatile");
    let mut used = Meta::used_memory(exec.dbs);
    while used > limit {
        let candidates: Vec<(usize, Bytes)> = exec
            .dbs
            .iter()
            .enumerate()
            .flat_map(|(db, ks)| {
                ks.iter()
                    .filter(|(_, e)| !volatile_only || e.expires_at_ms.is_some())
                    .map(move |(k, _)| (db, k.clone()))
            })
            .collect();
        if candidates.is_empty() {
            return;
        }
        let (db, key) = candidates[exec.meta.random_below(candidates.len())].clone();
        let now_ms = exec.now_ms;
        if let Some(entry) = exec.dbs[db].take(&key, now_ms) {
            used = used.saturating_sub(Meta::entry_bytes(&key, &entry) as u64);
        }
        exec.meta.stats.evicted_keys += 1;
        crate::notify::notify(&exec.meta.config, exec.pubsub, Class::EVICTED, "evicted", &key, db);
        exec.effects.push((db, vec![Bytes::from_static(b"DEL"), key]));
    }
}

/// What the server's state refuses, whoever asks: writes on a replica or without enough
/// replicas, anything but stale-safe commands on a replica told not to serve stale data.
/// EXEC asks again for each queued command, since the state may have changed meanwhile.
pub(crate) fn state_refusal(exec: &Exec<'_>, spec: &Spec) -> Option<Reply> {
    let meta = &exec.meta;
    if meta.replica_of.is_some() {
        if spec.flags & WRITE != 0 {
            return Some(Reply::error("READONLY You can't write against a read only replica."));
        }
        if spec.flags & STALE == 0 && !meta.config.serve_stale_data() {
            return Some(Reply::error(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            ));
        }
    }
    if spec.flags & WRITE != 0 && meta.config.min_replicas_to_write() > 0 {
        return Some(Reply::error("NOREPLICAS Not enough good replicas to write."));
    }
    None
}

fn check_script(exec: &mut Exec<'_>, spec: &Spec) -> Result<(), Reply> {
    // `DEBUG SET-DISABLE-DENY-SCRIPTS 1` lets scripts call anything (Redis's test switch).
    if spec.flags & NOSCRIPT != 0 && !exec.meta.deny_scripts_off {
        return Err(Reply::error("ERR This Redis command is not allowed from script"));
    }
    let rules = exec.script.unwrap_or_default();
    if spec.flags & WRITE != 0 {
        if rules.read_only {
            return Err(Reply::error("ERR Write commands are not allowed from read-only scripts."));
        }
        if !rules.allow_oom && !rules.wrote && spec.flags & DENYOOM != 0 && exec.meta.out_of_memory(exec.dbs) {
            return Err(oom());
        }
    }
    Ok(())
}

pub(crate) fn oom() -> Reply {
    Reply::error("OOM command not allowed when used memory > 'maxmemory'.")
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

pub(crate) fn not_a_float() -> Reply {
    Reply::error("ERR value is not a valid float")
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

/// An integer argument, or Redis's "not an integer" error.
pub(crate) fn int_arg(bytes: &[u8]) -> Result<i64, Reply> {
    parse_i64(bytes).ok_or_else(not_an_integer)
}

/// Redis's `string2ld`/`strtold` rules for a float argument: no spaces, no trailing bytes,
/// `inf`/`-inf` accepted, NaN refused.
pub(crate) fn parse_f64(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.is_empty()
        || text.starts_with(|c: char| c.is_ascii_whitespace())
        || text.ends_with(|c: char| c.is_ascii_whitespace())
    {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let value = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ if lower.contains("inf") || lower.contains("nan") => return None,
        _ => text.parse::<f64>().ok().or_else(|| parse_hex_float(text))?,
    };
    (!value.is_nan()).then_some(value)
}

/// strtold also reads hexadecimal (`0x10`).
fn parse_hex_float(text: &str) -> Option<f64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X"))?;
    let value = u64::from_str_radix(digits, 16).ok()? as f64;
    Some(if negative { -value } else { value })
}

/// INCRBYFLOAT's result as Redis writes it (`ld2string` in human mode: fixed notation,
/// no trailing zeros, no negative zero); Rust's shortest round-trip form is that for f64.
pub(crate) fn format_float(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if value == 0.0 {
        return "0".into();
    }
    format!("{value}")
}

/// A double as Redis 7.0 writes it: C's `%.17g` (17 significant digits, trailing zeros
/// dropped, exponent form outside 1e-4..1e17), `inf`/`-inf`.
pub(crate) fn format_double(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{value:.16e}");
    let (mantissa, exponent) = sci.split_once('e').expect("exponent form");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    if !(-4..17).contains(&exponent) {
        let mantissa = trim_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let decimals = (16 - exponent).max(0) as usize;
    trim_zeros(&format!("{value:.decimals$}")).to_owned()
}

fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// The version the model reports.
pub(crate) fn version() -> &'static str {
    connection::VERSION
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
    #[allow(clippy::approx_constant)] // Redis's own test values, not pi
    fn floats_parse_as_strtold_does() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        for bad in ["", " 1", "1 ", "nan", "1x", "1\0"] {
            assert_eq!(parse_f64(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(3.141), "3.141");
        assert_eq!(format_double(3.14), "3.1400000000000001");
        assert_eq!(format_double(0.0001), "0.0001");
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
