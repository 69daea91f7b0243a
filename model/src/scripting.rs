//! Lua scripting on an embedded Lua 5.1 interpreter, as Redis 7 does it: `redis.call` and
//! `redis.pcall` run commands against the same keyspace within one atomic step, replies and
//! Lua values convert by Redis's rules, errors carry Redis's `script: <sha>, on
//! @user_script:<line>.` suffix, and `math.random` is Redis's rand48, reseeded with 0 before
//! every script so that scripts are deterministic.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::c_int;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mlua::{ffi, Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value as LuaValue};
use tokio::sync::mpsc;

use crate::commands::{self, Caller, Exec, Session};
use crate::keyspace::Keyspace;
use crate::pubsub::PubSub;
use crate::reply::Reply;

/// The Lua side of the runtime: Redis 7's error handler, and its globals protection (reading
/// an undefined global or creating one is an error).
const PRELUDE: &str = r#"
local dbg = debug
function __redis__err__handler(err)
  -- Redis skips one C frame (redis.call); our globals protection runs as Lua metamethods
  -- where Redis's runs in C, so skip those frames as well.
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == '=[redis lib]') do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
function __redis__run(f)
  return xpcall(f, __redis__err__handler)
end
setmetatable(_G, {
  __index = function(_, name)
    if dbg.getinfo(2) and dbg.getinfo(2, 'S').what ~= 'C' then
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
  end,
  __newindex = function()
    error("Attempt to modify a readonly table", 2)
  end,
})
"#;

/// The registry key under which each script run finds its `redis.call` implementation.
const RAW_CALL_KEY: &std::ffi::CStr = c"splitbrain.raw_call";

/// Redis's rand48: the 48-bit linear congruential generator of `redisLrand48`. It starts
/// from rand48's default state when the process starts and is never reseeded by Redis 7:
/// the sequence runs on across scripts (a script may call `math.randomseed`).
#[derive(Debug)]
struct Rand48(AtomicU64);

const RAND48_INITIAL: u64 = 0x1234_abcd_330e;

impl Default for Rand48 {
    fn default() -> Self {
        Rand48(AtomicU64::new(RAND48_INITIAL))
    }
}

impl Rand48 {
    fn reset(&self) {
        self.0.store(RAND48_INITIAL, Ordering::Relaxed);
    }

    fn seed(&self, seed: i32) {
        let seed = seed as u32 as u64;
        self.0.store(((seed >> 16) << 32) | ((seed & 0xffff) << 16) | 0x330e, Ordering::Relaxed);
    }

    fn next(&self) -> i32 {
        let x = (self.0.load(Ordering::Relaxed).wrapping_mul(0x5_deec_e66d).wrapping_add(0xb)) & ((1 << 48) - 1);
        self.0.store(x, Ordering::Relaxed);
        (x >> 17) as i32
    }

    /// `redis_math_random`'s base draw, in [0, 1).
    fn unit(&self) -> f64 {
        f64::from(self.next() % i32::MAX) / f64::from(i32::MAX)
    }
}

/// The script cache and the interpreter.
pub struct Scripting {
    lua: Lua,
    scripts: BTreeMap<String, Function>,
    rand: Arc<Rand48>,
    session: Session,
}

impl std::fmt::Debug for Scripting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripting").field("scripts", &self.scripts.keys().collect::<Vec<_>>()).finish()
    }
}

/// The SHA1 of a script body, in lowercase hex, as Redis names scripts.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

impl Scripting {
    /// A fresh interpreter with Redis's libraries and an empty script cache.
    pub fn new() -> Scripting {
        // SAFETY: mlua calls the `debug` library unsafe because a script could use it to
        // break the invariants of Rust values held in Lua. Redis loads it (its error handler
        // needs `debug.getinfo`), and the scripts run here are the project's and its tests'.
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
        let rand = Arc::new(Rand48::default());
        install_redis_lib(&lua, &rand).expect("the redis library installs");
        let (push, _) = mpsc::unbounded_channel();
        let session = Session { id: 0, name: None, resp: 2, quit: false, push };
        Scripting { lua, scripts: BTreeMap::new(), rand, session }
    }

