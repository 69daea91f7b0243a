//! Generic key commands: DEL, EXISTS, the expiry family, KEYS, SCAN, RANDOMKEY, TYPE,
//! RENAME, COPY, MOVE, SWAPDB, FLUSHDB, FLUSHALL, OBJECT.

use bytes::Bytes;

use super::{eq_ignore_case, int_arg, not_an_integer, parse_i64, syntax_error, unknown_subcommand, Exec};
use crate::keyspace::{Entry, Value};
use crate::notify::Class;
use crate::reply::Reply;

/// Databases, as Redis's default `databases 16`.
pub(crate) const DATABASES: usize = 16;

pub(super) fn del(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let mut removed = 0;
    for key in &args[1..] {
        if exec.remove(key) {
            exec.notify(Class::GENERIC, "del", key);
            removed += 1;
        }
    }
    Reply::Int(removed)
}

pub(super) fn exists(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    Reply::Int(args[1..].iter().filter(|k| exec.get(k).is_some()).count() as i64)
}

pub(super) fn expire(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    expire_generic(exec, args, 1000, false, "expire")
}

pub(super) fn pexpire(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    expire_generic(exec, args, 1, false, "pexpire")
}

pub(super) fn expireat(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    expire_generic(exec, args, 1000, true, "expireat")
}

pub(super) fn pexpireat(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    expire_generic(exec, args, 1, true, "pexpireat")
}

#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(args: &[Bytes]) -> Result<ExpireFlags, Reply> {
    let mut f = ExpireFlags::default();
    for opt in &args[3..] {
        let flag = match () {
            _ if eq_ignore_case(opt, "nx") => &mut f.nx,
            _ if eq_ignore_case(opt, "xx") => &mut f.xx,
            _ if eq_ignore_case(opt, "gt") => &mut f.gt,
            _ if eq_ignore_case(opt, "lt") => &mut f.lt,
            _ => return Err(Reply::error(format!("ERR Unsupported option {}", String::from_utf8_lossy(opt)))),
        };
        *flag = true;
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(Reply::error("ERR NX and XX, GT or LT options at the same time are not compatible"));
    }
    if f.gt && f.lt {
        return Err(Reply::error("ERR GT and LT options at the same time are not compatible"));
    }
    Ok(f)
}

/// Redis 7's `expireGenericCommand`: options first, then the time (checked for overflow);
/// a time at or before now deletes the key. A key without a TTL counts as an infinite TTL
/// for GT and LT. Replicas get PEXPIREAT with the absolute time, or DEL.
fn expire_generic(exec: &mut Exec<'_>, args: &[Bytes], unit_ms: i64, absolute: bool, name: &str) -> Reply {
    let flags = match parse_expire_flags(args) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let Some(when) = parse_i64(&args[2]) else { return not_an_integer() };
    let invalid = || Reply::error(format!("ERR invalid expire time in '{name}' command"));
    let base = if absolute { 0 } else { exec.now_ms };
    let Some(at) = when.checked_mul(unit_ms).and_then(|ms| ms.checked_add(base)) else { return invalid() };
    let now_ms = exec.now_ms;
    let key = &args[1];
    let Some(current) = exec.get(key).map(|e| e.expires_at_ms) else { return Reply::Int(0) };
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|c| at <= c))
        || (flags.lt && current.is_some_and(|c| at >= c));
    if refused {
        return Reply::Int(0);
    }
    if at <= now_ms {
        exec.remove(key);
        exec.notify(Class::GENERIC, "del", key);
        exec.propagate(vec![vec![Bytes::from_static(b"DEL"), key.clone()]]);
    } else {
        exec.get_mut(key).expect("checked above").expires_at_ms = Some(at);
        exec.notify(Class::GENERIC, "expire", key);
        exec.propagate(vec![vec![Bytes::from_static(b"PEXPIREAT"), key.clone(), Bytes::from(at.to_string())]]);
    }
    Reply::Int(1)
}

pub(super) fn ttl(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(exec, &args[1], false, false)
}

pub(super) fn pttl(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(exec, &args[1], true, false)
}

pub(super) fn expiretime(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(exec, &args[1], false, true)
}

pub(super) fn pexpiretime(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(exec, &args[1], true, true)
}

fn ttl_generic(exec: &mut Exec<'_>, key: &[u8], millis: bool, absolute: bool) -> Reply {
    let now_ms = exec.now_ms;
    match exec.get(key) {
        None => Reply::Int(-2),
        Some(entry) => match entry.expires_at_ms {
            None => Reply::Int(-1),
            Some(at) => {
                let left = if absolute { at } else { (at - now_ms).max(0) };
                Reply::Int(if millis { left } else { (left + 500) / 1000 })
            }
        },
    }
}

pub(super) fn persist(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if exec.get(&args[1]).is_none_or(|e| e.expires_at_ms.is_none()) {
        return Reply::Int(0);
    }
    exec.get_mut(&args[1]).expect("checked above").expires_at_ms = None;
    exec.notify(Class::GENERIC, "persist", &args[1]);
    Reply::Int(1)
}

