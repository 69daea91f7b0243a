//! The simulated network as the node programs and the Redis model see it.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::gate::Gate;
use crate::late::LateReply;
use crate::race::Races;
use crate::recorder::Recorder;
use crate::wire::{Lateness, RecordingStream};
use check::NodeId;

/// The Redis host's name and port.
pub const REDIS_HOST: &str = "redis";
/// The port Redis listens on.
pub const REDIS_PORT: u16 = 6379;

/// The source-of-truth database's host name (a second Redis-protocol server, present when
/// [`crate::SimConfig::source_db`] is set): the cache's versioned store, reachable while
/// Redis is not.
pub const SOURCE_HOST: &str = "db";

/// The node's [`election::Connector`]: turmoil TCP streams to one host (Redis, or the source
/// database), each one recording the commands and replies it carries.
#[derive(Debug, Clone)]
pub struct SimConnector {
    recorder: Recorder,
    /// The node's gate: its streams close it at an armed moment ([`crate::fault::Moment`]).
    gate: Arc<Gate>,
    /// The node's late reply: the stream that receives it holds it back.
    late: Arc<LateReply>,
    /// The run's races, and the node: a late read of the source is raced by another node.
    races: Races,
    node: NodeId,
    host: &'static str,
    /// Shared by a node's connectors, so that connection ids in its history are unique.
    connections: Arc<AtomicU64>,
}

impl SimConnector {
    pub(crate) fn new(recorder: Recorder, gate: Arc<Gate>, late: Arc<LateReply>, races: Races, node: NodeId) -> Self {
        SimConnector { recorder, gate, late, races, node, host: REDIS_HOST, connections: Arc::default() }
    }

    /// The same node's streams to `host` instead.
    pub(crate) fn to(&self, host: &'static str) -> Self {
        SimConnector { host, ..self.clone() }
    }
}

impl election::Connector for SimConnector {
    fn connect(&self) -> election::BoxFuture<'static, io::Result<election::BoxStream>> {
        let (recorder, gate) = (self.recorder.clone(), self.gate.clone());
        let host = self.host;
        let lateness = Lateness { late: self.late.clone(), host, races: self.races.clone(), node: self.node.clone() };
        let conn = self.connections.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            let stream = turmoil::net::TcpStream::connect((host, REDIS_PORT)).await?;
            let stream = RecordingStream::new(stream, conn, recorder, gate).late_from(lateness);
            Ok(Box::new(stream) as election::BoxStream)
        })
    }

    fn describe(&self) -> String {
        format!("turmoil://{}:{REDIS_PORT}", self.host)
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
