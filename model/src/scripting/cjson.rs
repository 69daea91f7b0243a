//! lua-cjson's `cjson` library, as Redis bundles it: `encode`, `decode`, `null`, and the
//! settings scripts call (`encode_max_depth`, `decode_max_depth`, `encode_invalid_numbers`,
//! `encode_keep_buffer`...). Parsing is serde_json's.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value as LuaValue};
use serde_json::Value as Json;

#[derive(Debug)]
struct Settings {
    encode_max_depth: AtomicUsize,
    decode_max_depth: AtomicUsize,
    encode_invalid_numbers: AtomicBool,
}

/// lua-cjson's `%.14g` for numbers.
fn number_text(n: f64) -> String {
    if n == n.trunc() && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let sci = format!("{n:.13e}");
    let (mantissa, exponent) = sci.split_once('e').expect("exponent form");
    let exponent: i32 = exponent.parse().expect("an exponent");
    let trim =
        |t: &str| if t.contains('.') { t.trim_end_matches('0').trim_end_matches('.').to_owned() } else { t.to_owned() };
    if !(-4..14).contains(&exponent) {
        format!("{}e{}{:02}", trim(mantissa), if exponent < 0 { '-' } else { '+' }, exponent.abs())
    } else {
        trim(&format!("{n:.*}", (13 - exponent).max(0) as usize))
    }
}

fn escape(out: &mut String, s: &[u8]) {
    out.push('"');
    for &b in s {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'/' => out.push_str("\\/"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b if b < 0x20 || b == 0x7f => out.push_str(&format!("\\u{b:04x}")),
            b => out.push(b as char),
        }
    }
    out.push('"');
}

fn encode(out: &mut String, value: &LuaValue, depth: usize, settings: &Settings) -> mlua::Result<()> {
    let fail = |m: String| Err(mlua::Error::runtime(m));
    match value {
        LuaValue::Nil => out.push_str("null"),
        LuaValue::LightUserData(p) if p.0.is_null() => out.push_str("null"),
        LuaValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        LuaValue::Integer(i) => out.push_str(&i.to_string()),
        LuaValue::Number(n) if !n.is_finite() && !settings.encode_invalid_numbers.load(Ordering::Relaxed) => {
            return fail("Cannot serialise number: must not be NaN or Inf".into());
        }
        LuaValue::Number(n) if n.is_nan() => out.push_str("nan"),
        LuaValue::Number(n) if n.is_infinite() => out.push_str(if *n > 0.0 { "inf" } else { "-inf" }),
        LuaValue::Number(n) => out.push_str(&number_text(*n)),
        LuaValue::String(s) => {
            let bytes = s.as_bytes();
            // Bytes above 0x7f pass through as they are, as lua-cjson does.
            escape(out, &bytes);
        }
        LuaValue::Table(t) => {
            if depth >= settings.encode_max_depth.load(Ordering::Relaxed) {
                return fail(format!("Cannot serialise, excessive nesting ({})", depth + 1));
            }
            encode_table(out, t, depth, settings)?;
        }
        other => return fail(format!("Cannot serialise {}: type not supported", other.type_name())),
    }
    Ok(())
}

fn encode_table(out: &mut String, t: &Table, depth: usize, settings: &Settings) -> mlua::Result<()> {
    // Keys are walked twice rather than collected: each value held from Rust costs a slot
    // in mlua's reference stack.
    let mut count = 0usize;
    let mut max_index = Some(0i64);
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let (k, _) = pair?;
        count += 1;
        max_index = max_index.and_then(|max| match k {
            LuaValue::Integer(i) if i > 0 => Some(max.max(i)),
            LuaValue::Number(n) if n > 0.0 && n == n.floor() => Some(max.max(n as i64)),
            _ => None,
        });
    }
    // An array when every key is a positive integer and it is not too sparse (cjson's rule).
    if let Some(max) = max_index.filter(|m| *m > 0 && (*m as usize <= count * 2 || *m <= 10)) {
        out.push('[');
        for i in 1..=max {
            if i > 1 {
                out.push(',');
            }
            encode(out, &t.raw_get::<LuaValue>(i)?, depth + 1, settings)?;
        }
        out.push(']');
        return Ok(());
    }
    out.push('{');
    for (n, pair) in t.pairs::<LuaValue, LuaValue>().enumerate() {
        let (k, v) = pair?;
        if n > 0 {
            out.push(',');
        }
        match &k {
            LuaValue::String(s) => escape(out, &s.as_bytes()),
            LuaValue::Integer(i) => escape(out, i.to_string().as_bytes()),
            LuaValue::Number(x) => escape(out, number_text(*x).as_bytes()),
            _ => return Err(mlua::Error::runtime("Cannot serialise table: table key must be a number or string")),
        }
        out.push(':');
        encode(out, &v, depth + 1, settings)?;
    }
    out.push('}');
    Ok(())
}