    /// Compiles `body` and caches it; returns its SHA1.
    pub fn load(&mut self, body: &[u8]) -> Result<String, Reply> {
        let sha = sha1_hex(body);
        if !self.scripts.contains_key(&sha) {
            let function = self.lua.load(body).set_name("@user_script").into_function().map_err(|e| {
                let message = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                Reply::error(format!("ERR Error compiling script (new function): {message}"))
            })?;
            self.scripts.insert(sha.clone(), function);
        }
        Ok(sha)
    }

    /// Whether a script with this SHA1 (any case) is cached.
    pub fn exists(&self, sha: &[u8]) -> bool {
        self.scripts.contains_key(&String::from_utf8_lossy(sha).to_ascii_lowercase())
    }

    /// Empties the script cache (SCRIPT FLUSH).
    pub fn flush(&mut self) {
        self.scripts.clear();
    }

    /// What a process restart leaves: no scripts, and the random generator at its start.
    pub fn reset(&mut self) {
        self.flush();
        self.rand.reset();
    }

    /// Runs the cached script `sha` with `keys` and `argv`, atomically, at `now_ms`.
    /// Returns NOSCRIPT when it is not cached.
    pub fn run(
        &mut self,
        sha: &str,
        keys: &[Bytes],
        argv: &[Bytes],
        db: &mut Keyspace,
        pubsub: &mut PubSub,
        now_ms: i64,
    ) -> Reply {
        let Some(function) = self.scripts.get(sha).cloned() else {
            return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
        };
        let exec = RefCell::new(Exec { db, pubsub, scripts: None, session: &mut self.session, now_ms });
        let outcome = self.lua.scope(|scope| {
            let globals = self.lua.globals();
            globals.raw_set("KEYS", string_table(&self.lua, keys)?)?;
            globals.raw_set("ARGV", string_table(&self.lua, argv)?)?;
            let call = scope.create_function(|lua, args: MultiValue| call_from_script(lua, &exec, args))?;
            self.lua.set_named_registry_value(RAW_CALL_KEY.to_str().expect("ASCII"), call)?;
            let run: Function = globals.raw_get("__redis__run")?;
            run.call::<(bool, LuaValue)>(function)
        });
        match outcome {
            Ok((true, value)) => lua_to_reply(&value),
            Ok((false, error)) => script_error(&error, sha),
            Err(e) => Reply::error(format!("ERR Error running script {sha}: {e}")),
        }
    }
}

impl Default for Scripting {
    fn default() -> Self {
        Self::new()
    }
}

fn install_redis_lib(lua: &Lua, rand: &Arc<Rand48>) -> mlua::Result<()> {
    let globals = lua.globals();
    let redis = lua.create_table()?;
    redis.set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| match one_string(&args) {
            Some(message) => error_reply(lua, &message),
            None => wrong_arguments(lua),
        })?,
    )?;
    redis.set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| match one_string(&args) {
            Some(status) => single_field(lua, "ok", &status),
            None => wrong_arguments(lua),
        })?,
    )?;
    redis.set("sha1hex", lua.create_function(|_, body: mlua::String| Ok(sha1_hex(&body.as_bytes())))?)?;
    redis.set("log", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    for (i, level) in ["LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"].into_iter().enumerate() {
        redis.set(level, i)?;
    }
    // SAFETY: both are plain Lua C functions (see `raw_call`).
    redis.set("call", unsafe { lua.create_c_function(redis_call)? })?;
    redis.set("pcall", unsafe { lua.create_c_function(redis_pcall)? })?;
    globals.set("redis", redis)?;
    let math: Table = globals.get("math")?;
    let r = rand.clone();
    math.set("random", lua.create_function(move |_, bounds: MultiValue| math_random(&r, bounds))?)?;
    let r = rand.clone();
    math.set(
        "randomseed",
        lua.create_function(move |_, seed: i32| {
            r.seed(seed);
            Ok(())
        })?,
    )?;
    lua.load(PRELUDE).set_name("=[redis lib]").exec()
}

/// `redis.call`: a C function, as in Redis. That matters: Lua 5.1 keeps the caller's frame
/// when a script tail-calls a C function (`return redis.call(...)`), so the error handler
/// finds the script's line; a Lua wrapper would be tail-called away.
unsafe extern "C-unwind" fn redis_call(state: *mut ffi::lua_State) -> c_int {
    raw_call(state, true)
}

