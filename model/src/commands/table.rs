//! The command table: each command's name, Redis's arity and the flags that the dispatch
//! rules read (Redis 7.0's command flags, as far as the model needs them).

use bytes::Bytes;

use super::{connection, hashes, keys, lists, multi, pubsub, scripting, server, sets, sort, strings, zsets, Exec};
use crate::reply::Reply;

/// Changes data.
pub(crate) const WRITE: u32 = 1 << 0;
/// Only reads data.
pub(crate) const READONLY: u32 = 1 << 1;
/// May grow memory: refused past maxmemory.
pub(crate) const DENYOOM: u32 = 1 << 2;
/// O(1) or O(log n).
pub(crate) const FAST: u32 = 1 << 3;
/// Not callable from scripts.
pub(crate) const NOSCRIPT: u32 = 1 << 4;
/// Allowed on a RESP2 connection in subscribed mode.
pub(crate) const PUBSUB: u32 = 1 << 5;
/// Allowed while loading.
pub(crate) const LOADING: u32 = 1 << 6;
/// Allowed on a stale replica.
pub(crate) const STALE: u32 = 1 << 7;
/// Not shown by MONITOR.
pub(crate) const SKIP_MONITOR: u32 = 1 << 8;
/// Runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
pub(crate) const TX_CONTROL: u32 = 1 << 9;
/// May block a client (BLPOP...): inside MULTI and scripts it never blocks.
pub(crate) const BLOCKING: u32 = 1 << 10;
/// Allowed while a script is busy (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE...).
pub(crate) const ALLOW_BUSY: u32 = 1 << 11;
/// Refused inside MULTI ("Command not allowed inside a transaction").
pub(crate) const NO_MULTI: u32 = 1 << 12;
/// Propagated to replicas although it writes no key (PUBLISH).
pub(crate) const MAY_REPLICATE: u32 = 1 << 13;
/// Blocking commands are refused in scripts (Redis 7.0).
const BLOCKING_NOSCRIPT: u32 = BLOCKING | NOSCRIPT;

type Handler = fn(&mut Exec<'_>, &[Bytes]) -> Reply;

/// One command.
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    /// Redis's arity: `n` exactly n arguments (with the name), `-n` at least n.
    pub(crate) arity: i32,
    pub(crate) flags: u32,
    pub(crate) handler: Handler,
}

impl Spec {
    pub(crate) fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }

    pub(crate) fn is_transaction_control(&self) -> bool {
        self.flags & TX_CONTROL != 0
    }
}

const fn c(name: &'static str, arity: i32, flags: u32, handler: Handler) -> Spec {
    Spec { name, arity, flags, handler }
}

const W: u32 = WRITE;
const WD: u32 = WRITE | DENYOOM;
const WDF: u32 = WRITE | DENYOOM | FAST;
const WF: u32 = WRITE | FAST;
const R: u32 = READONLY;
const RF: u32 = READONLY | FAST;
const CONN: u32 = NOSCRIPT | LOADING | STALE | FAST;

