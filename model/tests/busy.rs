//! Busy scripts in simulated time: on a single-threaded runtime whose clock only moves when
//! tasks sleep (as the simulation's), a long script costs server time by its instruction
//! count; past `busy-reply-threshold` other clients get BUSY, SCRIPT KILL stops a script that
//! did not write, and the caller gets the kill error — all without wall-clock time passing.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use model::{Server, ServerClock, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Server time from tokio's clock, which is paused: it moves only when every task sleeps.
struct PausedClock(tokio::time::Instant);

impl ServerClock for PausedClock {
    fn now_ms(&self) -> i64 {
        1_700_000_000_000 + self.0.elapsed().as_millis() as i64
    }
    fn sleep(&self, duration: Duration) -> model::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

fn connect(server: &Server) -> DuplexStream {
    let (client, served) = tokio::io::duplex(1 << 16);
    tokio::spawn(server.clone().serve_connection(served));
    client
}

async fn command(stream: &mut DuplexStream, line: &str) -> String {
    stream.write_all(format!("{line}\r\n").as_bytes()).await.expect("write");
    reply(stream).await
}

/// One whole reply frame.
async fn reply(stream: &mut DuplexStream) -> String {
    let mut buf = BytesMut::new();
    while redis_protocol::resp2::decode::decode_bytes_mut(&mut buf.clone()).ok().flatten().is_none() {
        assert!(stream.read_buf(&mut buf).await.expect("read") > 0, "the connection closed");
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_long_script_makes_others_busy_in_server_time_and_can_be_killed() {
    let clock = Arc::new(PausedClock(tokio::time::Instant::now()));
    let server = Server::new(ServerConfig::default(), clock.clone());
    let (mut runner, mut other) = (connect(&server), connect(&server));
    assert_eq!(command(&mut other, "CONFIG SET busy-reply-threshold 100").await, "+OK\r\n");
    // About 30,000 kilo-instructions: 30 s of server time at 1 ms each.
    let script = "EVAL \"local n = 0 for i = 1, 10000000 do n = n + 1 end return n\" 0";
    runner.write_all(format!("{script}\r\n").as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = clock.now_ms();
    // Before the threshold a client waits; then it is told BUSY.
    let busy = command(&mut other, "PING").await;
    assert!(busy.starts_with("-BUSY Redis is busy running a script"), "{busy}");
    assert!(clock.now_ms() - started >= 40, "the PING waited for the threshold");
    assert_eq!(command(&mut other, "SCRIPT KILL").await, "+OK\r\n");
    let killed = reply(&mut runner).await;
    assert!(killed.contains("killed by user"), "{killed}");
    assert_eq!(command(&mut other, "PING").await, "+PONG\r\n");
    assert!(clock.now_ms() - started < 30_000, "killed long before the script's cost ran out");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_writing_script_is_unkillable_and_holds_the_server_for_its_cost() {
    let clock = Arc::new(PausedClock(tokio::time::Instant::now()));
    let server = Server::new(ServerConfig::default(), clock.clone());
    let (mut runner, mut other) = (connect(&server), connect(&server));
    assert_eq!(command(&mut other, "CONFIG SET busy-reply-threshold 100").await, "+OK\r\n");
    let script = "EVAL \"redis.call('set', 'k', 'v') local n = 0 for i = 1, 1000000 do n = n + 1 end return n\" 0";
    let started = clock.now_ms();
    runner.write_all(format!("{script}\r\n").as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(command(&mut other, "GET k").await.starts_with("-BUSY"));
    assert!(command(&mut other, "SCRIPT KILL").await.starts_with("-UNKILLABLE"));
    assert_eq!(reply(&mut runner).await, ":1000000\r\n");
    let cost = clock.now_ms() - started;
    assert!((1_000..10_000).contains(&cost), "the script held the server for its cost: {cost} ms");
    assert_eq!(command(&mut other, "GET k").await, "$1\r\nv\r\n");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_script_that_never_ends_is_stopped_at_the_limit() {
    let clock = Arc::new(PausedClock(tokio::time::Instant::now()));
    let server = Server::new(ServerConfig::default(), clock.clone());
    let mut runner = connect(&server);
    let reply = command(&mut runner, "EVAL \"while true do end\" 0").await;
    assert!(reply.contains("limit of 60000 ms of server time"), "{reply}");
    assert_eq!(command(&mut runner, "PING").await, "+PONG\r\n");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_crash_ends_a_held_script_without_a_reply() {
    let clock = Arc::new(PausedClock(tokio::time::Instant::now()));
    let server = Server::new(ServerConfig::default(), clock.clone());
    let mut runner = connect(&server);
    let script = "EVAL \"local n = 0 for i = 1, 10000000 do n = n + 1 end return n\" 0";
    runner.write_all(format!("{script}\r\n").as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart();
    let mut buf = BytesMut::new();
    let read = runner.read_buf(&mut buf).await.expect("read");
    assert_eq!(read, 0, "the connection closes without the script's reply: {buf:?}");
    let mut again = connect(&server);
    assert_eq!(command(&mut again, "PING").await, "+PONG\r\n", "nothing holds the restarted server");
}
