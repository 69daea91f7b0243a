//! The sorted-set commands an elector, a cache or a job queue typically uses.

use bytes::Bytes;

use super::strings::new_key_notice;
use super::{eq_ignore_case, format_double, parse_f64, parse_i64, syntax_error, wrong_type, Exec};
use crate::keyspace::{Entry, Value};
use crate::notify::Class;
use crate::reply::Reply;
use crate::zset::SortedSet;

fn read(exec: &mut Exec<'_>, key: &[u8]) -> Result<Option<SortedSet>, Reply> {
    exec.read(key, |v| if let Value::ZSet(z) = v { Some(z.clone()) } else { None })
}

fn write<'e>(exec: &'e mut Exec<'_>, key: &Bytes, create: bool) -> Result<Option<&'e mut SortedSet>, Reply> {
    match exec.get(key) {
        None if create => {
            new_key_notice(exec, key);
            exec.insert(key.clone(), Entry::new(Value::ZSet(SortedSet::default())));
        }
        None => return Ok(None),
        Some(Entry { value: Value::ZSet(_), .. }) => {}
        Some(_) => return Err(wrong_type()),
    }
    match exec.get_mut(key) {
        Some(Entry { value: Value::ZSet(z), .. }) => Ok(Some(z)),
        _ => unreachable!("a sorted set is under the key"),
    }
}

fn drop_if_empty(exec: &mut Exec<'_>, key: &[u8]) {
    if matches!(exec.get(key), Some(Entry { value: Value::ZSet(z), .. }) if z.is_empty()) {
        exec.remove(key);
        exec.notify(Class::GENERIC, "del", key);
    }
}

fn score_reply(score: f64) -> Reply {
    Reply::Double(score)
}

pub(super) fn zadd(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) = (false, false, false, false, false, false);
    let mut j = 2;
    while j < args.len() {
        let a = &args[j];
        let flag = match () {
            _ if eq_ignore_case(a, "nx") => &mut nx,
            _ if eq_ignore_case(a, "xx") => &mut xx,
            _ if eq_ignore_case(a, "gt") => &mut gt,
            _ if eq_ignore_case(a, "lt") => &mut lt,
            _ if eq_ignore_case(a, "ch") => &mut ch,
            _ if eq_ignore_case(a, "incr") => &mut incr,
            _ => break,
        };
        *flag = true;
        j += 1;
    }
    let pairs = &args[j..];
    if pairs.is_empty() || pairs.len() % 2 == 1 {
        return syntax_error();
    }
    if nx && xx {
        return Reply::error("ERR XX and NX options at the same time are not compatible");
    }
    if ((gt || lt) && nx) || (gt && lt) {
        return Reply::error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && pairs.len() > 2 {
        return Reply::error("ERR INCR option supports a single increment-element pair");
    }
    let mut scored = Vec::new();
    for pair in pairs.chunks(2) {
        match parse_f64(&pair[0]) {
            Some(s) => scored.push((s, pair[1].clone())),
            None => return super::not_a_float(),
        }
    }
    let zset = match write(exec, &args[1], !xx) {
        Err(e) => return e,
        Ok(None) => return if incr { Reply::Nil } else { Reply::Int(0) },
        Ok(Some(z)) => z,
    };
    let (mut added, mut changed, mut last) = (0, 0, None);
    for (score, member) in scored {
        let old = zset.score(&member);
        if (nx && old.is_some()) || (xx && old.is_none()) {
            continue;
        }
        let new = if incr { old.unwrap_or(0.0) + score } else { score };
        if new.is_nan() {
            return Reply::error("ERR resulting score is not a number (NaN)");
        }
        if old.is_some_and(|o| (gt && new <= o) || (lt && new >= o)) {
            continue;
        }
        last = Some(new);
        if old.is_none() {
            added += 1;
        } else if old != Some(new) {
            changed += 1;
        }
        zset.insert(member, new);
    }
    if added + changed > 0 {
        exec.notify(Class::ZSET, if incr { "zincr" } else { "zadd" }, &args[1]);
    }
    drop_if_empty(exec, &args[1]);
    if incr {
        return last.map_or(Reply::Nil, score_reply);
    }
    Reply::Int(if ch { added + changed } else { added })
}

pub(super) fn zincrby(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let rewritten =
        vec![args[0].clone(), args[1].clone(), Bytes::from_static(b"INCR"), args[2].clone(), args[3].clone()];
    zadd(exec, &rewritten)
}

pub(super) fn zrem(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let zset = match write(exec, &args[1], false) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(z)) => z,
    };
    let removed = args[2..].iter().filter(|m| zset.remove(m)).count();
    if removed > 0 {
        exec.notify(Class::ZSET, "zrem", &args[1]);
    }
    drop_if_empty(exec, &args[1]);
    Reply::Int(removed as i64)
}

pub(super) fn zcard(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    read(exec, &args[1]).map_or_else(|e| e, |z| Reply::Int(z.map_or(0, |z| z.len() as i64)))
}

pub(super) fn zscore(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    read(exec, &args[1]).map_or_else(|e| e, |z| z.and_then(|z| z.score(&args[2])).map_or(Reply::Nil, score_reply))
}

