//! Fuzzing the model's request framing and dispatch: arbitrary bytes, and arbitrary command
//! vectors over the whole command table with hostile arguments. The server must answer or
//! close that one connection, never panic, and keep serving other connections.
//!
//! `SPLITBRAIN_FUZZ_CASES=N` runs N cases per property (default 64); the nightly workflow
//! and the closing note's 10-minute run use a large N.

use std::cell::Cell;
use std::sync::{Arc, Once};
use std::time::Duration;

use bytes::BytesMut;
use model::{Server, ServerClock, ServerConfig};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

thread_local! {
    /// Panics on this thread: each case runs its server on a current-thread runtime, so its
    /// panics are counted here and not in the other properties' threads.
    static PANICS: Cell<usize> = const { Cell::new(0) };
}
static HOOK: Once = Once::new();

/// Counts panics (connection tasks are spawned, so a panic would not fail the test by
/// itself), then lets the default hook print it.
fn count_panics() {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            default(info);
        }));
    });
}

/// A clock that stands still, with real (tokio) sleeps: fuzz cases must not depend on time.
struct FixedClock;

impl ServerClock for FixedClock {
    fn now_ms(&self) -> i64 {
        1_700_000_000_000
    }
    fn sleep(&self, duration: Duration) -> model::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration.min(Duration::from_millis(5))))
    }
}

fn cases() -> u32 {
    std::env::var("SPLITBRAIN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

fn connect(server: &Server) -> DuplexStream {
    let (client, served) = tokio::io::duplex(1 << 16);
    tokio::spawn(server.clone().serve_connection(served));
    client
}

/// Writes `input`, then reads whatever comes back until the connection is quiet or closed.
async fn exchange(stream: &mut DuplexStream, input: &[u8]) {
    let _ = stream.write_all(input).await;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match tokio::time::timeout(Duration::from_millis(20), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(_)) => {}
        }
    }
}

/// Another connection still gets PONG.
async fn still_serving(server: &Server) -> bool {
    let mut probe = connect(server);
    probe.write_all(b"*1\r\n$4\r\nPING\r\n").await.expect("write to the probe");
    let mut buf = BytesMut::with_capacity(64);
    match tokio::time::timeout(Duration::from_secs(5), probe.read_buf(&mut buf)).await {
        Ok(Ok(_)) => buf.starts_with(b"+PONG") || buf.starts_with(b"-BUSY"),
        _ => false,
    }
}

fn run_case(inputs: Vec<Vec<u8>>) -> Result<(), TestCaseError> {
    count_panics();
    let before = PANICS.with(Cell::get);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
    runtime.block_on(async {
        let server = Server::new(ServerConfig::default(), Arc::new(FixedClock));
        let mut stream = connect(&server);
        for input in &inputs {
            exchange(&mut stream, input).await;
        }
        drop(stream);
        prop_assert!(still_serving(&server).await, "the server stopped serving after {:?}", inputs);
        prop_assert_eq!(PANICS.with(Cell::get) - before, 0, "a panic while serving {:?}", inputs);
        Ok(())
    })
}

fn resp(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Command names: the model's whole table, as COMMAND LIST reports it, and some it lacks.
fn command_names() -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
    runtime.block_on(async {
        let server = Server::new(ServerConfig::default(), Arc::new(FixedClock));
        let mut stream = connect(&server);
        stream.write_all(b"*2\r\n$7\r\nCOMMAND\r\n$4\r\nLIST\r\n").await.expect("write");
        let mut buf = BytesMut::new();
        while redis_protocol::resp2::decode::decode_bytes_mut(&mut buf.clone()).ok().flatten().is_none() {
            stream.read_buf(&mut buf).await.expect("read");
        }
        let (frame, _, _) =
            redis_protocol::resp2::decode::decode_bytes_mut(&mut buf).expect("a frame").expect("complete");
        let redis_protocol::resp2::types::BytesFrame::Array(items) = frame else { panic!("COMMAND LIST is an array") };
        let mut names: Vec<String> = items
            .into_iter()
            .filter_map(|f| match f {
                redis_protocol::resp2::types::BytesFrame::BulkString(b) => {
                    Some(String::from_utf8_lossy(&b).into_owned())
                }
                _ => None,
            })
            .collect();
        names.extend(["geoadd", "xadd", "acl", ""].map(String::from));
        assert!(names.len() > 100, "the table has the model's commands");
        names
    })
}