pub(super) fn keys(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let now_ms = exec.now_ms;
    Reply::Array(exec.db().keys(&args[1], now_ms).into_iter().map(Reply::Bulk).collect())
}

pub(super) fn dbsize(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    Reply::Int(exec.db().len() as i64)
}

fn flush_mode(args: &[Bytes]) -> Result<(), Reply> {
    match &args[1..] {
        [] => Ok(()),
        [mode] if eq_ignore_case(mode, "sync") || eq_ignore_case(mode, "async") => Ok(()),
        _ => Err(syntax_error()),
    }
}

pub(super) fn flushall(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if let Err(e) = flush_mode(args) {
        return e;
    }
    let now_ms = exec.now_ms;
    exec.dbs.iter_mut().for_each(|db| db.clear(now_ms));
    exec.meta.tracking.flush();
    Reply::ok()
}

pub(super) fn flushdb(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if let Err(e) = flush_mode(args) {
        return e;
    }
    let now_ms = exec.now_ms;
    exec.db().clear(now_ms);
    exec.meta.tracking.flush();
    Reply::ok()
}

pub(super) fn type_of(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    Reply::Status(exec.get(&args[1]).map_or("none", |e| e.value.type_name()).to_owned())
}

pub(super) fn rename(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    rename_generic(exec, args, false)
}

pub(super) fn renamenx(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    rename_generic(exec, args, true)
}

/// The value moves with its TTL; the target's old value and TTL are gone.
fn rename_generic(exec: &mut Exec<'_>, args: &[Bytes], nx: bool) -> Reply {
    let (from, to) = (&args[1], &args[2]);
    if exec.get(from).is_none() {
        return Reply::error("ERR no such key");
    }
    if from == to {
        return if nx { Reply::Int(0) } else { Reply::ok() };
    }
    if nx && exec.get(to).is_some() {
        return Reply::Int(0);
    }
    let entry = exec.take(from).expect("checked above");
    exec.remove(to);
    exec.insert(to.clone(), entry);
    exec.notify(Class::GENERIC, "rename_from", from);
    exec.notify(Class::GENERIC, "rename_to", to);
    if nx {
        Reply::Int(1)
    } else {
        Reply::ok()
    }
}

fn db_index(arg: &[u8]) -> Result<usize, Reply> {
    let index = int_arg(arg)?;
    usize::try_from(index).ok().filter(|i| *i < DATABASES).ok_or_else(|| Reply::error("ERR DB index is out of range"))
}

pub(super) fn copy(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let (mut target_db, mut replace) = (exec.session.db, false);
    let mut j = 3;
    while j < args.len() {
        if eq_ignore_case(&args[j], "replace") {
            replace = true;
        } else if eq_ignore_case(&args[j], "db") && j + 1 < args.len() {
            match db_index(&args[j + 1]) {
                Ok(db) => target_db = db,
                Err(e) => return e,
            }
            j += 1;
        } else {
            return syntax_error();
        }
        j += 1;
    }
    let (from, to) = (&args[1], &args[2]);
    if target_db == exec.session.db && from == to {
        return Reply::error("ERR source and destination objects are the same");
    }
    let Some(entry) = exec.get(from).cloned() else { return Reply::Int(0) };
    let now_ms = exec.now_ms;
    let target = &mut exec.dbs[target_db];
    if target.get(to, now_ms).is_some() {
        if !replace {
            return Reply::Int(0);
        }
        target.remove(to, now_ms);
    }
    target.insert(to.clone(), entry);
    crate::notify::notify(&exec.meta.config, exec.pubsub, Class::GENERIC, "copy_to", to, target_db);
    Reply::Int(1)
}

pub(super) fn move_key(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let target_db = match db_index(&args[2]) {
        Ok(db) => db,
        Err(e) => return e,
    };
    if target_db == exec.session.db {
        return Reply::error("ERR source and destination objects are the same");
    }
    let now_ms = exec.now_ms;
    let key = &args[1];
    if exec.get(key).is_none() || exec.dbs[target_db].get(key, now_ms).is_some() {
        return Reply::Int(0);
    }
    let entry = exec.take(key).expect("checked above");
    exec.dbs[target_db].insert(key.clone(), entry);
    exec.notify(Class::GENERIC, "move_from", key);
    crate::notify::notify(&exec.meta.config, exec.pubsub, Class::GENERIC, "move_to", key, target_db);
    Reply::Int(1)
}

