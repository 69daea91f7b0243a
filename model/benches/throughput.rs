//! The model's throughput through the real redis-rs client over in-memory streams (no
//! sockets: the way the simulation drives it), on one thread. Prints one JSON object.
//!
//! `cargo bench -p splitbrain-model`

use std::sync::Arc;
use std::time::{Duration, Instant};

use model::{Server, ServerConfig, SystemClock};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisConnectionInfo, Value};

const MEASURE_FOR: Duration = Duration::from_secs(2);

async fn connect(server: &Server) -> MultiplexedConnection {
    let (client, served) = tokio::io::duplex(64 * 1024);
    tokio::spawn(server.clone().serve_connection(served));
    let config = AsyncConnectionConfig::new().set_response_timeout(None);
    let (conn, driver) =
        MultiplexedConnection::new_with_config(&RedisConnectionInfo::default(), client, config).await.unwrap();
    tokio::spawn(driver);
    conn
}

/// Runs `batch` repeatedly for `MEASURE_FOR`; returns commands per second, where one call
/// of `batch` sends `per_batch` commands.
async fn rate<F, Fut>(per_batch: u64, mut batch: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    let mut commands = 0u64;
    while started.elapsed() < MEASURE_FOR {
        batch().await;
        commands += per_batch;
    }
    commands as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let server = Server::new(ServerConfig::default(), Arc::new(SystemClock));
    let mut conn = connect(&server).await;

    let round_trips = rate(2, || {
        let mut c = conn.clone();
        async move {
            let _: () = redis::cmd("SET").arg("k").arg("v").query_async(&mut c).await.unwrap();
            let _: Value = redis::cmd("GET").arg("k").query_async(&mut c).await.unwrap();
        }
    })
    .await;

    let pipelined = rate(64, || {
        let mut c = conn.clone();
        async move {
            let mut pipe = redis::pipe();
            for i in 0..32 {
                pipe.cmd("SET").arg("k").arg(i).ignore().cmd("INCR").arg("n").ignore();
            }
            let _: () = pipe.query_async(&mut c).await.unwrap();
        }
    })
    .await;

    // The election's hot path: the renew script, by EVALSHA.
    let renew =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
    let sha: String = redis::cmd("SCRIPT").arg("LOAD").arg(renew).query_async(&mut conn).await.unwrap();
    let _: () = redis::cmd("SET").arg("lease").arg("me").query_async(&mut conn).await.unwrap();
    let scripts = rate(1, || {
        let (mut c, sha) = (conn.clone(), sha.clone());
        async move {
            let _: i64 = redis::cmd("EVALSHA")
                .arg(sha)
                .arg(1)
                .arg("lease")
                .arg("me")
                .arg(3000)
                .query_async(&mut c)
                .await
                .unwrap();
        }
    })
    .await;

    println!(
        "{{\"round_trip_commands_per_second\": {round_trips:.0}, \"pipelined_commands_per_second\": {pipelined:.0}, \"renew_scripts_per_second\": {scripts:.0}, \"commands_processed\": {}}}",
        server.commands_processed()
    );
}
