//! Every command the model gained for Redis's own suite, held to a real redis-server: the
//! same sequence on both, reply by reply (issue 16). Sets are compared as sets (Redis answers
//! in hash order, the model in byte order); TTL readings within the request gap.

use redis::Value;
use splitbrain_tests::differential::{agree, args, run};
use splitbrain_tests::{ModelServer, RedisServer};

/// Families of commands, each a sequence on a fresh server state.
const SEQUENCES: &[(&str, &[&str])] = &[
    (
        "string family",
        &[
            "SETNX a 1",
            "SETNX a 2",
            "GET a",
            "SETEX b 100 v",
            "TTL b",
            "SETEX b 0 v",
            "PSETEX c 100000 v",
            "PTTL c",
            "GETSET a 9",
            "GETSET fresh 1",
            "GETDEL a",
            "GETDEL a",
            "SET e v EX 100",
            "GETEX e PERSIST",
            "TTL e",
            "GETEX e PX 100000",
            "PTTL e",
            "GETEX e EX 0",
            "GETEX e BOGUS",
            "MSET m1 a m2 b m3 c",
            "MGET m1 m2 nosuch m3",
            "MSET m1",
            "MSETNX m1 x n1 y",
            "MSETNX n1 x n2 y",
            "MGET n1 n2",
            "STRLEN m1",
            "STRLEN nosuch",
            "APPEND m1 xyz",
            "GET m1",
            "GETRANGE m1 0 -1",
            "GETRANGE m1 -2 -1",
            "GETRANGE m1 5 1",
            "GETRANGE m1 -1 -5",
            "SUBSTR m1 1 2",
            "SETRANGE m1 1 ZZ",
            "GET m1",
            "SETRANGE gap 3 x",
            "GET gap",
            "SETRANGE m1 -1 x",
            "SETRANGE m1 0 \"\"",
            "SET f 10.5",
            "INCRBYFLOAT f 0.25",
            "INCRBYFLOAT f 1.5e1",
            "INCRBYFLOAT f abc",
            "INCRBYFLOAT m1 1",
            "DECRBY n3 5",
            "DECRBY n3 -9223372036854775808",
            "INCRBY n3 9223372036854775807",
            "INCRBY n3 x",
            "SET bits a",
            "SETBIT bits 6 1",
            "GETBIT bits 6",
            "GETBIT bits 100",
            "SETBIT bits 7 2",
            "BITCOUNT bits",
            "BITCOUNT bits 0 0",
            "BITCOUNT bits 0 5 BIT",
            "GET bits",
            "SET l1 ohmytext",
            "SET l2 mynewtext",
            "LCS l1 l2",
            "LCS l1 l2 LEN",
            "LCS l1 l2 IDX",
            "LCS l1 l2 IDX MINMATCHLEN 4 WITHMATCHLEN",
            "LCS l1 l2 IDX LEN",
            "SET k v GET",
            "SET k2 v EXAT 9999999999 NX",
            "TTL k2",
        ],
    ),
    (
        "expiry family",
        &[
            "SET k v",
            "EXPIREAT k 9999999999",
            "TTL k",
            "EXPIRETIME k",
            "PEXPIRETIME k",
            "PEXPIREAT k 9999999999000 GT",
            "PEXPIREAT k 1 LT",
            "EXISTS k",
            "SET k v",
            "EXPIRETIME k",
            "EXPIRETIME nosuch",
            "PEXPIREAT k 9223372036854770000",
            "PEXPIREAT k -9223372036854770000",
            "EXISTS k",
            "SET k v",
            "EXPIRE k 9223372036854775807",
            "PERSIST k",
            "PERSIST k",
            "EXPIRE k 100 XX",
            "EXPIRE k 100 NX",
            "TTL k",
            "EXPIRE k 100 FOO",
            "TYPE k",
            "TYPE nosuch",
        ],
    ),
    (
        "keyspace",
        &[
            "MSET a 1 b 2",
            "RENAME a c",
            "GET c",
            "EXISTS a",
            "RENAME nosuch x",
            "RENAME c c",
            "RENAMENX c b",
            "RENAMENX c d",
            "SET t v PX 100000",
            "RENAME t t2",
            "PTTL t2",
            "COPY b b2",
            "GET b2",
            "COPY b b2",
            "COPY b b2 REPLACE",
            "COPY b b DB 0",
            "COPY b b3 DB x",
            "COPY b b3 DB 99",
            "COPY b b3 DB 1",
            "MOVE b2 1",
            "MOVE b2 1",
            "MOVE b 0",
            "SELECT 1",
            "GET b3",
            "GET b2",
            "DBSIZE",
            "SELECT 99",
            "SELECT 0",
            "SWAPDB 0 1",
            "GET b3",
            "SWAPDB 0 1",
            "SWAPDB x 1",
            "SWAPDB 0 99",
            "DBSIZE",
            "FLUSHDB",
            "DBSIZE",
            "FLUSHDB BOGUS",
            "UNLINK nosuch",
            "TOUCH a b",
            "SET n 5",
            "OBJECT ENCODING n",
            "OBJECT REFCOUNT nosuch",
        ],
    ),
    (
        "hashes",
        &[
            "HSET h a 1 b 2",
            "HMSET h c 3",
            "HSETNX h a 9",
            "HSETNX h d 4",
            "HMGET h a x d",
            "HLEN h",
            "HEXISTS h a",
            "HSTRLEN h a",
            "HKEYS h",
            "HVALS h",
            "HINCRBY h a 10",
            "HINCRBY h a x",
            "HINCRBYFLOAT h a 0.5",
            "HSET h s abc",
            "HINCRBY h s 1",
            "HINCRBYFLOAT h s 1",
            "HDEL h a b c d s",
            "EXISTS h",
            "HGETALL h",
        ],
    ),
    (
        "lists",
        &[
            "RPUSH l a b c",
            "LPUSH l z",
            "LPUSHX nosuch x",
            "RPUSHX l d",
            "LRANGE l 0 -1",
            "LLEN l",
            "LINDEX l -1",
            "LINDEX l 9",
            "LSET l 0 Z",
            "LSET l 9 x",
            "LSET nosuch 0 x",
            "LREM l 1 b",
            "RPUSH l a a",
            "LREM l -1 a",
            "LRANGE l 0 -1",
            "LTRIM l 1 -1",
            "LRANGE l 0 -1",
            "LPOP l",
            "RPOP l 2",
            "LPOP l 0",
            "RPOP nosuch",
            "RPUSH src 1 2 3",
            "LMOVE src dst LEFT RIGHT",
            "RPOPLPUSH src dst",
            "LRANGE dst 0 -1",
            "LMOVE src dst UP DOWN",
            "SET str x",
            "LPUSH str a",
            "LRANGE str 0 1",
            "LPOP l -1",
        ],
    ),
    (
        "sets",
        &[
            "SADD s a b c",
            "SADD s a",
            "SCARD s",
            "SISMEMBER s a",
            "SISMEMBER s x",
            "SREM s a x",
            "SMEMBERS s",
            "SADD t b d",
            "SINTER s t",
            "SUNION s t",
            "SDIFF s t",
            "SMOVE s t c",
            "SMOVE s t nosuch",
            "SMEMBERS t",
            "SORT t ALPHA",
            "SORT t ALPHA DESC LIMIT 0 2",
            "SET str x",
            "SADD str a",
            "SCARD nosuch",
            "SPOP nosuch",
            "SRANDMEMBER nosuch",
        ],
    ),
    (
        "sorted sets",
        &[
            "ZADD z 1 a 2 b 3 c",
            "ZADD z NX 5 a",
            "ZADD z XX CH 5 a",
            "ZADD z GT 1 a",
            "ZADD z LT 1 a",
            "ZSCORE z a",
            "ZCARD z",
            "ZRANGE z 0 -1",
            "ZRANGE z 0 -1 WITHSCORES",
            "ZRANGE z 0 1 REV",
            "ZRANGEBYSCORE z 2 3",
            "ZRANGEBYSCORE z (2 +inf WITHSCORES",
            "ZINCRBY z 1.5 b",
            "ZADD z INCR 1 c",
            "ZADD z NX XX 1 a",
            "ZADD z 1",
            "ZADD z x a",
            "ZREM z a x",
            "ZPOPMIN z",
            "ZPOPMAX z 5",
            "EXISTS z",
        ],
    ),
    (
        "sort",
        &[
            "RPUSH l 3 1 2",
            "SORT l",
            "SORT l DESC",
            "MSET w_1 30 w_2 10 w_3 20",
            "SORT l BY w_*",
            "SORT l BY nosort",
            "HSET o_1 f one",
            "HSET o_2 f two",
            "SORT l GET # GET o_*->f",
            "SORT l LIMIT 1 1",
            "SORT l STORE out",
            "LRANGE out 0 -1",
            "RPUSH bad a b",
            "SORT bad",
            "SORT bad ALPHA",
            "SORT_RO l",
        ],
    ),
    (
        "transactions",
        &[
            "MULTI",
            "SET a 1",
            "INCR a",
            "GET a",
            "EXEC",
            "MULTI",
            "MULTI",
            "DISCARD",
            "DISCARD",
            "EXEC",
            "MULTI",
            "NOSUCH",
            "SET a 2",
            "EXEC",
            "GET a",
            "MULTI",
            "WATCH a",
            "DISCARD",
            "WATCH a",
            "UNWATCH",
            "MULTI",
            "SET a 3",
            "EXEC",
            "MULTI",
            "INCR str",
            "SET str x",
            "EXEC",
        ],
    ),
    (
        "scripting",
        &[
            "EVAL \"return cjson.encode({1, 2, 3})\" 0",
            "EVAL \"return #cjson.decode('[1,2,3]')\" 0",
            "EVAL \"return bit.band(5, 3)\" 0",
            "EVAL \"return bit.tohex(65535, 4)\" 0",
            "EVAL \"return bit.lshift(1, 31)\" 0",
            "EVAL \"return cmsgpack.unpack(cmsgpack.pack({1, 2, 'x'}))\" 0",
            "EVAL \"a = 1\" 0",
            "EVAL \"return b\" 0",
            "EVAL \"redis.call = nil\" 0",
            "EVAL \"#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')\" 0",
            "EVAL \"#!lua\nreturn 1\" 0",
            "EVAL \"#!lua flags=bogus\nreturn 1\" 0",
            "EVAL_RO \"return redis.call('set', 'k', 'v')\" 0",
            "EVAL_RO \"return redis.call('get', 'k')\" 0",
            "EVAL \"return redis.setresp(4)\" 0",
            "EVAL \"redis.setresp(3) return redis.call('hgetall', 'nosuch')\" 0",
            "EVAL \"return redis.error_reply('MY_CODE the message')\" 0",
            "EVAL \"local t = {} t[1] = t return #t\" 0",
            "EVAL \"return loadstring('return 7')()\" 0",
            "EVAL \"return redis.call('blpop', 'x', 0)\" 0",
            "EVAL \"return redis.sha1hex()\" 0",
            "FUNCTION LOAD \"#!lua name=lib\nredis.register_function('f', function(keys, args) return args[1] end)\"",
            "FCALL f 0 hello",
            "FCALL_RO f 0 hello",
            "FCALL nosuch 0",
            "FUNCTION LOAD \"#!lua name=lib\nredis.register_function('f', function() return 1 end)\"",
            "FUNCTION LOAD \"return 1\"",
            "FUNCTION DELETE lib",
            "FUNCTION DELETE lib",
            "FUNCTION FLUSH",
            "SCRIPT KILL",
            "FUNCTION KILL",
        ],
    ),
    (
        "server",
        &[
            "CONFIG SET notify-keyspace-events KEA",
            "CONFIG GET notify-keyspace-events",
            "CONFIG SET notify-keyspace-events $lshzxeKE",
            "CONFIG GET notify-keyspace-events",
            "CONFIG SET notify-keyspace-events Q",
            "CONFIG SET notify-keyspace-events \"\"",
            "CONFIG SET nosuch 1",
            "CONFIG SET maxmemory bla",
            "CONFIG GET lua-time-limit",
            "CONFIG SET appendonly maybe",
            "PUBSUB NUMSUB a b",
            "PUBSUB NUMPAT",
            "PUBSUB CHANNELS",
            "MULTI",
            "SAVE",
            "EXEC",
            "CLIENT REPLY ON",
            "CLUSTER INFO",
        ],
    ),
];

