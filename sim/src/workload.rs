//! The production elector as a node program, unchanged, and the leader-only work it does:
//! a fenced writer and a periodic job in claimed slots (MI-07's health check).

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use election::{Clock, Elector, ElectorConfig, ElectorEvent, FencedResource, LeaderContext, SlotClaims, WriteOutcome};

use check::EventKind;

use crate::cache_load::{cache_workload, production_cache, CacheLoad};
use crate::program::{program, NodeContext, NodeProgram};
use crate::recorder::Recorder;

/// The key of the resource the elector program's fenced writer writes.
pub const FENCED_RESOURCE: &str = "splitbrain:fenced";

/// The key of the slot claims of the elector program's periodic job.
pub const SLOT_CLAIMS: &str = "splitbrain:slots";

/// The name of the elector program's periodic job.
pub const SLOT_JOB: &str = "health-check";

/// The leader-only work the elector program does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Workload {
    /// Write to a [`FencedResource`] this often with the term's token.
    pub fenced_writes: Option<Duration>,
    /// Run a periodic job ([`SLOT_JOB`]) in slots of this length by the node's wall clock,
    /// each slot claimed through [`election::SlotClaims`] before it runs.
    pub slots: Option<Duration>,
    /// Serve `GET /health` over HTTP/1.1 on [`crate::HEALTH_PORT`] (every node, leader or not).
    pub health: bool,
    /// Run an [`election::Cache`] of the source database and read and write through it.
    pub cache: Option<CacheLoad>,
}

impl Workload {
    /// Only the election.
    pub fn none() -> Workload {
        Workload::default()
    }

    /// Adds fenced writes every `every`.
    pub fn with_fenced_writes(self, every: Duration) -> Workload {
        Workload { fenced_writes: Some(every), ..self }
    }

    /// Adds the `/health` endpoint.
    pub fn with_health(self) -> Workload {
        Workload { health: true, ..self }
    }

    /// Adds the cache workload.
    pub fn with_cache(self, load: CacheLoad) -> Workload {
        Workload { cache: Some(load), ..self }
    }

    /// Adds the periodic job with slots of `every`.
    pub fn with_slots(self, every: Duration) -> Workload {
        Workload { slots: Some(every), ..self }
    }
}

/// The production elector as a node program: built with the node's clock, connector and
/// spawner, its retry jitter seeded from the run's seed, its transitions recorded, stopped
/// gracefully on shutdown. The leader runs the `workload`'s jobs.
pub fn elector(config_for: impl Fn(&NodeContext) -> ElectorConfig + 'static, workload: Workload) -> NodeProgram {
    let config_for = Rc::new(config_for);
    program(move |mut ctx| {
        let mut config = config_for(&ctx);
        config.jitter_seed = ctx.rng.next_u64();
        run_elector(ctx, config, workload)
    })
}

async fn run_elector(ctx: NodeContext, config: ElectorConfig, workload: Workload) {
    ctx.recorder.record(EventKind::ElectionStarted);
    let observer = ctx.recorder.clone();
    let mut builder = Elector::builder(config, ctx.connector.clone())
        .clock(Arc::new(ctx.clock.clone()))
        .spawner(Arc::new(ctx.spawner.clone()))
        .observer(move |event| observer.record(transition(event, &observer)));
    if let Some(every) = workload.fenced_writes {
        let ctx = ctx.clone();
        builder = builder.job("fenced-writer", move |leader| fenced_writer(leader, every, ctx.clone()));
    }
    if let Some(every) = workload.slots {
        let ctx = ctx.clone();
        builder = builder.job(SLOT_JOB, move |leader| slot_job(leader, every, ctx.clone()));
    }
    let elector = match builder.build() {
        Ok(elector) => elector,
        Err(e) => panic!("invalid elector configuration for {}: {e}", ctx.name),
    };
    let handle = elector.handle();
    if workload.health {
        ctx.spawner.spawn_local(crate::http::serve_health(ctx.clone(), handle.clone()));
    }
    if let Some(load) = workload.cache {
        ctx.spawner.spawn_local(cache_workload(ctx.clone(), load, production_cache(&ctx, load)));
    }
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

/// Records JobStarted now and JobFinished however the job ends (returns, or is cancelled
/// and dropped).
struct JobGuard {
    recorder: Recorder,
    job: &'static str,
    epoch: u64,
}

impl JobGuard {
    fn start(recorder: &Recorder, job: &'static str, epoch: u64) -> JobGuard {
        recorder.record(EventKind::JobStarted { job: job.into(), epoch });
        JobGuard { recorder: recorder.clone(), job, epoch }
    }
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        self.recorder.record(EventKind::JobFinished { job: self.job.into(), epoch: self.epoch });
    }
}

