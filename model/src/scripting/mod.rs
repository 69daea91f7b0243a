//! Lua scripting on an embedded Lua 5.1 interpreter, as Redis 7.0 does it: `redis.call` and
//! `redis.pcall` run commands against the same keyspace within one atomic step; replies and
//! Lua values convert by Redis's rules (RESP2, or RESP3 after `redis.setresp(3)`); errors
//! carry Redis's `script: <sha>, on @user_script:<line>.` suffix; globals and the library
//! tables are read-only; `#!lua` shebang flags; Redis 7 Functions; and `math.random` is
//! Redis's rand48, never reseeded, so scripts are deterministic.

mod bit;
mod busy;
mod cjson;
mod convert;
mod functions;
mod msgpack;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::c_int;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mlua::{ffi, Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value as LuaValue};
use tokio::sync::mpsc;

use crate::commands::{self, Caller, Exec, ScriptRules, Session};
use crate::reply::Reply;
pub use busy::ScriptTime;
pub(crate) use busy::{Running, ScriptControl, Verdict};
use convert::{lua_to_reply, reply_to_lua};
pub(crate) use functions::Library;

/// The Lua side of the runtime: Redis 7's error handler, and the read-only environment user
/// code runs in (reading an undefined global is an error; so is writing any global, or into
/// a library table, or changing their metatables).
const PRELUDE: &str = include_str!("prelude.lua");

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

/// A script's `#!lua` flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    /// A shebang line was given: the script declares its flags (no flags: may write).
    pub(crate) shebang: bool,
    pub(crate) no_writes: bool,
    pub(crate) allow_oom: bool,
}

/// What to run.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A cached script, by SHA1.
    Script(String),
    /// A library function, by name.
    Function(Bytes),
}

struct Script {
    function: Function,
    flags: Flags,
}

