//! The mutant zoo: a small lease elector written the way a user writes one — a node program
//! on `sim`'s public API with the real redis client — correct as [`Bug::None`], and with one
//! classic bug each otherwise. The fuzzer must catch every bug; the correct one must pass.
//!
//! The elector: campaign with `SET NX PX` + `INCR` (the acquire script), renew every
//! `renew` with the owner-checked renew script, believe the lease until
//! `sent + ttl - margin` of the last successful acquire or renewal, step down at that
//! deadline, and on stepping down or shutting down release the lease (owner-checked) so that
//! a successor need not wait for the TTL.

#![warn(missing_docs)]

mod cache;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use std::cell::Cell;
use std::rc::Rc;

use election::{Clock, Connection, FencedResource, FencingToken, LuaScript, WriteOutcome};
use redis::Value;
use sim::{program, EventKind, NodeContext, NodeProgram, SimClock, FENCED_RESOURCE};
use tokio::sync::{oneshot, watch};

pub use cache::{cache_node, ZooCache};

/// One classic bug (or none), numbered as in the zoo's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bug {
    /// The correct elector.
    None,
    /// 1. Release by plain `DEL`, without checking that the lease is still ours.
    PlainDelRelease,
    /// 2. Release as `GET` == me, then `DEL`: two round trips, another owner may come between.
    GetThenDelRelease,
    /// 3. Renew by plain `PEXPIRE`, without checking that the lease is still ours.
    PlainPexpireRenew,
    /// 4. Renew as `GET` == me, then `PEXPIRE`, in two round trips.
    GetThenPexpireRenew,
    /// 5. Renewal failures are only logged: the node keeps leading as if it had renewed.
    RenewFailureOnlyLogged,
    /// 6. The local lease deadline is kept on the wall clock (`SystemTime`), not the monotonic one.
    WallClockDeadline,
    /// 7. The fenced resource does not check fencing tokens: it takes every write.
    UncheckedFencingToken,
    /// 8. The fencing counter lives in a Redis without persistence: a restart hands out epoch
    ///    numbers again (the production elector, deployed so).
    UnpersistedFencingCounter,
    /// 9. On stepping down, the lease is released before the leader-only jobs have stopped.
    ReleaseBeforeJobsStop,
    /// 10. After losing leadership the node never campaigns again.
    NoCampaignAfterLoss,
    /// 11. `EVALSHA` answered NOSCRIPT (Redis restarted) is taken for a successful renewal.
    NoscriptAsSuccess,
    /// 12. Step-down only after TTL / renew missed heartbeats: their total equals the TTL, with
    ///     no margin for the time the heartbeats themselves take.
    DeadlineWithoutMargin,
    /// 13. Cache: no flush when the pub/sub connection drops and comes back.
    CacheNoFlushOnReconnect,
    /// 14. Cache: the invalidation is published before the write commits.
    CachePublishBeforeCommit,
    /// 15. Acquire as `GET` (free?), then `INCR` and a plain `SET ... PX`: check-then-act, two
    ///     followers that both saw the key free both take it.
    GetThenSetAcquire,
    /// 16. The local deadline counted from the reply, not from the request: a reply that came
    ///     late stretches the belief past the lease Redis set when it executed.
    DeadlineFromReply,
    /// 17. Cache: a read fills the entry with what it read even if an invalidation of a newer
    ///     version arrived while the read was in flight (no version floor).
    CacheFillAfterInvalidation,
}

impl Bug {
    /// Every variant, the correct one first, then in the plan's order.
    pub const ALL: [Bug; 18] = [
        Bug::None,
        Bug::PlainDelRelease,
        Bug::GetThenDelRelease,
        Bug::PlainPexpireRenew,
        Bug::GetThenPexpireRenew,
        Bug::RenewFailureOnlyLogged,
        Bug::WallClockDeadline,
        Bug::UncheckedFencingToken,
        Bug::UnpersistedFencingCounter,
        Bug::ReleaseBeforeJobsStop,
        Bug::NoCampaignAfterLoss,
        Bug::NoscriptAsSuccess,
        Bug::DeadlineWithoutMargin,
        Bug::CacheNoFlushOnReconnect,
        Bug::CachePublishBeforeCommit,
        Bug::GetThenSetAcquire,
        Bug::DeadlineFromReply,
        Bug::CacheFillAfterInvalidation,
    ];

