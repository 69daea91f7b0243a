//! The elector: campaigns while a follower, renews while a leader, steps down the moment its
//! lease may be gone, and releases on a graceful stop.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use redis::{RedisConnectionInfo, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::clock::{Clock, Instant, TokioClock};
use crate::config::{ConfigError, ElectorConfig};
use crate::connector::Connector;
use crate::jobs::{JobFn, LeaderContext, Term};
use crate::lease::{HeldLease, Jitter, LeaseTiming, LeaseValue};
use crate::link::{Link, LinkError};
use crate::scripts::Scripts;
use crate::spawn::{Spawner, TokioSpawner};
use crate::state::{bump, CurrentLeader, ElectorEvent, ElectorHandle, Leadership, Observer, Shared, StepDown};

/// Builds an [`Elector`]: the configuration and a connector are required; the clock and
/// spawner default to tokio's.
pub struct ElectorBuilder {
    config: ElectorConfig,
    connector: Arc<dyn Connector>,
    clock: Arc<dyn Clock>,
    spawner: Arc<dyn Spawner>,
    redis: RedisConnectionInfo,
    jobs: Vec<(String, JobFn)>,
    observer: Option<Observer>,
}

impl ElectorBuilder {
    /// Calls `observer` synchronously at every transition ([`ElectorEvent`]).
    pub fn observer(mut self, observer: impl Fn(&ElectorEvent) + Send + Sync + 'static) -> Self {
        self.observer = Some(std::sync::Arc::new(observer));
        self
    }

    /// Reads time from `clock` instead of tokio's.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Starts background tasks through `spawner` instead of `tokio::spawn`.
    pub fn spawner(mut self, spawner: Arc<dyn Spawner>) -> Self {
        self.spawner = spawner;
        self
    }

    /// Database, credentials and protocol for the Redis connection.
    pub fn redis(mut self, info: RedisConnectionInfo) -> Self {
        self.redis = info;
        self
    }

    /// Runs `job` in every term this elector leads; see [`LeaderContext`].
    pub fn job<F, Fut>(mut self, name: impl Into<String>, job: F) -> Self
    where
        F: Fn(LeaderContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.jobs.push((name.into(), Arc::new(move |ctx| Box::pin(job(ctx)))));
        self
    }

    /// Validates the configuration and builds the elector.
    pub fn build(self) -> Result<Elector, ConfigError> {
        self.config.validate()?;
        let (leadership, _) = watch::channel(Leadership::Follower { leader: None });
        let shared = Arc::new(Shared {
            clock: self.clock,
            leadership,
            counters: Default::default(),
            shutdown: CancellationToken::new(),
            instance: self.config.instance.clone(),
            incarnation: self.config.incarnation,
        });
        Ok(Elector {
            link: Link::new(self.connector, self.spawner.clone(), self.redis),
            jitter: Jitter::new(self.config.jitter_seed, self.config.retry_jitter),
            timing: LeaseTiming::new(&self.config),
            scripts: Scripts::new(),
            spawner: self.spawner,
            jobs: self.jobs,
            observer: self.observer,
            config: self.config,
            shared,
        })
    }
}

/// A lease elector over Redis. See the crate documentation for an example.
pub struct Elector {
    config: ElectorConfig,
    shared: Arc<Shared>,
    link: Link,
    jitter: Jitter,
    timing: LeaseTiming,
    scripts: Scripts,
    spawner: Arc<dyn Spawner>,
    jobs: Vec<(String, JobFn)>,
    observer: Option<Observer>,
}

/// What an acquire attempt found.
enum Attempt {
    Acquired(LeaseValue),
    Held(String),
}

impl Elector {
    /// Starts building an elector that reaches Redis through `connector`.
    pub fn builder(config: ElectorConfig, connector: impl Connector) -> ElectorBuilder {
        ElectorBuilder {
            config,
            connector: Arc::new(connector),
            clock: TokioClock::shared(),
            spawner: Arc::new(TokioSpawner),
            redis: RedisConnectionInfo::default(),
            jobs: Vec::new(),
            observer: None,
        }
    }

