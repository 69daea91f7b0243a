//! Redis 7 Functions: libraries loaded with FUNCTION LOAD (`#!lua name=<lib>` and calls to
//! `redis.register_function`), their functions called by FCALL and FCALL_RO.

use std::cell::RefCell;
use std::collections::BTreeMap;

use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value as LuaValue};

use super::{parse_flag_list, Flags, Scripting};
use crate::commands::Exec;
use crate::reply::Reply;

/// One library: its code and its functions.
pub(crate) struct Library {
    code: Bytes,
    functions: BTreeMap<String, (Function, Flags, Vec<String>)>,
}

/// The function named `name` in any library.
pub(super) fn find(libraries: &BTreeMap<String, Library>, name: &[u8]) -> Option<(Function, Flags)> {
    let name = std::str::from_utf8(name).ok()?;
    libraries.values().find_map(|l| l.functions.get(name).map(|(f, flags, _)| (f.clone(), *flags)))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `#!lua name=<lib>`: the library's name.
fn library_name(code: &[u8]) -> Result<String, Reply> {
    if !code.starts_with(b"#!") {
        return Err(Reply::error("ERR Missing library metadata"));
    }
    let end = code.iter().position(|b| *b == b'\n').unwrap_or(code.len());
    let line = String::from_utf8_lossy(&code[2..end]).into_owned();
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let engine = words.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(Reply::error(format!("ERR Engine '{engine}' not found")));
    }
    let mut name = None;
    for word in words {
        match word.strip_prefix("name=") {
            Some(n) => name = Some(n.to_owned()),
            None => return Err(Reply::error(format!("ERR Invalid metadata value given: {word}"))),
        }
    }
    let name = name.ok_or_else(|| Reply::error("ERR Library name was not given"))?;
    if !valid_name(&name) {
        return Err(Reply::error("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"));
    }
    Ok(name)
}

type Registered = Vec<(String, Function, Flags, Vec<String>)>;

/// `redis.register_function(name, f)` or `redis.register_function{function_name=, callback=, flags=}`.
fn register(registered: &RefCell<Registered>, args: MultiValue) -> mlua::Result<()> {
    let bad = |m: &str| mlua::Error::runtime(m.to_owned());
    let (name, callback, flag_names) = match args.iter().collect::<Vec<_>>().as_slice() {
        [LuaValue::String(n), LuaValue::Function(f)] => (n.to_string_lossy(), f.clone(), Vec::new()),
        [LuaValue::Table(t)] => {
            let name: String = t
                .get("function_name")
                .map_err(|_| bad("function_name argument given to redis.register_function must be a string"))?;
            let callback: Function = t
                .get("callback")
                .map_err(|_| bad("callback argument given to redis.register_function must be a function"))?;
            let flags: Option<Table> = t.get("flags").ok();
            let names =
                flags.map(|f| f.sequence_values::<String>().filter_map(Result::ok).collect()).unwrap_or_default();
            (name, callback, names)
        }
        _ => return Err(bad("wrong number of arguments to redis.register_function")),
    };
    if !valid_name(&name) {
        return Err(bad("Function names can only contain letters, numbers, or underscores(_) and must be at least one character long"));
    }
    if registered.borrow().iter().any(|(n, ..)| *n == name) {
        return Err(bad("Function already exists in the library"));
    }
    let mut flags = Flags::default();
    parse_flag_list(flag_names.iter().map(String::as_str), &mut flags).map_err(|_| bad("unknown flag given"))?;
    registered.borrow_mut().push((name, callback, flags, flag_names));
    Ok(())
}

impl Scripting {
    /// FUNCTION LOAD [REPLACE] code: returns the library's name.
    pub(crate) fn load_library(&mut self, _exec: &mut Exec<'_>, code: &Bytes, replace: bool) -> Reply {
        let name = match library_name(code) {
            Ok(n) => n,
            Err(e) => return e,
        };
        if self.libraries.contains_key(&name) && !replace {
            return Reply::error(format!("ERR Library '{name}' already exists"));
        }
        let registered = match self.run_loader(code) {
            Ok(r) => r,
            Err(e) => return e,
        };
        if registered.is_empty() {
            return Reply::error("ERR No functions registered");
        }
        for (function, ..) in &registered {
            let elsewhere = self.libraries.iter().any(|(lib, l)| *lib != name && l.functions.contains_key(function));
            if elsewhere {
                return Reply::error(format!("ERR Function {function} already exists"));
            }
        }
        let functions = registered.into_iter().map(|(n, f, flags, names)| (n, (f, flags, names))).collect();
        self.libraries.insert(name.clone(), Library { code: code.clone(), functions });
        Reply::bulk(name)
    }

