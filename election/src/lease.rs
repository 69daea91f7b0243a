//! The lease as stored in Redis, the fencing token it carries, and the arithmetic of local
//! lease deadlines. Everything here is pure: the elector feeds it instants from its clock.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::clock::Instant;
use crate::config::ElectorConfig;

/// A fencing token: the epoch under which a leader acts. Epochs come from one Redis counter
/// incremented atomically with each successful acquisition, so a later leader always holds
/// a larger token; a resource that refuses tokens below the largest it has seen refuses a
/// deposed leader's late writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FencingToken(pub u64);

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "epoch {}", self.0)
    }
}

/// The value stored under the lease key: `<instance>/<incarnation as 16 hex digits>/<epoch>`.
/// The instance comes first so that `redis-cli GET` reads naturally; it may itself contain
/// `/`, which is why parsing splits from the right.
///
/// ```
/// use election::LeaseValue;
/// let value: LeaseValue = "gateway-1:8001/000000000000002a/7".parse().unwrap();
/// assert_eq!((value.instance.as_str(), value.incarnation, value.epoch), ("gateway-1:8001", 42, 7));
/// assert_eq!(value.to_string(), "gateway-1:8001/000000000000002a/7");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseValue {
    /// The holder's instance name.
    pub instance: String,
    /// The holder's process incarnation.
    pub incarnation: u64,
    /// The fencing epoch of this lease.
    pub epoch: u64,
}

impl LeaseValue {
    /// The identity prefix a holder writes before the epoch (`<instance>/<incarnation>/`).
    pub(crate) fn identity(instance: &str, incarnation: u64) -> String {
        format!("{instance}/{incarnation:016x}/")
    }

    /// Whether this lease was written by the given instance incarnation.
    pub fn is_held_by(&self, instance: &str, incarnation: u64) -> bool {
        self.instance == instance && self.incarnation == incarnation
    }

    /// The fencing token of this lease.
    pub fn token(&self) -> FencingToken {
        FencingToken(self.epoch)
    }
}

impl fmt::Display for LeaseValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::identity(&self.instance, self.incarnation), self.epoch)
    }
}

/// A lease value that is not in the elector's format (someone else wrote the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a lease value of this elector: {0:?}")]
pub struct ForeignValue(pub String);

impl FromStr for LeaseValue {
    type Err = ForeignValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let foreign = || ForeignValue(s.to_owned());
        let mut parts = s.rsplitn(3, '/');
        let epoch = parts.next().and_then(|e| e.parse().ok()).ok_or_else(foreign)?;
        let incarnation =
            parts.next().filter(|i| i.len() == 16).and_then(|i| u64::from_str_radix(i, 16).ok()).ok_or_else(foreign)?;
        let instance = parts.next().filter(|i| !i.is_empty()).ok_or_else(foreign)?;
        Ok(LeaseValue { instance: instance.to_owned(), incarnation, epoch })
    }
}

/// The timing rules of a lease, from a validated configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeaseTiming {
    pub(crate) local_lease: Duration,
    pub(crate) renew_interval: Duration,
}

impl LeaseTiming {
    pub(crate) fn new(config: &ElectorConfig) -> Self {
        LeaseTiming { local_lease: config.local_lease(), renew_interval: config.renew_interval }
    }

    /// The local deadline of a lease whose acquiring or renewing request was sent at
    /// `sent_at`. Measured from before the send: Redis started the TTL at some instant after
    /// `sent_at`, so the lease in Redis outlives this deadline by at least the drift margin
    /// however long the request and its reply took.
    pub(crate) fn deadline(&self, sent_at: Instant) -> Instant {
        sent_at + self.local_lease
    }

    /// When to renew a lease whose last successful request was sent at `sent_at`.
    pub(crate) fn next_renewal(&self, sent_at: Instant) -> Instant {
        sent_at + self.renew_interval
    }
}

/// The state of a lease this node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeldLease {
    pub(crate) value: LeaseValue,
    pub(crate) deadline: Instant,
    pub(crate) next_renewal: Instant,
}

impl HeldLease {
    pub(crate) fn granted(value: LeaseValue, sent_at: Instant, timing: LeaseTiming) -> Self {
        HeldLease { value, deadline: timing.deadline(sent_at), next_renewal: timing.next_renewal(sent_at) }
    }