/// A job's connection to Redis, opened on first use and again after a failure.
struct Redis<'a> {
    ctx: &'a NodeContext,
    limit: Duration,
    conn: Option<election::Connection>,
}

impl Redis<'_> {
    /// The connection, if one is open or opens within the limit.
    async fn get(&mut self) -> Option<&mut election::Connection> {
        if self.conn.is_none() {
            let (ctx, options) = (self.ctx, Default::default());
            let opening = election::connect(&ctx.connector, &ctx.spawner, &options);
            self.conn = election::timeout(&ctx.clock, self.limit, opening).await.and_then(Result::ok);
        }
        self.conn.as_mut()
    }

    /// Drops the connection after a command on it failed or timed out.
    fn keep_if<T>(&mut self, result: Option<T>) -> Option<T> {
        if result.is_none() {
            self.conn = None;
        }
        result
    }
}

/// The leader-only job: every `every`, while the lease is valid, write `<node>#<n>` to the
/// fenced resource with this term's token.
async fn fenced_writer(leader: LeaderContext, every: Duration, ctx: NodeContext) {
    let epoch = leader.token().0;
    let _guard = JobGuard::start(&ctx.recorder, "fenced-writer", epoch);
    let resource = FencedResource::new(FENCED_RESOURCE);
    let limit = every.max(Duration::from_millis(100));
    let mut redis = Redis { ctx: &ctx, limit, conn: None };
    for n in 0u64.. {
        tokio::select! {
            biased;
            () = leader.stopping() => return,
            () = ctx.clock.sleep(every) => {}
        }
        // Not valid now is not over: the deadline may have passed while a renewal's reply
        // waited to be read (the node was paused), and that reply extends the term. The
        // elector ends the term (and stops the job); the job only skips what it cannot do.
        let Some(token) = leader.valid_token() else { continue };
        let value = format!("{}#{n}", leader.elector().instance());
        let sent_us = ctx.recorder.now_us();
        let Some(conn) = redis.get().await else { continue };
        let written = election::timeout(&ctx.clock, limit, resource.write(conn, token, &value)).await;
        if let Some(outcome) = redis.keep_if(written.and_then(Result::ok)) {
            let (accepted, replaced) = match outcome {
                WriteOutcome::Accepted { replaced } => (true, replaced.map(|t| t.0)),
                WriteOutcome::Rejected { highest } => (false, Some(highest.0)),
            };
            ctx.recorder.record(EventKind::FencedWrite { epoch: token.0, accepted, value, sent_us, replaced });
        }
    }
}

/// The leader-only periodic job (MI-07's health check): at each boundary of a slot of
/// `every` by the node's wall clock, while the lease is valid, claim the slot with this
/// term's token and run it if the claim is granted.
async fn slot_job(leader: LeaderContext, every: Duration, ctx: NodeContext) {
    let epoch = leader.token().0;
    let _guard = JobGuard::start(&ctx.recorder, SLOT_JOB, epoch);
    let claims = SlotClaims::new(SLOT_CLAIMS);
    let every_ms = every.as_millis().max(1) as i64;
    let limit = every.max(Duration::from_millis(100));
    let mut redis = Redis { ctx: &ctx, limit, conn: None };
    loop {
        let wall_ms = ctx.clock.wall_ms();
        let slot = wall_ms.div_euclid(every_ms) + 1;
        let wait = Duration::from_millis((slot * every_ms - wall_ms) as u64);
        tokio::select! {
            biased;
            () = leader.stopping() => return,
            () = ctx.clock.sleep(wait) => {}
        }
        // Not valid now is not over: the deadline may have passed while a renewal's reply
        // waited to be read (the node was paused), and that reply extends the term. The
        // elector ends the term (and stops the job); the job only skips what it cannot do.
        let Some(token) = leader.valid_token() else { continue };
        let sent_us = ctx.recorder.now_us();
        let Some(conn) = redis.get().await else { continue };
        let claimed = election::timeout(&ctx.clock, limit, claims.claim(conn, token, slot as u64)).await;
        if redis.keep_if(claimed.and_then(Result::ok)) == Some(true) {
            ctx.recorder.record(EventKind::SlotRun {
                job: SLOT_JOB.into(),
                slot: slot as u64,
                epoch: token.0,
                sent_us,
            });
        }
    }
}
