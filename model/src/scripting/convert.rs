//! Conversions between Redis replies and Lua values, by Redis 7.0's rules: RESP2 replies as
//! before Redis 6 (nil bulk -> false, status -> {ok=..}, error -> {err=..}), RESP3 replies
//! after `redis.setresp(3)` (null -> nil, map -> {map=..}, set -> {set=..}, double ->
//! {double=..}, ...), and Lua values back into replies.

use bytes::Bytes;
use mlua::{Lua, Table, Value as LuaValue};

use super::single_field;
use crate::reply::Reply;

/// How deep a returned table may nest before Redis gives up ("reached lua stack limit").
pub(crate) const REPLY_DEPTH_MAX: usize = 1000;

/// Redis reply -> Lua value, for a script speaking protocol `resp`.
pub(crate) fn reply_to_lua(lua: &Lua, reply: &Reply, resp: u8) -> mlua::Result<LuaValue> {
    let seq = |items: &[Reply]| -> mlua::Result<LuaValue> {
        let values = items.iter().map(|r| reply_to_lua(lua, r, resp)).collect::<mlua::Result<Vec<_>>>()?;
        Ok(LuaValue::Table(lua.create_sequence_from(values)?))
    };
    let wrap = |field: &str, value: LuaValue| -> mlua::Result<LuaValue> {
        let t = lua.create_table()?;
        t.raw_set(field, value)?;
        Ok(LuaValue::Table(t))
    };
    Ok(match reply {
        Reply::Int(i) => LuaValue::Integer(*i),
        Reply::Bulk(b) => LuaValue::String(lua.create_string(b)?),
        Reply::Nil | Reply::NilArray if resp == 3 => LuaValue::Nil,
        Reply::Nil | Reply::NilArray => LuaValue::Boolean(false),
        Reply::Status(s) => LuaValue::Table(single_field(lua, "ok", s)?),
        Reply::Error(e) => LuaValue::Table(single_field(lua, "err", e)?),
        Reply::Array(items) | Reply::Push(items) | Reply::Multi(items) => seq(items)?,
        Reply::Set(items) if resp == 3 => {
            let t = lua.create_table()?;
            for item in items {
                t.raw_set(reply_to_lua(lua, item, resp)?, true)?;
            }
            wrap("set", LuaValue::Table(t))?
        }
        Reply::Set(items) => seq(items)?,
        Reply::Map(pairs) if resp == 3 => {
            let t = lua.create_table()?;
            for (k, v) in pairs {
                t.raw_set(reply_to_lua(lua, k, resp)?, reply_to_lua(lua, v, resp)?)?;
            }
            wrap("map", LuaValue::Table(t))?
        }
        Reply::Map(pairs) => {
            let flat: Vec<Reply> = pairs.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect();
            seq(&flat)?
        }
        Reply::Double(d) if resp == 3 => wrap("double", LuaValue::Number(*d))?,
        Reply::Double(d) => LuaValue::String(lua.create_string(crate::commands::format_double(*d))?),
        Reply::Bool(b) if resp == 3 => LuaValue::Boolean(*b),
        Reply::Bool(b) => LuaValue::Integer(i64::from(*b)),
        Reply::BigNumber(n) if resp == 3 => wrap("big_number", LuaValue::String(lua.create_string(n)?))?,
        Reply::BigNumber(n) => LuaValue::String(lua.create_string(n)?),
        Reply::Verbatim(format, text) if resp == 3 => {
            let t = lua.create_table()?;
            t.raw_set("format", format.as_str())?;
            t.raw_set("string", lua.create_string(text)?)?;
            wrap("verbatim_string", LuaValue::Table(t))?
        }
        Reply::Verbatim(_, text) => LuaValue::String(lua.create_string(text)?),
        Reply::WithAttributes(_, inner) => reply_to_lua(lua, inner, resp)?,
        Reply::Silent | Reply::Wait(_) => LuaValue::Nil,
    })
}

/// Lua value -> Redis reply (`luaReplyToRedisReply`): numbers truncate, true is 1, false is
/// nil, `{err=..}` an error, `{ok=..}` a status, the RESP3 shapes their types, other tables
/// arrays cut at the first nil.
pub(crate) fn lua_to_reply(value: &LuaValue, depth: usize, resp: u8) -> Reply {
    match value {
        LuaValue::Nil => Reply::Nil,
        // A script speaking RESP3 returns booleans as booleans.
        LuaValue::Boolean(b) if resp == 3 => Reply::Bool(*b),
        LuaValue::Boolean(true) => Reply::Int(1),
        LuaValue::Boolean(false) => Reply::Nil,
        LuaValue::Integer(i) => Reply::Int(*i),
        LuaValue::Number(n) => Reply::Int(c_double_to_long_long(*n)),
        LuaValue::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        LuaValue::Table(t) if depth >= REPLY_DEPTH_MAX => {
            let _ = t;
            Reply::error("ERR reached lua stack limit")
        }
        LuaValue::Table(t) => table_to_reply(t, depth, resp),
        _ => Reply::Nil,
    }
}

fn table_to_reply(t: &Table, depth: usize, resp: u8) -> Reply {
    let field = |name: &str| t.raw_get::<LuaValue>(name).unwrap_or(LuaValue::Nil);
    if let LuaValue::String(e) = field("err") {
        return Reply::Error(e.to_string_lossy());
    }
    if let LuaValue::String(s) = field("ok") {
        return Reply::Status(s.to_string_lossy());
    }
    match field("double") {
        LuaValue::Number(n) => return Reply::Double(n),
        LuaValue::Integer(i) => return Reply::Double(i as f64),
        _ => {}
    }
    if let LuaValue::String(n) = field("big_number") {
        return Reply::BigNumber(n.to_string_lossy().replace(['\r', '\n'], " "));
    }
    if let LuaValue::Table(v) = field("verbatim_string") {
        let format = v.raw_get::<String>("format").unwrap_or_else(|_| "txt".into());
        let text =
            v.raw_get::<mlua::String>("string").map(|s| Bytes::copy_from_slice(&s.as_bytes())).unwrap_or_default();
        return Reply::Verbatim(format, text);
    }
    if let LuaValue::Table(m) = field("map") {
        let pairs = m.pairs::<LuaValue, LuaValue>().filter_map(Result::ok);
        return Reply::Map(
            pairs.map(|(k, v)| (lua_to_reply(&k, depth + 1, resp), lua_to_reply(&v, depth + 1, resp))).collect(),
        );
    }
    if let LuaValue::Table(s) = field("set") {
        let members = s.pairs::<LuaValue, LuaValue>().filter_map(Result::ok);
        return Reply::Set(members.map(|(k, _)| lua_to_reply(&k, depth + 1, resp)).collect());
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<LuaValue>(i) {
            Ok(LuaValue::Nil) | Err(_) => break,
            Ok(v) => items.push(lua_to_reply(&v, depth + 1, resp)),
        }
    }
    Reply::Array(items)
}

/// C's `(long long)` cast of a double as x86-64 performs it (`cvttsd2si`): truncation, and
/// `i64::MIN` for NaN or anything out of range (NaN is in no range) — where Rust's `as` would saturate.
fn c_double_to_long_long(n: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}