    /// Whether the bug is in the cache (the elector is then the production one).
    pub fn is_cache(self) -> bool {
        matches!(self, Bug::CacheNoFlushOnReconnect | Bug::CachePublishBeforeCommit | Bug::CacheFillAfterInvalidation)
    }

    /// Whether the bug is in the deployment, not the code: the production elector and cache
    /// run, on a Redis configured wrongly.
    pub fn is_deployment(self) -> bool {
        self == Bug::UnpersistedFencingCounter
    }

    /// The persistence of the Redis the mutant is deployed on, when the bug is there.
    pub fn persistence(self) -> Option<sim::Persistence> {
        (self == Bug::UnpersistedFencingCounter).then_some(sim::Persistence::None)
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Bug::None => "correct",
            Bug::PlainDelRelease => "plain-del-release",
            Bug::GetThenDelRelease => "get-then-del-release",
            Bug::PlainPexpireRenew => "plain-pexpire-renew",
            Bug::GetThenPexpireRenew => "get-then-pexpire-renew",
            Bug::RenewFailureOnlyLogged => "renew-failure-only-logged",
            Bug::WallClockDeadline => "wall-clock-deadline",
            Bug::UncheckedFencingToken => "unchecked-fencing-token",
            Bug::UnpersistedFencingCounter => "unpersisted-fencing-counter",
            Bug::ReleaseBeforeJobsStop => "release-before-jobs-stop",
            Bug::NoCampaignAfterLoss => "no-campaign-after-loss",
            Bug::NoscriptAsSuccess => "noscript-as-success",
            Bug::DeadlineWithoutMargin => "deadline-without-margin",
            Bug::CacheNoFlushOnReconnect => "cache-no-flush-on-reconnect",
            Bug::CachePublishBeforeCommit => "cache-publish-before-commit",
            Bug::GetThenSetAcquire => "get-then-set-acquire",
            Bug::DeadlineFromReply => "deadline-from-reply",
            Bug::CacheFillAfterInvalidation => "cache-fill-after-invalidation",
        }
    }
}

