//! The Redis model held to a real redis-server: pinned cases for each subtle rule, and
//! generated command sequences (strings, TTLs, counters, hashes, scripts — the election's
//! and adversarial ones — and pub/sub sessions) whose replies must agree exactly.
//!
//! Pinned cases also run against the model alone when redis-server is missing, since each
//! carries the reply real Redis gives.

use std::cell::{Cell, RefCell};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use redis::Value;
use splitbrain_tests::differential::{agree, args, canonical, run, wire};
use splitbrain_tests::{ModelServer, RedisServer};

fn err(line: &str) -> String {
    format!("-{line}")
}

/// Each case: commands run on a fresh keyspace, with the reply real Redis 7 gives.
fn pinned_cases() -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let ok = || "ok".to_owned();
    let int = |i: i64| format!("int({i})");
    let bulk = |s: &str| format!("bulk-string('{s:?}')");
    let nil = || "nil".to_owned();
    vec![
        ("SET NX GET returns the old value and does not set", vec![
            ("SET k old", ok()),
            ("SET k new NX GET", bulk("old")),
            ("GET k", bulk("old")),
            ("SET fresh v NX GET", nil()),
            ("GET fresh", bulk("v")),
        ]),
        ("KEEPTTL keeps the TTL; a plain SET clears it", vec![
            ("SET k v PX 100000", ok()),
            ("SET k w KEEPTTL", ok()),
            ("EXPIRE k 100000 NX", int(0)),
            ("SET k x", ok()),
            ("PTTL k", int(-1)),
            ("SET k v KEEPTTL PX 10", err("ERR syntax error")),
        ]),
        ("PEXPIRE GT on a key without TTL fails; LT succeeds", vec![
            ("SET k v", ok()),
            ("PEXPIRE k 100000 GT", int(0)),
            ("PTTL k", int(-1)),
            ("PEXPIRE k 100000 LT", int(1)),
            ("PEXPIRE k 200000 GT", int(1)),
            ("PEXPIRE k 100 NX", int(0)),
            ("PEXPIRE k 100 GT LT", err("ERR GT and LT options at the same time are not compatible")),
            ("PEXPIRE k 100 NX XX", err("ERR NX and XX, GT or LT options at the same time are not compatible")),
        ]),
        ("a zero or negative expiry deletes the key; PTTL of a missing key is -2", vec![
            ("SET k v", ok()),
            ("PEXPIRE k 0", int(1)),
            ("PTTL k", int(-2)),
            ("SET k v", ok()),
            ("EXPIRE k -1", int(1)),
            ("EXISTS k", int(0)),
            ("SET k v EXAT 1", ok()),
            ("GET k", nil()),
            ("TTL nokey", int(-2)),
            ("SET k v EX 0", err("ERR invalid expire time in 'set' command")),
        ]),
        ("INCR keeps the TTL and refuses non-integers", vec![
            ("SET n 41 PX 100000", ok()),
            ("INCR n", int(42)),
            ("EXPIRE n 100000 NX", int(0)),
            ("SET s abc", ok()),
            ("INCR s", err("ERR value is not an integer or out of range")),
            ("SET s 01", ok()),
            ("INCR s", err("ERR value is not an integer or out of range")),
            ("SET m 9223372036854775807", ok()),
            ("INCR m", err("ERR increment or decrement would overflow")),
            ("HSET h f v", int(1)),
            ("INCR h", err("WRONGTYPE Operation against a key holding the wrong kind of value")),
        ]),
        ("EVAL converts values as Redis does", vec![
            ("EVAL \"return {1, 2, nil, 3}\" 0", "array([int(1), int(2)])".into()),
            ("EVAL \"return 3.99\" 0", int(3)),
            ("EVAL \"return -3.99\" 0", int(-3)),
            ("EVAL \"return true\" 0", int(1)),
            ("EVAL \"return false\" 0", nil()),
            ("EVAL \"return redis.call('GET', 'missing') == false\" 0", int(1)),
            ("EVAL \"return redis.status_reply('FINE')\" 0", "simple-string(\"FINE\")".into()),
            ("EVAL \"return redis.error_reply('x')\" 0", err("ERR x")),
            ("HSET h f v", int(1)),
            ("EVAL \"return redis.pcall('INCR', KEYS[1])\" 1 h", err("WRONGTYPE Operation against a key holding the wrong kind of value")),
            ("SET s abc", ok()),
            ("EVAL \"return redis.call('INCR', KEYS[1])\" 1 s", err("ERR value is not an integer or out of range script: 61636018f4e6b5817b89791bbed242f93fa089e3, on @user_script:1.")),
            ("EVAL \"error('oops')\" 0", err("ERR user_script:1: oops script: ecbfd853fb31b2d3e1c05e7dc59c79ae5f9ae363, on @user_script:1.")),
            ("EVAL \"return x(\" 0", err("ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'")),
            ("EVALSHA 0000000000000000000000000000000000000000 0", err("NOSCRIPT No matching script. Please use EVAL.")),
            ("EVAL \"return 1\" 2 a", err("ERR Number of keys can't be greater than number of args")),
        ]),
        ("UNSUBSCRIBE with nothing subscribed answers a nil channel and 0", vec![
            ("UNSUBSCRIBE", "array([bulk-string('\"unsubscribe\"'), nil, int(0)])".into()),
            ("PUNSUBSCRIBE", "array([bulk-string('\"punsubscribe\"'), nil, int(0)])".into()),
            ("PUBLISH c m", int(0)),
        ]),
        ("unknown commands and wrong arities are worded as Redis words them", vec![
            ("FOO a b", err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")),
            ("GET", err("ERR wrong number of arguments for 'get' command")),
            ("HSET h f", err("ERR wrong number of arguments for 'hset' command")),
            ("CLIENT FOO", err("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")),
            ("SCRIPT FLUSH BOGUS", err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")),
        ]),
    ]
}

fn fresh(conn: &mut redis::Connection) {
    let _: () = redis::cmd("FLUSHALL").query(conn).unwrap();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(conn).unwrap();
}

#[test]
fn pinned_rules_hold_on_the_model_and_on_real_redis() {
    let model = ModelServer::start(model::Persistence::None);
    let real = RedisServer::start(&[]);
    let mut targets = vec![("model", model.client())];
    if let Some(real) = &real {
        targets.push(("real redis", real.client()));
    }
    for (name, mut conn) in targets {
        for (rule, steps) in pinned_cases() {
            fresh(&mut conn);
            for (command, expected) in steps {
                let got = wire(run(&mut conn, &args(command)));
                assert_eq!(got, expected, "{name}: {rule}: {command}");
            }
        }
    }
}

#[test]
fn subscribed_mode_refuses_other_commands_on_both() {
    let model = ModelServer::start(model::Persistence::None);
    let Some(real) = RedisServer::start(&[]) else { return };
    let mut frames = Vec::new();
    for mut conn in [real.client(), model.client()] {
        let mut seen = Vec::new();
        for command in [
            "SUBSCRIBE a b",
            "GET k",
            "PING",
            "PING hi",
            "UNSUBSCRIBE a",
            "PSUBSCRIBE p*",
            "UNSUBSCRIBE",
            "PUNSUBSCRIBE",
            "GET k",
        ] {
            let mut c = redis::cmd(&args(command)[0]);
            args(command)[1..].iter().for_each(|a| {
                c.arg(a);
            });
            conn.send_packed_command(&c.get_packed_command()).unwrap();
            let replies = match command {
                "SUBSCRIBE a b" => 2,
                _ => 1,
            };
            for _ in 0..replies {
                seen.push(canonical(conn.recv_response()));
            }
        }
        frames.push(seen);
    }
    assert_eq!(frames[0], frames[1], "real redis, then the model");
    assert!(
        frames[1][2].contains("only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed"),
        "{:?}",
        frames[1]
    );
}

// ---- generated sequences ----

const KEYS: &[&str] = &["k0", "k1", "k2", "h"];
const VALUES: &[&str] = &["v", "1", "-7", "abc", "9223372036854775807", "", "01"];
const NUMBERS: &[&str] = &["-1", "0", "1", "100000", "250000", "9223372036854775807", "abc", "1.5"];
/// Script arguments: the election scripts take TTLs from ARGV, so no small positive numbers.
const SCRIPT_ARGS: &[&str] = &["v", "100000", "-7", "abc", "9223372036854775807", "", "01", "k2"];
/// Expiry arguments: none small and positive, which would expire between the two servers'
/// readings (expiry as it happens is tested against the model's clock in model_faults.rs).
const TTLS: &[&str] = &["-1", "0", "100000", "250000", "9223372036854775807", "abc", "1.5"];

/// Scripts the generator draws from: the election's own and adversarial ones.
fn scripts() -> Vec<String> {
    let mut all: Vec<String> = [election::ACQUIRE, election::RENEW, election::RELEASE, election::FENCED_WRITE]
        .iter()
        .map(|s| s.to_string())
        .collect();
    all.extend(
        [
            "return redis.call('GET', KEYS[1])",
            "return redis.call('INCR', KEYS[1])",
            "return redis.pcall('INCR', KEYS[1])",
            "return {ARGV[1], nil, ARGV[2]}",
            "return {1, {2, {3, ARGV[1]}}, redis.status_reply('OK')}",
            "return tonumber(ARGV[1])",
            "return redis.call('GET', KEYS[1]) == false",
            "return redis.error_reply(ARGV[1])",
            "return redis.status_reply(ARGV[1])",
            "return {err = ARGV[1]}",
            "error(ARGV[1])",
            "return 3.7",
            "return false",
            "return redis.call('HGETALL', KEYS[1])",
            "return redis.call('SET', KEYS[1], ARGV[1], 'PX', 100000)",
            "return redis.call('PEXPIRE', KEYS[1], ARGV[1])",
            "return redis.call('EXISTS', unpack(KEYS))",
            "local t = redis.pcall('HGET', KEYS[1], 'f'); return type(t)",
            "return redis.call('nosuch')",
            "return redis.call('SET', KEYS[1])",
            "return math.random(1000)",
            "return undefined_global",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    all
}

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(items).prop_map(str::to_owned)
}

fn words(items: &'static [&'static str], most: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(pick(items), 0..=most)
}

fn command() -> impl Strategy<Value = Vec<String>> {
    let key = || pick(KEYS);
    let value = || pick(VALUES);
    let number = || pick(NUMBERS);
    let set_options: &'static [&'static str] =
        &["NX", "XX", "GET", "KEEPTTL", "EX 100", "PX 100000", "EXAT 1", "PXAT 99999999999999", "EX 0", "PX abc", "EX"];
    let script_count = scripts().len();
    prop_oneof![
        key().prop_map(|k| vec!["GET".into(), k]),
        (key(), value(), words(set_options, 2)).prop_map(|(k, v, opts)| {
            let mut c = vec!["SET".to_string(), k, v];
            c.extend(opts.iter().flat_map(|o| o.split(' ').map(str::to_owned)));
            c
        }),
        (prop::sample::select(&["DEL", "EXISTS"][..]), prop::collection::vec(key(), 1..=3)).prop_map(|(c, ks)| {
            let mut c = vec![c.to_string()];
            c.extend(ks);
            c
        }),
        (prop::sample::select(&["INCR", "DECR", "TTL", "PTTL", "PERSIST", "HGETALL"][..]), key())
            .prop_map(|(c, k)| vec![c.into(), k]),
        (key(), number()).prop_map(|(k, n)| vec!["INCRBY".into(), k, n]),
        (
            prop::sample::select(&["EXPIRE", "PEXPIRE"][..]),
            key(),
            pick(TTLS),
            words(&["NX", "XX", "GT", "LT", "FOO"], 2)
        )
            .prop_map(|(c, k, n, flags)| {
                let mut c = vec![c.to_string(), k, n];
                c.extend(flags);
                c
            }),
        pick(&["*", "k*", "k[01]", "?", "h*", "\\k*"]).prop_map(|p| vec!["KEYS".into(), p]),
        (key(), prop::collection::vec((pick(&["f", "g"]), value()), 1..=2), any::<bool>()).prop_map(
            |(k, pairs, odd)| {
                let mut c = vec!["HSET".to_string(), k];
                c.extend(pairs.into_iter().flat_map(|(f, v)| [f, v]));
                if odd {
                    c.pop();
                }
                c
            }
        ),
        (key(), pick(&["f", "g"])).prop_map(|(k, f)| vec!["HGET".into(), k, f]),
        (key(), prop::collection::vec(pick(&["f", "g", "x"]), 1..=2)).prop_map(|(k, fs)| {
            let mut c = vec!["HDEL".to_string(), k];
            c.extend(fs);
            c
        }),
        (0..script_count, 0usize..=3, words(KEYS, 3), words(SCRIPT_ARGS, 3), any::<bool>()).prop_map(
            |(i, numkeys, keys, argv, by_sha)| {
                let body = scripts()[i].clone();
                let numkeys = numkeys.min(keys.len() + argv.len());
                let mut c = if by_sha {
                    vec!["EVALSHA".to_string(), model::sha1_hex(body.as_bytes())]
                } else {
                    vec!["EVAL".to_string(), body]
                };
                c.push(numkeys.to_string());
                c.extend(keys);
                c.extend(argv);
                c
            }
        ),
        (0..script_count).prop_map(|i| vec!["SCRIPT".into(), "LOAD".into(), scripts()[i].clone()]),
        (0..script_count).prop_map(|i| vec![
            "SCRIPT".into(),
            "EXISTS".into(),
            model::sha1_hex(scripts()[i].as_bytes())
        ]),
        Just(vec!["SCRIPT".into(), "FLUSH".into()]),
        words(&["hello", "a b"], 2).prop_map(|ws| {
            let mut c = vec!["PING".to_string()];
            c.extend(ws);
            c
        }),
        value().prop_map(|v| vec!["ECHO".into(), v]),
        Just(vec!["SELECT".into(), "0".into()]),
        (pick(&["chan", "other"]), value()).prop_map(|(ch, v)| vec!["PUBLISH".into(), ch, v]),
        words(VALUES, 2).prop_map(|ws| {
            let mut c = vec!["NOSUCHCMD".to_string()];
            c.extend(ws);
            c
        }),
        Just(vec!["GET".into()]),
    ]
}

