//! Generic key commands: DEL, EXISTS, the expiry family, KEYS, DBSIZE, FLUSHALL.

use bytes::Bytes;

use super::{eq_ignore_case, not_an_integer, parse_i64, syntax_error, Exec};
use crate::reply::Reply;

pub(super) fn del(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    Reply::Int(args[1..].iter().filter(|k| exec.db.remove(k, exec.now_ms)).count() as i64)
}

pub(super) fn exists(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    Reply::Int(args[1..].iter().filter(|k| exec.db.get(k, exec.now_ms).is_some()).count() as i64)
}

pub(super) fn expire(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    expire_generic(exec, args, 1000, "expire")
}

pub(super) fn pexpire(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    expire_generic(exec, args, 1, "pexpire")
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

/// Redis 7's `expireGenericCommand`: options first, then the time; a time at or before now
/// deletes the key. A key without a TTL counts as an infinite TTL for GT and LT.
fn expire_generic(exec: &mut Exec<'_>, args: &[Bytes], unit_ms: i64, name: &str) -> Reply {
    let flags = match parse_expire_flags(args) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let Some(when) = parse_i64(&args[2]) else { return not_an_integer() };
    let invalid = || Reply::error(format!("ERR invalid expire time in '{name}' command"));
    let Some(at) = when.checked_mul(unit_ms).and_then(|ms| ms.checked_add(exec.now_ms)) else { return invalid() };
    let now_ms = exec.now_ms;
    let Some(entry) = exec.db.get(&args[1], now_ms) else { return Reply::Int(0) };
    let current = entry.expires_at_ms;
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|c| at <= c))
        || (flags.lt && current.is_some_and(|c| at >= c));
    if refused {
        return Reply::Int(0);
    }
    if at <= now_ms {
        exec.db.remove(&args[1], now_ms);
    } else {
        entry.expires_at_ms = Some(at);
    }
    Reply::Int(1)
}

pub(super) fn ttl(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(exec, &args[1], false)
}

pub(super) fn pttl(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(exec, &args[1], true)
}

fn ttl_generic(exec: &mut Exec<'_>, key: &[u8], millis: bool) -> Reply {
    let now_ms = exec.now_ms;
    match exec.db.get(key, now_ms) {
        None => Reply::Int(-2),
        Some(entry) => match entry.expires_at_ms {
            None => Reply::Int(-1),
            Some(at) => {
                let left = (at - now_ms).max(0);
                Reply::Int(if millis { left } else { (left + 500) / 1000 })
            }
        },
    }
}

pub(super) fn persist(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match exec.db.get(&args[1], exec.now_ms) {
        Some(entry) if entry.expires_at_ms.is_some() => {
            entry.expires_at_ms = None;
            Reply::Int(1)
        }
        _ => Reply::Int(0),
    }
}

pub(super) fn keys(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    Reply::Array(exec.db.keys(&args[1], exec.now_ms).into_iter().map(Reply::Bulk).collect())
}

pub(super) fn dbsize(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    Reply::Int(exec.db.len() as i64)
}

pub(super) fn flushall(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match &args[1..] {
        [] => {}
        [mode] if eq_ignore_case(mode, "sync") || eq_ignore_case(mode, "async") => {}
        _ => return syntax_error(),
    }
    exec.db.clear();
    Reply::ok()
}
