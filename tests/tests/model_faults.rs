//! Each fault of the Redis model does what it says: restarts under every persistence mode,
//! dropped connections, slow commands, server clock jumps, at-most-once pub/sub. Time-based
//! rules are driven by jumping the server's clock, not by waiting.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use model::Persistence;
use redis::{Commands, Value};
use splitbrain_tests::ModelServer;

fn get(conn: &mut redis::Connection, key: &str) -> Option<String> {
    conn.get(key).unwrap()
}

fn set(conn: &mut redis::Connection, key: &str) {
    let _: () = conn.set(key, "v").unwrap();
}

#[test]
fn restart_without_persistence_empties_the_keyspace_and_forgets_scripts() {
    let model = ModelServer::start(Persistence::None);
    let mut conn = model.client();
    set(&mut conn, "a");
    let sha: String = redis::cmd("SCRIPT").arg("LOAD").arg("return 1").query(&mut conn).unwrap();
    model.server().restart();
    let mut conn = model.client();
    assert_eq!(get(&mut conn, "a"), None);
    let err = redis::cmd("EVALSHA").arg(&sha).arg(0).query::<Value>(&mut conn).unwrap_err();
    assert_eq!(err.code(), Some("NOSCRIPT"));
}

#[test]
fn restart_with_rdb_returns_to_the_last_snapshot() {
    let model = ModelServer::start(Persistence::Rdb { every: Duration::from_secs(5) });
    let mut conn = model.client();
    set(&mut conn, "before");
    model.clock().jump(5_000); // a snapshot boundary passes
    set(&mut conn, "after");
    model.server().restart();
    let mut conn = model.client();
    assert_eq!(get(&mut conn, "before").as_deref(), Some("v"));
    assert_eq!(get(&mut conn, "after"), None, "written after the last snapshot");
}

#[test]
fn restart_with_aof_everysec_loses_the_writes_since_the_last_fsync() {
    let model = ModelServer::start(Persistence::AofEverysec);
    let mut conn = model.client();
    set(&mut conn, "synced");
    model.clock().jump(1_000); // an fsync boundary passes
    set(&mut conn, "unsynced");
    model.server().restart();
    let mut conn = model.client();
    assert_eq!(get(&mut conn, "synced").as_deref(), Some("v"));
    assert_eq!(get(&mut conn, "unsynced"), None);
}

#[test]
fn restart_with_aof_always_keeps_everything_and_ttls_keep_counting() {
    let model = ModelServer::start(Persistence::AofAlways);
    let mut conn = model.client();
    let _: () = redis::cmd("SET").arg("lease").arg("v").arg("PX").arg(5_000).query(&mut conn).unwrap();
    let epoch: i64 = conn.incr("epoch", 1).unwrap();
    model.server().crash();
    model.clock().jump(6_000); // the server is down while the lease's time runs out
    model.server().start();
    let mut conn = model.client();
    assert_eq!(conn.get::<_, i64>("epoch").unwrap(), epoch, "the counter survived");
    assert_eq!(get(&mut conn, "lease"), None, "the TTL counted against absolute time");
}

#[test]
fn a_crashed_server_refuses_service_until_started() {
    let model = ModelServer::start(Persistence::None);
    let mut conn = model.client();
    model.server().crash();
    assert!(redis::cmd("PING").query::<String>(&mut conn).is_err(), "the old connection is closed");
    let mut raw = std::net::TcpStream::connect(model.addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let _ = raw.write_all(b"PING\r\n");
    let mut buf = [0u8; 16];
    assert_eq!(raw.read(&mut buf).unwrap_or(0), 0, "a new connection is closed at once");
    model.server().start();
    assert_eq!(redis::cmd("PING").query::<String>(&mut model.client()).unwrap(), "PONG");
}

#[test]
fn dropped_connections_close_but_the_keyspace_stays() {
    let model = ModelServer::start(Persistence::None);
    let mut conn = model.client();
    set(&mut conn, "k");
    model.server().drop_connections();
    assert!(redis::cmd("PING").query::<String>(&mut conn).is_err());
    assert_eq!(get(&mut model.client(), "k").as_deref(), Some("v"));
}

#[test]
fn slow_commands_wait_their_delay() {
    let model = ModelServer::start(Persistence::None);
    let mut conn = model.client();
    model.server().set_delay(Duration::from_millis(200));
    let started = Instant::now();
    let _: String = redis::cmd("PING").query(&mut conn).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200), "answered before its delay");
    model.server().set_delay(Duration::ZERO);
}