    /// A handle to observe and stop this elector.
    pub fn handle(&self) -> ElectorHandle {
        ElectorHandle { shared: self.shared.clone() }
    }

    /// Runs [`Elector::run`] through the elector's spawner and returns its handle.
    pub fn spawn(self) -> ElectorHandle {
        let handle = self.handle();
        let spawner = self.spawner.clone();
        spawner.spawn(Box::pin(self.run()));
        handle
    }

    /// Campaigns and leads until [`ElectorHandle::shutdown`]. Never gives up on Redis errors:
    /// it keeps retrying, and a leader steps down when its local deadline passes.
    pub async fn run(mut self) {
        let span = tracing::info_span!(
            "elector",
            key = %self.config.key,
            instance = %self.config.instance,
            incarnation = %format_args!("{:016x}", self.config.incarnation),
        );
        async move {
            tracing::info!("elector started");
            while let Some(lease) = self.campaign().await {
                if self.lead(lease).await == StepDown::Shutdown {
                    break;
                }
            }
            tracing::info!("elector stopped");
        }
        .instrument(span)
        .await
    }

    /// Tries to acquire until it does (returns the lease) or shutdown is asked (`None`).
    async fn campaign(&mut self) -> Option<HeldLease> {
        loop {
            if self.shared.shutdown.is_cancelled() {
                return None;
            }
            self.notify(ElectorEvent::AcquireAttempt);
            let sent_at = self.shared.clock.now();
            match self.try_acquire().await {
                Ok(Attempt::Acquired(value)) => {
                    let lease = HeldLease::granted(value, sent_at, self.timing);
                    if lease.deadline > self.shared.clock.now() {
                        return Some(lease);
                    }
                    // The reply was read after the lease it granted had run out (the node was
                    // paused, or its reply held, in between): that term ended before it
                    // began, and another node may hold a newer epoch by now. Leading on it
                    // would start jobs and announce an epoch older than the current one.
                    tracing::warn!(
                        epoch = lease.value.epoch,
                        "acquired too late: the lease had run out before the reply was read"
                    );
                    continue;
                }
                Ok(Attempt::Held(holder)) => {
                    if self.release_own_leftover(&holder).await {
                        continue;
                    }
                    self.publish_follower(Some(CurrentLeader { value: holder }));
                }
                Err(e) => {
                    bump(&self.shared.counters.acquire_errors);
                    tracing::warn!(error = %e, "acquire attempt failed");
                    self.publish_follower(None);
                }
            }
            let wait = self.jitter.stretch(self.config.retry_interval);
            if !self.sleep_unless_shutdown(wait).await {
                return None;
            }
        }
    }

    async fn try_acquire(&mut self) -> Result<Attempt, LinkError> {
        let config = &self.config;
        let identity = LeaseValue::identity(&config.instance, config.incarnation);
        let args = [identity, config.ttl.as_millis().to_string(), self.info_prefix()];
        let keys = [config.key.as_str(), config.epoch_key.as_str(), config.info_key.as_str()];
        let reply = self.link.run(&self.shared, config.command_timeout, &self.scripts.acquire, &keys, &args).await?;
        bump(&self.shared.counters.acquire_attempts);
        match reply {
            Value::Int(epoch) if epoch > 0 => Ok(Attempt::Acquired(LeaseValue {
                instance: config.instance.clone(),
                incarnation: config.incarnation,
                epoch: epoch as u64,
            })),
            other => Ok(Attempt::Held(redis::from_redis_value(other)?)),
        }
    }

