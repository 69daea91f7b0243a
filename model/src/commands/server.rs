//! Server commands: INFO, CONFIG, DEBUG (the test switches), TIME, LASTSAVE, SAVE,
//! SHUTDOWN, REPLICAOF, SYNC/PSYNC (the replication stream), COMMAND, CLUSTER.

use bytes::Bytes;

use super::{eq_ignore_case, keys, syntax_error, table, unknown_subcommand, wrong_arity, Exec};
use crate::config::Config;
use crate::meta::Meta;
use crate::reply::Reply;

pub(super) fn info(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let wanted: Vec<String> = args[1..].iter().map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).collect();
    let everything = wanted.iter().any(|w| w == "all" || w == "everything");
    let default = wanted.is_empty() || wanted.iter().any(|w| w == "default");
    let mut out = String::new();
    for (name, in_default) in SECTIONS {
        if everything || (default && *in_default) || wanted.iter().any(|w| w == name) {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            out.push_str(&section(exec, name));
        }
    }
    Reply::Verbatim("txt".into(), Bytes::from(out))
}

const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

fn section(exec: &mut Exec<'_>, name: &str) -> String {
    let mut lines = vec![format!("# {}{}", name[..1].to_ascii_uppercase(), &name[1..])];
    let uptime_s = (exec.now_ms - exec.meta.started_ms).max(0) / 1000;
    let used = Meta::used_memory(exec.dbs);
    let stats = &exec.meta.stats;
    match name {
        "server" => lines.extend([
            format!("redis_version:{}", super::connection::VERSION),
            "redis_mode:standalone".into(),
            "os:splitbrain-model".into(),
            "arch_bits:64".into(),
            "multiplexing_api:tokio".into(),
            format!("uptime_in_seconds:{uptime_s}"),
            format!("uptime_in_days:{}", uptime_s / 86_400),
            format!("hz:{}", 10),
            "executable:splitbrain-model".into(),
        ]),
        "clients" => lines.extend([
            format!("connected_clients:{}", exec.meta.connections.connected.load(std::sync::atomic::Ordering::Relaxed)),
            "blocked_clients:0".into(),
            format!("tracking_clients:{}", exec.meta.tracking.clients()),
            format!("tracking_total_keys:{}", exec.meta.tracking.tracked_keys()),
            format!("watching_clients:{}", exec.meta.watches.watched_keys().min(1)),
            format!("total_watched_keys:{}", exec.meta.watches.watched_keys()),
        ]),
        "memory" => lines.extend([
            format!("used_memory:{used}"),
            format!("used_memory_human:{:.2}K", used as f64 / 1024.0),
            "used_memory_lua:31744".into(),
            "used_memory_vm_eval:31744".into(),
            "used_memory_scripts_eval:0".into(),
            format!("maxmemory:{}", exec.meta.config.maxmemory),
            format!("maxmemory_policy:{}", exec.meta.config.maxmemory_policy()),
            "mem_allocator:libc".into(),
            format!("number_of_cached_scripts:{}", exec.scripts.as_ref().map_or(0, |s| s.script_count())),
        ]),
        "persistence" => lines.extend([
            "loading:0".into(),
            "async_loading:0".into(),
            "rdb_changes_since_last_save:0".into(),
            "rdb_bgsave_in_progress:0".into(),
            format!("rdb_last_save_time:{}", exec.meta.last_save_s),
            "rdb_last_bgsave_status:ok".into(),
            "aof_enabled:0".into(),
            "aof_rewrite_in_progress:0".into(),
            "aof_rewrite_scheduled:0".into(),
            "aof_last_bgrewrite_status:ok".into(),
            "aof_last_write_status:ok".into(),
        ]),
        "stats" => lines.extend([
            format!(
                "total_connections_received:{}",
                exec.meta.connections.received.load(std::sync::atomic::Ordering::Relaxed)
            ),
            format!("total_commands_processed:{}", stats.total_commands),
            format!("expired_keys:{}", stats.expired_keys),
            format!("evicted_keys:{}", stats.evicted_keys),
            format!("keyspace_hits:{}", stats.keyspace_hits),
            format!("keyspace_misses:{}", stats.keyspace_misses),
            format!("pubsub_channels:{}", exec.pubsub.channels(None).len()),
            format!("pubsub_patterns:{}", exec.pubsub.numpat()),
            "total_forks:0".into(),
            format!("total_error_replies:{}", stats.total_error_replies),
            "unexpected_error_replies:0".into(),
        ]),
        "replication" => match &exec.meta.replica_of {
            None => lines.extend(["role:master".into(), "connected_slaves:0".into(), "master_repl_offset:0".into()]),
            Some(master) => {
                let (host, port) = master.rsplit_once(':').unwrap_or((master, "0"));
                lines.extend([
                    "role:slave".into(),
                    format!("master_host:{host}"),
                    format!("master_port:{port}"),
                    "master_link_status:down".into(),
                    "connected_slaves:0".into(),
                ]);
            }
        },
        "cpu" => lines.extend(["used_cpu_sys:0.000000".into(), "used_cpu_user:0.000000".into()]),
        "commandstats" => lines.extend(stats.commands.iter().map(|(name, c)| {
            format!(
                "cmdstat_{name}:calls={},usec=0,usec_per_call=0.00,rejected_calls={},failed_calls={}",
                c.calls, c.rejected, c.failed
            )
        })),
        "errorstats" => lines.extend(stats.errors.iter().map(|(code, n)| format!("errorstat_{code}:count={n}"))),
        "cluster" => lines.push("cluster_enabled:0".into()),
        "keyspace" => {
            for (i, db) in exec.dbs.iter().enumerate().filter(|(_, db)| !db.is_empty()) {
                lines.push(format!("db{i}:keys={},expires={},avg_ttl=0", db.len(), db.volatile_len()));
            }
        }
        _ => {}
    }
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    text
}