    /// A renewal sent at `sent_at` succeeded.
    pub(crate) fn renewed(&mut self, sent_at: Instant, timing: LeaseTiming) {
        let deadline = timing.deadline(sent_at);
        debug_assert!(deadline >= self.deadline, "a successful renewal never shortens the lease");
        self.deadline = self.deadline.max(deadline);
        self.next_renewal = timing.next_renewal(sent_at);
    }

    /// A renewal failed at `now`: try again after `retry`, but never past the deadline.
    pub(crate) fn renewal_failed(&mut self, now: Instant, retry: Duration) {
        self.next_renewal = (now + retry).min(self.deadline);
    }

    pub(crate) fn is_valid_at(&self, now: Instant) -> bool {
        now < self.deadline
    }
}

/// Seeded jitter for retry waits: SplitMix64, chosen because it is tiny, fast and gives the
/// same sequence on every platform.
#[derive(Debug, Clone)]
pub(crate) struct Jitter {
    state: u64,
    fraction: f64,
}

impl Jitter {
    pub(crate) fn new(seed: u64, fraction: f64) -> Self {
        Jitter { state: seed, fraction }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `base * (1 + fraction * u)`, u uniform in [0, 1).
    pub(crate) fn stretch(&mut self, base: Duration) -> Duration {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        base.mul_f64(1.0 + self.fraction * unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A controlled clock for the arithmetic: instants are set by hand.
    fn at(ms: u64) -> Instant {
        Instant::from_origin(Duration::from_millis(ms))
    }

    fn timing() -> LeaseTiming {
        let config = ElectorConfig::new("k", "n", 1).with_timings(
            Duration::from_secs(15),
            Duration::from_secs(5),
            Duration::from_secs(1),
        );
        LeaseTiming::new(&config)
    }

    fn value() -> LeaseValue {
        LeaseValue { instance: "n".into(), incarnation: 1, epoch: 3 }
    }

    #[test]
    fn deadline_counts_from_before_the_request_minus_the_drift_margin() {
        // Sent at 1 s; the reply may come back much later: the deadline does not move.
        let lease = HeldLease::granted(value(), at(1_000), timing());
        assert_eq!(lease.deadline, at(1_000 + 15_000 - 152));
        assert_eq!(lease.next_renewal, at(6_000));
        assert!(lease.is_valid_at(at(15_847)));
        assert!(!lease.is_valid_at(at(15_848)));
    }

    #[test]
    fn renewal_extends_from_its_own_send_instant() {
        let mut lease = HeldLease::granted(value(), at(0), timing());
        lease.renewed(at(5_000), timing());
        assert_eq!(lease.deadline, at(5_000 + 14_848));
        assert_eq!(lease.next_renewal, at(10_000));
    }

    #[test]
    fn failed_renewal_retries_but_never_past_the_deadline() {
        let mut lease = HeldLease::granted(value(), at(0), timing());
        lease.renewal_failed(at(5_000), Duration::from_secs(1));
        assert_eq!(lease.next_renewal, at(6_000));
        lease.renewal_failed(at(14_500), Duration::from_secs(1));
        assert_eq!(lease.next_renewal, lease.deadline);
    }

    #[test]
    fn lease_values_round_trip_and_foreign_values_are_refused() {
        let v = LeaseValue { instance: "a/b:1".into(), incarnation: u64::MAX, epoch: 12 };
        assert_eq!(v.to_string().parse::<LeaseValue>(), Ok(v.clone()));
        assert!(v.is_held_by("a/b:1", u64::MAX));
        assert!(!v.is_held_by("a/b:1", 0));
        for foreign in ["intruder", "x/12/3", "/000000000000002a/7", "x/000000000000002a/", "x/zz00000000000000/1"] {
            assert!(foreign.parse::<LeaseValue>().is_err(), "{foreign}");
        }
    }

    #[test]
    fn jitter_is_reproducible_and_bounded() {
        let base = Duration::from_millis(1_000);
        let mut a = Jitter::new(42, 0.2);
        let mut b = Jitter::new(42, 0.2);
        let waits: Vec<_> = (0..1_000).map(|_| a.stretch(base)).collect();
        assert!(waits.iter().all(|w| *w >= base && *w < base.mul_f64(1.2)));
        assert_eq!(waits, (0..1_000).map(|_| b.stretch(base)).collect::<Vec<_>>());
        assert!(waits.iter().any(|w| *w > base.mul_f64(1.1)), "the jitter spreads");
        assert_eq!(Jitter::new(1, 0.0).stretch(base), base);
    }
}
