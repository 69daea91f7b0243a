//! Node programs: what runs on each simulated node. A node program is an async function of a
//! [`NodeContext`] — the public API for testing one's own elector. The production elector as
//! a node program is in `workload.rs`, the cache workload in `cache_load.rs`.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use check::NodeId;
use tokio_util::sync::CancellationToken;

use crate::clock::SimClock;
use crate::gate::NodeSpawner;
use crate::net::SimConnector;
use crate::race::Races;
use crate::recorder::Recorder;
use crate::seed::SimRng;

/// What a node program is given.
#[derive(Debug, Clone)]
pub struct NodeContext {
    /// The node's name, e.g. `node-1`.
    pub name: NodeId,
    /// Which start of this node this is (1, then 2 after a crash and restart, ...).
    pub incarnation: u64,
    /// The node's clock (offset, drift, jumps as the faults say).
    pub clock: SimClock,
    /// Streams to Redis over the simulated network.
    pub connector: SimConnector,
    /// Streams to the source-of-truth database ([`crate::SOURCE_HOST`]), when the run has one.
    pub source: SimConnector,
    /// Where to start background tasks (they pause and crash with the node).
    pub spawner: NodeSpawner,
    /// Random numbers of this node incarnation, from the run's seed.
    pub rng: SimRng,
    /// Cancelled on graceful stop (SIGTERM).
    pub shutdown: CancellationToken,
    /// Records this node's events in the run's history.
    pub recorder: Recorder,
    /// The world's requests to race another node's late read of the source (a
    /// `source-late-reply`): the cache workload answers one by writing the key; a program
    /// of one's own may ignore them.
    pub races: Races,
}

/// A node program.
pub type NodeProgram = Rc<dyn Fn(NodeContext) -> Pin<Box<dyn Future<Output = ()>>>>;

/// Wraps an async function as a [`NodeProgram`].
pub fn program<F, Fut>(f: F) -> NodeProgram
where
    F: Fn(NodeContext) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    Rc::new(move |ctx| Box::pin(f(ctx)))
}

/// `program`, with `task` started beside it in every incarnation of the node (on the node's
/// spawner: it pauses and crashes with the node).
pub fn alongside<F, Fut>(program: NodeProgram, task: F) -> NodeProgram
where
    F: Fn(NodeContext) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let task = Rc::new(task);
    Rc::new(move |ctx: NodeContext| {
        ctx.spawner.spawn_local(task(ctx.clone()));
        program(ctx)
    })
}
