//! lua-cmsgpack's `cmsgpack` library, as Redis bundles it: `pack(...)`, `unpack(s)`,
//! `unpack_one(s, offset)`, `unpack_limit(s, limit, offset)`. The bytes are lua-cmsgpack's:
//! the smallest integer form, float32 when it is exact, tables as arrays when their keys are
//! 1..n, nesting beyond 16 levels packed as nil (so circular tables terminate).

use mlua::{Lua, MultiValue, Table, Value as LuaValue};
use rmp::encode;
use rmp::Marker;

/// lua-cmsgpack's `LUACMSGPACK_MAX_NESTING`.
const NESTING_MAX: usize = 16;

fn pack_value(out: &mut Vec<u8>, value: &LuaValue, depth: usize) -> mlua::Result<()> {
    let fail = |e: String| mlua::Error::runtime(e);
    match value {
        LuaValue::Nil => encode::write_nil(out).map_err(|e| fail(e.to_string()))?,
        LuaValue::Boolean(b) => encode::write_bool(out, *b).map_err(|e| fail(e.to_string()))?,
        LuaValue::Integer(i) => pack_number(out, *i as f64),
        LuaValue::Number(n) => pack_number(out, *n),
        LuaValue::String(s) => {
            let bytes = s.as_bytes();
            encode::write_str_len(out, bytes.len() as u32).map_err(|e| fail(e.to_string()))?;
            out.extend_from_slice(&bytes);
        }
        LuaValue::Table(t) if depth < NESTING_MAX => pack_table(out, t, depth)?,
        _ => encode::write_nil(out).map_err(|e| fail(e.to_string()))?,
    }
    Ok(())
}

fn pack_number(out: &mut Vec<u8>, n: f64) {
    let integral = n.is_finite() && n == n.floor() && n.abs() < 9.2e18;
    if integral {
        let i = n as i64;
        // Writing into a Vec cannot fail.
        if i >= 0 {
            let _ = encode::write_uint(out, i as u64);
        } else {
            let _ = encode::write_sint(out, i);
        }
    } else if f64::from(n as f32) == n {
        let _ = encode::write_f32(out, n as f32);
    } else {
        let _ = encode::write_f64(out, n);
    }
}

/// Keys 1..n with no gaps: an array.
fn array_len(t: &Table) -> Option<usize> {
    let mut count = 0usize;
    let mut max = 0i64;
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let (k, _) = pair.ok()?;
        match k {
            LuaValue::Integer(i) if i > 0 => max = max.max(i),
            LuaValue::Number(n) if n > 0.0 && n == n.floor() => max = max.max(n as i64),
            _ => return None,
        }
        count += 1;
    }
    (max as usize == count).then_some(count)
}

