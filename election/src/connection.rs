//! Opening a redis-rs connection over a [`Connector`]'s stream, with its driver task started
//! through a [`Spawner`] and stopped when the last handle is dropped.

use std::sync::Arc;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisConnectionInfo, RedisFuture, RedisResult, Value};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::connector::Connector;
use crate::spawn::Spawner;

/// A multiplexed redis-rs connection whose driver task ends when the last clone of this
/// handle is dropped — even when requests are still in flight on a connection that will
/// never answer (a partition), where redis-rs's own driver would wait for them.
#[derive(Clone)]
pub struct Connection {
    inner: MultiplexedConnection,
    _driver: Arc<DropGuard>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("db", &self.inner.get_db()).finish_non_exhaustive()
    }
}

/// Opens a connection: a stream from `connector`, the Redis handshake of redis-rs (which
/// sends `CLIENT SETINFO`), and the driver task on `spawner`. redis-rs's own response timeout
/// is off: callers bound each request on their own [`crate::Clock`].
///
/// ```no_run
/// # async fn demo() -> redis::RedisResult<()> {
/// use election::{connect, TcpConnector, TokioSpawner};
/// let mut conn = connect(&TcpConnector::new("127.0.0.1:6379"), &TokioSpawner, &Default::default()).await?;
/// let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
/// # Ok(()) }
/// ```
pub async fn connect(
    connector: &dyn Connector,
    spawner: &dyn Spawner,
    info: &RedisConnectionInfo,
) -> RedisResult<Connection> {
    connect_with(connector, spawner, info, AsyncConnectionConfig::new()).await
}

/// [`connect`] with redis-rs's connection options (a push sender for RESP3 pub/sub, ...).
/// The response timeout is always off: callers bound requests on their own clock.
pub async fn connect_with(
    connector: &dyn Connector,
    spawner: &dyn Spawner,
    info: &RedisConnectionInfo,
    config: AsyncConnectionConfig,
) -> RedisResult<Connection> {
    let stream = connector.connect().await?;
    let config = config.set_response_timeout(None);
    let (inner, driver) = MultiplexedConnection::new_with_config(info, stream, config).await?;
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    spawner.spawn(Box::pin(async move {
        tokio::select! {
            () = driver => {}
            () = stopped.cancelled() => {}
        }
    }));
    Ok(Connection { inner, _driver: Arc::new(stop.drop_guard()) })
}

impl Connection {
    /// Subscribes to `channel` (RESP3 connections only; messages go to the push sender given
    /// to [`connect_with`]).
    pub async fn subscribe(&mut self, channel: &str) -> RedisResult<()> {
        self.inner.subscribe(channel).await
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.inner.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.inner.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}
