//! The hash family.

use bytes::Bytes;

use super::strings::new_key_notice;
use super::{format_float, parse_f64, parse_i64, wrong_arity, wrong_type, Exec};
use crate::keyspace::{Entry, HashFields, Value};
use crate::notify::Class;
use crate::reply::Reply;

/// The hash under `key` for reading: `Ok(None)` when missing, WRONGTYPE when not a hash.
fn read(exec: &mut Exec<'_>, key: &[u8]) -> Result<Option<HashFields>, Reply> {
    exec.read(key, |v| if let Value::Hash(h) = v { Some(h.clone()) } else { None })
}

/// The hash under `key` for writing, created empty when missing.
fn write<'e>(exec: &'e mut Exec<'_>, key: &Bytes) -> Result<&'e mut HashFields, Reply> {
    match exec.get(key) {
        None => {
            new_key_notice(exec, key);
            exec.insert(key.clone(), Entry::new(Value::Hash(HashFields::default())));
        }
        Some(Entry { value: Value::Hash(_), .. }) => {}
        Some(_) => return Err(wrong_type()),
    }
    match exec.get_mut(key) {
        Some(Entry { value: Value::Hash(h), .. }) => Ok(h),
        _ => unreachable!("a hash is under the key"),
    }
}

pub(super) fn hset(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if args.len() % 2 == 1 {
        return wrong_arity(&String::from_utf8_lossy(&args[0]).to_ascii_lowercase());
    }
    let fields = match write(exec, &args[1]) {
        Ok(h) => h,
        Err(e) => return e,
    };
    let added = args[2..].chunks(2).filter(|pair| fields.insert(pair[0].clone(), pair[1].clone()).is_none()).count();
    exec.notify(Class::HASH, "hset", &args[1]);
    if args[0].eq_ignore_ascii_case(b"hmset") {
        Reply::ok()
    } else {
        Reply::Int(added as i64)
    }
}

pub(super) fn hsetnx(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match read(exec, &args[1]) {
        Err(e) => return e,
        Ok(Some(h)) if h.contains_key(&args[2]) => return Reply::Int(0),
        Ok(_) => {}
    }
    let fields = write(exec, &args[1]).expect("checked the type");
    fields.insert(args[2].clone(), args[3].clone());
    exec.notify(Class::HASH, "hset", &args[1]);
    Reply::Int(1)
}

pub(super) fn hget(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match read(exec, &args[1]) {
        Err(e) => e,
        Ok(h) => h.and_then(|h| h.get(&args[2]).cloned()).map_or(Reply::Nil, Reply::Bulk),
    }
}

pub(super) fn hmget(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match read(exec, &args[1]) {
        Err(e) => e,
        Ok(h) => Reply::Array(
            args[2..]
                .iter()
                .map(|f| h.as_ref().and_then(|h| h.get(f).cloned()).map_or(Reply::Nil, Reply::Bulk))
                .collect(),
        ),
    }
}

pub(super) fn hgetall(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match read(exec, &args[1]) {
        Err(e) => e,
        Ok(h) => Reply::Map(
            h.map(|h| h.iter().map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone()))).collect())
                .unwrap_or_default(),
        ),
    }
}

pub(super) fn hkeys(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match read(exec, &args[1]) {
        Err(e) => e,
        Ok(h) => Reply::Array(h.map(|h| h.keys().cloned().map(Reply::Bulk).collect()).unwrap_or_default()),
    }
}

pub(super) fn hvals(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match read(exec, &args[1]) {
        Err(e) => e,
        Ok(h) => Reply::Array(h.map(|h| h.values().cloned().map(Reply::Bulk).collect()).unwrap_or_default()),
    }
}

pub(super) fn hlen(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    read(exec, &args[1]).map_or_else(|e| e, |h| Reply::Int(h.map_or(0, |h| h.len() as i64)))
}

pub(super) fn hexists(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    read(exec, &args[1]).map_or_else(|e| e, |h| Reply::Int(i64::from(h.is_some_and(|h| h.contains_key(&args[2])))))
}

pub(super) fn hstrlen(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    read(exec, &args[1])
        .map_or_else(|e| e, |h| Reply::Int(h.and_then(|h| h.get(&args[2]).map(|v| v.len() as i64)).unwrap_or(0)))
}

pub(super) fn hdel(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match read(exec, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(_)) => {}
    }
    let fields = write(exec, &args[1]).expect("checked the type");
    let removed = args[2..].iter().filter(|f| fields.shift_remove(*f).is_some()).count();
    let now_empty = fields.is_empty();
    if removed > 0 {
        exec.notify(Class::HASH, "hdel", &args[1]);
    }
    if now_empty {
        exec.remove(&args[1]);
        exec.notify(Class::GENERIC, "del", &args[1]);
    }
    Reply::Int(removed as i64)
}

pub(super) fn hincrby(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let Some(by) = parse_i64(&args[3]) else { return super::not_an_integer() };
    let current = match read(exec, &args[1]) {
        Err(e) => return e,
        Ok(h) => h.and_then(|h| h.get(&args[2]).cloned()),
    };
    let current = match current {
        None => 0,
        Some(v) => match parse_i64(&v) {
            Some(n) => n,
            None => return Reply::error("ERR hash value is not an integer"),
        },
    };
    let Some(next) = current.checked_add(by) else { return Reply::error("ERR increment or decrement would overflow") };
    write(exec, &args[1]).expect("checked the type").insert(args[2].clone(), Bytes::from(next.to_string()));
    exec.notify(Class::HASH, "hincrby", &args[1]);
    Reply::Int(next)
}

pub(super) fn hincrbyfloat(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let Some(by) = parse_f64(&args[3]) else { return super::not_a_float() };
    let current = match read(exec, &args[1]) {
        Err(e) => return e,
        Ok(h) => h.and_then(|h| h.get(&args[2]).cloned()),
    };
    let current = match current {
        None => 0.0,
        Some(v) => match parse_f64(&v) {
            Some(n) => n,
            None => return Reply::error("ERR hash value is not a float"),
        },
    };
    let next = current + by;
    if next.is_nan() || next.is_infinite() {
        return Reply::error("ERR increment would produce NaN or Infinity");
    }
    let text = Bytes::from(format_float(next));
    write(exec, &args[1]).expect("checked the type").insert(args[2].clone(), text.clone());
    exec.notify(Class::HASH, "hincrbyfloat", &args[1]);
    exec.propagate(vec![vec![Bytes::from_static(b"HSET"), args[1].clone(), args[2].clone(), text.clone()]]);
    Reply::Bulk(text)
}
