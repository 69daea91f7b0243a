//! EVAL, EVALSHA and their _RO forms, FCALL, FCALL_RO, SCRIPT, FUNCTION.

use bytes::Bytes;

use super::{eq_ignore_case, not_an_integer, parse_i64, unknown_subcommand, wrong_arity, Exec};
use crate::reply::Reply;
use crate::scripting::{Scripting, Target};

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// `numkeys` and the split of the rest into KEYS and ARGV.
fn split_keys(args: &[Bytes]) -> Result<(Vec<Bytes>, Vec<Bytes>), Reply> {
    let numkeys = parse_i64(&args[2]).ok_or_else(not_an_integer)?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(Reply::error("ERR Number of keys can't be greater than number of args"));
    }
    if numkeys < 0 {
        return Err(Reply::error("ERR Number of keys can't be negative"));
    }
    let (keys, argv) = args[3..].split_at(numkeys as usize);
    Ok((keys.to_vec(), argv.to_vec()))
}

/// Runs `target` with the interpreter taken out of `exec` for the duration (scripts cannot
/// run scripts, and the interpreter needs the rest of `exec` for `redis.call`).
fn run(exec: &mut Exec<'_>, args: &[Bytes], target: Target, read_only: bool) -> Reply {
    let (keys, argv) = match split_keys(args) {
        Ok(split) => split,
        Err(e) => return e,
    };
    let Some(scripts) = exec.scripts.take() else { unreachable!("scripts are refused inside scripts") };
    let reply = scripts.run(exec, target, &keys, &argv, read_only);
    exec.scripts = Some(scripts);
    reply
}

fn with_scripts<T>(exec: &mut Exec<'_>, f: impl FnOnce(&mut Scripting, &mut Exec<'_>) -> T) -> T {
    let Some(scripts) = exec.scripts.take() else { unreachable!("refused inside scripts") };
    let out = f(scripts, exec);
    exec.scripts = Some(scripts);
    out
}

fn eval_generic(exec: &mut Exec<'_>, args: &[Bytes], read_only: bool) -> Reply {
    match with_scripts(exec, |s, _| s.load(&args[1])) {
        Ok(sha) => run(exec, args, Target::Script(sha), read_only),
        Err(e) => e,
    }
}

fn evalsha_generic(exec: &mut Exec<'_>, args: &[Bytes], read_only: bool) -> Reply {
    if args[1].len() != 40 {
        return Reply::error(NOSCRIPT);
    }
    let sha = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    run(exec, args, Target::Script(sha), read_only)
}

pub(super) fn eval(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    eval_generic(exec, args, false)
}

pub(super) fn eval_ro(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    eval_generic(exec, args, true)
}

pub(super) fn evalsha(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    evalsha_generic(exec, args, false)
}

pub(super) fn evalsha_ro(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    evalsha_generic(exec, args, true)
}

pub(super) fn fcall(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    run(exec, args, Target::Function(args[1].clone()), false)
}

pub(super) fn fcall_ro(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    run(exec, args, Target::Function(args[1].clone()), true)
}

pub(super) fn script(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    with_scripts(exec, |scripts, exec| match sub.as_str() {
        "load" if args.len() == 3 => scripts.load(&args[2]).map_or_else(|e| e, Reply::bulk),
        "exists" if args.len() >= 3 => {
            Reply::Array(args[2..].iter().map(|sha| Reply::Int(i64::from(scripts.exists(sha)))).collect())
        }
        "flush" if args.len() <= 3 => match args.get(2) {
            Some(mode) if !eq_ignore_case(mode, "sync") && !eq_ignore_case(mode, "async") => {
                Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
            }
            _ => {
                scripts.flush();
                Reply::ok()
            }
        },
        "kill" if args.len() == 2 => Reply::error("NOTBUSY No scripts in execution right now."),
        "debug" if args.len() == 3 => Reply::error("ERR SCRIPT DEBUG is not supported by the model"),
        "load" | "exists" | "flush" | "kill" | "debug" => wrong_arity(&format!("script|{sub}")),
        _ => {
            let _ = exec;
            unknown_subcommand(&args[1], "SCRIPT")
        }
    })
}

pub(super) fn function(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    with_scripts(exec, |scripts, exec| match sub.as_str() {
        "load" if args.len() >= 3 => {
            let replace = args.len() == 4 && eq_ignore_case(&args[2], "replace");
            if args.len() == 4 && !replace {
                return Reply::error(format!("ERR Unknown option given: {}", String::from_utf8_lossy(&args[2])));
            }
            if args.len() > 4 {
                return wrong_arity("function|load");
            }
            scripts.load_library(exec, &args[args.len() - 1], replace)
        }
        "delete" if args.len() == 3 => scripts.delete_library(&args[2]),
        "flush" if args.len() <= 3 => match args.get(2) {
            Some(mode) if !eq_ignore_case(mode, "sync") && !eq_ignore_case(mode, "async") => {
                Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
            }
            _ => {
                scripts.flush_libraries();
                Reply::ok()
            }
        },
        "list" => scripts.list_libraries(&args[2..]),
        "kill" if args.len() == 2 => Reply::error("NOTBUSY No scripts in execution right now."),
        "stats" if args.len() == 2 => Reply::Map(vec![
            (Reply::bulk("running_script"), Reply::Nil),
            (Reply::bulk("engines"), Reply::Map(vec![(Reply::bulk("LUA"), scripts.library_counts())])),
        ]),
        "delete" | "flush" | "kill" | "stats" | "load" => wrong_arity(&format!("function|{sub}")),
        _ => unknown_subcommand(&args[1], "FUNCTION"),
    })
}