fn depth_of(value: &Json) -> usize {
    match value {
        Json::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        Json::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
        _ => 0,
    }
}

fn to_lua(lua: &Lua, value: &Json) -> mlua::Result<LuaValue> {
    Ok(match value {
        Json::Null => LuaValue::LightUserData(LightUserData(std::ptr::null_mut())),
        Json::Bool(b) => LuaValue::Boolean(*b),
        Json::Number(n) => LuaValue::Number(n.as_f64().unwrap_or(0.0)),
        Json::String(s) => LuaValue::String(lua.create_string(s)?),
        Json::Array(items) => LuaValue::Table(
            lua.create_sequence_from(items.iter().map(|v| to_lua(lua, v)).collect::<mlua::Result<Vec<_>>>()?)?,
        ),
        Json::Object(map) => {
            let t = lua.create_table()?;
            for (k, v) in map {
                t.raw_set(k.as_str(), to_lua(lua, v)?)?;
            }
            LuaValue::Table(t)
        }
    })
}

fn setting_fn<F>(lua: &Lua, apply: F) -> mlua::Result<mlua::Function>
where
    F: Fn(&MultiValue) + Send + 'static,
{
    lua.create_function(move |_, args: MultiValue| {
        apply(&args);
        Ok(args)
    })
}

fn first_number(args: &MultiValue) -> Option<usize> {
    match args.front() {
        Some(LuaValue::Integer(i)) if *i > 0 => Some(*i as usize),
        Some(LuaValue::Number(n)) if *n >= 1.0 => Some(*n as usize),
        _ => None,
    }
}

/// The `cjson` table.
pub(super) fn library(lua: &Lua) -> mlua::Result<Table> {
    let settings = Arc::new(Settings {
        encode_max_depth: AtomicUsize::new(1000),
        decode_max_depth: AtomicUsize::new(1000),
        encode_invalid_numbers: AtomicBool::new(false),
    });
    let t = lua.create_table()?;
    let s = settings.clone();
    t.raw_set(
        "raw_encode",
        super::fallible(lua, move |lua, args: MultiValue| {
            let value = args.into_iter().next().unwrap_or(LuaValue::Nil);
            let mut out = String::new();
            encode(&mut out, &value, 0, &s)?;
            Ok(MultiValue::from_iter([LuaValue::String(lua.create_string(out)?)]))
        })?,
    )?;
    let s = settings.clone();
    t.raw_set(
        "raw_decode",
        super::fallible(lua, move |lua, args: MultiValue| {
            let Some(LuaValue::String(text)) = args.into_iter().next() else {
                return Err(mlua::Error::runtime("bad argument #1 to 'decode' (string expected)"));
            };
            let parsed: Json = serde_json::from_slice(&text.as_bytes()).map_err(|e| {
                mlua::Error::runtime(format!("Expected value but found invalid token at character {}", e.column()))
            })?;
            let depth = depth_of(&parsed);
            if depth > s.decode_max_depth.load(Ordering::Relaxed) {
                return Err(mlua::Error::runtime(format!("Found too many nested data structures ({depth})")));
            }
            Ok(MultiValue::from_iter([to_lua(lua, &parsed)?]))
        })?,
    )?;
    t.raw_set("null", LuaValue::LightUserData(LightUserData(std::ptr::null_mut())))?;
    let s = settings.clone();
    t.raw_set(
        "encode_max_depth",
        setting_fn(lua, move |a| {
            if let Some(n) = first_number(a) {
                s.encode_max_depth.store(n, Ordering::Relaxed)
            }
        })?,
    )?;
    let s = settings.clone();
    t.raw_set(
        "decode_max_depth",
        setting_fn(lua, move |a| {
            if let Some(n) = first_number(a) {
                s.decode_max_depth.store(n, Ordering::Relaxed)
            }
        })?,
    )?;
    let s = settings;
    t.raw_set(
        "encode_invalid_numbers",
        setting_fn(lua, move |a| {
            let on = matches!(a.front(), Some(LuaValue::Boolean(true)) | Some(LuaValue::String(_)));
            s.encode_invalid_numbers.store(on, Ordering::Relaxed);
        })?,
    )?;
    for name in [
        "encode_keep_buffer",
        "encode_sparse_array",
        "encode_number_precision",
        "decode_invalid_numbers",
        "encode_empty_table_as_object",
    ] {
        t.raw_set(name, setting_fn(lua, |_| {})?)?;
    }
    Ok(t)
}