fn pack_table(out: &mut Vec<u8>, t: &Table, depth: usize) -> mlua::Result<()> {
    match array_len(t) {
        Some(len) => {
            let _ = encode::write_array_len(out, len as u32);
            for i in 1..=len {
                pack_value(out, &t.raw_get::<LuaValue>(i)?, depth + 1)?;
            }
        }
        None => {
            // Two passes rather than collecting: each value held from Rust costs a slot in
            // mlua's reference stack, which a 100,000-entry table would exhaust.
            let len = t.pairs::<LuaValue, LuaValue>().count();
            let _ = encode::write_map_len(out, len as u32);
            for pair in t.pairs::<LuaValue, LuaValue>() {
                let (k, v) = pair?;
                pack_value(out, &k, depth + 1)?;
                pack_value(out, &v, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// Reads one value at `*pos`; `None` when the bytes end early or are not msgpack.
fn unpack_value(lua: &Lua, bytes: &[u8], pos: &mut usize) -> mlua::Result<Option<LuaValue>> {
    let Some(&first) = bytes.get(*pos) else { return Ok(None) };
    *pos += 1;
    let mut take = |n: usize| -> Option<&[u8]> {
        let slice = bytes.get(*pos..*pos + n)?;
        *pos += n;
        Some(slice)
    };
    let be = |s: &[u8]| s.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let value = match Marker::from_u8(first) {
        Marker::Null => LuaValue::Nil,
        Marker::True => LuaValue::Boolean(true),
        Marker::False => LuaValue::Boolean(false),
        Marker::FixPos(v) => LuaValue::Number(f64::from(v)),
        Marker::FixNeg(v) => LuaValue::Number(f64::from(v)),
        Marker::U8 | Marker::U16 | Marker::U32 | Marker::U64 => {
            let n = 1 << (first - 0xcc);
            let Some(s) = take(n) else { return Ok(None) };
            LuaValue::Number(be(s) as f64)
        }
        Marker::I8 | Marker::I16 | Marker::I32 | Marker::I64 => {
            let n = 1usize << (first - 0xd0);
            let Some(s) = take(n) else { return Ok(None) };
            let raw = be(s);
            let shift = 64 - 8 * n as u32;
            LuaValue::Number((((raw << shift) as i64) >> shift) as f64)
        }
        Marker::F32 => {
            let Some(s) = take(4) else { return Ok(None) };
            LuaValue::Number(f64::from(f32::from_bits(be(s) as u32)))
        }
        Marker::F64 => {
            let Some(s) = take(8) else { return Ok(None) };
            LuaValue::Number(f64::from_bits(be(s)))
        }
        Marker::FixStr(len) => return string(lua, bytes, pos, len as usize),
        Marker::Str8 | Marker::Bin8 => return sized(lua, bytes, pos, 1, Kind::Str),
        Marker::Str16 | Marker::Bin16 => return sized(lua, bytes, pos, 2, Kind::Str),
        Marker::Str32 | Marker::Bin32 => return sized(lua, bytes, pos, 4, Kind::Str),
        Marker::FixArray(len) => return collection(lua, bytes, pos, len as usize, false),
        Marker::Array16 => return sized(lua, bytes, pos, 2, Kind::Array),
        Marker::Array32 => return sized(lua, bytes, pos, 4, Kind::Array),
        Marker::FixMap(len) => return collection(lua, bytes, pos, len as usize, true),
        Marker::Map16 => return sized(lua, bytes, pos, 2, Kind::Map),
        Marker::Map32 => return sized(lua, bytes, pos, 4, Kind::Map),
        _ => return Ok(None),
    };
    Ok(Some(value))
}

enum Kind {
    Str,
    Array,
    Map,
}

fn sized(lua: &Lua, bytes: &[u8], pos: &mut usize, width: usize, kind: Kind) -> mlua::Result<Option<LuaValue>> {
    let Some(s) = bytes.get(*pos..*pos + width) else { return Ok(None) };
    *pos += width;
    let len = s.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    match kind {
        Kind::Str => string(lua, bytes, pos, len),
        Kind::Array => collection(lua, bytes, pos, len, false),
        Kind::Map => collection(lua, bytes, pos, len, true),
    }
}

fn string(lua: &Lua, bytes: &[u8], pos: &mut usize, len: usize) -> mlua::Result<Option<LuaValue>> {
    let Some(s) = bytes.get(*pos..*pos + len) else { return Ok(None) };
    *pos += len;
    Ok(Some(LuaValue::String(lua.create_string(s)?)))
}

fn collection(lua: &Lua, bytes: &[u8], pos: &mut usize, len: usize, map: bool) -> mlua::Result<Option<LuaValue>> {
    // Each element is at least one byte: a length beyond the input is malformed.
    if len > bytes.len().saturating_sub(*pos) * if map { 1 } else { 2 } + 1 {
        return Ok(None);
    }
    let t = lua.create_table()?;
    for i in 1..=len {
        if map {
            let (Some(k), Some(v)) = (unpack_value(lua, bytes, pos)?, unpack_value(lua, bytes, pos)?) else {
                return Ok(None);
            };
            if k != LuaValue::Nil {
                t.raw_set(k, v)?;
            }
        } else {
            let Some(v) = unpack_value(lua, bytes, pos)? else { return Ok(None) };
            t.raw_set(i, v)?;
        }
    }
    Ok(Some(LuaValue::Table(t)))
}

/// Unpacks up to `limit` values (0: all) from `offset`; the next offset (-1 at the end) and
/// the values.
fn unpack_from(lua: &Lua, bytes: &[u8], limit: usize, offset: usize) -> mlua::Result<(i64, Vec<LuaValue>)> {
    let mut pos = offset;
    let mut values = Vec::new();
    while pos < bytes.len() && (limit == 0 || values.len() < limit) {
        match unpack_value(lua, bytes, &mut pos)? {
            Some(v) => values.push(v),
            None => return Err(mlua::Error::runtime("Missing bytes in input.")),
        }
    }
    let next = if pos >= bytes.len() { -1 } else { pos as i64 };
    Ok((next, values))
}

/// The `cmsgpack` table.
pub(super) fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "raw_pack",
        super::fallible(lua, |lua, args: MultiValue| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for a in &args {
                pack_value(&mut out, a, 0)?;
            }
            Ok(MultiValue::from_iter([LuaValue::String(lua.create_string(&out)?)]))
        })?,
    )?;
    t.raw_set(
        "raw_unpack",
        super::fallible(lua, |lua, args: MultiValue| {
            let Some(LuaValue::String(s)) = args.into_iter().next() else {
                return Err(mlua::Error::runtime("bad argument #1 to 'unpack' (string expected)"));
            };
            let (_, values) = unpack_from(lua, &s.as_bytes(), 0, 0)?;
            Ok(MultiValue::from_iter(values))
        })?,
    )?;
    let limited = |limit_from_args: bool| {
        move |lua: &Lua, args: MultiValue| -> mlua::Result<MultiValue> {
            let s = match args.front() {
                Some(LuaValue::String(s)) => s.as_bytes().to_vec(),
                _ => return Err(mlua::Error::runtime("bad argument #1 (string expected)")),
            };
            let number = |i: usize| match args.get(i) {
                Some(LuaValue::Integer(n)) => *n.max(&0) as usize,
                Some(LuaValue::Number(n)) => n.max(0.0) as usize,
                _ => 0,
            };
            let (limit, offset) = if limit_from_args { (number(1), number(2)) } else { (1, number(1)) };
            let (next, values) = unpack_from(lua, &s, limit, offset)?;
            Ok(MultiValue::from_iter(std::iter::once(LuaValue::Integer(next)).chain(values)))
        }
    };
    t.raw_set("raw_unpack_one", super::fallible(lua, limited(false))?)?;
    t.raw_set("raw_unpack_limit", super::fallible(lua, limited(true))?)?;
    Ok(t)
}
