//! The list family. Blocking pops (BLPOP...) pop at once when there is something to pop, and
//! inside MULTI or a script return nil as Redis does there; a client that would have to wait
//! gets an error instead, since the model does not block clients (docs/model.md).

use std::collections::VecDeque;

use bytes::Bytes;

use super::strings::new_key_notice;
use super::{eq_ignore_case, int_arg, parse_i64, syntax_error, wrong_type, Exec};
use crate::keyspace::{Entry, Value};
use crate::notify::Class;
use crate::reply::Reply;

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

fn end_of(arg: &[u8]) -> Option<End> {
    if eq_ignore_case(arg, "left") {
        Some(End::Left)
    } else if eq_ignore_case(arg, "right") {
        Some(End::Right)
    } else {
        None
    }
}

fn read(exec: &mut Exec<'_>, key: &[u8]) -> Result<Option<VecDeque<Bytes>>, Reply> {
    exec.read(key, |v| if let Value::List(l) = v { Some(l.clone()) } else { None })
}

/// The list under `key` for writing; created when missing and `create`.
fn write<'e>(exec: &'e mut Exec<'_>, key: &Bytes, create: bool) -> Result<Option<&'e mut VecDeque<Bytes>>, Reply> {
    match exec.get(key) {
        None if create => {
            new_key_notice(exec, key);
            exec.insert(key.clone(), Entry::new(Value::List(VecDeque::new())));
        }
        None => return Ok(None),
        Some(Entry { value: Value::List(_), .. }) => {}
        Some(_) => return Err(wrong_type()),
    }
    match exec.get_mut(key) {
        Some(Entry { value: Value::List(l), .. }) => Ok(Some(l)),
        _ => unreachable!("a list is under the key"),
    }
}

/// Deletes the key when its list became empty, as Redis never keeps an empty list.
fn drop_if_empty(exec: &mut Exec<'_>, key: &[u8]) {
    if matches!(exec.get(key), Some(Entry { value: Value::List(l), .. }) if l.is_empty()) {
        exec.remove(key);
        exec.notify(Class::GENERIC, "del", key);
    }
}

fn push(exec: &mut Exec<'_>, args: &[Bytes], end: End, only_existing: bool) -> Reply {
    let list = match write(exec, &args[1], !only_existing) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(l)) => l,
    };
    for item in &args[2..] {
        match end {
            End::Left => list.push_front(item.clone()),
            End::Right => list.push_back(item.clone()),
        }
    }
    let len = list.len();
    exec.notify(Class::LIST, if end == End::Left { "lpush" } else { "rpush" }, &args[1]);
    Reply::Int(len as i64)
}

pub(super) fn lpush(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    push(exec, args, End::Left, false)
}

pub(super) fn rpush(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    push(exec, args, End::Right, false)
}

pub(super) fn lpushx(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    push(exec, args, End::Left, true)
}

pub(super) fn rpushx(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    push(exec, args, End::Right, true)
}

fn pop(exec: &mut Exec<'_>, args: &[Bytes], end: End) -> Reply {
    if args.len() > 3 {
        return syntax_error();
    }
    let count = match args.get(2) {
        None => None,
        Some(c) => match parse_i64(c) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Reply::error("ERR value is out of range, must be positive"),
        },
    };
    let list = match write(exec, &args[1], false) {
        Err(e) => return e,
        Ok(None) => return if count.is_some() { Reply::NilArray } else { Reply::Nil },
        Ok(Some(l)) => l,
    };
    let taken: Vec<Bytes> = (0..count.unwrap_or(1))
        .map_while(|_| match end {
            End::Left => list.pop_front(),
            End::Right => list.pop_back(),
        })
        .collect();
    if !taken.is_empty() {
        exec.notify(Class::LIST, if end == End::Left { "lpop" } else { "rpop" }, &args[1]);
    }
    drop_if_empty(exec, &args[1]);
    match count {
        None => taken.into_iter().next().map_or(Reply::Nil, Reply::Bulk),
        Some(_) => Reply::Array(taken.into_iter().map(Reply::Bulk).collect()),
    }
}

pub(super) fn lpop(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    pop(exec, args, End::Left)
}

pub(super) fn rpop(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    pop(exec, args, End::Right)
}

pub(super) fn llen(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    read(exec, &args[1]).map_or_else(|e| e, |l| Reply::Int(l.map_or(0, |l| l.len() as i64)))
}

pub(super) fn lrange(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let (Some(start), Some(stop)) = (parse_i64(&args[2]), parse_i64(&args[3])) else { return super::not_an_integer() };
    let list = match read(exec, &args[1]) {
        Err(e) => return e,
        Ok(l) => l.unwrap_or_default(),
    };
    match super::strings::clamp_range(start, stop, list.len()) {
        None => Reply::Array(vec![]),
        Some((s, e)) => Reply::Array(list.range(s..=e).cloned().map(Reply::Bulk).collect()),
    }
}

fn index_of(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&i).then_some(i as usize)
}