/// The script cache, the function libraries and the interpreter.
pub struct Scripting {
    lua: Lua,
    /// The read-only environment of user code.
    env: Table,
    scripts: BTreeMap<String, Script>,
    libraries: BTreeMap<String, Library>,
    rand: Arc<Rand48>,
    /// The protocol `redis.setresp` chose for the running script.
    resp: Arc<AtomicU8>,
    session: Session,
    /// The running script as other connections see it.
    control: Arc<ScriptControl>,
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
        // needs `debug.getinfo`); user code reaches it only through the read-only environment.
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
        let rand = Arc::new(Rand48::default());
        let resp = Arc::new(AtomicU8::new(2));
        install_libs(&lua, &rand, &resp).expect("the Redis libraries install");
        let control = Arc::new(ScriptControl::default());
        install_kill_hook(&lua, &control).expect("the hook installs");
        let env: Table = lua.globals().raw_get("__redis__env").expect("the prelude makes the environment");
        let (push, _) = mpsc::unbounded_channel();
        let session = Session::new(0, push);
        Scripting { lua, env, scripts: BTreeMap::new(), libraries: BTreeMap::new(), rand, resp, session, control }
    }

    /// The running script as other connections see it.
    pub(crate) fn control(&self) -> Arc<ScriptControl> {
        self.control.clone()
    }

    /// Compiles `body` and caches it; returns its SHA1.
    pub fn load(&mut self, body: &[u8]) -> Result<String, Reply> {
        let sha = sha1_hex(body);
        if !self.scripts.contains_key(&sha) {
            let (flags, skip) = parse_shebang(body)?;
            let function = self
                .compile(&body[skip..], "@user_script")
                .map_err(|message| Reply::error(format!("ERR Error compiling script (new function): {message}")))?;
            self.scripts.insert(sha.clone(), Script { function, flags });
        }
        Ok(sha)
    }

    /// Compiles code to run in the read-only environment.
    fn compile(&self, code: &[u8], name: &str) -> Result<Function, String> {
        self.lua.load(code).set_name(name).set_environment(self.env.clone()).into_function().map_err(|e| match e {
            mlua::Error::SyntaxError { message, .. } => message,
            other => other.to_string(),
        })
    }

    /// Scripts in the cache (INFO's `number_of_cached_scripts`).
    pub(crate) fn script_count(&self) -> usize {
        self.scripts.len()
    }

    /// Whether a script with this SHA1 (any case) is cached.
    pub fn exists(&self, sha: &[u8]) -> bool {
        self.scripts.contains_key(&String::from_utf8_lossy(sha).to_ascii_lowercase())
    }

    /// Empties the script cache (SCRIPT FLUSH).
    pub fn flush(&mut self) {
        self.scripts.clear();
    }

    /// What a process restart leaves: no scripts, no functions, and the random generator at
    /// its start.
    pub fn reset(&mut self) {
        self.flush();
        self.libraries.clear();
        self.rand.reset();
    }

    /// Runs `target` with `keys` and `argv` atomically in `exec`'s step. `read_only` for
    /// EVAL_RO, EVALSHA_RO, FCALL_RO.
    pub(crate) fn run(
        &mut self,
        exec: &mut Exec<'_>,
        target: Target,
        keys: &[Bytes],
        argv: &[Bytes],
        read_only: bool,
    ) -> Reply {
        let (function, flags, name, is_function) = match &target {
            Target::Script(sha) => match self.scripts.get(sha) {
                Some(s) => (s.function.clone(), s.flags, sha.clone(), false),
                None => return Reply::error("NOSCRIPT No matching script. Please use EVAL."),
            },
            Target::Function(name) => match functions::find(&self.libraries, name) {
                Some((f, flags)) => (f, flags, String::from_utf8_lossy(name).into_owned(), true),
                None => return Reply::error("ERR Function not found"),
            },
        };
        if let Err(e) = check_flags(exec, flags, read_only, is_function) {
            return e;
        }
        let rules = ScriptRules {
            read_only: read_only || flags.no_writes,
            allow_oom: flags.allow_oom || flags.no_writes,
            wrote: false,
        };
        self.resp.store(2, Ordering::Relaxed);
        self.session.db = exec.session.db;
        self.session.id = exec.session.id;
        exec.meta.stats.last_script_error = None;
        self.control.start(Running {
            owner: exec.session.id,
            started_ms: exec.now_ms,
            threshold_ms: exec.meta.config.busy_reply_threshold_ms,
            function: is_function,
            ends_ms: None,
        });
        let (reply, effects) = self.call(exec, function, rules, keys, argv, is_function, &name);
        // DEBUG SLEEP inside the script: the caller's connection waits it out.
        exec.session.pending_sleep_ms += std::mem::take(&mut self.session.pending_sleep_ms);
        let cost_ms = self.control.cost().as_millis() as i64;
        if cost_ms > 0 && !exec.in_exec {
            // Simulated script time: the script has run at once; it occupies the server for
            // its cost, and the caller's connection waits that out before replying.
            self.control.hold_until(exec.now_ms + cost_ms);
            exec.session.script_hold = true;
        } else if self.control.finish() {
            install_kill_hook(&self.lua, &self.control).expect("the hook installs");
        }
        // A command's error raised by the script was counted when the command failed.
        if let (Reply::Error(text), Some(Reply::Error(inner))) = (&reply, exec.meta.stats.last_script_error.take()) {
            if text.starts_with(&inner) {
                exec.meta.stats.skip_next_error = true;
            }
        }
        if effects.len() > 1 && !exec.in_exec {
            let db = effects[0].0;
            exec.effects.push((db, vec![Bytes::from_static(b"MULTI")]));
            exec.effects.extend(effects);
            exec.effects.push((db, vec![Bytes::from_static(b"EXEC")]));
        } else {
            exec.effects.extend(effects);
        }
        reply
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        outer: &mut Exec<'_>,
        function: Function,
        rules: ScriptRules,
        keys: &[Bytes],
        argv: &[Bytes],
        is_function: bool,
        name: &str,
    ) -> (Reply, Vec<(usize, Vec<Bytes>)>) {
        let Scripting { lua, session, resp, .. } = self;
        let exec = RefCell::new(Exec {
            dbs: &mut *outer.dbs,
            pubsub: &mut *outer.pubsub,
            scripts: None,
            session,
            meta: &mut *outer.meta,
            now_ms: outer.now_ms,
            script: Some(rules),
            propagate_as: None,
            effects: Vec::new(),
            in_exec: outer.in_exec,
        });
        let resp = resp.clone();
        let resp_now = resp.clone();
        let control = self.control.clone();
        let outcome = lua.scope(|scope| {
            let globals = lua.globals();
            let (keys, argv) = (string_table(lua, keys)?, string_table(lua, argv)?);
            if !is_function {
                globals.raw_set("KEYS", keys.clone())?;
                globals.raw_set("ARGV", argv.clone())?;
            }
            let call = scope.create_function(|lua, args: Table| call_from_script(lua, &exec, &resp, &control, args))?;
            lua.set_named_registry_value(RAW_CALL_KEY.to_str().expect("ASCII"), call)?;
            let run: Function = globals.raw_get("__redis__run")?;
            run.call::<(bool, LuaValue)>((function, keys, argv))
        });
        let reply = match outcome {
            Ok((true, value)) => lua_to_reply(&value, 0, resp_now.load(Ordering::Relaxed)),
            Ok((false, error)) => script_error(&error, name, is_function),
            // The kill hook's error can surface past the error handler (raised between frames).
            Err(e) if e.to_string().contains(KILLED) => Reply::error(format!("ERR {KILLED}")),
            Err(e) => Reply::error(format!("ERR Error running script {name}: {e}")),
        };
        let _ = lua.unset_named_registry_value(RAW_CALL_KEY.to_str().expect("ASCII"));
        let exec = exec.into_inner();
        (reply, exec.effects)
    }
}