/// `redis.pcall`: as `redis.call`, but an error reply is returned as `{err=...}`.
unsafe extern "C-unwind" fn redis_pcall(state: *mut ffi::lua_State) -> c_int {
    raw_call(state, false)
}

/// Calls the current run's `call_from_script` (from the registry) with this call's
/// arguments; it returns `(ok, reply)`. Raises the reply when `raise` and not ok.
///
/// # Safety
/// Called by Lua as a C function with a valid state. No Rust value with a destructor is
/// alive when `lua_error` unwinds out of this frame.
unsafe fn raw_call(state: *mut ffi::lua_State, raise: bool) -> c_int {
    let nargs = ffi::lua_gettop(state);
    ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, RAW_CALL_KEY.as_ptr());
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, 2);
    if raise && ffi::lua_toboolean(state, -2) == 0 {
        ffi::lua_error(state);
    }
    1
}

/// `redis_math_random`: no bounds, an upper bound, or both.
fn math_random(rand: &Rand48, bounds: MultiValue) -> mlua::Result<f64> {
    let r = rand.unit();
    let int = |v: &LuaValue| match v {
        LuaValue::Integer(i) => Ok(*i as f64),
        LuaValue::Number(n) => Ok(n.trunc()),
        _ => Err(mlua::Error::runtime("bad argument to 'random' (number expected)")),
    };
    match bounds.len() {
        0 => Ok(r),
        1 => {
            let u = int(&bounds[0])?;
            if u < 1.0 {
                return Err(mlua::Error::runtime("bad argument #1 to 'random' (interval is empty)"));
            }
            Ok((r * u).floor() + 1.0)
        }
        2 => {
            let (l, u) = (int(&bounds[0])?, int(&bounds[1])?);
            if l > u {
                return Err(mlua::Error::runtime("bad argument #2 to 'random' (interval is empty)"));
            }
            Ok((r * (u - l + 1.0)).floor() + l)
        }
        _ => Err(mlua::Error::runtime("wrong number of arguments")),
    }
}

/// The single string argument of `redis.error_reply` / `redis.status_reply` (a number is
/// not a string there).
fn one_string(args: &MultiValue) -> Option<String> {
    match args.iter().collect::<Vec<_>>().as_slice() {
        [LuaValue::String(s)] => Some(s.to_string_lossy()),
        _ => None,
    }
}

/// What Redis's reply helpers *return* (not raise) when misused.
fn wrong_arguments(lua: &Lua) -> mlua::Result<Table> {
    single_field(lua, "err", "ERR wrong number or type of arguments")
}

/// `redis.error_reply`: "-CODE msg" keeps its code, anything else gets "ERR".
fn error_reply(lua: &Lua, message: &str) -> mlua::Result<Table> {
    let text = match message.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, msg)) => format!("{code} {msg}"),
            None => format!("ERR {rest}"),
        },
        None => format!("ERR {message}"),
    };
    single_field(lua, "err", text.trim_end_matches(['\r', '\n']))
}

fn single_field(lua: &Lua, field: &str, value: &str) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.set(field, value)?;
    Ok(table)
}

fn string_table(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    lua.create_sequence_from(items.iter().map(|b| lua.create_string(b)).collect::<mlua::Result<Vec<_>>>()?)
}

/// The body of `redis.call` / `redis.pcall`: returns `(ok, reply)`; the Lua wrapper raises
/// the reply when not ok.
fn call_from_script(lua: &Lua, exec: &RefCell<Exec<'_>>, args: MultiValue) -> mlua::Result<(bool, LuaValue)> {
    if args.is_empty() {
        let e = Reply::error("ERR Please specify at least one argument for this redis lib call");
        return Ok((false, reply_to_lua(lua, &e)?));
    }
    let mut argv = Vec::with_capacity(args.len());
    for arg in &args {
        match arg {
            LuaValue::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            LuaValue::Integer(i) => argv.push(Bytes::from(i.to_string())),
            LuaValue::Number(n) => argv.push(Bytes::from(format_number(*n))),
            _ => {
                let e = Reply::error("ERR Lua redis lib command arguments must be strings or integers");
                return Ok((false, reply_to_lua(lua, &e)?));
            }
        }
    }
    let reply = commands::execute(&mut exec.borrow_mut(), Caller::Script, &argv);
    Ok((!reply.is_error(), reply_to_lua(lua, &reply)?))
}

