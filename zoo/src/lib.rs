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

use election::{Connection, LuaScript};
use redis::Value;
use sim::{program, EventKind, NodeContext, NodeProgram};

pub use cache::{cache_node, ZooCache};

/// One classic bug (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bug {
    /// The correct elector.
    None,
    /// Release by plain `DEL`, without checking that the lease is still ours.
    PlainDelRelease,
    /// Release as `GET` == me, then `DEL`: two round trips, another owner may come between.
    GetThenDelRelease,
    /// Renew by plain `PEXPIRE`, without checking that the lease is still ours.
    PlainPexpireRenew,
    /// Renew as `GET` == me, then `PEXPIRE`, in two round trips.
    GetThenPexpireRenew,
    /// Renewal failures are only logged: the node keeps leading as if it had renewed.
    RenewFailureOnlyLogged,
    /// After losing leadership the node never campaigns again.
    NoCampaignAfterLoss,
    /// `EVALSHA` answered NOSCRIPT (Redis restarted) is taken for a successful renewal.
    NoscriptAsSuccess,
    /// The local deadline is the full TTL from the reply, not TTL − margin from the send.
    DeadlineWithoutMargin,
    /// The fencing counter lives in a Redis without persistence: a restart hands out epoch
    /// numbers again (the production elector, deployed so).
    UnpersistedFencingCounter,
    /// Cache: no flush when the pub/sub connection drops and comes back.
    CacheNoFlushOnReconnect,
    /// Cache: the invalidation is published before the write commits.
    CachePublishBeforeCommit,
}

impl Bug {
    /// Every variant, the correct one first.
    pub const ALL: [Bug; 12] = [
        Bug::None,
        Bug::PlainDelRelease,
        Bug::GetThenDelRelease,
        Bug::PlainPexpireRenew,
        Bug::GetThenPexpireRenew,
        Bug::RenewFailureOnlyLogged,
        Bug::NoCampaignAfterLoss,
        Bug::NoscriptAsSuccess,
        Bug::DeadlineWithoutMargin,
        Bug::UnpersistedFencingCounter,
        Bug::CacheNoFlushOnReconnect,
        Bug::CachePublishBeforeCommit,
    ];

    /// Whether the bug is in the cache (the elector is then the production one).
    pub fn is_cache(self) -> bool {
        matches!(self, Bug::CacheNoFlushOnReconnect | Bug::CachePublishBeforeCommit)
    }

    /// Whether the bug is in the deployment, not the code: the production elector and cache
    /// run, on a Redis configured wrongly.
    pub fn is_deployment(self) -> bool {
        self == Bug::UnpersistedFencingCounter
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
            Bug::NoCampaignAfterLoss => "no-campaign-after-loss",
            Bug::NoscriptAsSuccess => "noscript-as-success",
            Bug::DeadlineWithoutMargin => "deadline-without-margin",
            Bug::UnpersistedFencingCounter => "unpersisted-fencing-counter",
            Bug::CacheNoFlushOnReconnect => "cache-no-flush-on-reconnect",
            Bug::CachePublishBeforeCommit => "cache-publish-before-commit",
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
            Bug::NoCampaignAfterLoss => "after losing leadership it never campaigns again",
            Bug::NoscriptAsSuccess => "EVALSHA failing with NOSCRIPT after a Redis restart taken for a renewal",
            Bug::DeadlineWithoutMargin => "local deadline = reply + the full TTL (no margin, not from the send)",
            Bug::UnpersistedFencingCounter => {
                "the fencing counter in a Redis without persistence: a restart reissues epochs"
            }
            Bug::CacheNoFlushOnReconnect => "cache: keeps its entries when the pub/sub connection drops and comes back",
            Bug::CachePublishBeforeCommit => "cache: publishes the invalidation before the write commits",
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
    acquire: LuaScript,
    renew: LuaScript,
    release: LuaScript,
}

async fn run(ctx: NodeContext, t: Timings, bug: Bug) {
    ctx.recorder.record(EventKind::ElectionStarted);
    let mut node = Node {
        ctx,
        t,
        bug,
        conn: None,
        loaded: false,
        held: None,
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
        node.ctx.recorder.record(EventKind::SteppedDown { epoch, reason: "Shutdown".into() });
        node.release_lease(&value, epoch).await;
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
            let prefix = format!("{}/{:016x}/", self.ctx.name, self.ctx.incarnation);
            let keys = self.keys();
            let args = [prefix.clone(), self.ttl_ms(), format!("{{\"instance\":\"{}\",\"epoch\":", self.ctx.name)];
            if let Some(Value::Int(epoch)) = self.script(|n| &n.acquire, &keys, &args).await {
                let (value, epoch) = (format!("{prefix}{epoch}"), epoch as u64);
                let deadline = self.deadline_after(sent);
                self.held = Some((value.clone(), epoch));
                let deadline_true_us = self.ctx.recorder.true_at(deadline);
                self.ctx.recorder.record(EventKind::Acquired { epoch, deadline_local_us: deadline, deadline_true_us });
                tracing::info!(epoch, "became the leader");
                self.lead(&value, epoch, deadline).await;
                self.held = None;
                self.release_lease(&value, epoch).await;
                if self.bug == Bug::NoCampaignAfterLoss {
                    tracing::info!(epoch, "lost leadership: not campaigning again");
                    return std::future::pending().await;
                }
            }
            self.sleep_until(self.now() + self.t.retry.as_micros() as i64).await;
        }
    }

    fn local_lease_us(&self) -> i64 {
        (self.t.ttl.saturating_sub(self.t.margin)).as_micros() as i64
    }

    /// The local deadline after a successful request sent at `sent` (local µs).
    fn deadline_after(&self, sent: i64) -> i64 {
        match self.bug {
            // From the reply, the whole TTL: latency and drift eat into another's lease.
            Bug::DeadlineWithoutMargin => self.now() + self.t.ttl.as_micros() as i64,
            _ => sent + self.local_lease_us(),
        }
    }

    /// Leads until the lease is lost or its deadline passes.
    async fn lead(&mut self, value: &str, epoch: u64, mut deadline: i64) {
        let mut next_renewal = self.now() + self.t.renew.as_micros() as i64;
        loop {
            self.sleep_until(next_renewal.min(deadline)).await;
            if self.now() >= deadline {
                self.ctx.recorder.record(EventKind::SteppedDown { epoch, reason: "DeadlinePassed".into() });
                tracing::warn!(epoch, "lease deadline passed: stepping down");
                return;
            }
            let sent = self.now();
            let mut renewed = self.renew_lease(value).await;
            if self.bug == Bug::RenewFailureOnlyLogged && renewed != Some(true) {
                tracing::warn!(epoch, "renewal failed (logged only): leading on");
                renewed = Some(true);
            }
            match renewed {
                Some(true) => {
                    deadline = deadline.max(self.deadline_after(sent));
                    next_renewal = sent + self.t.renew.as_micros() as i64;
                    let deadline_true_us = self.ctx.recorder.true_at(deadline);
                    self.ctx.recorder.record(EventKind::Renewed {
                        epoch,
                        deadline_local_us: deadline,
                        deadline_true_us,
                    });
                }
                Some(false) => {
                    self.ctx.recorder.record(EventKind::SteppedDown { epoch, reason: "LeaseLost".into() });
                    tracing::warn!(epoch, "the lease is no longer ours: stepping down");
                    return;
                }
                None => {
                    self.ctx.recorder.record(EventKind::RenewFailed { epoch });
                    next_renewal = self.now() + self.t.retry.as_micros() as i64;
                }
            }
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
