//! Running the same command on the Redis model and on a real redis-server, through the real
//! `redis` client, and comparing the replies.

use std::time::Duration;

use redis::{RedisResult, Value};

/// A reply in a form that compares exactly: the value's debug form, or the error's kind,
/// code and detail.
pub fn canonical(result: RedisResult<Value>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(e) => format!("Err({:?}, {:?}, {:?})", e.kind(), e.code(), e.detail()),
    }
}

/// A reply as it reads on the wire: the value's debug form, or `-CODE detail` for an error
/// (whatever kind redis-rs files the code under).
pub fn wire(result: RedisResult<Value>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(e) => format!("-{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
    }
}

/// Splits a command line into arguments; double quotes group words, nothing else is special.
pub fn args(line: &str) -> Vec<String> {
    // Double quotes group words; nothing else is special.
    let mut out = Vec::new();
    let (mut current, mut quoted, mut started) = (String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started || !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                started = false;
            }
            c => current.push(c),
        }
    }
    if started || !current.is_empty() {
        out.push(current);
    }
    out
}

/// Sends `args` as one command and returns the reply.
pub fn run(conn: &mut redis::Connection, args: &[String]) -> RedisResult<Value> {
    let mut cmd = redis::cmd(&args[0]);
    for arg in &args[1..] {
        cmd.arg(arg);
    }
    cmd.query(conn)
}

/// Whether two replies to `args` agree: exactly, except that KEYS is a set (Redis answers in
/// hash order) and TTL/PTTL readings may differ by the time between the two requests.
pub fn agree(args: &[String], real: RedisResult<Value>, model: RedisResult<Value>) -> Result<(), String> {
    let name = args[0].to_ascii_lowercase();
    let (real, model) = match (name.as_str(), real, model) {
        ("keys", Ok(Value::Array(mut a)), Ok(Value::Array(mut b))) => {
            a.sort_by_key(|v| format!("{v:?}"));
            b.sort_by_key(|v| format!("{v:?}"));
            (Ok(Value::Array(a)), Ok(Value::Array(b)))
        }
        ("ttl" | "pttl", Ok(Value::Int(a)), Ok(Value::Int(b))) if a >= 0 && b >= 0 => {
            let tolerance = if name == "ttl" { 1 } else { TTL_TOLERANCE.as_millis() as i64 };
            if (a - b).abs() <= tolerance {
                return Ok(());
            }
            (Ok(Value::Int(a)), Ok(Value::Int(b)))
        }
        (_, real, model) => (real, model),
    };
    let (real, model) = (canonical(real), canonical(model));
    if real == model {
        Ok(())
    } else {
        Err(format!("{}\n  real redis: {real}\n  model:      {model}", args.join(" ")))
    }
}

/// How far apart two PTTL readings of the same key may be.
pub const TTL_TOLERANCE: Duration = Duration::from_millis(100);