fn as_set(value: Value) -> Value {
    match value {
        Value::Array(mut items) | Value::Set(mut items) => {
            items.sort_by_key(|v| format!("{v:?}"));
            Value::Array(items)
        }
        other => other,
    }
}

#[test]
fn added_commands_reply_as_real_redis_replies() {
    let Some(real) = RedisServer::start(&[]) else { return };
    let model = ModelServer::start(model::Persistence::None);
    let (mut a, mut b) = (real.client(), model.client());
    let mut failures = Vec::new();
    let mut compared = 0;
    for (family, lines) in SEQUENCES {
        for conn in [&mut a, &mut b] {
            let _: () = redis::cmd("FLUSHALL").query(conn).unwrap();
            let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(conn).unwrap();
            let _: () = redis::cmd("CONFIG").arg("SET").arg("notify-keyspace-events").arg("").query(conn).unwrap();
        }
        for line in *lines {
            let command = args(line);
            let unordered =
                ["smembers", "sinter", "sunion", "sdiff", "pubsub"].contains(&command[0].to_ascii_lowercase().as_str());
            let (mut real_reply, mut model_reply) = (run(&mut a, &command), run(&mut b, &command));
            if unordered {
                real_reply = real_reply.map(as_set);
                model_reply = model_reply.map(as_set);
            }
            compared += 1;
            if let Err(difference) = agree(&command, real_reply, model_reply) {
                failures.push(format!("{family}: {difference}"));
            }
        }
    }
    assert!(compared > 250, "{compared} commands compared");
    assert!(failures.is_empty(), "{} of {compared} replies differ:\n{}", failures.len(), failures.join("\n"));
}