/// Redis's checks before a script with flags runs (`scriptPrepareForRun`).
fn check_flags(exec: &mut Exec<'_>, flags: Flags, read_only: bool, is_function: bool) -> Result<(), Reply> {
    let may_write = (flags.shebang || is_function) && !flags.no_writes;
    if !may_write {
        return Ok(());
    }
    if read_only {
        return Err(Reply::error("ERR Can not execute a script with write flag using *_ro command."));
    }
    if !flags.allow_oom && exec.meta.out_of_memory(exec.dbs) {
        return Err(commands::oom());
    }
    if exec.meta.config.min_replicas_to_write() > 0 {
        return Err(Reply::error("NOREPLICAS Not enough good replicas to write."));
    }
    Ok(())
}

/// A `#!lua [flags=a,b]` first line: its flags, and how many bytes to skip (the newline is
/// kept so that line numbers stay the user's).
pub(crate) fn parse_shebang(body: &[u8]) -> Result<(Flags, usize), Reply> {
    if !body.starts_with(b"#!") {
        return Ok((Flags::default(), 0));
    }
    let line_end = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[2..line_end]).into_owned();
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let engine = words.next().unwrap_or("");
    if engine != "lua" {
        return Err(Reply::error(format!("ERR Unexpected engine in script shebang: {engine}")));
    }
    let mut flags = Flags { shebang: true, ..Flags::default() };
    for word in words {
        let Some(list) = word.strip_prefix("flags=") else {
            return Err(Reply::error(format!("ERR Unknown lua shebang option: {word}")));
        };
        parse_flag_list(list.split(',').filter(|f| !f.is_empty()), &mut flags)?;
    }
    Ok((flags, line_end))
}

pub(crate) fn parse_flag_list<'a>(names: impl Iterator<Item = &'a str>, flags: &mut Flags) -> Result<(), Reply> {
    for name in names {
        match name {
            "no-writes" => flags.no_writes = true,
            "allow-oom" => flags.allow_oom = true,
            "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
            other => return Err(Reply::error(format!("ERR Unexpected flag in script shebang: {other}"))),
        }
    }
    Ok(())
}

impl Default for Scripting {
    fn default() -> Self {
        Self::new()
    }
}

