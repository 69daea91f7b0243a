//! The string family: GET, SET and its variants, ranges, counters, bits, LCS.

use bytes::{Bytes, BytesMut};

use super::{
    eq_ignore_case, format_float, int_arg, not_an_integer, parse_f64, parse_i64, syntax_error, wrong_arity, wrong_type,
    Exec,
};
use crate::keyspace::{Entry, Value};
use crate::notify::Class;
use crate::reply::Reply;

/// Redis's `proto-max-bulk-len` default: the largest string SETRANGE/APPEND/SETBIT may make.
pub(crate) const STRING_BYTES_MAX: usize = 512 * 1024 * 1024;

fn too_big() -> Reply {
    Reply::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// The string under `key`: `Ok(None)` when missing, WRONGTYPE when not a string.
pub(crate) fn read_string(exec: &mut Exec<'_>, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    let found = exec.read(key, |v| match v {
        Value::Str(s) => Some(s.clone()),
        _ => None,
    });
    match &found {
        Ok(Some(_)) => exec.meta.stats.keyspace_hits += 1,
        Ok(None) => exec.meta.stats.keyspace_misses += 1,
        Err(_) => {}
    }
    found
}

fn bulk_or_nil(value: Option<Bytes>) -> Reply {
    value.map_or(Reply::Nil, Reply::Bulk)
}

/// Stores a string, notifying `event`; keeps the TTL when `keep_ttl`.
fn store(exec: &mut Exec<'_>, key: &Bytes, value: Bytes, expires_at_ms: Option<i64>, event: &str) {
    new_key_notice(exec, key);
    exec.insert(key.clone(), Entry { value: Value::Str(value), expires_at_ms });
    exec.notify(Class::STRING, event, key);
}

/// The `new` notification when a write creates `key`.
pub(crate) fn new_key_notice(exec: &mut Exec<'_>, key: &[u8]) {
    let now_ms = exec.now_ms;
    if !exec.db().is_live(key, now_ms) {
        exec.notify(Class::NEW, "new", key);
    }
}

pub(super) fn get(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    read_string(exec, &args[1]).map_or_else(|e| e, bulk_or_nil)
}

#[derive(Debug, Default, PartialEq, Eq)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
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

/// Which command's options are parsed: SET takes NX/XX/GET/KEEPTTL, GETEX takes PERSIST.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Grammar {
    Set,
    GetEx,
}