    /// The lease holds this incarnation's own value although it is not leading: a lease
    /// whose acquire reply came too late, or whose local deadline passed while Redis still
    /// kept it. Release it so that the next attempt starts a fresh term; never adopt it,
    /// since its term already ended (or never began) here. Returns whether it was released.
    async fn release_own_leftover(&mut self, holder: &str) -> bool {
        let own =
            holder.parse::<LeaseValue>().is_ok_and(|v| v.is_held_by(&self.config.instance, self.config.incarnation));
        if !own {
            return false;
        }
        tracing::info!(value = holder, "found a leftover lease of this incarnation; releasing it");
        self.release_value(holder).await
    }

    /// Leads a term until it ends; returns why.
    async fn lead(&mut self, mut lease: HeldLease) -> StepDown {
        let mut term = self.become_leader(&lease);
        let mut drain_until: Option<Instant> = None;
        loop {
            let now = self.shared.clock.now();
            if !lease.is_valid_at(now) {
                return self.step_down(StepDown::DeadlineMissed, &lease);
            }
            if drain_until.is_some_and(|until| now >= until) {
                return self.shut_down_term(term, &lease).await;
            }
            if now >= lease.next_renewal {
                if !self.renew(&mut lease).await {
                    return self.step_down(StepDown::LeaseLost, &lease);
                }
                continue;
            }
            let wake = lease.next_renewal.min(lease.deadline).min(drain_until.unwrap_or(Instant::FAR_FUTURE));
            let sleep = self.shared.clock.sleep_until(wake);
            tokio::select! {
                biased;
                () = self.shared.shutdown.cancelled(), if drain_until.is_none() => {
                    tracing::info!(drain_timeout = ?self.config.drain_timeout, "shutdown asked; draining leader-only jobs");
                    term.request_stop();
                    drain_until = Some(now + self.config.drain_timeout);
                }
                () = term.idle(), if drain_until.is_some() => return self.shut_down_term(term, &lease).await,
                () = sleep => {}
            }
        }
    }

    /// Renews; returns false when the lease is gone. A failed request is not a loss: it is
    /// retried until the local deadline, which `lead` enforces.
    async fn renew(&mut self, lease: &mut HeldLease) -> bool {
        let sent_at = self.shared.clock.now();
        let limit = self.config.command_timeout.min(lease.deadline - sent_at);
        let keys = [self.config.key.as_str(), self.config.info_key.as_str()];
        let args = [lease.value.to_string(), self.config.ttl.as_millis().to_string()];
        match self.link.run(&self.shared, limit, &self.scripts.renew, &keys, &args).await {
            Ok(Value::Int(1)) => {
                let before = lease.deadline;
                lease.renewed(sent_at, self.timing);
                // Each renewal is sent later than the last acknowledged one: the deadline,
                // counted from the send, never moves back.
                assert!(lease.deadline >= before, "a renewal moved the deadline back");
                bump(&self.shared.counters.renewals);
                self.notify(ElectorEvent::Renewed { epoch: lease.value.token(), deadline: lease.deadline });
                self.publish(Leadership::Leader { epoch: lease.value.token(), deadline: lease.deadline });
                tracing::trace!(deadline = ?lease.deadline, "renewed");
                true
            }
            Ok(reply) => {
                tracing::warn!(?reply, "renewal found the lease gone or someone else's");
                false
            }
            Err(e) => {
                bump(&self.shared.counters.renew_failures);
                self.notify(ElectorEvent::RenewFailed { epoch: lease.value.token() });
                let retry = self.jitter.stretch(self.config.retry_interval);
                lease.renewal_failed(self.shared.clock.now(), retry);
                tracing::warn!(error = %e, remaining = ?(lease.deadline - self.shared.clock.now()), "renewal failed; retrying");
                true
            }
        }
    }

    fn become_leader(&mut self, lease: &HeldLease) -> Term {
        assert!(!self.leads(), "a term begins only from following");
        bump(&self.shared.counters.acquisitions);
        bump(&self.shared.counters.transitions);
        tracing::info!(epoch = lease.value.epoch, deadline = ?lease.deadline, "became leader");
        self.notify(ElectorEvent::Acquired { epoch: lease.value.token(), deadline: lease.deadline });
        self.publish(Leadership::Leader { epoch: lease.value.token(), deadline: lease.deadline });
        assert!(self.leads(), "leadership published");
        Term::start(&self.jobs, &*self.spawner, lease.value.token(), &ElectorHandle { shared: self.shared.clone() })
    }