pub(super) fn swapdb(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let parse = |arg: &[u8], which: &str| {
        let index = parse_i64(arg).ok_or_else(|| Reply::error(format!("ERR invalid {which} DB index")))?;
        usize::try_from(index)
            .ok()
            .filter(|i| *i < DATABASES)
            .ok_or_else(|| Reply::error("ERR DB index is out of range"))
    };
    let (a, b) = match (parse(&args[1], "first"), parse(&args[2], "second")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    if a != b {
        // The keys live in either database count as touched on both sides (WATCH).
        let now_ms = exec.now_ms;
        let live: Vec<Bytes> = [a, b].iter().flat_map(|d| exec.dbs[*d].keys(b"*", now_ms)).collect();
        let (low, high) = (a.min(b), a.max(b));
        let (left, right) = exec.dbs.split_at_mut(high);
        left[low].swap_contents(&mut right[0]);
        for key in live {
            exec.meta.watches.touch(a, &key);
            exec.meta.watches.touch(b, &key);
        }
    }
    Reply::ok()
}

/// A random key; an expired one it picks is deleted (lazily, and propagated) and another
/// drawn, as Redis does.
pub(super) fn randomkey(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    loop {
        let len = exec.db().len();
        if len == 0 {
            return Reply::Nil;
        }
        let pick = exec.meta.random_below(len);
        let key = exec.db().key_at(pick).cloned().expect("index below len");
        if exec.get(&key).is_some() {
            return Reply::Bulk(key);
        }
    }
}

/// SCAN's cursor is a position in a fixed order of keys (by their FNV-1a hash, then bytes):
/// a key present for the whole iteration is returned whatever is added or removed meanwhile.
pub(super) fn scan(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let Some(cursor) = std::str::from_utf8(&args[1]).ok().and_then(|c| c.parse::<u64>().ok()) else {
        return Reply::error("ERR invalid cursor");
    };
    let (mut pattern, mut count, mut kind) = (None, 10usize, None);
    let mut j = 2;
    while j + 1 < args.len() + 1 && j < args.len() {
        let (opt, value) = (&args[j], args.get(j + 1));
        match value {
            Some(v) if eq_ignore_case(opt, "match") => pattern = Some(v.clone()),
            Some(v) if eq_ignore_case(opt, "count") => match parse_i64(v) {
                Some(n) if n >= 1 => count = n as usize,
                Some(_) => return syntax_error(),
                None => return not_an_integer(),
            },
            Some(v) if eq_ignore_case(opt, "type") => kind = Some(String::from_utf8_lossy(v).to_ascii_lowercase()),
            _ => return syntax_error(),
        }
        j += 2;
    }
    let mut order: Vec<(u64, Bytes)> = exec.db().iter().map(|(k, _)| (scan_position(k), k.clone())).collect();
    order.sort();
    let start = order.partition_point(|(h, _)| *h < cursor);
    let mut end = (start + count).min(order.len());
    while end < order.len() && end > start && order[end].0 == order[end - 1].0 {
        end += 1;
    }
    let next = order.get(end).map_or(0, |(h, _)| *h);
    let mut keys = Vec::new();
    for (_, key) in &order[start..end] {
        let Some(entry) = exec.get(key) else { continue };
        let type_ok = kind.as_deref().is_none_or(|t| entry.value.type_name() == t);
        if type_ok && pattern.as_ref().is_none_or(|p| crate::glob::matches(p, key)) {
            keys.push(Reply::Bulk(key.clone()));
        }
    }
    Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(keys)])
}

/// Never 0: 0 is the cursor that starts and ends an iteration.
fn scan_position(key: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    hash | 1
}

pub(super) fn object(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    if sub == "help" {
        return Reply::Array(vec![Reply::Status(
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into(),
        )]);
    }
    if !matches!(sub.as_str(), "encoding" | "refcount" | "idletime" | "freq") {
        return unknown_subcommand(&args[1], "OBJECT");
    }
    if args.len() != 3 {
        return super::wrong_arity(&format!("object|{sub}"));
    }
    let Some(entry) = exec.get(&args[2]) else { return Reply::Nil };
    match sub.as_str() {
        "encoding" => Reply::bulk(encoding(entry)),
        "refcount" => Reply::Int(refcount(entry)),
        "idletime" => Reply::Int(0),
        _ => Reply::error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
    }
}

/// The encoding Redis would choose with default thresholds.
pub(crate) fn encoding(entry: &Entry) -> &'static str {
    match &entry.value {
        Value::Str(s) if parse_i64(s).is_some() && s.len() <= 20 => "int",
        Value::Str(s) if s.len() <= 44 => "embstr",
        Value::Str(_) => "raw",
        Value::List(_) => "quicklist",
        Value::Set(s) if s.iter().all(|m| parse_i64(m).is_some()) && s.len() <= 512 => "intset",
        Value::Set(s) if s.len() <= 128 && s.iter().all(|m| m.len() <= 64) => "listpack",
        Value::Set(_) => "hashtable",
        Value::Hash(h) if h.len() <= 128 && h.iter().all(|(f, v)| f.len() <= 64 && v.len() <= 64) => "listpack",
        Value::Hash(_) => "hashtable",
        Value::ZSet(z) if z.len() <= 128 && z.iter().all(|(m, _)| m.len() <= 64) => "listpack",
        Value::ZSet(_) => "skiplist",
    }
}

/// Redis shares the integers 0..9999 (refcount INT_MAX) when no maxmemory policy needs
/// per-object LRU data.
pub(crate) fn refcount(entry: &Entry) -> i64 {
    match &entry.value {
        Value::Str(s) if parse_i64(s).is_some_and(|n| (0..10_000).contains(&n)) => i64::from(i32::MAX),
        _ => 1,
    }
}