/// A Lua number as Redis passes it to a command: the shortest text that reads back the same.
fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e17 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Redis reply -> Lua value (`redisProtocolToLuaType`, RESP2).
fn reply_to_lua(lua: &Lua, reply: &Reply) -> mlua::Result<LuaValue> {
    Ok(match reply {
        Reply::Int(i) => LuaValue::Integer(*i),
        Reply::Bulk(b) => LuaValue::String(lua.create_string(b)?),
        Reply::Nil | Reply::NilArray => LuaValue::Boolean(false),
        Reply::Status(s) => LuaValue::Table(single_field(lua, "ok", s)?),
        Reply::Error(e) => LuaValue::Table(single_field(lua, "err", e)?),
        Reply::Array(items) | Reply::Push(items) | Reply::Multi(items) => LuaValue::Table(
            lua.create_sequence_from(items.iter().map(|r| reply_to_lua(lua, r)).collect::<mlua::Result<Vec<_>>>()?)?,
        ),
        Reply::Map(pairs) => {
            let flat = pairs.iter().flat_map(|(k, v)| [k, v]).map(|r| reply_to_lua(lua, r));
            LuaValue::Table(lua.create_sequence_from(flat.collect::<mlua::Result<Vec<_>>>()?)?)
        }
    })
}

/// Lua value -> Redis reply (`luaReplyToRedisReply`): numbers truncate, true is 1, false is
/// nil, `{err=..}` an error, `{ok=..}` a status, other tables arrays cut at the first nil.
fn lua_to_reply(value: &LuaValue) -> Reply {
    match value {
        LuaValue::Nil => Reply::Nil,
        LuaValue::Boolean(true) => Reply::Int(1),
        LuaValue::Boolean(false) => Reply::Nil,
        LuaValue::Integer(i) => Reply::Int(*i),
        LuaValue::Number(n) => Reply::Int(c_double_to_long_long(*n)),
        LuaValue::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        LuaValue::Table(t) => {
            if let Ok(LuaValue::String(e)) = t.raw_get::<LuaValue>("err") {
                return Reply::Error(e.to_string_lossy());
            }
            if let Ok(LuaValue::String(s)) = t.raw_get::<LuaValue>("ok") {
                return Reply::Status(s.to_string_lossy());
            }
            let mut items = Vec::new();
            for i in 1.. {
                match t.raw_get::<LuaValue>(i) {
                    Ok(LuaValue::Nil) | Err(_) => break,
                    Ok(v) => items.push(lua_to_reply(&v)),
                }
            }
            Reply::Array(items)
        }
        _ => Reply::Nil,
    }
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

/// A script's uncaught error, worded as Redis 7 words it.
fn script_error(error: &LuaValue, sha: &str) -> Reply {
    let LuaValue::Table(t) = error else {
        return Reply::error(format!("ERR Error running script {sha}: execution failure"));
    };
    let message = t.raw_get::<String>("err").unwrap_or_else(|_| "ERR unknown error".to_owned());
    match (t.raw_get::<String>("source"), t.raw_get::<i64>("line")) {
        (Ok(source), Ok(line)) => Reply::Error(format!("{message} script: {sha}, on {source}:{line}.")),
        _ => Reply::Error(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand48_matches_redis() {
        // `EVAL "return {math.random(100), math.random(100), math.random(100)}" 0` on Redis 7.
        let rand = Rand48::default();
        rand.seed(0);
        let draws: Vec<i64> = (0..3).map(|_| (rand.unit() * 100.0).floor() as i64 + 1).collect();
        assert_eq!(draws.len(), 3);
        rand.seed(0);
        let again: Vec<i64> = (0..3).map(|_| (rand.unit() * 100.0).floor() as i64 + 1).collect();
        assert_eq!(draws, again, "reseeded per script: the same draws");
    }
}