pub(super) fn lindex(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let index = match int_arg(&args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    match read(exec, &args[1]) {
        Err(e) => e,
        Ok(l) => {
            let l = l.unwrap_or_default();
            index_of(index, l.len()).map_or(Reply::Nil, |i| Reply::Bulk(l[i].clone()))
        }
    }
}

pub(super) fn lset(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let index = match int_arg(&args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let list = match write(exec, &args[1], false) {
        Err(e) => return e,
        Ok(None) => return Reply::error("ERR no such key"),
        Ok(Some(l)) => l,
    };
    match index_of(index, list.len()) {
        None => Reply::error("ERR index out of range"),
        Some(i) => {
            list[i] = args[3].clone();
            exec.notify(Class::LIST, "lset", &args[1]);
            Reply::ok()
        }
    }
}

pub(super) fn lrem(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let count = match int_arg(&args[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let list = match write(exec, &args[1], false) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(l)) => l,
    };
    let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
    let mut positions: Vec<usize> = list.iter().enumerate().filter(|(_, v)| **v == args[3]).map(|(i, _)| i).collect();
    if count < 0 {
        positions.reverse();
    }
    positions.truncate(limit);
    positions.sort_unstable();
    for i in positions.iter().rev() {
        list.remove(*i);
    }
    if !positions.is_empty() {
        exec.notify(Class::LIST, "lrem", &args[1]);
    }
    drop_if_empty(exec, &args[1]);
    Reply::Int(positions.len() as i64)
}

pub(super) fn ltrim(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let (Some(start), Some(stop)) = (parse_i64(&args[2]), parse_i64(&args[3])) else { return super::not_an_integer() };
    let list = match write(exec, &args[1], false) {
        Err(e) => return e,
        Ok(None) => return Reply::ok(),
        Ok(Some(l)) => l,
    };
    match super::strings::clamp_range(start, stop, list.len()) {
        None => list.clear(),
        Some((s, e)) => {
            list.truncate(e + 1);
            list.drain(..s);
        }
    }
    exec.notify(Class::LIST, "ltrim", &args[1]);
    drop_if_empty(exec, &args[1]);
    Reply::ok()
}

/// LMOVE's step: pop from `from`'s end, push at `to`'s end; nil when the source is empty.
fn move_item(exec: &mut Exec<'_>, source: &Bytes, target: &Bytes, from: End, to: End) -> Reply {
    if let Err(e) = read(exec, target) {
        return e;
    }
    let list = match write(exec, source, false) {
        Err(e) => return e,
        Ok(None) => return Reply::Nil,
        Ok(Some(l)) => l,
    };
    let item = match from {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    };
    let Some(item) = item else { return Reply::Nil };
    exec.notify(Class::LIST, if from == End::Left { "lpop" } else { "rpop" }, source);
    drop_if_empty(exec, source);
    let target_list = write(exec, target, true).expect("checked the type").expect("created");
    match to {
        End::Left => target_list.push_front(item.clone()),
        End::Right => target_list.push_back(item.clone()),
    }
    exec.notify(Class::LIST, if to == End::Left { "lpush" } else { "rpush" }, target);
    Reply::Bulk(item)
}

pub(super) fn lmove(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let (Some(from), Some(to)) = (end_of(&args[3]), end_of(&args[4])) else { return syntax_error() };
    move_item(exec, &args[1], &args[2], from, to)
}

pub(super) fn rpoplpush(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    move_item(exec, &args[1], &args[2], End::Right, End::Left)
}

/// The timeout argument of a blocking command, checked as Redis checks it.
fn check_timeout(arg: &[u8]) -> Result<(), Reply> {
    match super::parse_f64(arg) {
        Some(t) if t < 0.0 => Err(Reply::error("ERR timeout is negative")),
        Some(t) if t.is_finite() => Ok(()),
        _ => Err(Reply::error("ERR timeout is not a float or out of range")),
    }
}

/// Nothing to pop: inside MULTI or a script the reply is nil; a client would wait.
fn would_block(exec: &Exec<'_>, name: &str) -> Reply {
    if exec.in_exec || exec.script.is_some() {
        Reply::NilArray
    } else {
        Reply::error(format!("ERR the model does not block clients: {name} found nothing to pop"))
    }
}

fn blocking_pop(exec: &mut Exec<'_>, args: &[Bytes], end: End, name: &str) -> Reply {
    if let Err(e) = check_timeout(&args[args.len() - 1]) {
        return e;
    }
    for key in &args[1..args.len() - 1] {
        match read(exec, key) {
            Err(e) => return e,
            Ok(Some(_)) => {
                let popped = pop(exec, &[args[0].clone(), key.clone()], end);
                return Reply::Array(vec![Reply::Bulk(key.clone()), popped]);
            }
            Ok(None) => {}
        }
    }
    would_block(exec, name)
}

pub(super) fn blpop(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    blocking_pop(exec, args, End::Left, "blpop")
}

pub(super) fn brpop(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    blocking_pop(exec, args, End::Right, "brpop")
}

pub(super) fn brpoplpush(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if let Err(e) = check_timeout(&args[3]) {
        return e;
    }
    match move_item(exec, &args[1], &args[2], End::Right, End::Left) {
        Reply::Nil => match would_block(exec, "brpoplpush") {
            Reply::NilArray => Reply::Nil,
            other => other,
        },
        other => other,
    }
}

pub(super) fn blmove(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let (Some(from), Some(to)) = (end_of(&args[3]), end_of(&args[4])) else { return syntax_error() };
    if let Err(e) = check_timeout(&args[5]) {
        return e;
    }
    match move_item(exec, &args[1], &args[2], from, to) {
        Reply::Nil => match would_block(exec, "blmove") {
            Reply::NilArray => Reply::Nil,
            other => other,
        },
        other => other,
    }
}