/// Arguments a careless or hostile client sends: keys, numbers at the edges, option words,
/// scripts (that end), and raw bytes.
fn argument() -> impl Strategy<Value = Vec<u8>> {
    let words = [
        "k",
        "k2",
        "h",
        "l",
        "s",
        "z",
        "0",
        "1",
        "-1",
        "2",
        "3",
        "10",
        "100",
        "-100",
        "1.5",
        "-inf",
        "+inf",
        "nan",
        "0x10",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "99999999999999999999",
        "1e400",
        "",
        " ",
        "ex",
        "px",
        "exat",
        "pxat",
        "nx",
        "xx",
        "gt",
        "lt",
        "get",
        "keepttl",
        "persist",
        "limit",
        "by",
        "get",
        "store",
        "alpha",
        "desc",
        "withscores",
        "rev",
        "byscore",
        "match",
        "count",
        "type",
        "replace",
        "db",
        "idx",
        "len",
        "minmatchlen",
        "withmatchlen",
        "left",
        "right",
        "incr",
        "ch",
        "*",
        "#",
        "k->f",
        "__keyspace@0__:*",
        "load",
        "flush",
        "exists",
        "kill",
        "list",
        "delete",
        "withcode",
        "libraryname",
        "set",
        "get",
        "usage",
        "encoding",
        "refcount",
        "protocol",
        "map",
        "attrib",
        "push",
        "set-active-expire",
        "object",
        "reload",
        "reply",
        "on",
        "off",
        "skip",
        "setname",
        "id",
        "getname",
        "info",
        "numsub",
        "numpat",
        "channels",
        "resetstat",
        "notify-keyspace-events",
        "KEA",
        "maxmemory",
        "maxmemory-policy",
        "allkeys-random",
        "lua-time-limit",
        "no",
        "one",
        "localhost",
        "all",
        "return 1",
        "return redis.call('get', KEYS[1])",
        "return redis.pcall('incr', KEYS[1])",
        "error('x')",
        "return {1, {2, {3}}, 'a', false, true}",
        "return cjson.encode({1, 2, {a = 3}})",
        "return cmsgpack.unpack(ARGV[1])",
        "redis.setresp(3) return redis.call('debug', 'protocol', 'map')",
        "return redis.error_reply('E x')",
        "#!lua flags=no-writes\nreturn 1",
        "#!lua name=lib\nredis.register_function('f', function(k, a) return 1 end)",
        "local t = {} t[1] = t return t",
        "return bit.tohex(-1, -4)",
        "return struct",
        "x = 1",
    ];
    prop_oneof![
        4 => proptest::sample::select(words.to_vec()).prop_map(|w| w.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..24),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary bytes, in a few writes: framing errors close the connection, nothing else.
    #[test]
    fn arbitrary_bytes_never_stop_the_server(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..6)) {
        run_case(chunks)?;
    }

    /// Malformed RESP pieces: huge or negative lengths, missing CRLFs, wrong types, inline
    /// requests with unbalanced quotes.
    #[test]
    fn malformed_resp_never_stops_the_server(pieces in proptest::collection::vec(proptest::sample::select(vec![
        "*1\r\n$4\r\nPING\r\n", "*99999999999\r\n", "*2000000\r\n", "*-1\r\n", "*1\r\n$-5\r\n", "*1\r\n$99999999999999999999\r\n",
        "*1\r\n:5\r\n", "*1\r\n*1\r\n$1\r\na\r\n", "$3\r\nabc\r\n", "*2\r\n$3\r\nGET\r\n", "\r\n", "PING \"unbalanced\r\n",
        "SET k 'v'x\r\n", "EVAL \"return 1\" 0\r\n", "*0\r\n", "+OK\r\n", "-ERR\r\n", "*1\r\n$3\r\nabcdef\r\n",
    ]), 1..8)) {
        run_case(vec![pieces.concat().into_bytes()])?;
    }
}

#[test]
fn arbitrary_commands_never_stop_the_server() {
    let names = command_names();
    let config = ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() };
    let strategy = proptest::collection::vec(
        (proptest::sample::select(names), proptest::collection::vec(argument(), 0..7)),
        1..12,
    );
    proptest::test_runner::TestRunner::new(config)
        .run(&strategy, |commands| {
            let inputs = commands
                .into_iter()
                .map(|(name, args)| {
                    let mut all = vec![name.into_bytes()];
                    all.extend(args);
                    resp(&all)
                })
                .collect();
            run_case(inputs)
        })
        .expect("no input stops the server");
}
