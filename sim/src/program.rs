//! Node programs: what runs on each simulated node. A node program is an async function of a
//! [`NodeContext`] — the public API for testing one's own elector. [`elector`] is the
//! production elector as a node program, unchanged.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use election::{Clock, Elector, ElectorConfig, ElectorEvent, FencedResource, LeaderContext, WriteOutcome};
use tokio_util::sync::CancellationToken;

use crate::clock::SimClock;
use crate::gate::NodeSpawner;
use crate::history::{EventKind, Recorder};
use crate::net::SimConnector;
use crate::seed::SimRng;

/// What a node program is given.
#[derive(Debug, Clone)]
pub struct NodeContext {
    /// The node's name, e.g. `node-1`.
    pub name: String,
    /// Which start of this node this is (1, then 2 after a crash and restart, ...).
    pub incarnation: u64,
    /// The node's clock (offset, drift, jumps as the faults say).
    pub clock: SimClock,
    /// Streams to Redis over the simulated network.
    pub connector: SimConnector,
    /// Where to start background tasks (they pause and crash with the node).
    pub spawner: NodeSpawner,
    /// Random numbers of this node incarnation, from the run's seed.
    pub rng: SimRng,
    /// Cancelled on graceful stop (SIGTERM).
    pub shutdown: CancellationToken,
    /// Records this node's events in the run's history.
    pub recorder: Recorder,
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

/// The key of the resource the elector program's fenced writer writes.
pub const FENCED_RESOURCE: &str = "splitbrain:fenced";

/// The production elector as a node program: built with the node's clock, connector and
/// spawner, its retry jitter seeded from the run's seed, its transitions recorded, stopped
/// gracefully on shutdown. With `fenced_writes`,
/// the leader runs a job that writes to a [`FencedResource`] that often with its token.
pub fn elector(
    config_for: impl Fn(&NodeContext) -> ElectorConfig + 'static,
    fenced_writes: Option<Duration>,
) -> NodeProgram {
    let config_for = Rc::new(config_for);
    program(move |mut ctx| {
        let mut config = config_for(&ctx);
        config.jitter_seed = ctx.rng.next_u64();
        run_elector(ctx, config, fenced_writes)
    })
}

async fn run_elector(ctx: NodeContext, config: ElectorConfig, fenced_writes: Option<Duration>) {
    ctx.recorder.record(EventKind::ElectionStarted);
    let observer = ctx.recorder.clone();
    let mut builder = Elector::builder(config, ctx.connector.clone())
        .clock(Arc::new(ctx.clock.clone()))
        .spawner(Arc::new(ctx.spawner.clone()))
        .observer(move |event| observer.record(transition(event, &observer)));
    if let Some(every) = fenced_writes {
        let (recorder, clock, connector, spawner) =
            (ctx.recorder.clone(), ctx.clock.clone(), ctx.connector.clone(), ctx.spawner.clone());
        builder = builder.job("fenced-writer", move |leader| {
            fenced_writer(leader, every, recorder.clone(), clock.clone(), connector.clone(), spawner.clone())
        });
    }
    let elector = match builder.build() {
        Ok(elector) => elector,
        Err(e) => panic!("invalid elector configuration for {}: {e}", ctx.name),
    };
    let handle = elector.handle();
    let shutdown = ctx.shutdown.clone();
    ctx.spawner.spawn_local(async move {
        shutdown.cancelled().await;
        handle.shutdown();
    });
    elector.run().await;
    ctx.recorder.record(EventKind::Exited);
}

fn transition(event: &ElectorEvent, recorder: &Recorder) -> EventKind {
    let local = |deadline: election::Instant| deadline.since_origin().as_micros() as i64;
    match event {
        ElectorEvent::AcquireAttempt => EventKind::AcquireAttempt,
        ElectorEvent::Acquired { epoch, deadline } => EventKind::Acquired {
            epoch: epoch.0,
            deadline_local_us: local(*deadline),
            deadline_true_us: recorder.true_at(local(*deadline)),
        },
        ElectorEvent::Renewed { epoch, deadline } => EventKind::Renewed {
            epoch: epoch.0,
            deadline_local_us: local(*deadline),
            deadline_true_us: recorder.true_at(local(*deadline)),
        },
        ElectorEvent::RenewFailed { epoch } => EventKind::RenewFailed { epoch: epoch.0 },
        ElectorEvent::SteppedDown { epoch, reason } => {
            EventKind::SteppedDown { epoch: epoch.0, reason: format!("{reason:?}") }
        }
        ElectorEvent::Released { epoch } => EventKind::Released { epoch: epoch.0 },
    }
}

/// Records JobFinished however the job ends (returns, or is cancelled and dropped).
struct JobGuard {
    recorder: Recorder,
    epoch: u64,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        self.recorder.record(EventKind::JobFinished { job: "fenced-writer".into(), epoch: self.epoch });
    }
}

/// The leader-only job: every `every`, while the lease is valid, write `<node>#<n>` to the
/// fenced resource with this term's token.
async fn fenced_writer(
    leader: LeaderContext,
    every: Duration,
    recorder: Recorder,
    clock: SimClock,
    connector: SimConnector,
    spawner: NodeSpawner,
) {
    let epoch = leader.token().0;
    recorder.record(EventKind::JobStarted { job: "fenced-writer".into(), epoch });
    let _guard = JobGuard { recorder: recorder.clone(), epoch };
    let resource = FencedResource::new(FENCED_RESOURCE);
    let limit = every.max(Duration::from_millis(100));
    let mut conn = None;
    for n in 0u64.. {
        tokio::select! {
            biased;
            () = leader.stopping() => return,
            () = clock.sleep(every) => {}
        }
        let Some(token) = leader.valid_token() else { return };
        if conn.is_none() {
            let opened =
                election::timeout(&clock, limit, election::connect(&connector, &spawner, &Default::default())).await;
            conn = opened.and_then(Result::ok);
        }
        let Some(c) = conn.as_mut() else { continue };
        let value = format!("{}#{n}", leader.elector().instance());
        let sent_us = recorder.now_us();
        match election::timeout(&clock, limit, resource.write(c, token, &value)).await {
            Some(Ok(outcome)) => {
                let accepted = outcome == WriteOutcome::Accepted;
                recorder.record(EventKind::FencedWrite { epoch: token.0, accepted, value, sent_us });
            }
            _ => conn = None,
        }
    }
}
