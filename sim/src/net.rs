//! The simulated network as the node programs and the Redis model see it.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::history::Recorder;
use crate::wire::RecordingStream;

/// The Redis host's name and port.
pub const REDIS_HOST: &str = "redis";
/// The port Redis listens on.
pub const REDIS_PORT: u16 = 6379;

/// The node's [`election::Connector`]: turmoil TCP streams to the Redis host, each one
/// recording the commands and replies it carries.
#[derive(Debug, Clone)]
pub struct SimConnector {
    recorder: Recorder,
    connections: Arc<AtomicU64>,
}

impl SimConnector {
    pub(crate) fn new(recorder: Recorder) -> Self {
        SimConnector { recorder, connections: Arc::default() }
    }
}

impl election::Connector for SimConnector {
    fn connect(&self) -> election::BoxFuture<'static, io::Result<election::BoxStream>> {
        let recorder = self.recorder.clone();
        let conn = self.connections.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            let stream = turmoil::net::TcpStream::connect((REDIS_HOST, REDIS_PORT)).await?;
            Ok(Box::new(RecordingStream::new(stream, conn, recorder)) as election::BoxStream)
        })
    }

    fn describe(&self) -> String {
        format!("turmoil://{REDIS_HOST}:{REDIS_PORT}")
    }
}

/// turmoil's listener as the model's [`model::Listener`].
pub struct TurmoilListener(pub turmoil::net::TcpListener);

impl model::Listener for TurmoilListener {
    type Stream = turmoil::net::TcpStream;
    async fn accept(&mut self) -> io::Result<turmoil::net::TcpStream> {
        let (stream, _) = self.0.accept().await?;
        Ok(stream)
    }
}
