//! SORT and SORT_RO over lists, sets and sorted sets: BY (a constant pattern skips sorting),
//! LIMIT, GET (`#` for the element itself, `key->field` for hashes), ASC/DESC, ALPHA, STORE.

use std::cmp::Ordering;
use std::collections::VecDeque;

use bytes::Bytes;

use super::{eq_ignore_case, parse_f64, parse_i64, syntax_error, wrong_type, Exec};
use crate::keyspace::{Entry, Value};
use crate::notify::Class;
use crate::reply::Reply;

#[derive(Default)]
struct SortOptions {
    by: Option<Bytes>,
    limit: Option<(i64, i64)>,
    gets: Vec<Bytes>,
    desc: bool,
    alpha: bool,
    store: Option<Bytes>,
}

fn parse(args: &[Bytes], read_only: bool) -> Result<SortOptions, Reply> {
    let mut o = SortOptions::default();
    let mut j = 2;
    while j < args.len() {
        let (a, left) = (&args[j], args.len() - j - 1);
        if eq_ignore_case(a, "asc") {
            o.desc = false;
        } else if eq_ignore_case(a, "desc") {
            o.desc = true;
        } else if eq_ignore_case(a, "alpha") {
            o.alpha = true;
        } else if eq_ignore_case(a, "limit") && left >= 2 {
            let (Some(offset), Some(count)) = (parse_i64(&args[j + 1]), parse_i64(&args[j + 2])) else {
                return Err(super::not_an_integer());
            };
            o.limit = Some((offset, count));
            j += 2;
        } else if eq_ignore_case(a, "store") && left >= 1 && !read_only {
            o.store = Some(args[j + 1].clone());
            j += 1;
        } else if eq_ignore_case(a, "by") && left >= 1 {
            o.by = Some(args[j + 1].clone());
            j += 1;
        } else if eq_ignore_case(a, "get") && left >= 1 {
            o.gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(syntax_error());
        }
        j += 1;
    }
    Ok(o)
}

/// The value a pattern names for `element`: `*` replaced by it, `->field` into a hash.
fn lookup(exec: &mut Exec<'_>, pattern: &[u8], element: &[u8]) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(Bytes::copy_from_slice(element));
    }
    let star = pattern.iter().position(|b| *b == b'*')?;
    let (key_pattern, field) = match pattern.windows(2).rposition(|w| w == b"->") {
        Some(arrow) if arrow > star => (&pattern[..arrow], Some(&pattern[arrow + 2..])),
        _ => (pattern, None),
    };
    let mut key = key_pattern[..star].to_vec();
    key.extend_from_slice(element);
    key.extend_from_slice(&key_pattern[star + 1..]);
    match (exec.get(&key).map(|e| &e.value), field) {
        (Some(Value::Str(s)), None) => Some(s.clone()),
        (Some(Value::Hash(h)), Some(f)) => h.get(f).cloned(),
        _ => None,
    }
}

pub(super) fn sort(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    sort_generic(exec, args, false)
}

pub(super) fn sort_ro(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    sort_generic(exec, args, true)
}

fn sort_generic(exec: &mut Exec<'_>, args: &[Bytes], read_only: bool) -> Reply {
    let o = match parse(args, read_only) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let elements: Vec<Bytes> = match exec.get(&args[1]).map(|e| &e.value) {
        None => vec![],
        Some(Value::List(l)) => l.iter().cloned().collect(),
        Some(Value::Set(s)) => s.iter().cloned().collect(),
        Some(Value::ZSet(z)) => z.iter().map(|(m, _)| m.clone()).collect(),
        Some(_) => return wrong_type(),
    };
    let constant_by = o.by.as_ref().is_some_and(|b| !b.contains(&b'*'));
    let mut keyed: Vec<(Bytes, Option<Bytes>)> = Vec::with_capacity(elements.len());
    for element in elements {
        let weight = match &o.by {
            Some(by) if !constant_by => lookup(exec, by, &element),
            _ => Some(element.clone()),
        };
        keyed.push((element, weight));
    }
    if !constant_by {
        if !o.alpha && keyed.iter().any(|(_, w)| w.as_ref().is_some_and(|w| parse_f64(w).is_none())) {
            return Reply::error("ERR One or more scores can't be converted into double");
        }
        let compare = |a: &(Bytes, Option<Bytes>), b: &(Bytes, Option<Bytes>)| -> Ordering {
            let order = if o.alpha {
                a.1.cmp(&b.1)
            } else {
                let num = |w: &Option<Bytes>| w.as_ref().and_then(|w| parse_f64(w)).unwrap_or(0.0);
                num(&a.1).total_cmp(&num(&b.1))
            };
            order.then_with(|| a.0.cmp(&b.0))
        };
        keyed.sort_by(|a, b| if o.desc { compare(b, a) } else { compare(a, b) });
    }
    let (start, count) = o.limit.unwrap_or((0, -1));
    let start = start.max(0) as usize;
    let picked: Vec<Bytes> = keyed
        .into_iter()
        .map(|(e, _)| e)
        .skip(start)
        .take(if count < 0 { usize::MAX } else { count as usize })
        .collect();
    let mut out: Vec<Option<Bytes>> = Vec::new();
    for element in &picked {
        if o.gets.is_empty() {
            out.push(Some(element.clone()));
        }
        for get in &o.gets {
            out.push(lookup(exec, get, element));
        }
    }
    match o.store {
        None => Reply::Array(out.into_iter().map(|v| v.map_or(Reply::Nil, Reply::Bulk)).collect()),
        Some(target) => store(exec, target, out),
    }
}

fn store(exec: &mut Exec<'_>, target: Bytes, out: Vec<Option<Bytes>>) -> Reply {
    let len = out.len();
    let existed = exec.remove(&target);
    if len > 0 {
        let list: VecDeque<Bytes> = out.into_iter().map(Option::unwrap_or_default).collect();
        exec.insert(target.clone(), Entry::new(Value::List(list)));
        exec.notify(Class::LIST, "sortstore", &target);
    } else if existed {
        exec.notify(Class::GENERIC, "del", &target);
    } else {
        // An empty result still counts as a write to the target (WATCH sees it).
        exec.db().insert(target.clone(), Entry::new(Value::List(VecDeque::new())));
        exec.remove(&target);
    }
    Reply::Int(len as i64)
}