impl Bug {
    /// One line on the bug.
    pub fn describe(self) -> &'static str {
        match self {
            Bug::None => "the zoo's elector without a bug",
            Bug::PlainDelRelease => "release by plain DEL, without checking the lease is still its own",
            Bug::GetThenDelRelease => "release as GET == me, then DEL: two round trips",
            Bug::PlainPexpireRenew => "renew by plain PEXPIRE, without checking the lease is still its own",
            Bug::GetThenPexpireRenew => "renew as GET == me, then PEXPIRE: two round trips",
            Bug::RenewFailureOnlyLogged => "renewal failures only logged: leadership and jobs continue",
            Bug::WallClockDeadline => "the local lease deadline kept on the wall clock, not the monotonic one",
            Bug::UncheckedFencingToken => "the fenced resource does not check fencing tokens",
            Bug::UnpersistedFencingCounter => {
                "the fencing counter in a Redis without persistence: a restart reissues epochs"
            }
            Bug::ReleaseBeforeJobsStop => "on stepping down, the lease released before the leader-only jobs stopped",
            Bug::NoCampaignAfterLoss => "after losing leadership it never campaigns again",
            Bug::NoscriptAsSuccess => "EVALSHA failing with NOSCRIPT after a Redis restart taken for a renewal",
            Bug::DeadlineWithoutMargin => "steps down only after TTL / renew missed heartbeats (no margin)",
            Bug::CacheNoFlushOnReconnect => "cache: keeps its entries when the pub/sub connection drops and comes back",
            Bug::CachePublishBeforeCommit => "cache: publishes the invalidation before the write commits",
            Bug::GetThenSetAcquire => "acquire as GET (free?), then INCR and a plain SET PX: check-then-act",
            Bug::DeadlineFromReply => "the local deadline counted from the reply instead of the request",
            Bug::CacheFillAfterInvalidation => {
                "cache: fills what it read though a newer version's invalidation came meanwhile"
            }
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no mutant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownBug(pub String);

impl fmt::Display for UnknownBug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
        write!(f, "unknown mutant {:?} ({})", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownBug {}

impl FromStr for Bug {
    type Err = UnknownBug;
    fn from_str(s: &str) -> Result<Bug, UnknownBug> {
        Bug::ALL.into_iter().find(|b| b.name().eq_ignore_ascii_case(s)).ok_or_else(|| UnknownBug(s.to_owned()))
    }
}

/// The zoo elector's timings and key.
#[derive(Debug, Clone)]
pub struct Timings {
    /// The lease key (its counter is `<key>:epoch`, its info record `<key>:info`).
    pub key: String,
    /// The lease TTL in Redis.
    pub ttl: Duration,
    /// How often the leader renews.
    pub renew: Duration,
    /// How often a follower tries to acquire.
    pub retry: Duration,
    /// Subtracted from the TTL for the local deadline (clock drift, latency).
    pub margin: Duration,
}

/// The zoo elector with `bug` as a node program.
pub fn elector(timings: Timings, bug: Bug) -> NodeProgram {
    program(move |ctx| run(ctx, timings.clone(), bug))
}

/// The name of the zoo leader's job.
pub const WRITER_JOB: &str = "fenced-writer";

/// What the node believes of its lease, shared with its leader-only job.
struct Belief {
    clock: SimClock,
    bug: Bug,
    /// Whether the node leads (cleared when it steps down).
    leading: Cell<bool>,
    /// The deadline on the monotonic clock (local µs).
    until_local: Cell<i64>,
    /// The deadline on the wall clock (ms): the wall-clock mutant's.
    until_wall_ms: Cell<i64>,
}

impl Belief {
    /// The deadline as a local (monotonic) instant, as the clocks read now; `i64::MAX` for
    /// the missed-heartbeats mutant, which has none.
    fn deadline(&self) -> i64 {
        match self.bug {
            Bug::WallClockDeadline => self.clock.local_us() + (self.until_wall_ms.get() - self.clock.wall_ms()) * 1000,
            Bug::DeadlineWithoutMargin => i64::MAX,
            _ => self.until_local.get(),
        }
    }

    /// Whether the node believes it leads now.
    fn holds(&self) -> bool {
        self.leading.get() && self.clock.local_us() < self.deadline()
    }
}

/// The running leader-only job: a stop signal and its end.
struct Job {
    stop: watch::Sender<bool>,
    done: oneshot::Receiver<()>,
}

struct Node {
    ctx: NodeContext,
    t: Timings,
    bug: Bug,
    conn: Option<Connection>,
    /// Whether the renew script was loaded (`SCRIPT LOAD`, once at start: the
    /// NOSCRIPT-as-success mutant's way).
    loaded: bool,
    /// The lease value and epoch while this node leads.
    held: Option<(String, u64)>,
    belief: Rc<Belief>,
    job: Option<Job>,
    acquire: LuaScript,
    renew: LuaScript,
    release: LuaScript,
}

async fn run(ctx: NodeContext, t: Timings, bug: Bug) {
    ctx.recorder.record(EventKind::ElectionStarted);
    let belief = Belief {
        clock: ctx.clock.clone(),
        bug,
        leading: Cell::new(false),
        until_local: Cell::new(0),
        until_wall_ms: Cell::new(0),
    };
    let mut node = Node {
        ctx,
        t,
        bug,
        conn: None,
        loaded: false,
        held: None,
        belief: Rc::new(belief),
        job: None,
        acquire: LuaScript::new(election::ACQUIRE),
        renew: LuaScript::new(election::RENEW),
        release: LuaScript::new(election::RELEASE),
    };
    let shutdown = node.ctx.shutdown.clone();
    tokio::select! {
        biased;
        () = shutdown.cancelled() => {}
        () = node.campaign() => {}
    }
    if let Some((value, epoch)) = node.held.take() {
        node.end_term(&value, epoch, "Shutdown").await;
    }
    node.ctx.recorder.record(EventKind::Exited);
}

impl Node {
    fn keys(&self) -> [String; 3] {
        let key = &self.t.key;
        [key.clone(), format!("{key}:epoch"), format!("{key}:info")]
    }

    fn ttl_ms(&self) -> String {
        self.t.ttl.as_millis().to_string()
    }

    fn now(&self) -> i64 {
        self.ctx.clock.local_us()
    }

    async fn sleep_until(&self, local_us: i64) {
        self.ctx.clock.sleep_until_local(local_us).await;
    }

    /// Whether a connection is open, opening one if needed.
    async fn connect(&mut self) -> bool {
        if self.conn.is_none() {
            let (ctx, options) = (&self.ctx, Default::default());
            let opening = election::connect(&ctx.connector, &ctx.spawner, &options);
            self.conn = election::timeout(&ctx.clock, self.t.renew / 2, opening).await.and_then(Result::ok);
        }
        self.conn.is_some()
    }

    /// A command's reply, or None (and the connection dropped) on an error or a timeout.
    async fn query(&mut self, cmd: &redis::Cmd) -> Option<Value> {
        let limit = self.t.renew / 2;
        self.connect().await;
        let conn = self.conn.as_mut()?;
        let reply = election::timeout(&self.ctx.clock, limit, cmd.query_async::<Value>(conn)).await;
        let reply = reply.and_then(Result::ok);
        if reply.is_none() {
            self.conn = None;
        }
        reply
    }

    /// A script's reply (EVALSHA, then EVAL on NOSCRIPT), or None.
    async fn script(&mut self, which: fn(&Node) -> &LuaScript, keys: &[String], args: &[String]) -> Option<Value> {
        let limit = self.t.renew / 2;
        let mut reply = None;
        if self.connect().await {
            let script = which(self).clone();
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let conn = self.conn.as_mut()?;
            reply =
                election::timeout(&self.ctx.clock, limit, script.invoke(conn, &keys, args)).await.and_then(Result::ok);
        }
        if reply.is_none() {
            self.conn = None;
        }
        reply.map(|r| r.value)
    }

    async fn campaign(&mut self) {
        loop {
            self.ctx.recorder.record(EventKind::AcquireAttempt);
            let sent = self.now();
            let sent_wall_ms = self.ctx.clock.wall_ms();
            let prefix = format!("{}/{:016x}/", self.ctx.name, self.ctx.incarnation);
            let keys = self.keys();
            let args = [prefix.clone(), self.ttl_ms(), format!("{{\"instance\":\"{}\",\"epoch\":", self.ctx.name)];
            let acquired = match self.bug {
                Bug::GetThenSetAcquire => self.get_then_set(&prefix).await,
                _ => self.script(|n| &n.acquire, &keys, &args).await,
            };
            if let Some(Value::Int(epoch)) = acquired {
                if self.too_late(sent, sent_wall_ms) {
                    // As the production elector: the lease ran out before its reply was read
                    // (paused, or the reply late, in between); a newer epoch may be out.
                    tracing::warn!(epoch, "acquired too late: the lease had run out before the reply was read");
                    continue;
                }
                let (value, epoch) = (format!("{prefix}{epoch}"), epoch as u64);
                self.extend(sent, sent_wall_ms);
                self.belief.leading.set(true);
                self.held = Some((value.clone(), epoch));
                let (deadline_local_us, deadline_true_us) = self.reported_deadline(sent);
                self.ctx.recorder.record(EventKind::Acquired { epoch, deadline_local_us, deadline_true_us });
                tracing::info!(epoch, "became the leader");
                self.start_job(epoch);
                let reason = self.lead(&value, epoch, sent, deadline_local_us).await;
                self.held = None;
                self.end_term(&value, epoch, reason).await;
                if self.bug == Bug::NoCampaignAfterLoss {
                    tracing::info!(epoch, "lost leadership: not campaigning again");
                    return std::future::pending().await;
                }
            }
            self.sleep_until(self.now() + self.t.retry.as_micros() as i64).await;
        }
    }

    /// Whether a grant requested at `sent` (local µs; `sent_wall_ms` on the wall clock) came
    /// too late to lead on: its lease, counted as this elector counts it, ran out before the
    /// reply was read. A deadline counted from the reply is never too late, and the
    /// missed-heartbeats mutant has no deadline: each leads on whatever it is given.
    fn too_late(&self, sent: i64, sent_wall_ms: i64) -> bool {
        let lease = self.lease();
        match self.bug {
            Bug::DeadlineFromReply | Bug::DeadlineWithoutMargin => false,
            Bug::WallClockDeadline => self.ctx.clock.wall_ms() >= sent_wall_ms + lease.as_millis() as i64,
            _ => self.now() >= sent + lease.as_micros() as i64,
        }
    }

    /// The lease as this elector counts it: the TTL less its margin.
    fn lease(&self) -> Duration {
        self.t.ttl.saturating_sub(self.t.margin)
    }

    /// The get-then-set mutant's acquire: "is it free? then it is mine" in three round trips;
    /// the epoch as the acquire script answers it.
    async fn get_then_set(&mut self, prefix: &str) -> Option<Value> {
        let [key, epoch_key, _] = self.keys();
        if self.query(redis::cmd("GET").arg(&key)).await? != Value::Nil {
            return None;
        }
        let Value::Int(epoch) = self.query(redis::cmd("INCR").arg(&epoch_key)).await? else { return None };
        let value = format!("{prefix}{epoch}");
        self.query(redis::cmd("SET").arg(&key).arg(&value).arg("PX").arg(self.ttl_ms())).await?;
        Some(Value::Int(epoch))
    }

    /// Heartbeats the missed-heartbeats mutant allows: their total is the TTL.
    fn heartbeats(&self) -> u32 {
        (self.t.ttl.as_micros() / self.t.renew.as_micros().max(1)).max(1) as u32
    }

    /// The belief after a successful request sent at `sent` (local µs; `sent_wall_ms` on
    /// the wall clock): the lease runs `ttl - margin` from the send.
    fn extend(&self, sent: i64, sent_wall_ms: i64) {
        // The deadline-from-reply mutant: "the lease is good for a TTL from the OK".
        let (sent, sent_wall_ms) = match self.bug {
            Bug::DeadlineFromReply => (self.now(), self.ctx.clock.wall_ms()),
            _ => (sent, sent_wall_ms),
        };
        let lease = self.lease();
        let until = sent + lease.as_micros() as i64;
        self.belief.until_local.set(self.belief.until_local.get().max(until));
        let until_wall = sent_wall_ms + lease.as_millis() as i64;
        self.belief.until_wall_ms.set(self.belief.until_wall_ms.get().max(until_wall));
    }

    /// The deadline to report, local and true: the belief's, or for the missed-heartbeats
    /// mutant (which has none) the latest step-down its count allows if every heartbeat
    /// from the one at `sent` on fails, each taking up to a heartbeat.
    fn reported_deadline(&self, sent: i64) -> (i64, u64) {
        let local = match self.bug {
            Bug::DeadlineWithoutMargin => sent + (self.t.renew.as_micros() as i64) * (i64::from(self.heartbeats()) + 1),
            _ => self.belief.deadline(),
        };
        (local, self.ctx.recorder.true_at(local))
    }

    /// Leads until the lease is lost or its deadline passes; why it ended.
    async fn lead(&mut self, value: &str, epoch: u64, acquired_at: i64, mut reported: i64) -> &'static str {
        let renew_us = self.t.renew.as_micros() as i64;
        let mut next_renewal = acquired_at + renew_us;
        let mut missed = 0;
        loop {
            let deadline = self.belief.deadline();
            if self.bug == Bug::WallClockDeadline && (deadline - reported).abs() > 2_000 {
                // Its wall clock moved: so did its belief, in true time.
                reported = deadline;
                let deadline_true_us = self.ctx.recorder.true_at(deadline);
                self.ctx.recorder.record(EventKind::Believes { epoch, deadline_local_us: deadline, deadline_true_us });
            }
            if self.now() >= deadline {
                tracing::warn!(epoch, "lease deadline passed: stepping down");
                return "DeadlinePassed";
            }
            if self.now() < next_renewal {
                self.sleep_until(next_renewal.min(deadline)).await;
                continue;
            }
            let (sent, sent_wall_ms) = (self.now(), self.ctx.clock.wall_ms());
            let mut renewed = self.renew_lease(value).await;
            if self.bug == Bug::RenewFailureOnlyLogged && renewed != Some(true) {
                tracing::warn!(epoch, "renewal failed (logged only): leading on");
                renewed = Some(true);
            }
            match renewed {
                Some(true) => {
                    missed = 0;
                    self.extend(sent, sent_wall_ms);
                    next_renewal = sent + renew_us;
                    let (deadline_local_us, deadline_true_us) = self.reported_deadline(sent);
                    reported = deadline_local_us;
                    self.ctx.recorder.record(EventKind::Renewed { epoch, deadline_local_us, deadline_true_us });
                }
                Some(false) => {
                    tracing::warn!(epoch, "the lease is no longer ours: stepping down");
                    return "LeaseLost";
                }
                None => {
                    self.ctx.recorder.record(EventKind::RenewFailed { epoch });
                    if self.bug == Bug::DeadlineWithoutMargin {
                        // A heartbeat ticker: every `renew`, whatever the last one took.
                        missed += 1;
                        if missed >= self.heartbeats() {
                            tracing::warn!(epoch, missed, "heartbeats missed for a whole TTL: stepping down");
                            return "HeartbeatsMissed";
                        }
                        next_renewal += renew_us;
                    } else {
                        next_renewal = self.now() + self.t.retry.as_micros() as i64;
                    }
                }
            }
        }
    }

    /// Ends a term: stops believing, stops the leader-only job, releases the lease (the
    /// release-before-jobs-stop mutant: releases, then stops the job).
    async fn end_term(&mut self, value: &str, epoch: u64, reason: &str) {
        self.belief.leading.set(false);
        self.ctx.recorder.record(EventKind::SteppedDown { epoch, reason: reason.into() });
        if self.bug == Bug::ReleaseBeforeJobsStop {
            self.release_lease(value, epoch).await;
            self.stop_job().await;
        } else {
            self.stop_job().await;
            self.release_lease(value, epoch).await;
        }
    }

    /// Starts the leader-only job of the term of `epoch`.
    fn start_job(&mut self, epoch: u64) {
        let (stop, stopped) = watch::channel(false);
        let (finished, done) = oneshot::channel();
        let job = writer(self.ctx.clone(), self.belief.clone(), epoch, self.t.renew / 2, stopped, self.bug);
        self.ctx.spawner.spawn_local(async move {
            job.await;
            let _ = finished.send(());
        });
        self.job = Some(Job { stop, done });
    }

    /// Asks the job to stop and waits until it has (it finishes a write in flight).
    async fn stop_job(&mut self) {
        if let Some(job) = self.job.take() {
            let _ = job.stop.send(true);
            let _ = job.done.await;
        }
    }

    /// Extends the lease: Some(true) renewed, Some(false) not ours any more, None no answer.
    async fn renew_lease(&mut self, value: &str) -> Option<bool> {
        let [key, _, info] = self.keys();
        let ttl = self.ttl_ms();
        match self.bug {
            Bug::PlainPexpireRenew => {
                let reply = self.query(redis::cmd("PEXPIRE").arg(&key).arg(&ttl)).await?;
                Some(reply == Value::Int(1))
            }
            Bug::GetThenPexpireRenew => {
                let holder = self.query(redis::cmd("GET").arg(&key)).await?;
                if holder != Value::BulkString(value.as_bytes().to_vec()) {
                    return Some(false);
                }
                let reply = self.query(redis::cmd("PEXPIRE").arg(&key).arg(&ttl)).await?;
                Some(reply == Value::Int(1))
            }
            Bug::NoscriptAsSuccess => {
                // The script is loaded once, at start; afterwards EVALSHA only, and its error
                // is taken for success when it is NOSCRIPT (a restarted Redis forgot it).
                if !self.loaded {
                    let source = self.renew.source();
                    self.loaded = self.query(redis::cmd("SCRIPT").arg("LOAD").arg(source)).await.is_some();
                }
                let sha = self.renew.sha().to_owned();
                let evalsha = redis::cmd("EVALSHA").arg(sha).arg(2).arg(&key).arg(&info).arg(value).arg(&ttl).clone();
                let limit = self.t.renew / 2;
                self.connect().await;
                let conn = self.conn.as_mut()?;
                match election::timeout(&self.ctx.clock, limit, evalsha.query_async::<Value>(conn)).await {
                    Some(Ok(reply)) => Some(reply == Value::Int(1)),
                    Some(Err(e)) if e.code() == Some("NOSCRIPT") => Some(true),
                    _ => {
                        self.conn = None;
                        None
                    }
                }
            }
            _ => {
                let reply = self.script(|n| &n.renew, &[key, info], &[value.to_owned(), ttl]).await?;
                Some(reply == Value::Int(1))
            }
        }
    }

    /// Gives the lease up so that a successor need not wait for the TTL.
    async fn release_lease(&mut self, value: &str, epoch: u64) {
        let [key, _, info] = self.keys();
        let released = match self.bug {
            Bug::PlainDelRelease => self.query(redis::cmd("DEL").arg(&key)).await == Some(Value::Int(1)),
            Bug::GetThenDelRelease => {
                let holder = self.query(redis::cmd("GET").arg(&key)).await;
                holder == Some(Value::BulkString(value.as_bytes().to_vec()))
                    && self.query(redis::cmd("DEL").arg(&key)).await == Some(Value::Int(1))
            }
            _ => self.script(|n| &n.release, &[key, info], &[value.to_owned()]).await == Some(Value::Int(1)),
        };
        if released {
            self.ctx.recorder.record(EventKind::Released { epoch });
            tracing::info!(epoch, bug = %self.bug, "released the lease");
        }
    }
}

/// A fenced write that takes every token: the unchecked-fencing-token mutant's resource.
/// Like the correct one it answers with the epoch it replaced.
const UNCHECKED_WRITE: &str = r#"
local before = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'value', ARGV[2])
return {1, before}
"#;

/// The leader-only job: every `every`, while the node believes it leads, write
/// `<node>#<n>` to the fenced resource with the term's epoch; stop when told (finishing a
/// write in flight) or when the belief is gone.
async fn writer(
    ctx: NodeContext,
    belief: Rc<Belief>,
    epoch: u64,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    bug: Bug,
) {
    ctx.recorder.record(EventKind::JobStarted { job: WRITER_JOB.into(), epoch });
    let resource = FencedResource::new(FENCED_RESOURCE);
    let unchecked = LuaScript::new(UNCHECKED_WRITE);
    let mut conn: Option<Connection> = None;
    for n in 0u64.. {
        tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            () = ctx.clock.sleep(every) => {}
        }
        if !belief.holds() {
            break;
        }
        let value = format!("{}#{n}", ctx.name);
        let sent_us = ctx.recorder.now_us();
        if conn.is_none() {
            let options = Default::default();
            let opening = election::connect(&ctx.connector, &ctx.spawner, &options);
            conn = election::timeout(&ctx.clock, every, opening).await.and_then(Result::ok);
        }
        let Some(c) = conn.as_mut() else { continue };
        let written = if bug == Bug::UncheckedFencingToken {
            let keys = [FENCED_RESOURCE];
            let args = [epoch.to_string(), value.clone()];
            let reply = election::timeout(&ctx.clock, every, unchecked.invoke(c, &keys, &args)).await;
            reply
                .and_then(Result::ok)
                .and_then(|r| redis::from_redis_value::<(i64, u64)>(r.value).ok())
                .map(|(_, before)| WriteOutcome::Accepted { replaced: (before > 0).then_some(FencingToken(before)) })
        } else {
            let written = resource.write(c, FencingToken(epoch), &value);
            election::timeout(&ctx.clock, every, written).await.and_then(Result::ok)
        };
        let Some(outcome) = written else {
            conn = None;
            continue;
        };
        let (accepted, replaced) = match outcome {
            WriteOutcome::Accepted { replaced } => (true, replaced.map(|t| t.0)),
            WriteOutcome::Rejected { highest } => (false, Some(highest.0)),
        };
        ctx.recorder.record(EventKind::FencedWrite { epoch, accepted, value, sent_us, replaced });
    }
    ctx.recorder.record(EventKind::JobFinished { job: WRITER_JOB.into(), epoch });
}
