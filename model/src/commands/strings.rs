//! GET, SET and the counters.

use bytes::Bytes;

use super::{eq_ignore_case, not_an_integer, parse_i64, syntax_error, wrong_type, Exec};
use crate::keyspace::{Entry, Value};
use crate::reply::Reply;

pub(super) fn get(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    read_string(exec, &args[1]).unwrap_or_else(|e| e)
}

/// The string under `key` as a reply (nil when missing); `Err` holds WRONGTYPE.
fn read_string(exec: &mut Exec<'_>, key: &[u8]) -> Result<Reply, Reply> {
    match exec.db.get(key, exec.now_ms) {
        None => Ok(Reply::Nil),
        Some(Entry { value: Value::Str(s), .. }) => Ok(Reply::Bulk(s.clone())),
        Some(_) => Err(wrong_type()),
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    /// Which of EX, PX, EXAT, PXAT was given, and its argument.
    expire: Option<(ExpireUnit, Bytes)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Redis 7's `parseExtendedStringArgumentsOrReply` for SET: a repeated option is allowed,
/// conflicting ones are a syntax error.
fn parse_set_options(args: &[Bytes]) -> Result<SetOptions, Reply> {
    let mut o = SetOptions::default();
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        let next = args.get(j + 1);
        let unit =
            [("ex", ExpireUnit::Ex), ("px", ExpireUnit::Px), ("exat", ExpireUnit::ExAt), ("pxat", ExpireUnit::PxAt)]
                .into_iter()
                .find(|(word, _)| eq_ignore_case(opt, word))
                .map(|(_, unit)| unit);
        if eq_ignore_case(opt, "nx") && !o.xx {
            o.nx = true;
        } else if eq_ignore_case(opt, "xx") && !o.nx {
            o.xx = true;
        } else if eq_ignore_case(opt, "get") {
            o.get = true;
        } else if eq_ignore_case(opt, "keepttl") && o.expire.is_none() {
            o.keep_ttl = true;
        } else if let (Some(unit), Some(next)) = (unit, next) {
            let conflicting = o.keep_ttl || o.expire.as_ref().is_some_and(|(u, _)| *u != unit);
            if conflicting {
                return Err(syntax_error());
            }
            o.expire = Some((unit, next.clone()));
            j += 1;
        } else {
            return Err(syntax_error());
        }
        j += 1;
    }
    Ok(o)
}

/// The absolute expiry of SET's EX/PX/EXAT/PXAT argument (Redis's `getExpireMillisecondsOrReply`).
fn set_expiry_ms(unit: ExpireUnit, arg: &[u8], now_ms: i64) -> Result<i64, Reply> {
    let invalid = || Reply::error("ERR invalid expire time in 'set' command");
    let value = parse_i64(arg).ok_or_else(not_an_integer)?;
    let seconds = matches!(unit, ExpireUnit::Ex | ExpireUnit::ExAt);
    if value <= 0 || (seconds && value > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if seconds { value * 1000 } else { value };
    match unit {
        ExpireUnit::Ex | ExpireUnit::Px => ms.checked_add(now_ms).filter(|at| *at > 0).ok_or_else(invalid),
        ExpireUnit::ExAt | ExpireUnit::PxAt => Ok(ms),
    }
}

pub(super) fn set(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let options = match parse_set_options(args) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let expires_at_ms = match &options.expire {
        Some((unit, arg)) => match set_expiry_ms(*unit, arg, exec.now_ms) {
            Ok(at) => Some(at),
            Err(e) => return e,
        },
        None => None,
    };
    let key = &args[1];
    let old = if options.get {
        match read_string(exec, key) {
            Ok(old) => Some(old),
            Err(e) => return e,
        }
    } else {
        None
    };
    let existing = exec.db.get(key, exec.now_ms);
    let found = existing.is_some();
    if (options.nx && found) || (options.xx && !found) {
        return old.unwrap_or(Reply::Nil);
    }
    let kept_ttl = if options.keep_ttl { existing.and_then(|e| e.expires_at_ms) } else { None };
    let entry = Entry { value: Value::Str(args[2].clone()), expires_at_ms: expires_at_ms.or(kept_ttl) };
    exec.db.insert(key.clone(), entry);
    old.unwrap_or_else(Reply::ok)
}

pub(super) fn incr(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    add(exec, &args[1], 1)
}

pub(super) fn decr(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    add(exec, &args[1], -1)
}

pub(super) fn incrby(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match parse_i64(&args[2]) {
        Some(by) => add(exec, &args[1], by),
        None => not_an_integer(),
    }
}

/// INCRBY: the value must be a string holding an integer; the TTL is kept.
fn add(exec: &mut Exec<'_>, key: &Bytes, by: i64) -> Reply {
    let (current, expires_at_ms) = match exec.db.get(key, exec.now_ms) {
        None => (0, None),
        Some(Entry { value: Value::Str(s), expires_at_ms }) => match parse_i64(s) {
            Some(n) => (n, *expires_at_ms),
            None => return not_an_integer(),
        },
        Some(_) => return wrong_type(),
    };
    let Some(next) = current.checked_add(by) else {
        return Reply::error("ERR increment or decrement would overflow");
    };
    exec.db.insert(key.clone(), Entry { value: Value::Str(Bytes::from(next.to_string())), expires_at_ms });
    Reply::Int(next)
}