/// A raw RESP3 transcript of client-side caching: what the tracking connection reads after
/// each step (replies and invalidation pushes, in order), on both servers.
fn tracking_transcript(addr: &str) -> Vec<String> {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;
    let open = || {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(150))).expect("timeout");
        s
    };
    let (mut tracker, mut writer) = (open(), open());
    let read = |s: &mut TcpStream| {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    };
    let mut transcript = Vec::new();
    let steps: &[(bool, &str)] = &[
        (true, "HELLO 3"),
        (true, "CLIENT TRACKING ON"),
        (false, "SET k v"),
        (false, "SET k2 v"),
        (true, "GET k"),
        (false, "SET k w"),
        (false, "SET k x"),
        (true, "GET k2"),
        (true, "SET k2 mine"),
        (true, "CLIENT TRACKING ON BCAST"),
        (true, "CLIENT TRACKING OFF"),
        (true, "CLIENT TRACKING ON BCAST PREFIX us: NOLOOP"),
        (false, "SET us:1 v"),
        (true, "SET us:2 v"),
        (false, "SET them v"),
        (false, "FLUSHALL"),
        (true, "CLIENT TRACKING ON PREFIX x"),
        (true, "CLIENT TRACKING OFF"),
        (true, "CLIENT CACHING yes"),
        (true, "CLIENT TRACKING ON OPTIN"),
        (false, "SET o1 v"),
        (false, "SET o2 v"),
        (true, "GET o1"),
        (true, "CLIENT CACHING yes"),
        (true, "GET o2"),
        (false, "SET o1 w"),
        (false, "SET o2 w"),
        (true, "CLIENT CACHING no"),
        (true, "CLIENT TRACKING ON OPTIN OPTOUT"),
        (true, "CLIENT TRACKING OFF"),
        (true, "CLIENT TRACKING ON OPTOUT"),
        (true, "CLIENT CACHING no"),
        (true, "GET o1"),
        (true, "GET o2"),
        (false, "SET o1 x"),
        (false, "SET o2 x"),
        (true, "CLIENT CACHING yes"),
    ];
    for (on_tracker, line) in steps {
        let target = if *on_tracker { &mut tracker } else { &mut writer };
        target.write_all(format!("{line}\r\n").as_bytes()).expect("write");
        let reply = read(target);
        // What the tracking connection saw: its own reply and pushes, or the pushes a write
        // by the other connection caused. HELLO's reply names the server: not compared.
        let seen = if *on_tracker { reply } else { read(&mut tracker) };
        let seen = if line.starts_with("HELLO") { "(hello)".to_owned() } else { seen.replace("\r\n", " ") };
        transcript.push(format!("{line} -> {seen}"));
    }
    transcript
}

#[test]
fn client_tracking_invalidates_as_real_redis_does() {
    let Some(real) = RedisServer::start(&[]) else { return };
    let model = ModelServer::start(model::Persistence::None);
    let (real_lines, model_lines) = (tracking_transcript(&real.addr()), tracking_transcript(&model.addr()));
    assert!(real_lines.iter().any(|l| l.contains("invalidate")), "the transcript exercises invalidation");
    assert_eq!(real_lines, model_lines);
}
