//! LuaBitOp's `bit` library, as Redis bundles it: 32-bit operations on numbers.

use mlua::{Lua, MultiValue, Table, Value as LuaValue};

/// A Lua number as LuaBitOp normalises it: modulo 2^32, as a signed 32-bit integer.
fn tobit(value: &LuaValue) -> mlua::Result<i32> {
    let n = match value {
        LuaValue::Integer(i) => *i as f64,
        LuaValue::Number(n) => *n,
        LuaValue::String(s) => {
            s.to_str()?.trim().parse::<f64>().map_err(|_| mlua::Error::runtime("bad argument (number expected)"))?
        }
        _ => return Err(mlua::Error::runtime("bad argument (number expected, got no value)")),
    };
    // LuaBitOp adds 2^52+2^51 and takes the low word: rounding to nearest, modulo 2^32.
    let wrapped = n.round().rem_euclid(4_294_967_296.0) as u64 as u32;
    Ok(wrapped as i32)
}

fn args_bits(args: &MultiValue) -> mlua::Result<Vec<i32>> {
    args.iter().map(tobit).collect()
}

fn fold(lua: &Lua, table: &Table, name: &str, op: fn(i32, i32) -> i32) -> mlua::Result<()> {
    table.raw_set(
        name,
        lua.create_function(move |_, args: MultiValue| {
            let bits = args_bits(&args)?;
            let first =
                *bits.first().ok_or_else(|| mlua::Error::runtime("bad argument #1 (number expected, got no value)"))?;
            Ok(f64::from(bits[1..].iter().fold(first, |acc, b| op(acc, *b))))
        })?,
    )
}

fn shift(lua: &Lua, table: &Table, name: &str, op: fn(i32, u32) -> i32) -> mlua::Result<()> {
    table.raw_set(
        name,
        lua.create_function(move |_, (x, n): (LuaValue, LuaValue)| {
            Ok(f64::from(op(tobit(&x)?, (tobit(&n)? & 31) as u32)))
        })?,
    )
}

/// The `bit` table.
pub(super) fn library(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    bit.raw_set("tobit", lua.create_function(|_, x: LuaValue| Ok(f64::from(tobit(&x)?)))?)?;
    bit.raw_set("bnot", lua.create_function(|_, x: LuaValue| Ok(f64::from(!tobit(&x)?)))?)?;
    fold(lua, &bit, "band", |a, b| a & b)?;
    fold(lua, &bit, "bor", |a, b| a | b)?;
    fold(lua, &bit, "bxor", |a, b| a ^ b)?;
    shift(lua, &bit, "lshift", |x, n| ((x as u32) << n) as i32)?;
    shift(lua, &bit, "rshift", |x, n| ((x as u32) >> n) as i32)?;
    shift(lua, &bit, "arshift", |x, n| x >> n)?;
    shift(lua, &bit, "rol", |x, n| (x as u32).rotate_left(n) as i32)?;
    shift(lua, &bit, "ror", |x, n| (x as u32).rotate_right(n) as i32)?;
    bit.raw_set(
        "bswap",
        lua.create_function(|_, x: LuaValue| Ok(f64::from((tobit(&x)? as u32).swap_bytes() as i32)))?,
    )?;
    bit.raw_set(
        "tohex",
        lua.create_function(|_, (x, n): (LuaValue, Option<LuaValue>)| {
            let value = tobit(&x)? as u32;
            let n = match n {
                Some(n) => tobit(&n)?,
                None => 8,
            };
            let (upper, digits) = if n < 0 { (true, n.unsigned_abs().min(8)) } else { (false, (n as u32).min(8)) };
            let text = format!("{value:08x}");
            let text = &text[8 - digits as usize..];
            Ok(if upper { text.to_ascii_uppercase() } else { text.to_owned() })
        })?,
    )?;
    Ok(bit)
}
