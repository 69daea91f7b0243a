//! What an elector is configured with, and the rules that make a configuration safe.

use std::time::Duration;

/// The configuration of one elector. Build it with [`ElectorConfig::new`], adjust the public
/// fields, and let [`crate::Elector::builder`] validate it.
///
/// ```
/// use std::time::Duration;
/// use election::ElectorConfig;
///
/// let mut config = ElectorConfig::new("gateway_service_leader", "gateway-1:8001", 7);
/// config.ttl = Duration::from_secs(15);
/// config.renew_interval = Duration::from_secs(5);
/// assert!(config.validate().is_ok());
///
/// config.renew_interval = Duration::from_secs(15);
/// assert_eq!(
///     config.validate().unwrap_err().to_string(),
///     "renew interval (15s) must be below the local lease ttl - drift margin (14.848s)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ElectorConfig {
    /// The lease key, e.g. `gateway_service_leader`.
    pub key: String,
    /// The counter that hands out fencing epochs. Defaults to `<key>:epoch`.
    pub epoch_key: String,
    /// A human-readable record of the leader (JSON), kept beside the lease with the same
    /// TTL. Defaults to `<key>:info`.
    pub info_key: String,
    /// This replica's name, e.g. `host:port` or a pod name. Must not be empty.
    pub instance: String,
    /// Distinguishes this process incarnation from earlier ones of the same instance: a
    /// restarted process must never be mistaken for its predecessor. See
    /// [`crate::random_incarnation`].
    pub incarnation: u64,
    /// Where the instance runs, for the info record. Defaults to the instance name.
    pub host: String,
    /// The lease's time to live in Redis (`PX`). Whole milliseconds.
    pub ttl: Duration,
    /// A leader renews this long after the start of its last successful renewal.
    pub renew_interval: Duration,
    /// A follower campaigns, and a leader whose renewal failed retries, this often.
    pub retry_interval: Duration,
    /// Each retry waits `retry_interval * (1 + retry_jitter * u)`, u uniform in [0, 1).
    pub retry_jitter: f64,
    /// Seeds the jitter, so that a run is reproducible.
    pub jitter_seed: u64,
    /// Subtracted from the TTL for the local lease deadline: covers the drift between this
    /// node's clock and Redis's (a 1% drift needs at least 1% of the TTL).
    pub drift_margin: Duration,
    /// The longest a single Redis command (or connecting) may take.
    pub command_timeout: Duration,
    /// On graceful shutdown, how long leader-only jobs may take to stop before they are
    /// cancelled and the lease is released.
    pub drain_timeout: Duration,
}

impl ElectorConfig {
    /// The defaults of the gateway plan: TTL 15 s, renewal every 5 s, retry every 1 s with
    /// 20% jitter, a drift margin of 1% of the TTL plus 2 ms.
    pub fn new(key: impl Into<String>, instance: impl Into<String>, incarnation: u64) -> Self {
        let key = key.into();
        let instance = instance.into();
        let ttl = Duration::from_secs(15);
        ElectorConfig {
            epoch_key: format!("{key}:epoch"),
            info_key: format!("{key}:info"),
            host: instance.clone(),
            jitter_seed: incarnation ^ fnv1a(instance.as_bytes()),
            key,
            instance,
            incarnation,
            ttl,
            renew_interval: Duration::from_secs(5),
            retry_interval: Duration::from_secs(1),
            retry_jitter: 0.2,
            drift_margin: default_drift_margin(ttl),
            command_timeout: Duration::from_millis(500),
            drain_timeout: Duration::from_secs(5),
        }
    }

    /// Sets the three timings together and derives the drift margin from the TTL, as
    /// [`ElectorConfig::new`] does.
    pub fn with_timings(mut self, ttl: Duration, renew: Duration, retry: Duration) -> Self {
        self.ttl = ttl;
        self.renew_interval = renew;
        self.retry_interval = retry;
        self.drift_margin = default_drift_margin(ttl);
        self
    }

    /// The length of a lease as this node counts it: `ttl - drift_margin`, measured from
    /// the instant before the acquiring or renewing request was sent.
    pub fn local_lease(&self) -> Duration {
        self.ttl.saturating_sub(self.drift_margin)
    }

    /// Checks the rules that make leases safe and live, as Kubernetes' client-go does for
    /// its lease duration, renew deadline and retry period.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigError::*;
        for (which, name) in [
            ("key", &self.key),
            ("epoch key", &self.epoch_key),
            ("info key", &self.info_key),
            ("instance", &self.instance),
        ] {
            if name.is_empty() {
                return Err(Empty { which });
            }
        }
        if self.epoch_key == self.key || self.info_key == self.key || self.info_key == self.epoch_key {
            return Err(KeysNotDistinct);
        }
        if self.ttl < Duration::from_millis(10) || self.ttl.subsec_nanos() % 1_000_000 != 0 {
            return Err(TtlInvalid { ttl: self.ttl });
        }
        if self.drift_margin >= self.ttl {
            return Err(DriftMarginNotBelowTtl { margin: self.drift_margin, ttl: self.ttl });
        }
        let lease = self.local_lease();
        if self.renew_interval.is_zero() || self.renew_interval >= lease {
            return Err(RenewNotBelowLease { renew: self.renew_interval, lease });
        }
        if self.retry_interval.is_zero() {
            return Err(ZeroRetryInterval);
        }
        if !(0.0..=1.0).contains(&self.retry_jitter) {
            return Err(JitterOutOfRange { jitter: self.retry_jitter });
        }
        let window = lease - self.renew_interval;
        let longest_retry = self.retry_interval.mul_f64(1.0 + self.retry_jitter);
        if window <= longest_retry {
            return Err(NoRoomToRetry { window, retry: longest_retry });
        }
        if self.command_timeout.is_zero() || self.command_timeout >= window {
            return Err(CommandTimeoutInvalid { timeout: self.command_timeout, window });
        }
        Ok(())
    }
}