/// Sorted by name: looked up by binary search.
static COMMANDS: &[Spec] = &[
    c("append", 3, WDF, strings::append),
    c("auth", -2, CONN, connection::auth),
    c("bitcount", -2, R, strings::bitcount),
    c("blmove", 6, W | DENYOOM | BLOCKING_NOSCRIPT, lists::blmove),
    c("blpop", -3, W | BLOCKING_NOSCRIPT, lists::blpop),
    c("brpop", -3, W | BLOCKING_NOSCRIPT, lists::brpop),
    c("brpoplpush", 4, W | DENYOOM | BLOCKING_NOSCRIPT, lists::brpoplpush),
    c("bzpopmax", -3, W | FAST | BLOCKING_NOSCRIPT, zsets::bzpopmax),
    c("bzpopmin", -3, W | FAST | BLOCKING_NOSCRIPT, zsets::bzpopmin),
    c("client", -2, NOSCRIPT | LOADING | STALE, connection::client),
    c("cluster", -2, NOSCRIPT, server::cluster),
    c("command", -1, LOADING | STALE, server::command),
    c("config", -2, NOSCRIPT | LOADING | STALE, server::config),
    c("copy", -3, WD, keys::copy),
    c("dbsize", 1, RF, keys::dbsize),
    c("debug", -2, NOSCRIPT | LOADING | STALE, server::debug),
    c("decr", 2, WDF, strings::decr),
    c("decrby", 3, WDF, strings::decrby),
    c("del", -2, W, keys::del),
    c("discard", 1, NOSCRIPT | LOADING | STALE | FAST | TX_CONTROL, multi::discard),
    c("echo", 2, FAST, connection::echo),
    c("eval", -3, NOSCRIPT | SKIP_MONITOR, scripting::eval),
    c("eval_ro", -3, NOSCRIPT | SKIP_MONITOR | READONLY, scripting::eval_ro),
    c("evalsha", -3, NOSCRIPT | SKIP_MONITOR, scripting::evalsha),
    c("evalsha_ro", -3, NOSCRIPT | SKIP_MONITOR | READONLY, scripting::evalsha_ro),
    c("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_MONITOR | TX_CONTROL, multi::exec),
    c("exists", -2, RF, keys::exists),
    c("expire", -3, WF, keys::expire),
    c("expireat", -3, WF, keys::expireat),
    c("expiretime", 2, RF, keys::expiretime),
    c("fcall", -3, NOSCRIPT | SKIP_MONITOR, scripting::fcall),
    c("fcall_ro", -3, NOSCRIPT | SKIP_MONITOR | READONLY, scripting::fcall_ro),
    c("flushall", -1, W, keys::flushall),
    c("flushdb", -1, W, keys::flushdb),
    c("function", -2, NOSCRIPT, scripting::function),
    c("get", 2, RF, strings::get),
    c("getbit", 3, RF, strings::getbit),
    c("getdel", 2, WF, strings::getdel),
    c("getex", -2, WF, strings::getex),
    c("getrange", 4, R, strings::getrange),
    c("getset", 3, WDF, strings::getset),
    c("hdel", -3, WF, hashes::hdel),
    c("hello", -1, CONN, connection::hello),
    c("hexists", 3, RF, hashes::hexists),
    c("hget", 3, RF, hashes::hget),
    c("hgetall", 2, R, hashes::hgetall),
    c("hincrby", 4, WDF, hashes::hincrby),
    c("hincrbyfloat", 4, WDF, hashes::hincrbyfloat),
    c("hkeys", 2, R, hashes::hkeys),
    c("hlen", 2, RF, hashes::hlen),
    c("hmget", -3, RF, hashes::hmget),
    c("hmset", -4, WDF, hashes::hset),
    c("hset", -4, WDF, hashes::hset),
    c("hsetnx", 4, WDF, hashes::hsetnx),
    c("hstrlen", 3, RF, hashes::hstrlen),
    c("hvals", 2, R, hashes::hvals),
    c("incr", 2, WDF, strings::incr),
    c("incrby", 3, WDF, strings::incrby),
    c("incrbyfloat", 3, WDF, strings::incrbyfloat),
    c("info", -1, LOADING | STALE, server::info),
    c("keys", 2, R, keys::keys),
    c("lastsave", 1, LOADING | STALE | FAST, server::lastsave),
    c("lcs", -3, R, strings::lcs),
    c("lindex", 3, R, lists::lindex),
    c("llen", 2, RF, lists::llen),
    c("lmove", 5, WD, lists::lmove),
    c("lpop", -2, WF, lists::lpop),
    c("lpush", -3, WDF, lists::lpush),
    c("lpushx", -3, WDF, lists::lpushx),
    c("lrange", 4, R, lists::lrange),
    c("lrem", 4, W, lists::lrem),
    c("lset", 4, WD, lists::lset),
    c("ltrim", 4, W, lists::ltrim),
    c("memory", -2, R, server::memory),
    c("mget", -2, RF, strings::mget),
    c("move", 3, WF, keys::move_key),
    c("mset", -3, WD, strings::mset),
    c("msetnx", -3, WD, strings::msetnx),
    c("multi", 1, NOSCRIPT | LOADING | STALE | FAST | TX_CONTROL, multi::multi),
    c("object", -2, R, keys::object),
    c("persist", 2, WF, keys::persist),
    c("pexpire", -3, WF, keys::pexpire),
    c("pexpireat", -3, WF, keys::pexpireat),
    c("pexpiretime", 2, RF, keys::pexpiretime),
    c("ping", -1, FAST | PUBSUB, connection::ping),
    c("psetex", 4, WD, strings::psetex),
    c("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, pubsub::psubscribe),
    c("psync", -3, NOSCRIPT | LOADING | STALE | NO_MULTI, server::sync),
    c("pttl", 2, RF, keys::pttl),
    c("publish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, pubsub::publish),
    c("pubsub", -2, PUBSUB | LOADING | STALE, pubsub::pubsub),
    c("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, pubsub::punsubscribe),
    c("quit", -1, PUBSUB | NOSCRIPT | LOADING | STALE | FAST | TX_CONTROL | ALLOW_BUSY, connection::quit),
    c("randomkey", 1, R, keys::randomkey),
    c("rename", 3, W, keys::rename),
    c("renamenx", 3, WF, keys::renamenx),
    c("replicaof", 3, NOSCRIPT | STALE, server::replicaof),
    c("reset", 1, PUBSUB | NOSCRIPT | LOADING | STALE | FAST | TX_CONTROL, connection::reset),
    c("rpop", -2, WF, lists::rpop),
    c("rpoplpush", 3, WD, lists::rpoplpush),
    c("rpush", -3, WDF, lists::rpush),
    c("rpushx", -3, WDF, lists::rpushx),
    c("sadd", -3, WDF, sets::sadd),
    c("save", 1, NOSCRIPT | NO_MULTI, server::save),
    c("scan", -2, R, keys::scan),
    c("scard", 2, RF, sets::scard),
    c("script", -2, NOSCRIPT, scripting::script),
    c("sdiff", -2, R, sets::sdiff),
    c("select", 2, LOADING | STALE | FAST, connection::select),
    c("set", -3, WD, strings::set),
    c("setbit", 4, WD, strings::setbit),
    c("setex", 4, WD, strings::setex),
    c("setnx", 3, WDF, strings::setnx),
    c("setrange", 4, WD, strings::setrange),
    c("shutdown", -1, NOSCRIPT | LOADING | STALE | ALLOW_BUSY | NO_MULTI, server::shutdown),
    c("sinter", -2, R, sets::sinter),
    c("sismember", 3, RF, sets::sismember),
    c("slaveof", 3, NOSCRIPT | STALE, server::replicaof),
    c("smembers", 2, R, sets::smembers),
    c("smove", 4, WF, sets::smove),
    c("sort", -2, WD, sort::sort),
    c("sort_ro", -2, R, sort::sort_ro),
    c("spop", -2, WF, sets::spop),
    c("srandmember", -2, R, sets::srandmember),
    c("srem", -3, WF, sets::srem),
    c("strlen", 2, RF, strings::strlen),
    c("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, pubsub::subscribe),
    c("substr", 4, R, strings::getrange),
    c("sunion", -2, R, sets::sunion),
    c("swapdb", 3, WF, keys::swapdb),
    c("sync", 1, NOSCRIPT | LOADING | STALE | NO_MULTI, server::sync),
    c("time", 1, LOADING | STALE | FAST, server::time),
    c("touch", -2, RF, keys::exists),
    c("ttl", 2, RF, keys::ttl),
    c("type", 2, RF, keys::type_of),
    c("unlink", -2, WF, keys::del),
    c("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, pubsub::unsubscribe),
    c("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST, multi::unwatch),
    c("watch", -2, NOSCRIPT | LOADING | STALE | FAST | TX_CONTROL, multi::watch),
    c("zadd", -4, WDF, zsets::zadd),
    c("zcard", 2, RF, zsets::zcard),
    c("zincrby", 4, WDF, zsets::zincrby),
    c("zpopmax", -2, WF, zsets::zpopmax),
    c("zpopmin", -2, WF, zsets::zpopmin),
    c("zrange", -4, R, zsets::zrange),
    c("zrangebyscore", -4, R, zsets::zrangebyscore),
    c("zrem", -3, WF, zsets::zrem),
    c("zscore", 3, RF, zsets::zscore),
];

/// The command named `name` (any case).
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    // Compared byte by byte in lowercase: no allocation on the path every command takes.
    let lower = name.iter().map(u8::to_ascii_lowercase);
    COMMANDS.binary_search_by(|spec| spec.name.bytes().cmp(lower.clone())).ok().map(|i| &COMMANDS[i])
}

/// Every command, for COMMAND COUNT and INFO COMMANDSTATS.
pub(crate) fn all() -> &'static [Spec] {
    COMMANDS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_lookups_ignore_case() {
        assert!(COMMANDS.windows(2).all(|w| w[0].name < w[1].name), "binary search needs byte order");
        assert_eq!(lookup(b"GeT").map(|s| s.name), Some("get"));
        assert!(lookup(b"nosuch").is_none());
    }
}