fn listed(items: Vec<(Bytes, f64)>, with_scores: bool, resp: u8) -> Reply {
    Reply::Array(
        items
            .into_iter()
            .flat_map(|(m, s)| {
                if !with_scores {
                    vec![Reply::Bulk(m)]
                } else if resp == 3 {
                    vec![Reply::Array(vec![Reply::Bulk(m), score_reply(s)])]
                } else {
                    vec![Reply::Bulk(m), Reply::bulk(format_double(s))]
                }
            })
            .collect(),
    )
}

/// ZRANGE key start stop [REV] [WITHSCORES] (by index; BYSCORE for the score form).
pub(super) fn zrange(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let (mut rev, mut with_scores, mut by_score) = (false, false, false);
    for a in &args[4..] {
        match () {
            _ if eq_ignore_case(a, "rev") => rev = true,
            _ if eq_ignore_case(a, "withscores") => with_scores = true,
            _ if eq_ignore_case(a, "byscore") => by_score = true,
            _ => return syntax_error(),
        }
    }
    if by_score {
        return by_score_range(exec, &args[1], &args[2], &args[3], with_scores);
    }
    let (Some(start), Some(stop)) = (parse_i64(&args[2]), parse_i64(&args[3])) else { return super::not_an_integer() };
    let zset = match read(exec, &args[1]) {
        Err(e) => return e,
        Ok(z) => z.unwrap_or_default(),
    };
    let mut all: Vec<(Bytes, f64)> = zset.iter().map(|(m, s)| (m.clone(), s)).collect();
    if rev {
        all.reverse();
    }
    let items = match super::strings::clamp_range(start, stop, all.len()) {
        None => vec![],
        Some((s, e)) => all[s..=e].to_vec(),
    };
    listed(items, with_scores, exec.session.resp)
}

fn score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    match arg.strip_prefix(b"(") {
        Some(rest) => parse_f64(rest).map(|s| (s, true)),
        None => parse_f64(arg).map(|s| (s, false)),
    }
}

fn by_score_range(exec: &mut Exec<'_>, key: &[u8], min: &[u8], max: &[u8], with_scores: bool) -> Reply {
    let (Some((lo, lo_open)), Some((hi, hi_open))) = (score_bound(min), score_bound(max)) else {
        return Reply::error("ERR min or max is not a float");
    };
    let zset = match read(exec, key) {
        Err(e) => return e,
        Ok(z) => z.unwrap_or_default(),
    };
    let items = zset
        .iter()
        .filter(|(_, s)| (if lo_open { *s > lo } else { *s >= lo }) && (if hi_open { *s < hi } else { *s <= hi }))
        .map(|(m, s)| (m.clone(), s))
        .collect();
    listed(items, with_scores, exec.session.resp)
}

pub(super) fn zrangebyscore(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let with_scores = match &args[4..] {
        [] => false,
        [w] if eq_ignore_case(w, "withscores") => true,
        _ => return syntax_error(),
    };
    by_score_range(exec, &args[1], &args[2], &args[3], with_scores)
}

fn pop(exec: &mut Exec<'_>, key: &Bytes, count: usize, max: bool) -> Result<Vec<(Bytes, f64)>, Reply> {
    let Some(zset) = write(exec, key, false)? else { return Ok(vec![]) };
    let picked: Vec<(Bytes, f64)> = if max {
        zset.iter().rev().take(count).map(|(m, s)| (m.clone(), s)).collect()
    } else {
        zset.iter().take(count).map(|(m, s)| (m.clone(), s)).collect()
    };
    for (m, _) in &picked {
        zset.remove(m);
    }
    if !picked.is_empty() {
        exec.notify(Class::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    }
    drop_if_empty(exec, key);
    Ok(picked)
}

fn zpop(exec: &mut Exec<'_>, args: &[Bytes], max: bool) -> Reply {
    let count = match args.get(2) {
        None => 1,
        Some(c) => match parse_i64(c) {
            Some(n) if n >= 0 => n as usize,
            _ => return Reply::error("ERR value is out of range, must be positive"),
        },
    };
    if args.len() > 3 {
        return syntax_error();
    }
    match pop(exec, &args[1], count, max) {
        Err(e) => e,
        Ok(items) => listed(items, true, 2),
    }
}

pub(super) fn zpopmin(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    zpop(exec, args, false)
}

pub(super) fn zpopmax(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    zpop(exec, args, true)
}

fn bzpop(exec: &mut Exec<'_>, args: &[Bytes], max: bool) -> Reply {
    for key in &args[1..args.len() - 1] {
        match pop(exec, key, 1, max) {
            Err(e) => return e,
            Ok(items) if !items.is_empty() => {
                let (m, s) = items.into_iter().next().expect("one");
                return Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Bulk(m), Reply::bulk(format_double(s))]);
            }
            Ok(_) => {}
        }
    }
    if exec.in_exec || exec.script.is_some() {
        Reply::NilArray
    } else {
        Reply::error("ERR the model does not block clients: nothing to pop")
    }
}

pub(super) fn bzpopmin(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    bzpop(exec, args, false)
}

pub(super) fn bzpopmax(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    bzpop(exec, args, true)
}