fn install_libs(lua: &Lua, rand: &Arc<Rand48>, resp: &Arc<AtomicU8>) -> mlua::Result<()> {
    let globals = lua.globals();
    // Redis 7 leaves these out of the scripting environment.
    for name in ["print", "loadfile", "dofile"] {
        globals.raw_set(name, LuaValue::Nil)?;
    }
    let redis = lua.create_table()?;
    install_reply_helpers(lua, &redis)?;
    redis.set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| match args.iter().collect::<Vec<_>>().as_slice() {
            [LuaValue::String(body)] => Ok(sha1_hex(&body.as_bytes())),
            [LuaValue::Integer(n)] => Ok(sha1_hex(n.to_string().as_bytes())),
            [LuaValue::Number(n)] => Ok(sha1_hex(commands::format_double(*n).as_bytes())),
            _ => Err(mlua::Error::runtime("wrong number of arguments")),
        })?,
    )?;
    redis.set("log", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    for (i, level) in ["LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"].into_iter().enumerate() {
        redis.set(level, i)?;
    }
    for (i, level) in ["REPL_NONE", "REPL_AOF", "REPL_SLAVE", "REPL_ALL"].into_iter().enumerate() {
        redis.set(level, [0, 1, 2, 3][i])?;
    }
    redis.set("REPL_REPLICA", 2)?;
    redis.set("REDIS_VERSION", crate::commands::version())?;
    redis.set("REDIS_VERSION_NUM", 0x07_00_0f)?;
    redis.set("set_repl", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    redis.set("replicate_commands", lua.create_function(|_, _: MultiValue| Ok(true))?)?;
    redis.set("breakpoint", lua.create_function(|_, _: MultiValue| Ok(false))?)?;
    redis.set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    let r = resp.clone();
    redis.set(
        "setresp",
        lua.create_function(move |_, version: MultiValue| match version.iter().next() {
            Some(LuaValue::Integer(v @ 2..=3)) => {
                r.store(*v as u8, Ordering::Relaxed);
                Ok(())
            }
            Some(LuaValue::Number(v)) if *v == 2.0 || *v == 3.0 => {
                r.store(*v as u8, Ordering::Relaxed);
                Ok(())
            }
            None => Err(mlua::Error::runtime("redis.setresp() requires one argument.")),
            _ => Err(mlua::Error::runtime("RESP version must be 2 or 3.")),
        })?,
    )?;
    // SAFETY: both are plain Lua C functions (see `raw_call`).
    redis.set("call", unsafe { lua.create_c_function(redis_call)? })?;
    redis.set("pcall", unsafe { lua.create_c_function(redis_pcall)? })?;
    globals.set("redis", redis)?;
    globals.set("cjson", cjson::library(lua)?)?;
    globals.set("cmsgpack", msgpack::library(lua)?)?;
    globals.set("bit", bit::library(lua)?)?;
    install_random(lua, rand)?;
    lua.load(PRELUDE).set_name("=[redis lib]").exec()
}

/// What a killed script's caller is told.
pub(crate) const KILLED: &str = "Script killed by user with SCRIPT KILL...";

/// Instructions between two looks at SCRIPT KILL: a killed script stops within this many,
/// even when it catches the error with pcall and loops on.
const KILL_CHECK_INSTRUCTIONS: u32 = 1000;

fn install_kill_hook(lua: &Lua, control: &Arc<ScriptControl>) -> mlua::Result<()> {
    lua.set_hook(mlua::HookTriggers::new().every_nth_instruction(KILL_CHECK_INSTRUCTIONS), kill_hook(control.clone()))
}

/// Raises the kill error once SCRIPT KILL asked; from then on at every instruction, as
/// Redis does, so that a script catching it with pcall cannot loop on.
fn kill_hook(
    control: Arc<ScriptControl>,
) -> impl Fn(&Lua, &mlua::Debug) -> mlua::Result<mlua::VmState> + Send + 'static {
    move |lua, _| {
        if let Err(limit) = control.tick() {
            return Err(mlua::Error::runtime(format!(
                "Script ran past the model's limit of {} ms of server time",
                limit.as_millis()
            )));
        }
        if !control.kill_requested() {
            return Ok(mlua::VmState::Continue);
        }
        if !control.tighten() {
            lua.set_hook(mlua::HookTriggers::new().every_nth_instruction(1), kill_hook(control.clone()))?;
        }
        Err(mlua::Error::runtime(KILLED))
    }
}

fn install_reply_helpers(lua: &Lua, redis: &Table) -> mlua::Result<()> {
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
    Ok(())
}

fn install_random(lua: &Lua, rand: &Arc<Rand48>) -> mlua::Result<()> {
    let math: Table = lua.globals().get("math")?;
    let r = rand.clone();
    math.set("random", lua.create_function(move |_, bounds: MultiValue| math_random(&r, bounds))?)?;
    let r = rand.clone();
    math.set(
        "randomseed",
        lua.create_function(move |_, seed: i32| {
            r.seed(seed);
            Ok(())
        })?,
    )
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
    // The arguments travel as one table: a call with thousands of them (`unpack(t)`) must
    // not need as many stack slots on the Rust side.
    let nargs = ffi::lua_gettop(state);
    ffi::lua_createtable(state, nargs, 0);
    for i in 1..=nargs {
        ffi::lua_pushvalue(state, i);
        ffi::lua_rawseti(state, -2, i64::from(i));
    }
    // The count travels too: a nil argument must be reported, not end the list.
    ffi::lua_pushinteger(state, ffi::lua_Integer::from(nargs));
    ffi::lua_setfield(state, -2, c"n".as_ptr());
    ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, RAW_CALL_KEY.as_ptr());
    if ffi::lua_type(state, -1) != ffi::LUA_TFUNCTION {
        // Outside a script run (a library being loaded): Redis has no redis.call there.
        ffi::lua_pushstring(state, c"redis.call is not allowed while loading a library".as_ptr());
        ffi::lua_error(state);
    }
    ffi::lua_insert(state, -2);
    ffi::lua_call(state, 1, 2);
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

/// `redis.error_reply` (Redis 7.0): one leading '-' is dropped; a first word followed by a
/// space is the error code; otherwise the code is ERR.
fn error_reply(lua: &Lua, message: &str) -> mlua::Result<Table> {
    let rest = message.strip_prefix('-').unwrap_or(message);
    let text = if rest.contains(' ') { rest.to_owned() } else { format!("ERR {rest}") };
    single_field(lua, "err", text.trim_end_matches(['\r', '\n']))
}