pub(super) fn config(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "get" if args.len() >= 3 => {
            let patterns: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
            let pairs = exec.meta.config.get(&patterns);
            Reply::Map(pairs.into_iter().map(|(k, v)| (Reply::bulk(k), Reply::bulk(v))).collect())
        }
        "set" if args.len() >= 4 && args.len() % 2 == 0 => config_set(exec, &args[2..]),
        "set" => Reply::error(format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
            args.get(2).map(|a| String::from_utf8_lossy(a).into_owned()).unwrap_or_default()
        )),
        "resetstat" if args.len() == 2 => {
            exec.meta.stats.reset();
            Reply::ok()
        }
        "rewrite" if args.len() == 2 => Reply::error("ERR The server is running without a config file"),
        "get" | "resetstat" | "rewrite" => wrong_arity(&format!("config|{sub}")),
        _ => unknown_subcommand(&args[1], "CONFIG"),
    }
}

/// All pairs or none: a bad value leaves every parameter as it was.
fn config_set(exec: &mut Exec<'_>, pairs: &[Bytes]) -> Reply {
    let mut next: Config = exec.meta.config.clone();
    for pair in pairs.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        if !Config::knows(&name) {
            return Reply::error(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'"));
        }
        if let Err(Some(why)) = next.set(&name, &pair[1]) {
            return Reply::error(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"));
        }
    }
    exec.meta.config = next;
    // A lower maxmemory evicts at once, as in Redis.
    super::evict(exec);
    Reply::ok()
}

pub(super) fn debug(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("set-active-expire", 3) => {
            exec.meta.active_expire_off = &args[2][..] == b"0";
            Reply::ok()
        }
        ("set-disable-deny-scripts", 3) => {
            exec.meta.deny_scripts_off = &args[2][..] != b"0";
            Reply::ok()
        }
        ("quicklist-packed-threshold", 3) | ("stringmatch-len", _) => Reply::ok(),
        // The model keeps its keyspace across a reload: a save and load give back the same data.
        ("reload", _) | ("loadaof", 2) => Reply::ok(),
        ("sleep", 3) => match super::parse_f64(&args[2]) {
            Some(seconds) if (0.0..=3600.0).contains(&seconds) => {
                exec.session.pending_sleep_ms = (seconds * 1000.0) as u64;
                Reply::ok()
            }
            _ => Reply::error("ERR value is not a valid float"),
        },
        ("object", 3) => debug_object(exec, &args[2]),
        ("protocol", 3) => debug_protocol(exec, &args[2]),
        ("change-repl-id", 2) => Reply::ok(),
        ("jmap", 2) => Reply::ok(),
        _ => Reply::error(format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try DEBUG HELP.")),
    }
}

/// DEBUG OBJECT looks without expiring (Redis looks up with LOOKUP_NOTOUCH).
fn debug_object(exec: &mut Exec<'_>, key: &[u8]) -> Reply {
    let Some(entry) = exec.db().peek(key) else { return Reply::error("ERR no such key") };
    // A stable address per key: INCR modifies in place, so the address stays.
    let address = crate::scripting::sha1_hex(key)[..12].to_owned();
    Reply::Status(format!(
        "Value at:0x{address} refcount:{} encoding:{} serializedlength:1 lru:0 lru_seconds_idle:0",
        keys::refcount(entry),
        keys::encoding(entry)
    ))
}

fn debug_protocol(exec: &mut Exec<'_>, name: &[u8]) -> Reply {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    match name.as_str() {
        "string" => Reply::bulk("Hello World"),
        "integer" => Reply::Int(12345),
        // Redis's own test value, not pi.
        #[allow(clippy::approx_constant)]
        "double" => Reply::Double(3.141),
        "bignum" => Reply::BigNumber("1234567999999999999999999999999999999".into()),
        "null" => Reply::Nil,
        "array" => Reply::Array((0..3).map(Reply::Int).collect()),
        "set" => Reply::Set((0..3).map(Reply::Int).collect()),
        "map" => Reply::Map((0..3).map(|j| (Reply::Int(j), Reply::Bool(j == 1))).collect()),
        "attrib" => Reply::WithAttributes(
            vec![(Reply::bulk("key-popularity"), Reply::Array(vec![Reply::bulk("key:123"), Reply::Int(90)]))],
            Box::new(Reply::bulk("Some real reply following the attribute")),
        ),
        "push" if exec.session.resp < 3 => Reply::error("ERR RESP2 is not supported by this command"),
        "push" => Reply::Multi(vec![
            Reply::Push(vec![Reply::bulk("server-cpu-usage"), Reply::Int(42)]),
            Reply::bulk("Some real reply following the push reply"),
        ]),
        "true" => Reply::Bool(true),
        "false" => Reply::Bool(false),
        "verbatim" => Reply::Verbatim("txt".into(), Bytes::from_static(b"This is a verbatim\nstring")),
        _ => Reply::error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"),
    }
}