#[test]
fn server_clock_jumps_move_expiry() {
    let model = ModelServer::start(Persistence::None);
    let mut conn = model.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").arg("PX").arg(10_000).query(&mut conn).unwrap();
    let _: () = redis::cmd("SET").arg("j").arg("v").arg("PX").arg(10_000).query(&mut conn).unwrap();
    model.clock().jump(-5_000);
    let pttl: i64 = conn.pttl("j").unwrap();
    assert!((14_000..=15_000).contains(&pttl), "a backward jump lengthens the TTL: {pttl}");
    model.clock().jump(15_001);
    assert_eq!(get(&mut conn, "k"), None, "a forward jump expires the key");
    assert_eq!(conn.pttl::<_, i64>("j").unwrap(), -2);
}

#[test]
fn active_expiry_reclaims_keys_nobody_reads() {
    let model = ModelServer::start(Persistence::None);
    let mut conn = model.client();
    for i in 0..50 {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg("v").arg("PX").arg(60_000).query(&mut conn).unwrap();
    }
    model.clock().jump(60_001);
    let deadline = Instant::now() + Duration::from_secs(5);
    while redis::cmd("DBSIZE").query::<i64>(&mut conn).unwrap() > 0 {
        assert!(Instant::now() < deadline, "the active cycle never reclaimed the expired keys");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pubsub_is_at_most_once_across_a_disconnect() {
    let model = ModelServer::start(Persistence::None);
    let mut publisher = model.client();
    let mut subscriber = model.client();
    subscriber.send_packed_command(&redis::cmd("SUBSCRIBE").arg("inv").get_packed_command()).unwrap();
    let _ = subscriber.recv_response().unwrap();
    assert_eq!(publisher.publish::<_, _, i64>("inv", "v1").unwrap(), 1);
    model.server().drop_connections();
    let mut publisher = model.client();
    assert_eq!(publisher.publish::<_, _, i64>("inv", "v2").unwrap(), 0, "nobody is listening now");
    let mut subscriber = model.client();
    subscriber.send_packed_command(&redis::cmd("SUBSCRIBE").arg("inv").get_packed_command()).unwrap();
    let _ = subscriber.recv_response().unwrap();
    assert_eq!(publisher.publish::<_, _, i64>("inv", "v3").unwrap(), 1);
    let message = subscriber.recv_response().unwrap();
    assert!(format!("{message:?}").contains("v3"), "v2 was lost, v3 arrives: {message:?}");
}

#[test]
fn pipelined_and_inline_requests_are_answered_in_order() {
    let model = ModelServer::start(Persistence::None);
    let mut conn = model.client();
    let mut pipe = redis::pipe();
    for i in 0..100 {
        pipe.cmd("INCR").arg("n").cmd("ECHO").arg(i);
    }
    let replies: Vec<Value> = pipe.query(&mut conn).unwrap();
    assert_eq!(replies.len(), 200);
    assert_eq!(replies[198], Value::Int(100));
    let mut raw = std::net::TcpStream::connect(model.addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(b"PING\r\nECHO hi\r\n").unwrap();
    let mut buf = vec![0u8; 64];
    let mut got = Vec::new();
    while got.len() < b"+PONG\r\n$2\r\nhi\r\n".len() {
        let n = raw.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"+PONG\r\n$2\r\nhi\r\n");
}
