//! HSET, HGET, HGETALL, HDEL.

use bytes::Bytes;

use super::{wrong_arity, wrong_type, Exec};
use crate::keyspace::{Entry, HashFields, Value};
use crate::reply::Reply;

/// The hash under `key`: `Ok(None)` when missing, `Err` (WRONGTYPE) when not a hash.
fn hash<'e>(exec: &'e mut Exec<'_>, key: &[u8]) -> Result<Option<&'e mut HashFields>, Reply> {
    match exec.db.get(key, exec.now_ms) {
        None => Ok(None),
        Some(Entry { value: Value::Hash(h), .. }) => Ok(Some(h)),
        Some(_) => Err(wrong_type()),
    }
}

pub(super) fn hset(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if args.len() % 2 == 1 {
        return wrong_arity("hset");
    }
    let key = &args[1];
    let fields = match hash(exec, key) {
        Err(e) => return e,
        Ok(Some(h)) => h,
        Ok(None) => {
            exec.db.insert(key.clone(), Entry { value: Value::Hash(HashFields::default()), expires_at_ms: None });
            match hash(exec, key) {
                Ok(Some(h)) => h,
                _ => unreachable!("just inserted a hash"),
            }
        }
    };
    let added = args[2..].chunks(2).filter(|pair| fields.insert(pair[0].clone(), pair[1].clone()).is_none()).count();
    Reply::Int(added as i64)
}

pub(super) fn hget(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match hash(exec, &args[1]) {
        Err(e) => e,
        Ok(h) => h.and_then(|h| h.get(&args[2]).cloned()).map_or(Reply::Nil, Reply::Bulk),
    }
}

pub(super) fn hgetall(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match hash(exec, &args[1]) {
        Err(e) => e,
        Ok(h) => Reply::Map(
            h.map(|h| h.iter().map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone()))).collect())
                .unwrap_or_default(),
        ),
    }
}

pub(super) fn hdel(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let now_ms = exec.now_ms;
    let (removed, now_empty) = match hash(exec, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(h)) => (args[2..].iter().filter(|f| h.shift_remove(*f).is_some()).count(), h.is_empty()),
    };
    if now_empty {
        exec.db.remove(&args[1], now_ms);
    }
    Reply::Int(removed as i64)
}