/// Redis 7's `parseExtendedStringArgumentsOrReply`: a repeated option is allowed,
/// conflicting ones are a syntax error.
fn parse_options(args: &[Bytes], grammar: Grammar) -> Result<SetOptions, Reply> {
    let mut o = SetOptions::default();
    let mut j = if grammar == Grammar::Set { 3 } else { 2 };
    while j < args.len() {
        let opt = &args[j];
        let next = args.get(j + 1);
        let unit =
            [("ex", ExpireUnit::Ex), ("px", ExpireUnit::Px), ("exat", ExpireUnit::ExAt), ("pxat", ExpireUnit::PxAt)]
                .into_iter()
                .find(|(word, _)| eq_ignore_case(opt, word))
                .map(|(_, unit)| unit);
        let set = grammar == Grammar::Set;
        if set && eq_ignore_case(opt, "nx") && !o.xx {
            o.nx = true;
        } else if set && eq_ignore_case(opt, "xx") && !o.nx {
            o.xx = true;
        } else if set && eq_ignore_case(opt, "get") {
            o.get = true;
        } else if set && eq_ignore_case(opt, "keepttl") && o.expire.is_none() {
            o.keep_ttl = true;
        } else if !set && eq_ignore_case(opt, "persist") && o.expire.is_none() {
            o.persist = true;
        } else if let (Some(unit), Some(next)) = (unit, next) {
            let conflicting = o.keep_ttl || o.persist || o.expire.as_ref().is_some_and(|(u, _)| *u != unit);
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

/// The absolute expiry of an EX/PX/EXAT/PXAT argument (Redis's `getExpireMillisecondsOrReply`).
fn expiry_ms(unit: ExpireUnit, arg: &[u8], now_ms: i64, command: &str) -> Result<i64, Reply> {
    let invalid = || Reply::error(format!("ERR invalid expire time in '{command}' command"));
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

fn pxat(ms: i64) -> [Bytes; 2] {
    [Bytes::from_static(b"PXAT"), Bytes::from(ms.to_string())]
}

pub(super) fn set(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let options = match parse_options(args, Grammar::Set) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let expires_at_ms = match &options.expire {
        Some((unit, arg)) => match expiry_ms(*unit, arg, exec.now_ms, "set") {
            Ok(at) => Some(at),
            Err(e) => return e,
        },
        None => None,
    };
    let key = &args[1];
    let old = if options.get {
        match read_string(exec, key) {
            Ok(old) => Some(bulk_or_nil(old)),
            Err(e) => return e,
        }
    } else {
        None
    };
    let existing = exec.get(key).map(|e| e.expires_at_ms);
    if (options.nx && existing.is_some()) || (options.xx && existing.is_none()) {
        return old.unwrap_or(Reply::Nil);
    }
    let kept_ttl = if options.keep_ttl { existing.flatten() } else { None };
    store(exec, key, args[2].clone(), expires_at_ms.or(kept_ttl), "set");
    if let Some(at) = expires_at_ms {
        exec.notify(Class::GENERIC, "expire", key);
        // Replicas get an absolute time, whatever the client sent (Redis 7).
        if !matches!(options.expire, Some((ExpireUnit::PxAt, _))) {
            let mut rewritten: Vec<Bytes> = args[..3].to_vec();
            rewritten.extend(pxat(at));
            rewritten.extend(options_without_expiry(&args[3..]));
            exec.propagate(vec![rewritten]);
        }
    }
    old.unwrap_or_else(Reply::ok)
}

/// SET's options other than the expiry and its argument (kept in the propagated command).
fn options_without_expiry(options: &[Bytes]) -> Vec<Bytes> {
    let mut kept = Vec::new();
    let mut j = 0;
    while j < options.len() {
        if ["ex", "px", "exat", "pxat"].iter().any(|w| eq_ignore_case(&options[j], w)) {
            j += 2;
            continue;
        }
        kept.push(options[j].clone());
        j += 1;
    }
    kept
}

pub(super) fn setnx(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if exec.get(&args[1]).is_some() {
        return Reply::Int(0);
    }
    store(exec, &args[1], args[2].clone(), None, "set");
    Reply::Int(1)
}

pub(super) fn setex(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    set_with_ttl(exec, args, ExpireUnit::Ex, "setex")
}

pub(super) fn psetex(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    set_with_ttl(exec, args, ExpireUnit::Px, "psetex")
}

fn set_with_ttl(exec: &mut Exec<'_>, args: &[Bytes], unit: ExpireUnit, command: &str) -> Reply {
    let at = match expiry_ms(unit, &args[2], exec.now_ms, command) {
        Ok(at) => at,
        Err(e) => return e,
    };
    store(exec, &args[1], args[3].clone(), Some(at), "set");
    exec.notify(Class::GENERIC, "expire", &args[1]);
    let [word, ms] = pxat(at);
    exec.propagate(vec![vec![Bytes::from_static(b"SET"), args[1].clone(), args[3].clone(), word, ms]]);
    Reply::ok()
}

pub(super) fn getset(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let old = match read_string(exec, &args[1]) {
        Ok(old) => old,
        Err(e) => return e,
    };
    store(exec, &args[1], args[2].clone(), None, "set");
    bulk_or_nil(old)
}

pub(super) fn getdel(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match read_string(exec, &args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Nil,
        Ok(Some(value)) => {
            exec.remove(&args[1]);
            exec.notify(Class::GENERIC, "del", &args[1]);
            exec.propagate(vec![vec![Bytes::from_static(b"DEL"), args[1].clone()]]);
            Reply::Bulk(value)
        }
    }
}

pub(super) fn getex(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let options = match parse_options(args, Grammar::GetEx) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let at = match &options.expire {
        Some((unit, arg)) => match expiry_ms(*unit, arg, exec.now_ms, "getex") {
            Ok(at) => Some(at),
            Err(e) => return e,
        },
        None => None,
    };
    let key = &args[1];
    let value = match read_string(exec, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Nil,
        Ok(Some(v)) => v,
    };
    let now_ms = exec.now_ms;
    if let Some(at) = at {
        if at <= now_ms {
            exec.remove(key);
            exec.notify(Class::GENERIC, "del", key);
            exec.propagate(vec![vec![Bytes::from_static(b"DEL"), key.clone()]]);
        } else {
            exec.get_mut(key).expect("read above").expires_at_ms = Some(at);
            exec.notify(Class::GENERIC, "expire", key);
            exec.propagate(vec![vec![Bytes::from_static(b"PEXPIREAT"), key.clone(), Bytes::from(at.to_string())]]);
        }
    } else if options.persist && exec.get(key).is_some_and(|e| e.expires_at_ms.is_some()) {
        exec.get_mut(key).expect("read above").expires_at_ms = None;
        exec.notify(Class::GENERIC, "persist", key);
        exec.propagate(vec![vec![Bytes::from_static(b"PERSIST"), key.clone()]]);
    }
    Reply::Bulk(value)
}

pub(super) fn mget(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    Reply::Array(
        args[1..]
            .iter()
            .map(|key| match exec.get(key) {
                Some(Entry { value: Value::Str(s), .. }) => Reply::Bulk(s.clone()),
                _ => Reply::Nil,
            })
            .collect(),
    )
}

pub(super) fn mset(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if args.len() % 2 == 0 {
        return wrong_arity("mset");
    }
    for pair in args[1..].chunks(2) {
        store(exec, &pair[0], pair[1].clone(), None, "set");
    }
    Reply::ok()
}

pub(super) fn msetnx(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if args.len() % 2 == 0 {
        return wrong_arity("msetnx");
    }
    if args[1..].chunks(2).any(|pair| exec.get(&pair[0]).is_some()) {
        return Reply::Int(0);
    }
    for pair in args[1..].chunks(2) {
        store(exec, &pair[0], pair[1].clone(), None, "set");
    }
    Reply::Int(1)
}

pub(super) fn strlen(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match exec.read(&args[1], |v| if let Value::Str(s) = v { Some(s.len()) } else { None }) {
        Ok(len) => Reply::Int(len.unwrap_or(0) as i64),
        Err(e) => e,
    }
}

pub(super) fn append(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let (old, ttl) = match exec.get(&args[1]) {
        None => (Bytes::new(), None),
        Some(Entry { value: Value::Str(s), expires_at_ms }) => (s.clone(), *expires_at_ms),
        Some(_) => return wrong_type(),
    };
    if old.len() + args[2].len() > STRING_BYTES_MAX {
        return too_big();
    }
    let mut joined = BytesMut::from(&old[..]);
    joined.extend_from_slice(&args[2]);
    let len = joined.len();
    store(exec, &args[1], joined.freeze(), ttl, "append");
    Reply::Int(len as i64)
}

/// Redis's range rule: negative counts from the end, clamped; empty when start > end.
pub(crate) fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { len + end } else { end.min(len - 1) };
    (start <= end && start < len && end >= 0).then_some((start as usize, end as usize))
}

pub(super) fn getrange(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let (Some(start), Some(end)) = (parse_i64(&args[2]), parse_i64(&args[3])) else { return not_an_integer() };
    let value = match read_string(exec, &args[1]) {
        Err(e) => return e,
        Ok(v) => v.unwrap_or_default(),
    };
    // Redis 7.0: both negative and start past end is empty, before clamping.
    if start < 0 && end < 0 && start > end {
        return Reply::bulk("");
    }
    match clamp_range(start, end, value.len()) {
        Some((s, e)) => Reply::Bulk(value.slice(s..=e)),
        None => Reply::bulk(""),
    }
}

pub(super) fn setrange(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let Some(offset) = parse_i64(&args[2]) else { return not_an_integer() };
    if offset < 0 {
        return Reply::error("ERR offset is out of range");
    }
    let (old, ttl) = match exec.get(&args[1]) {
        None => (None, None),
        Some(Entry { value: Value::Str(s), expires_at_ms }) => (Some(s.clone()), *expires_at_ms),
        Some(_) => return wrong_type(),
    };
    let patch = &args[3];
    let old_len = old.as_ref().map_or(0, Bytes::len);
    if patch.is_empty() {
        return Reply::Int(old_len as i64);
    }
    let offset = offset as usize;
    if offset.saturating_add(patch.len()) > STRING_BYTES_MAX {
        return too_big();
    }
    let mut value = BytesMut::from(&old.unwrap_or_default()[..]);
    if value.len() < offset + patch.len() {
        value.resize(offset + patch.len(), 0);
    }
    value[offset..offset + patch.len()].copy_from_slice(patch);
    let len = value.len();
    store(exec, &args[1], value.freeze(), ttl, "setrange");
    Reply::Int(len as i64)
}

pub(super) fn incr(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    add(exec, &args[1], 1, "incrby")
}

pub(super) fn decr(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    add(exec, &args[1], -1, "decrby")
}

pub(super) fn incrby(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match parse_i64(&args[2]) {
        Some(by) => add(exec, &args[1], by, "incrby"),
        None => not_an_integer(),
    }
}

pub(super) fn decrby(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match parse_i64(&args[2]) {
        Some(i64::MIN) => Reply::error("ERR decrement would overflow"),
        Some(by) => add(exec, &args[1], -by, "decrby"),
        None => not_an_integer(),
    }
}

/// INCRBY: the value must be a string holding an integer; the TTL is kept.
fn add(exec: &mut Exec<'_>, key: &Bytes, by: i64, event: &str) -> Reply {
    let (current, expires_at_ms) = match exec.get(key) {
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
    store(exec, key, Bytes::from(next.to_string()), expires_at_ms, event);
    Reply::Int(next)
}

pub(super) fn incrbyfloat(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let (current, ttl) = match exec.get(key) {
        None => (0.0, None),
        Some(Entry { value: Value::Str(s), expires_at_ms }) => match parse_f64(s) {
            Some(n) => (n, *expires_at_ms),
            None => return super::not_a_float(),
        },
        Some(_) => return wrong_type(),
    };
    let Some(by) = parse_f64(&args[2]) else { return super::not_a_float() };
    let next = current + by;
    if next.is_nan() || next.is_infinite() {
        return Reply::error("ERR increment would produce NaN or Infinity");
    }
    let text = Bytes::from(format_float(next));
    store(exec, key, text.clone(), ttl, "incrbyfloat");
    // Replicas get the result, not the addition: float rounding may differ between hosts.
    exec.propagate(vec![vec![Bytes::from_static(b"SET"), key.clone(), text.clone(), Bytes::from_static(b"KEEPTTL")]]);
    Reply::Bulk(text)
}

pub(super) fn getbit(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let Some(offset) = bit_offset(&args[2]) else { return bit_offset_error() };
    match read_string(exec, &args[1]) {
        Err(e) => e,
        Ok(value) => {
            let value = value.unwrap_or_default();
            let byte = (offset / 8) as usize;
            let bit = value.get(byte).map_or(0, |b| (b >> (7 - (offset % 8))) & 1);
            Reply::Int(i64::from(bit))
        }
    }
}

fn bit_offset(arg: &[u8]) -> Option<u64> {
    let offset = parse_i64(arg)?;
    (0..(STRING_BYTES_MAX as i64) * 8).contains(&offset).then_some(offset as u64)
}

fn bit_offset_error() -> Reply {
    Reply::error("ERR bit offset is not an integer or out of range")
}

pub(super) fn setbit(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let Some(offset) = bit_offset(&args[2]) else { return bit_offset_error() };
    let on = match &args[3][..] {
        b"1" => true,
        b"0" => false,
        _ => return Reply::error("ERR bit is not an integer or out of range"),
    };
    let (old, ttl) = match exec.get(&args[1]) {
        None => (Bytes::new(), None),
        Some(Entry { value: Value::Str(s), expires_at_ms }) => (s.clone(), *expires_at_ms),
        Some(_) => return wrong_type(),
    };
    let byte = (offset / 8) as usize;
    let mask = 1u8 << (7 - (offset % 8));
    let mut value = BytesMut::from(&old[..]);
    if value.len() <= byte {
        value.resize(byte + 1, 0);
    }
    let was = value[byte] & mask != 0;
    if on {
        value[byte] |= mask;
    } else {
        value[byte] &= !mask;
    }
    store(exec, &args[1], value.freeze(), ttl, "setbit");
    Reply::Int(i64::from(was))
}

pub(super) fn bitcount(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let value = match read_string(exec, &args[1]) {
        Err(e) => return e,
        Ok(v) => v.unwrap_or_default(),
    };
    let ones = |bytes: &[u8]| bytes.iter().map(|b| i64::from(b.count_ones())).sum::<i64>();
    match &args[2..] {
        [] => Reply::Int(ones(&value)),
        [start, end, rest @ ..] if rest.len() <= 1 => {
            let (Some(start), Some(end)) = (parse_i64(start), parse_i64(end)) else { return not_an_integer() };
            let bits = match rest.first() {
                None => false,
                Some(u) if eq_ignore_case(u, "byte") => false,
                Some(u) if eq_ignore_case(u, "bit") => true,
                Some(_) => return syntax_error(),
            };
            let len = if bits { value.len() * 8 } else { value.len() };
            match clamp_range(start, end, len) {
                None => Reply::Int(0),
                Some((s, e)) if !bits => Reply::Int(ones(&value[s..=e])),
                Some((s, e)) => Reply::Int((s..=e).filter(|i| value[i / 8] & (1 << (7 - i % 8)) != 0).count() as i64),
            }
        }
        _ => syntax_error(),
    }
}

pub(super) fn lcs(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let mut opts = LcsOptions::default();
    let mut j = 3;
    while j < args.len() {
        let a = &args[j];
        if eq_ignore_case(a, "idx") {
            opts.idx = true;
        } else if eq_ignore_case(a, "len") {
            opts.len = true;
        } else if eq_ignore_case(a, "withmatchlen") {
            opts.with_match_len = true;
        } else if eq_ignore_case(a, "minmatchlen") && j + 1 < args.len() {
            match int_arg(&args[j + 1]) {
                Ok(n) => opts.min_match_len = n.max(0) as usize,
                Err(e) => return e,
            }
            j += 1;
        } else {
            return syntax_error();
        }
        j += 1;
    }
    if opts.idx && opts.len {
        return Reply::error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let mut strings = Vec::new();
    for key in &args[1..3] {
        match exec.get(key) {
            None => strings.push(Bytes::new()),
            Some(Entry { value: Value::Str(s), .. }) => strings.push(s.clone()),
            Some(_) => return Reply::error("ERR The specified keys must contain string values"),
        }
    }
    lcs_reply(&strings[0], &strings[1], &opts, exec.session.resp)
}

#[derive(Default)]
struct LcsOptions {
    idx: bool,
    len: bool,
    with_match_len: bool,
    min_match_len: usize,
}

/// The dynamic-programming LCS, walked back from the end as Redis walks it, so that IDX
/// reports the same ranges in the same order.
/// The LCS table's largest size in cells (4 bytes each): Redis 7.2's rule, transient memory
/// within proto-max-bulk-len.
const LCS_CELLS_MAX: usize = STRING_BYTES_MAX / 4;

fn lcs_reply(a: &[u8], b: &[u8], opts: &LcsOptions, _resp: u8) -> Reply {
    let (n, m) = (a.len(), b.len());
    if (n + 1).saturating_mul(m + 1) > LCS_CELLS_MAX {
        return Reply::error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let mut table = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in 1..=n {
        for j in 1..=m {
            table[at(i, j)] = if a[i - 1] == b[j - 1] {
                table[at(i - 1, j - 1)] + 1
            } else {
                table[at(i - 1, j)].max(table[at(i, j - 1)])
            };
        }
    }
    let total = table[at(n, m)] as usize;
    if opts.len {
        return Reply::Int(total as i64);
    }
    let mut common = vec![0u8; total];
    let mut matches: Vec<((usize, usize), (usize, usize))> = Vec::new();
    let (mut i, mut j, mut k) = (n, m, total);
    // The range being grown backwards: (a start, a end, b start, b end).
    let mut range: Option<(usize, usize, usize, usize)> = None;
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            common[k - 1] = a[i - 1];
            range = match range {
                None => Some((i - 1, i - 1, j - 1, j - 1)),
                Some((as_, ae, bs, be)) if as_ == i && bs == j => Some((as_ - 1, ae, bs - 1, be)),
                Some(r) => {
                    emit = true;
                    Some(r)
                }
            };
            if range.is_some_and(|(as_, _, bs, _)| as_ == 0 || bs == 0) {
                emit = true;
            }
            k -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[at(i - 1, j)] > table[at(i, j - 1)] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = range.is_some();
        }
        if emit {
            if let Some((as_, ae, bs, be)) = range.take() {
                if ae - as_ + 1 >= opts.min_match_len {
                    matches.push(((as_, ae), (bs, be)));
                }
            }
        }
    }
    if !opts.idx {
        return Reply::Bulk(Bytes::from(common));
    }
    let pair = |(s, e): (usize, usize)| Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)]);
    let listed = matches
        .into_iter()
        .map(|(ra, rb)| {
            let mut item = vec![pair(ra), pair(rb)];
            if opts.with_match_len {
                item.push(Reply::Int((ra.1 - ra.0 + 1) as i64));
            }
            Reply::Array(item)
        })
        .collect();
    Reply::Map(vec![(Reply::bulk("matches"), Reply::Array(listed)), (Reply::bulk("len"), Reply::Int(total as i64))])
}