    /// Runs a library's code with `redis.register_function` available; what it registered.
    fn run_loader(&self, code: &[u8]) -> Result<Registered, Reply> {
        let registered = RefCell::new(Vec::new());
        let lua: &Lua = &self.lua;
        let outcome = lua.scope(|scope| {
            let loader_redis = lua.create_table()?;
            loader_redis.raw_set(
                "register_function",
                scope.create_function(|_, args: MultiValue| register(&registered, args))?,
            )?;
            let real_redis: Table = lua.globals().raw_get("redis")?;
            for field in [
                "log",
                "LOG_DEBUG",
                "LOG_VERBOSE",
                "LOG_NOTICE",
                "LOG_WARNING",
                "REDIS_VERSION",
                "REDIS_VERSION_NUM",
                "setresp",
                "call",
                "pcall",
                "error_reply",
                "status_reply",
                "sha1hex",
            ] {
                loader_redis.raw_set(field, real_redis.raw_get::<LuaValue>(field)?)?;
            }
            // The library's environment: `redis` is the loader's (read-only) table, every
            // other name reads through the shared read-only environment; nothing is writable.
            let protect: Function = lua.globals().raw_get("__redis__protect")?;
            let redis_view: Table = protect.call(loader_redis)?;
            let env = lua.create_table()?;
            let meta = lua.create_table()?;
            let outer = self.env.clone();
            meta.raw_set(
                "__index",
                lua.create_function(move |_, (_, name): (LuaValue, String)| {
                    if name == "redis" {
                        Ok(LuaValue::Table(redis_view.clone()))
                    } else {
                        outer.get::<LuaValue>(name)
                    }
                })?,
            )?;
            meta.raw_set(
                "__newindex",
                lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
                    Err(mlua::Error::runtime("Attempt to modify a readonly table"))
                })?,
            )?;
            env.set_metatable(Some(meta))?;
            let skip = code.iter().position(|b| *b == b'\n').unwrap_or(code.len());
            let chunk = lua.load(&code[skip..]).set_name("@user_function").set_environment(env);
            // The functions it registers keep this environment: FCALL finds `redis.call` in it.
            chunk.into_function()?.call::<()>(())
        });
        match outcome {
            Ok(()) => Ok(registered.into_inner()),
            Err(mlua::Error::SyntaxError { message, .. }) => {
                Err(Reply::error(format!("ERR Error compiling function: {message}")))
            }
            Err(e) => Err(Reply::error(format!("ERR Error registering functions: {}", first_line(&e.to_string())))),
        }
    }

    /// FUNCTION DELETE name.
    pub(crate) fn delete_library(&mut self, name: &[u8]) -> Reply {
        match self.libraries.remove(&*String::from_utf8_lossy(name)) {
            Some(_) => Reply::ok(),
            None => Reply::error("ERR Library not found"),
        }
    }

    /// FUNCTION FLUSH.
    pub(crate) fn flush_libraries(&mut self) {
        self.libraries.clear();
    }

    /// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
    pub(crate) fn list_libraries(&self, options: &[Bytes]) -> Reply {
        let (mut pattern, mut with_code) = (None, false);
        let mut j = 0;
        while j < options.len() {
            if options[j].eq_ignore_ascii_case(b"withcode") {
                with_code = true;
            } else if options[j].eq_ignore_ascii_case(b"libraryname") && j + 1 < options.len() {
                pattern = Some(options[j + 1].clone());
                j += 1;
            } else {
                return Reply::error(format!("ERR Unknown argument {}", String::from_utf8_lossy(&options[j])));
            }
            j += 1;
        }
        let libraries = self
            .libraries
            .iter()
            .filter(|(n, _)| pattern.as_ref().is_none_or(|p| crate::glob::matches(p, n.as_bytes())));
        Reply::Array(
            libraries
                .map(|(name, lib)| {
                    let functions = lib
                        .functions
                        .iter()
                        .map(|(f, (_, _, flags))| {
                            Reply::Map(vec![
                                (Reply::bulk("name"), Reply::bulk(f.clone())),
                                (Reply::bulk("description"), Reply::Nil),
                                (
                                    Reply::bulk("flags"),
                                    Reply::Set(flags.iter().map(|s| Reply::bulk(s.clone())).collect()),
                                ),
                            ])
                        })
                        .collect();
                    let mut fields = vec![
                        (Reply::bulk("library_name"), Reply::bulk(name.clone())),
                        (Reply::bulk("engine"), Reply::bulk("LUA")),
                        (Reply::bulk("functions"), Reply::Array(functions)),
                    ];
                    if with_code {
                        fields.push((Reply::bulk("library_code"), Reply::Bulk(lib.code.clone())));
                    }
                    Reply::Map(fields)
                })
                .collect(),
        )
    }

    /// FUNCTION STATS' engine entry.
    pub(crate) fn library_counts(&self) -> Reply {
        let functions: usize = self.libraries.values().map(|l| l.functions.len()).sum();
        Reply::Map(vec![
            (Reply::bulk("libraries_count"), Reply::Int(self.libraries.len() as i64)),
            (Reply::bulk("functions_count"), Reply::Int(functions as i64)),
        ])
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}