/// A library function that reports failure as `(false, message)` for the prelude's wrapper
/// to raise at the caller's line (as luaL_error does), and success as `(true, results...)`.
pub(crate) fn fallible(
    lua: &Lua,
    f: impl Fn(&Lua, MultiValue) -> mlua::Result<MultiValue> + Send + 'static,
) -> mlua::Result<Function> {
    lua.create_function(move |lua, args: MultiValue| match f(lua, args) {
        Ok(values) => Ok(MultiValue::from_iter(std::iter::once(LuaValue::Boolean(true)).chain(values))),
        Err(e) => {
            let message = match e {
                mlua::Error::RuntimeError(m) => m,
                other => other.to_string(),
            };
            Ok(MultiValue::from_iter([LuaValue::Boolean(false), LuaValue::String(lua.create_string(message)?)]))
        }
    })
}

pub(crate) fn single_field(lua: &Lua, field: &str, value: &str) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.set(field, value)?;
    Ok(table)
}

fn string_table(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    lua.create_sequence_from(items.iter().map(|b| lua.create_string(b)).collect::<mlua::Result<Vec<_>>>()?)
}

/// The body of `redis.call` / `redis.pcall`: returns `(ok, reply)`; the C function raises
/// the reply when not ok.
fn call_from_script(
    lua: &Lua,
    exec: &RefCell<Exec<'_>>,
    resp: &AtomicU8,
    control: &ScriptControl,
    args: Table,
) -> mlua::Result<(bool, LuaValue)> {
    let fail = |lua: &Lua, text: &str| Ok((false, LuaValue::Table(single_field(lua, "err", text)?)));
    let count = args.raw_get::<usize>("n").unwrap_or(0);
    if count == 0 {
        return fail(lua, "ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(count);
    for i in 1..=count {
        match args.raw_get::<LuaValue>(i)? {
            LuaValue::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            LuaValue::Integer(i) => argv.push(Bytes::from(i.to_string())),
            LuaValue::Number(n) => argv.push(Bytes::from(commands::format_double(n))),
            _ => return fail(lua, "ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    let mut exec = exec.borrow_mut();
    let resp = resp.load(Ordering::Relaxed);
    exec.session.resp = resp;
    let reply = commands::execute(&mut exec, Caller::Script, &argv);
    if exec.script.is_some_and(|rules| rules.wrote) {
        control.wrote();
    }
    let ok = !reply.is_error();
    if !ok {
        // The script's own error, if it returns this one, is not counted twice.
        exec.meta.stats.last_script_error = Some(reply.clone());
    }
    Ok((ok, reply_to_lua(lua, &reply, resp)?))
}

/// A script's uncaught error, worded as Redis 7 words it.
fn script_error(error: &LuaValue, name: &str, is_function: bool) -> Reply {
    let LuaValue::Table(t) = error else {
        return Reply::error(format!("ERR Error running script {name}: execution failure"));
    };
    let message = t.raw_get::<String>("err").unwrap_or_else(|_| "ERR unknown error".to_owned());
    // Errors raised by the model's own Rust callbacks read "runtime error: ..." through mlua.
    let message = message.replacen("ERR runtime error: ", "ERR ", 1);
    let what = if is_function { "function" } else { "script" };
    match (t.raw_get::<String>("source"), t.raw_get::<i64>("line")) {
        (Ok(source), Ok(line)) => Reply::Error(format!("{message} {what}: {name}, on {source}:{line}.")),
        _ => Reply::Error(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand48_matches_redis() {
        let rand = Rand48::default();
        rand.seed(0);
        let draws: Vec<i64> = (0..3).map(|_| (rand.unit() * 100.0).floor() as i64 + 1).collect();
        rand.seed(0);
        let again: Vec<i64> = (0..3).map(|_| (rand.unit() * 100.0).floor() as i64 + 1).collect();
        assert_eq!(draws, again, "reseeded: the same draws");
    }

    #[test]
    fn shebangs_parse_as_redis_parses_them() {
        assert_eq!(parse_shebang(b"return 1").unwrap(), (Flags::default(), 0));
        let (flags, skip) = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(flags.shebang && flags.no_writes && flags.allow_oom);
        assert_eq!(skip, 31);
        assert!(parse_shebang(b"#!js\n").is_err());
        assert!(parse_shebang(b"#!lua badger=1\n").is_err());
        assert!(parse_shebang(b"#!lua flags=what?\n").is_err());
    }
}
