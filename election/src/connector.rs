//! How the elector reaches Redis: a [`Connector`] opens a byte stream, and the real `redis`
//! client runs on top of it. Production uses [`TcpConnector`]; the simulation hands out
//! streams over its simulated network.

use std::io;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::BoxFuture;

/// A bidirectional byte stream to a Redis server.
pub trait RedisStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> RedisStream for T {}

/// A connected stream behind a trait object.
pub type BoxStream = Box<dyn RedisStream>;

/// Opens streams to one Redis server. Each call is a new connection.
pub trait Connector: Send + Sync + 'static {
    /// Opens a new stream. The elector bounds the call with its command timeout.
    fn connect(&self) -> BoxFuture<'static, io::Result<BoxStream>>;
    /// Where this connector points, for logs.
    fn describe(&self) -> String;
}

/// The production connector: TCP to `host:port`, with Nagle's algorithm off (every lease
/// command is a small request waiting for its reply).
#[derive(Debug, Clone)]
pub struct TcpConnector {
    addr: String,
}

impl TcpConnector {
    /// A connector to `addr`, given as `host:port`.
    pub fn new(addr: impl Into<String>) -> Self {
        TcpConnector { addr: addr.into() }
    }
}

impl Connector for TcpConnector {
    fn connect(&self) -> BoxFuture<'static, io::Result<BoxStream>> {
        let addr = self.addr.clone();
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn describe(&self) -> String {
        format!("tcp://{}", self.addr)
    }
}
