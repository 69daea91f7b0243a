//! PING, ECHO, HELLO, CLIENT, SELECT, QUIT.

use bytes::Bytes;

use super::{eq_ignore_case, not_an_integer, parse_i64, unknown_subcommand, wrong_arity, Exec};
use crate::reply::Reply;

/// The version the model reports: it implements 7.2's `CLIENT SETINFO`.
pub(crate) const VERSION: &str = "7.2.0";

pub(super) fn ping(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 2 {
        return wrong_arity("ping");
    }
    if exec.session.resp == 2 && exec.pubsub.subscription_count(exec.session.id) > 0 {
        let message = args.get(1).cloned().unwrap_or_default();
        return Reply::Array(vec![Reply::bulk("pong"), Reply::Bulk(message)]);
    }
    match args.get(1) {
        Some(message) => Reply::Bulk(message.clone()),
        None => Reply::Status("PONG".into()),
    }
}

pub(super) fn echo(_exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    Reply::Bulk(args[1].clone())
}

pub(super) fn hello(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let mut resp = exec.session.resp;
    if let Some(version) = args.get(1) {
        match parse_i64(version) {
            None => return Reply::error("NOPROTO unsupported protocol version"),
            Some(v @ 2..=3) => resp = v as u8,
            Some(_) => return Reply::error("NOPROTO unsupported protocol version"),
        }
    }
    let mut name = None;
    let mut j = 2;
    while j < args.len() {
        let more = args.len() - j - 1;
        if eq_ignore_case(&args[j], "auth") && more >= 2 {
            if !eq_ignore_case(&args[j + 1], "default") {
                return Reply::error("WRONGPASS invalid username-password pair or user is disabled.");
            }
            j += 3;
        } else if eq_ignore_case(&args[j], "setname") && more >= 1 {
            if let Err(e) = check_client_name(&args[j + 1]) {
                return e;
            }
            name = Some(args[j + 1].clone());
            j += 2;
        } else {
            return Reply::error(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(&args[j])));
        }
    }
    exec.session.resp = resp;
    if let Some(name) = name {
        exec.session.name = (!name.is_empty()).then_some(name);
    }
    let field = |k: &str, v: Reply| (Reply::bulk(k.to_owned()), v);
    Reply::Map(vec![
        field("server", Reply::bulk("redis")),
        field("version", Reply::bulk(VERSION)),
        field("proto", Reply::Int(i64::from(resp))),
        field("id", Reply::Int(exec.session.id as i64)),
        field("mode", Reply::bulk("standalone")),
        field("role", Reply::bulk("master")),
        field("modules", Reply::Array(vec![])),
    ])
}

fn check_client_name(name: &[u8]) -> Result<(), Reply> {
    if name.iter().any(|c| !(b'!'..=b'~').contains(c)) {
        return Err(Reply::error("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

pub(super) fn client(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let arity = match sub.as_str() {
        "id" | "getname" => 2,
        "setname" => 3,
        "setinfo" => 4,
        _ => return unknown_subcommand(&args[1], "CLIENT"),
    };
    if args.len() != arity {
        return wrong_arity(&format!("client|{sub}"));
    }
    match sub.as_str() {
        "id" => Reply::Int(exec.session.id as i64),
        "getname" => exec.session.name.clone().map_or(Reply::Nil, Reply::Bulk),
        "setname" => match check_client_name(&args[2]) {
            Err(e) => e,
            Ok(()) => {
                exec.session.name = (!args[2].is_empty()).then(|| args[2].clone());
                Reply::ok()
            }
        },
        _ if eq_ignore_case(&args[2], "lib-name") || eq_ignore_case(&args[2], "lib-ver") => Reply::ok(),
        _ => Reply::error(format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(&args[2]))),
    }
}

/// Only database 0 exists in the model (see docs/model.md).
pub(super) fn select(_exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match parse_i64(&args[1]) {
        None => not_an_integer(),
        Some(0) => Reply::ok(),
        Some(_) => Reply::error("ERR DB index is out of range"),
    }
}

pub(super) fn quit(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    exec.session.quit = true;
    Reply::ok()
}
