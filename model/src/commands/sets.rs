//! The set family. Random picks (SPOP, SRANDMEMBER) come from the server's seeded state.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::strings::new_key_notice;
use super::{parse_i64, wrong_type, Exec};
use crate::keyspace::{Entry, Value};
use crate::notify::Class;
use crate::reply::Reply;

type Members = BTreeSet<Bytes>;

fn read(exec: &mut Exec<'_>, key: &[u8]) -> Result<Option<Members>, Reply> {
    exec.read(key, |v| if let Value::Set(s) = v { Some(s.clone()) } else { None })
}

fn write<'e>(exec: &'e mut Exec<'_>, key: &Bytes, create: bool) -> Result<Option<&'e mut Members>, Reply> {
    match exec.get(key) {
        None if create => {
            new_key_notice(exec, key);
            exec.insert(key.clone(), Entry::new(Value::Set(Members::new())));
        }
        None => return Ok(None),
        Some(Entry { value: Value::Set(_), .. }) => {}
        Some(_) => return Err(wrong_type()),
    }
    match exec.get_mut(key) {
        Some(Entry { value: Value::Set(s), .. }) => Ok(Some(s)),
        _ => unreachable!("a set is under the key"),
    }
}

fn drop_if_empty(exec: &mut Exec<'_>, key: &[u8]) {
    if matches!(exec.get(key), Some(Entry { value: Value::Set(s), .. }) if s.is_empty()) {
        exec.remove(key);
        exec.notify(Class::GENERIC, "del", key);
    }
}

pub(super) fn sadd(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let set = match write(exec, &args[1], true) {
        Err(e) => return e,
        Ok(s) => s.expect("created"),
    };
    let added = args[2..].iter().filter(|m| set.insert((*m).clone())).count();
    if added > 0 {
        exec.notify(Class::SET, "sadd", &args[1]);
    }
    Reply::Int(added as i64)
}

pub(super) fn srem(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let set = match write(exec, &args[1], false) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(s)) => s,
    };
    let removed = args[2..].iter().filter(|m| set.remove(*m)).count();
    if removed > 0 {
        exec.notify(Class::SET, "srem", &args[1]);
    }
    drop_if_empty(exec, &args[1]);
    Reply::Int(removed as i64)
}

pub(super) fn smembers(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match read(exec, &args[1]) {
        Err(e) => e,
        Ok(s) => Reply::Set(s.unwrap_or_default().into_iter().map(Reply::Bulk).collect()),
    }
}

pub(super) fn sismember(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    read(exec, &args[1]).map_or_else(|e| e, |s| Reply::Int(i64::from(s.is_some_and(|s| s.contains(&args[2])))))
}

pub(super) fn scard(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    read(exec, &args[1]).map_or_else(|e| e, |s| Reply::Int(s.map_or(0, |s| s.len() as i64)))
}

fn count_arg(arg: Option<&Bytes>) -> Result<Option<i64>, Reply> {
    match arg {
        None => Ok(None),
        Some(a) => parse_i64(a).map(Some).ok_or_else(|| Reply::error("ERR value is out of range, must be positive")),
    }
}

pub(super) fn spop(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return super::syntax_error();
    }
    let count = match count_arg(args.get(2)) {
        Ok(Some(n)) if n < 0 => return Reply::error("ERR value is out of range, must be positive"),
        Ok(c) => c,
        Err(e) => return e,
    };
    let members = match read(exec, &args[1]) {
        Err(e) => return e,
        Ok(None) => return if count.is_some() { Reply::Set(vec![]) } else { Reply::Nil },
        Ok(Some(s)) => s,
    };
    let mut pool: Vec<Bytes> = members.into_iter().collect();
    let mut popped = Vec::new();
    for _ in 0..count.unwrap_or(1).min(pool.len() as i64) {
        let i = exec.meta.random_below(pool.len());
        popped.push(pool.swap_remove(i));
    }
    let set = write(exec, &args[1], false).expect("checked the type").expect("exists");
    for m in &popped {
        set.remove(m);
    }
    exec.notify(Class::SET, "spop", &args[1]);
    drop_if_empty(exec, &args[1]);
    // Replicas get the members removed, not a random draw of their own.
    exec.propagate(popped.iter().map(|m| vec![Bytes::from_static(b"SREM"), args[1].clone(), m.clone()]).collect());
    match count {
        None => popped.into_iter().next().map_or(Reply::Nil, Reply::Bulk),
        Some(_) => Reply::Set(popped.into_iter().map(Reply::Bulk).collect()),
    }
}

pub(super) fn srandmember(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return super::syntax_error();
    }
    let count = match count_arg(args.get(2)) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let members: Vec<Bytes> = match read(exec, &args[1]) {
        Err(e) => return e,
        Ok(s) => s.unwrap_or_default().into_iter().collect(),
    };
    match count {
        None if members.is_empty() => Reply::Nil,
        None => Reply::Bulk(members[exec.meta.random_below(members.len())].clone()),
        Some(_) if members.is_empty() => Reply::Array(vec![]),
        Some(n) if n < 0 => Reply::Array(
            (0..n.unsigned_abs())
                .map(|_| Reply::Bulk(members[exec.meta.random_below(members.len())].clone()))
                .collect(),
        ),
        Some(n) => {
            let mut pool = members;
            let mut picked = Vec::new();
            for _ in 0..(n as usize).min(pool.len()) {
                let i = exec.meta.random_below(pool.len());
                picked.push(Reply::Bulk(pool.swap_remove(i)));
            }
            Reply::Array(picked)
        }
    }
}

pub(super) fn smove(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let (source, target, member) = (&args[1], &args[2], &args[3]);
    let found = match (read(exec, source), read(exec, target)) {
        (Err(e), _) | (_, Err(e)) => return e,
        (Ok(s), _) => s.is_some_and(|s| s.contains(member)),
    };
    if !found {
        return Reply::Int(0);
    }
    if source != target {
        write(exec, source, false).expect("checked").expect("exists").remove(member);
        exec.notify(Class::SET, "srem", source);
        drop_if_empty(exec, source);
        write(exec, target, true).expect("checked").expect("created").insert(member.clone());
        exec.notify(Class::SET, "sadd", target);
    }
    Reply::Int(1)
}

fn combine(exec: &mut Exec<'_>, keys: &[Bytes], op: fn(&Members, &Members) -> Members) -> Reply {
    let mut sets = Vec::new();
    for key in keys {
        match read(exec, key) {
            Err(e) => return e,
            Ok(s) => sets.push(s.unwrap_or_default()),
        }
    }
    let mut result = sets[0].clone();
    for other in &sets[1..] {
        result = op(&result, other);
    }
    Reply::Set(result.into_iter().map(Reply::Bulk).collect())
}

pub(super) fn sinter(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    combine(exec, &args[1..], |a, b| a.intersection(b).cloned().collect())
}

pub(super) fn sunion(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    combine(exec, &args[1..], |a, b| a.union(b).cloned().collect())
}

pub(super) fn sdiff(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    combine(exec, &args[1..], |a, b| a.difference(b).cloned().collect())
}