/// The drift margin a TTL gets unless configured: 1% of the TTL plus 2 ms, as Redlock's drift
/// factor.
pub fn default_drift_margin(ttl: Duration) -> Duration {
    ttl / 100 + Duration::from_millis(2)
}

/// FNV-1a: a stable hash for deriving the default jitter seed (std's hasher is not stable
/// across releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// Why a configuration was refused. Each renders as one line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A name is empty.
    #[error("the {which} must not be empty")]
    Empty {
        /// Which name.
        which: &'static str,
    },
    /// Two of the lease, epoch and info keys are the same key.
    #[error("the lease, epoch and info keys must be three different keys")]
    KeysNotDistinct,
    /// The TTL is under 10 ms or not whole milliseconds.
    #[error("ttl ({ttl:?}) must be at least 10ms and a whole number of milliseconds")]
    TtlInvalid {
        /// The TTL given.
        ttl: Duration,
    },
    /// The drift margin swallows the whole TTL.
    #[error("drift margin ({margin:?}) must be below the ttl ({ttl:?})")]
    DriftMarginNotBelowTtl {
        /// The margin given.
        margin: Duration,
        /// The TTL given.
        ttl: Duration,
    },
    /// The renew interval is zero or not below the local lease.
    #[error("renew interval ({renew:?}) must be below the local lease ttl - drift margin ({lease:?})")]
    RenewNotBelowLease {
        /// The renew interval given.
        renew: Duration,
        /// `ttl - drift_margin`.
        lease: Duration,
    },
    /// The retry interval is zero.
    #[error("retry interval must be above zero")]
    ZeroRetryInterval,
    /// The jitter is not a fraction.
    #[error("retry jitter ({jitter}) must be between 0 and 1")]
    JitterOutOfRange {
        /// The jitter given.
        jitter: f64,
    },
    /// After a missed renewal there is no time to retry before the lease runs out.
    #[error("ttl - drift margin - renew interval ({window:?}) must exceed the longest retry wait ({retry:?}) so that a failed renewal is retried before the lease runs out")]
    NoRoomToRetry {
        /// `ttl - drift_margin - renew_interval`.
        window: Duration,
        /// `retry_interval * (1 + retry_jitter)`.
        retry: Duration,
    },
    /// A single command could outlast the renewal window.
    #[error(
        "command timeout ({timeout:?}) must be above zero and below ttl - drift margin - renew interval ({window:?})"
    )]
    CommandTimeoutInvalid {
        /// The command timeout given.
        timeout: Duration,
        /// `ttl - drift_margin - renew_interval`.
        window: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short() -> ElectorConfig {
        ElectorConfig::new("k", "node-1", 1).with_timings(
            Duration::from_secs(1),
            Duration::from_millis(300),
            Duration::from_millis(100),
        )
    }

    #[test]
    fn defaults_and_short_timings_are_valid() {
        assert_eq!(ElectorConfig::new("k", "i", 0).validate(), Ok(()));
        assert_eq!(short().validate(), Ok(()));
        assert_eq!(short().local_lease(), Duration::from_millis(988));
    }

    #[test]
    fn each_rule_refuses_with_its_own_error() {
        type Breakage = fn(&mut ElectorConfig);
        let cases: Vec<(Breakage, &str)> = vec![
            (|c| c.key.clear(), "the key must not be empty"),
            (|c| c.instance.clear(), "the instance must not be empty"),
            (|c| c.epoch_key = c.key.clone(), "the lease, epoch and info keys must be three different keys"),
            (|c| c.ttl = Duration::from_micros(1500), "ttl (1.5ms) must be at least 10ms"),
            (|c| c.ttl = Duration::from_micros(20_500), "must be at least 10ms and a whole number of milliseconds"),
            (|c| c.drift_margin = Duration::from_secs(1), "drift margin (1s) must be below the ttl (1s)"),
            (|c| c.renew_interval = Duration::from_secs(1), "renew interval (1s) must be below the local lease"),
            (|c| c.renew_interval = Duration::ZERO, "renew interval (0ns) must be below"),
            (|c| c.retry_interval = Duration::ZERO, "retry interval must be above zero"),
            (|c| c.retry_jitter = 1.5, "retry jitter (1.5) must be between 0 and 1"),
            (|c| c.retry_interval = Duration::from_millis(600), "must exceed the longest retry wait (720ms)"),
            (|c| c.command_timeout = Duration::from_secs(1), "command timeout (1s) must be above zero and below"),
        ];
        for (break_it, expected) in cases {
            let mut config = short();
            break_it(&mut config);
            let message = config.validate().expect_err(expected).to_string();
            assert!(message.contains(expected), "{message:?} should contain {expected:?}");
            assert!(!message.contains('\n'), "one line: {message:?}");
        }
    }

    #[test]
    fn the_default_jitter_seed_differs_between_instances_and_incarnations() {
        let a = ElectorConfig::new("k", "node-1", 1).jitter_seed;
        assert_ne!(a, ElectorConfig::new("k", "node-2", 1).jitter_seed);
        assert_ne!(a, ElectorConfig::new("k", "node-1", 2).jitter_seed);
        assert_eq!(a, ElectorConfig::new("k", "node-1", 1).jitter_seed);
    }
}