    /// Ends a term that lost its lease. Jobs are cancelled when the caller drops the term.
    fn step_down(&mut self, reason: StepDown, lease: &HeldLease) -> StepDown {
        assert!(self.leads(), "only a leader steps down");
        let counter = match reason {
            StepDown::LeaseLost => &self.shared.counters.leases_lost,
            _ => &self.shared.counters.deadlines_missed,
        };
        bump(counter);
        bump(&self.shared.counters.transitions);
        tracing::warn!(?reason, epoch = lease.value.epoch, "stepped down");
        self.notify(ElectorEvent::SteppedDown { epoch: lease.value.token(), reason });
        self.publish_follower(None);
        assert!(!self.leads(), "leadership withdrawn before the term's jobs are cancelled");
        reason
    }

    /// Graceful end of a term: jobs already asked to stop are cancelled, leadership is given
    /// up locally, and only then is the lease released.
    async fn shut_down_term(&mut self, term: Term, lease: &HeldLease) -> StepDown {
        assert!(self.leads(), "only a leader shuts its term down");
        drop(term);
        bump(&self.shared.counters.transitions);
        self.publish_follower(None);
        // Given up locally before the lease is released: no instant at which another node
        // may hold the lease while this one still says it leads.
        assert!(!self.leads(), "leadership withdrawn before the release");
        self.notify(ElectorEvent::SteppedDown { epoch: lease.value.token(), reason: StepDown::Shutdown });
        if self.release_value(&lease.value.to_string()).await {
            tracing::info!(epoch = lease.value.epoch, "released the lease");
        }
        StepDown::Shutdown
    }

    /// Deletes the lease if it still holds `value`; returns whether it did.
    async fn release_value(&mut self, value: &str) -> bool {
        let keys = [self.config.key.as_str(), self.config.info_key.as_str()];
        let args = [value.to_owned()];
        match self.link.run(&self.shared, self.config.command_timeout, &self.scripts.release, &keys, &args).await {
            Ok(Value::Int(1)) => {
                bump(&self.shared.counters.releases);
                if let Ok(lease) = value.parse::<LeaseValue>() {
                    self.notify(ElectorEvent::Released { epoch: lease.token() });
                }
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "release failed; the lease will expire by its TTL");
                false
            }
        }
    }

    async fn sleep_unless_shutdown(&self, duration: Duration) -> bool {
        tokio::select! {
            biased;
            () = self.shared.shutdown.cancelled() => false,
            () = self.shared.clock.sleep(duration) => true,
        }
    }

    fn notify(&self, event: ElectorEvent) {
        if let Some(observer) = &self.observer {
            observer(&event);
        }
    }

    fn publish(&self, leadership: Leadership) {
        self.shared.leadership.send_if_modified(|current| {
            let changed = *current != leadership;
            *current = leadership;
            changed
        });
    }

    /// Whether leadership is published (whatever the deadline says).
    fn leads(&self) -> bool {
        matches!(*self.shared.leadership.borrow(), Leadership::Leader { .. })
    }

    fn publish_follower(&self, leader: Option<CurrentLeader>) {
        self.publish(Leadership::Follower { leader });
    }

    /// The info record up to its epoch: the acquire script appends the epoch and `}`.
    fn info_prefix(&self) -> String {
        let since_ms = self.shared.clock.wall().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        format!(
            r#"{{"instance":{},"incarnation":"{:016x}","host":{},"since_ms":{since_ms},"epoch":"#,
            json_string(&self.config.instance),
            self.config.incarnation,
            json_string(&self.config.host),
        )
    }
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(json_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(json_string("x\ny"), r#""x\u000ay""#);
    }
}
