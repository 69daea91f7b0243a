//! PING, ECHO, HELLO, AUTH, CLIENT, SELECT, QUIT, RESET.

use bytes::Bytes;

use super::keys::DATABASES;
use super::{eq_ignore_case, not_an_integer, parse_i64, unknown_subcommand, wrong_arity, Exec, ReplyMode};
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
    let arity_ok = match sub.as_str() {
        "id" | "getname" | "info" | "list" => args.len() == 2 || (sub == "list" && args.len() >= 2),
        "setname" | "reply" | "no-evict" | "no-touch" => args.len() == 3,
        "setinfo" => args.len() == 4,
        "kill" => args.len() >= 3,
        "caching" => args.len() == 3,
        "tracking" => args.len() >= 3,
        _ => return unknown_subcommand(&args[1], "CLIENT"),
    };
    if !arity_ok {
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
        "reply" => client_reply(exec, &args[2]),
        "info" | "list" => Reply::Verbatim("txt".into(), Bytes::from(client_line(exec))),
        "no-evict" | "no-touch" => Reply::ok(),
        "tracking" => tracking(exec, &args[2..]),
        "caching" => caching(exec, &args[2]),
        "kill" => Reply::error("ERR CLIENT KILL is not supported by the model"),
        _ if eq_ignore_case(&args[2], "lib-name") || eq_ignore_case(&args[2], "lib-ver") => Reply::ok(),
        _ => Reply::error(format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(&args[2]))),
    }
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p]... [OPTIN] [OPTOUT] [NOLOOP]`.
fn tracking(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let on = if eq_ignore_case(&args[0], "on") {
        true
    } else if eq_ignore_case(&args[0], "off") {
        false
    } else {
        return super::syntax_error();
    };
    let (mut redirect, mut bcast, mut noloop, mut prefixes) = (None, false, false, Vec::new());
    let (mut optin, mut optout) = (false, false);
    let mut j = 1;
    while j < args.len() {
        let (opt, value) = (&args[j], args.get(j + 1));
        match value {
            Some(id) if eq_ignore_case(opt, "redirect") => {
                redirect = Some(parse_i64(id).ok_or_else(not_an_integer));
                j += 1;
            }
            Some(p) if eq_ignore_case(opt, "prefix") => {
                prefixes.push(p.clone());
                j += 1;
            }
            _ if eq_ignore_case(opt, "bcast") => bcast = true,
            _ if eq_ignore_case(opt, "noloop") => noloop = true,
            _ if eq_ignore_case(opt, "optin") => optin = true,
            _ if eq_ignore_case(opt, "optout") => optout = true,
            _ => return super::syntax_error(),
        }
        j += 1;
    }
    if !on {
        exec.meta.tracking.disable(exec.session.id);
        return Reply::ok();
    }
    if !prefixes.is_empty() && !bcast {
        return Reply::error("ERR PREFIX option requires BCAST mode to be enabled");
    }
    // Redis's checks, in Redis's order.
    let current = exec.meta.tracking.mode(exec.session.id);
    if current.is_some_and(|(old_bcast, _)| old_bcast != bcast) {
        return Reply::error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if (optin || optout) && bcast {
        return Reply::error("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if optin && optout {
        return Reply::error("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    let switching = current.is_some_and(|(_, old)| {
        (optin && old == crate::tracking::Opt::Out) || (optout && old == crate::tracking::Opt::In)
    });
    if switching {
        return Reply::error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    let opt = match (optin, optout) {
        (true, _) => crate::tracking::Opt::In,
        (_, true) => crate::tracking::Opt::Out,
        _ => crate::tracking::Opt::All,
    };
    let push = match redirect {
        Some(Err(e)) => return e,
        Some(Ok(id)) => match u64::try_from(id).ok().and_then(|id| exec.pubsub.push_of(id)) {
            Some(push) => push,
            None => return Reply::error("ERR The client ID you want redirect to does not exist"),
        },
        None => exec.session.push.clone(),
    };
    let tracker = crate::tracking::Tracker { push, redirect: redirect.is_some(), bcast, prefixes, noloop, opt };
    exec.meta.tracking.enable(exec.session.id, tracker);
    Reply::ok()
}

/// `CLIENT CACHING yes|no`: OPTIN remembers the next command's reads, OPTOUT forgets them.
fn caching(exec: &mut Exec<'_>, value: &[u8]) -> Reply {
    let yes = if eq_ignore_case(value, "yes") {
        true
    } else if eq_ignore_case(value, "no") {
        false
    } else {
        return super::syntax_error();
    };
    match (exec.meta.tracking.opt(exec.session.id), yes) {
        (Some(crate::tracking::Opt::In), true) | (Some(crate::tracking::Opt::Out), false) => {
            exec.session.caching_next = Some(yes);
            Reply::ok()
        }
        (Some(crate::tracking::Opt::Out), true) => {
            Reply::error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
        }
        (Some(crate::tracking::Opt::In), false) => {
            Reply::error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
        }
        _ => Reply::error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"),
    }
}

/// `CLIENT REPLY ON|OFF|SKIP`: ON is answered, OFF and SKIP are not.
fn client_reply(exec: &mut Exec<'_>, mode: &[u8]) -> Reply {
    if eq_ignore_case(mode, "on") {
        exec.session.reply_mode = ReplyMode::On;
        Reply::ok()
    } else if eq_ignore_case(mode, "off") {
        exec.session.reply_mode = ReplyMode::Off;
        Reply::Silent
    } else if eq_ignore_case(mode, "skip") {
        if exec.session.reply_mode != ReplyMode::Off {
            exec.session.reply_mode = ReplyMode::Skip;
        }
        Reply::Silent
    } else {
        super::syntax_error()
    }
}

/// One line of CLIENT LIST for this connection.
fn client_line(exec: &Exec<'_>) -> String {
    let name = exec.session.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
    let flags = if exec.session.tx.active() { "x" } else { "N" };
    let subs = exec.pubsub.subscription_count(exec.session.id);
    format!(
        "id={} addr=127.0.0.1:0 laddr=127.0.0.1:0 fd=8 name={name} age=0 idle=0 flags={flags} db={} sub={subs} psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info user=default redir=-1 resp={}\n",
        exec.session.id, exec.session.db, exec.session.resp
    )
}

pub(super) fn select(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    match parse_i64(&args[1]) {
        None => not_an_integer(),
        Some(db) if (0..DATABASES as i64).contains(&db) => {
            exec.session.db = db as usize;
            Reply::ok()
        }
        Some(_) => Reply::error("ERR DB index is out of range"),
    }
}

/// There is no password: AUTH fails as on a server without `requirepass`.
pub(super) fn auth(_exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return super::syntax_error();
    }
    if args.len() == 2 {
        return Reply::error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    Reply::error("WRONGPASS invalid username-password pair or user is disabled.")
}

/// RESET: back to a fresh connection's state (database 0, RESP2, no MULTI, no WATCH, no
/// subscriptions, no name).
pub(super) fn reset(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    super::multi::unwatch_all(exec);
    exec.session.tx = super::Transaction::default();
    exec.session.db = 0;
    exec.session.resp = 2;
    exec.session.name = None;
    exec.session.reply_mode = ReplyMode::On;
    exec.pubsub.remove_client(exec.session.id);
    exec.meta.tracking.disable(exec.session.id);
    Reply::Status("RESET".into())
}

pub(super) fn quit(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    exec.session.quit = true;
    Reply::ok()
}