pub(super) fn time(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    let (s, us) = (exec.now_ms.div_euclid(1000), exec.now_ms.rem_euclid(1000) * 1000);
    Reply::Array(vec![Reply::bulk(s.to_string()), Reply::bulk(us.to_string())])
}

pub(super) fn lastsave(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    Reply::Int(exec.meta.last_save_s)
}

pub(super) fn save(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    exec.meta.last_save_s = exec.now_ms / 1000;
    Reply::ok()
}

/// The model is not a process to stop from a client (the simulation crashes it as a fault).
pub(super) fn shutdown(_exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    Reply::error("ERR Errors trying to SHUTDOWN. Check logs.")
}

/// The model never connects to a master: after `REPLICAOF host port` it is a replica whose
/// link is down (writes refused, stale data served or not by `replica-serve-stale-data`);
/// `NO ONE` makes it a master again.
pub(super) fn replicaof(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if eq_ignore_case(&args[1], "no") && eq_ignore_case(&args[2], "one") {
        exec.meta.replica_of = None;
        return Reply::ok();
    }
    if super::parse_i64(&args[2]).is_none_or(|p| !(0..=65535).contains(&p)) {
        return Reply::error("ERR Invalid master port");
    }
    exec.meta.replica_of = Some(format!("{}:{}", String::from_utf8_lossy(&args[1]), String::from_utf8_lossy(&args[2])));
    Reply::ok()
}

/// MEMORY USAGE key: the model's estimate of the key's bytes.
pub(super) fn memory(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("usage", 3 | 5) => match exec.get(&args[2]) {
            None => Reply::Nil,
            Some(entry) => Reply::Int(Meta::entry_bytes(&args[2], entry) as i64),
        },
        ("usage", _) => syntax_error(),
        _ => unknown_subcommand(&args[1], "MEMORY"),
    }
}

/// SYNC/PSYNC: the connection becomes a replica; it gets an empty RDB and then every write
/// as the replication stream (the connection does the writing).
pub(super) fn sync(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    exec.session.replica = true;
    Reply::Silent
}

pub(super) fn command(_exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    let sub = args.get(1).map(|a| String::from_utf8_lossy(a).to_ascii_lowercase());
    match sub.as_deref() {
        Some("count") => Reply::Int(table::all().len() as i64),
        Some("list") => Reply::Array(table::all().iter().map(|s| Reply::bulk(s.name)).collect()),
        Some("info") => Reply::Array(
            args[2..]
                .iter()
                .map(|name| match table::lookup(name) {
                    Some(spec) => Reply::Array(vec![Reply::bulk(spec.name), Reply::Int(i64::from(spec.arity))]),
                    None => Reply::NilArray,
                })
                .collect(),
        ),
        None => Reply::Array(
            table::all()
                .iter()
                .map(|s| Reply::Array(vec![Reply::bulk(s.name), Reply::Int(i64::from(s.arity))]))
                .collect(),
        ),
        Some(_) => syntax_error(),
    }
}

pub(super) fn cluster(_exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    Reply::error("ERR This instance has cluster support disabled")
}