/// `default`, or more when `SPLITBRAIN_DIFF_CASES` asks for more (a longer campaign).
fn cases(default: u32) -> u32 {
    std::env::var("SPLITBRAIN_DIFF_CASES").ok().and_then(|v| v.parse().ok()).map_or(default, |n: u32| n.max(default))
}

/// Runs `cases` generated sequences on both servers over connections from `connect`.
fn run_sequences(cases: u32, connect: impl Fn(&str) -> redis::Connection) -> usize {
    let model = ModelServer::start(model::Persistence::None);
    let Some(real) = RedisServer::start(&[]) else { return 0 };
    // The runner takes a `Fn`: the connections live in cells.
    let real_conn = RefCell::new(connect(&real.url()));
    let model_conn = RefCell::new(connect(&model.url()));
    let commands = Cell::new(0);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let result = runner.run(&prop::collection::vec(command(), 1..40), |sequence| {
        let (mut real_conn, mut model_conn) = (real_conn.borrow_mut(), model_conn.borrow_mut());
        fresh(&mut real_conn);
        fresh(&mut model_conn);
        for args in &sequence {
            commands.set(commands.get() + 1);
            let (real_reply, model_reply) = (run(&mut real_conn, args), run(&mut model_conn, args));
            agree(args, real_reply, model_reply).map_err(TestCaseError::fail)?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("the model and real redis disagree: {e}");
    }
    commands.get()
}

#[test]
fn generated_sequences_get_identical_replies_over_resp2() {
    let commands = run_sequences(cases(150), |url| redis::Client::open(url).unwrap().get_connection().unwrap());
    eprintln!("compared {commands} generated commands over RESP2");
}

#[test]
fn generated_sequences_get_identical_replies_over_resp3() {
    let commands = run_sequences(cases(60), |url| {
        redis::Client::open(format!("{url}?protocol=resp3")).unwrap().get_connection().unwrap()
    });
    eprintln!("compared {commands} generated commands over RESP3");
}

// ---- pub/sub sessions ----

#[derive(Debug, Clone)]
enum PubSubOp {
    Subscribe(usize, Vec<String>),
    Unsubscribe(usize, Vec<String>),
    PSubscribe(usize, Vec<String>),
    PUnsubscribe(usize, Vec<String>),
    Publish(String, String),
    Disconnect(usize),
}

fn pubsub_op() -> impl Strategy<Value = PubSubOp> {
    let subscriber = || 0usize..2;
    let channels = || words(&["a", "b", "news.1"], 2);
    prop_oneof![
        (subscriber(), prop::collection::vec(pick(&["a", "b", "news.1"]), 1..=2))
            .prop_map(|(s, c)| PubSubOp::Subscribe(s, c)),
        (subscriber(), channels()).prop_map(|(s, c)| PubSubOp::Unsubscribe(s, c)),
        (subscriber(), prop::collection::vec(pick(&["news.*", "?", "[ab]"]), 1..=2))
            .prop_map(|(s, p)| PubSubOp::PSubscribe(s, p)),
        (subscriber(), words(&["news.*", "?"], 1)).prop_map(|(s, p)| PubSubOp::PUnsubscribe(s, p)),
        (pick(&["a", "b", "news.1", "c"]), pick(&["m1", "m2"])).prop_map(|(c, m)| PubSubOp::Publish(c, m)),
        subscriber().prop_map(PubSubOp::Disconnect),
    ]
}

/// One server's side of a session: two subscriber connections and a publisher.
struct Session {
    url: String,
    subscribers: Vec<redis::Connection>,
    publisher: redis::Connection,
}

impl Session {
    fn new(url: String) -> Session {
        let connect = |u: &str| redis::Client::open(u).unwrap().get_connection().unwrap();
        Session { subscribers: vec![connect(&url), connect(&url)], publisher: connect(&url), url }
    }

    /// Applies `op` and returns everything each connection received because of it.
    fn apply(&mut self, op: &PubSubOp) -> Vec<String> {
        let mut seen = Vec::new();
        let send = |conn: &mut redis::Connection, verb: &str, names: &[String]| {
            let mut cmd = redis::cmd(verb);
            names.iter().for_each(|n| {
                cmd.arg(n);
            });
            conn.send_packed_command(&cmd.get_packed_command()).unwrap();
        };
        match op {
            PubSubOp::Subscribe(s, names) => send(&mut self.subscribers[*s], "SUBSCRIBE", names),
            PubSubOp::Unsubscribe(s, names) => send(&mut self.subscribers[*s], "UNSUBSCRIBE", names),
            PubSubOp::PSubscribe(s, names) => send(&mut self.subscribers[*s], "PSUBSCRIBE", names),
            PubSubOp::PUnsubscribe(s, names) => send(&mut self.subscribers[*s], "PUNSUBSCRIBE", names),
            PubSubOp::Publish(channel, message) => {
                let receivers = redis::cmd("PUBLISH").arg(channel).arg(message).query::<Value>(&mut self.publisher);
                seen.push(format!("publish -> {}", canonical(receivers)));
            }
            PubSubOp::Disconnect(s) => {
                self.subscribers[*s] = redis::Client::open(self.url.as_str()).unwrap().get_connection().unwrap();
                // The server notices the closed connection on its own time; PUBLISH counts
                // receivers, so let it.
                std::thread::sleep(std::time::Duration::from_millis(30));
            }
        }
        for (i, conn) in self.subscribers.iter_mut().enumerate() {
            // PING is a barrier: everything sent to this connection before it arrives first.
            send(conn, "PING", &[]);
            loop {
                let frame = canonical(conn.recv_response());
                if frame == "simple-string(\"PONG\")" || frame.starts_with("array([bulk-string('\"pong\"')") {
                    break;
                }
                seen.push(format!("subscriber {i}: {frame}"));
            }
        }
        seen
    }
}

fn sorted(mut frames: Vec<String>) -> Vec<String> {
    frames.sort();
    frames
}

/// UNSUBSCRIBE without arguments confirms in the order of Redis's dict, whose hash is seeded
/// at random per process: compare the names as a set and the counts as a multiset.
fn order_free(frames: Vec<String>) -> Vec<String> {
    let (mut names, mut counts): (Vec<String>, Vec<String>) = frames
        .iter()
        .map(|f| match f.rsplit_once(", int(") {
            Some((name, count)) => (name.to_owned(), count.to_owned()),
            None => (f.clone(), String::new()),
        })
        .unzip();
    names.sort();
    counts.sort();
    names.into_iter().zip(counts).map(|(n, c)| format!("{n} / {c}")).collect()
}

#[test]
fn pubsub_sessions_deliver_identical_frames() {
    let model = ModelServer::start(model::Persistence::None);
    let Some(real) = RedisServer::start(&[]) else { return };
    let mut runner = TestRunner::new(Config { cases: cases(40), failure_persistence: None, ..Config::default() });
    let result = runner.run(&prop::collection::vec(pubsub_op(), 1..25), |ops| {
        let (mut on_real, mut on_model) = (Session::new(real.url()), Session::new(model.url()));
        for op in &ops {
            let (r, m) = (on_real.apply(op), on_model.apply(op));
            let (r, m) = match op {
                PubSubOp::Unsubscribe(_, names) | PubSubOp::PUnsubscribe(_, names) if names.is_empty() => {
                    (order_free(r), order_free(m))
                }
                // Pattern deliveries follow Redis's pattern dict (hash order).
                PubSubOp::Publish(..) => (sorted(r), sorted(m)),
                _ => (r, m),
            };
            prop_assert_eq!(r, m, "after {:?}", op);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("pub/sub differs between the model and real redis: {e}");
    }
}
