//! EVAL, EVALSHA, SCRIPT.

use bytes::Bytes;

use super::{eq_ignore_case, not_an_integer, parse_i64, unknown_subcommand, wrong_arity, Exec};
use crate::reply::Reply;

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// `numkeys` and the split of the rest into KEYS and ARGV.
fn split_keys(args: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), Reply> {
    let numkeys = parse_i64(&args[2]).ok_or_else(not_an_integer)?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(Reply::error("ERR Number of keys can't be greater than number of args"));
    }
    if numkeys < 0 {
        return Err(Reply::error("ERR Number of keys can't be negative"));
    }
    Ok(args[3..].split_at(numkeys as usize))
}

pub(super) fn eval(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let (keys, argv) = match split_keys(args) {
        Ok(split) => split,
        Err(e) => return e,
    };
    let scripts = exec.scripts.as_deref_mut().expect("EVAL is refused inside scripts");
    match scripts.load(&args[1]) {
        Ok(sha) => scripts.run(&sha, keys, argv, exec.db, exec.pubsub, exec.now_ms),
        Err(e) => e,
    }
}

pub(super) fn evalsha(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if args[1].len() != 40 {
        return Reply::error(NOSCRIPT);
    }
    let (keys, argv) = match split_keys(args) {
        Ok(split) => split,
        Err(e) => return e,
    };
    let sha = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let scripts = exec.scripts.as_deref_mut().expect("EVALSHA is refused inside scripts");
    scripts.run(&sha, keys, argv, exec.db, exec.pubsub, exec.now_ms)
}

pub(super) fn script(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let scripts = exec.scripts.as_deref_mut().expect("SCRIPT is refused inside scripts");
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
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
        "load" | "exists" | "flush" => wrong_arity(&format!("script|{sub}")),
        _ => unknown_subcommand(&args[1], "SCRIPT"),
    }
}
