//! The figures a history is judged against, derived in one place from the elector's and the
//! cache's configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::staleness::StalenessBounds;

/// Which lease exclusivity is required (property 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exclusivity {
    /// No two nodes believe they lead at any instant.
    Strict,
    /// No overlap that the injected faults cannot explain (a holder's clock running slow, a
    /// Redis clock fault, a Redis restart: fencing keeps those safe).
    #[default]
    UnlessExplained,
}

/// What a history is judged against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Once the faults heal, a leader within this long (property 6).
    pub liveness_ms: u64,
    /// Which exclusivity the lease must give (property 3).
    #[serde(default)]
    pub exclusivity: Exclusivity,
    /// The period of the leader-only periodic job, when there is one whose slots are recorded
    /// (property 5: each slot at most once, none skipped while healthy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_ms: Option<u64>,
    /// How stale a cache read may be, when caches are recorded (property 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheBounds>,
}

/// How stale a cache read may be, in true time, after a write returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheBounds {
    /// When the write's invalidation was published.
    pub published_ms: u64,
    /// When it was not (entries expire by their TTL alone).
    pub unpublished_ms: u64,
}

/// Bounds read from a file are at most this long (a day): far past any lease, and small
/// enough that adding them to a time cannot overflow.
pub const BOUND_MS_MAX: u64 = 86_400_000;

/// The slack the liveness bound allows beyond a TTL and a retry: a campaign's round trips,
/// the network's latency and a tick.
const LIVENESS_SLACK: Duration = Duration::from_millis(500);

/// The slack the staleness bounds allow beyond the cache's own figures: a tick and the
/// network's latency.
const STALENESS_SLACK: Duration = Duration::from_millis(50);

impl Bounds {
    /// The bounds an elector with lease `ttl` and campaign `retry` promises: once the faults
    /// heal, the old lease runs out within `ttl`, and a campaign (each retry jittered by up
    /// to a fifth) takes the lease within one retry after.
    pub fn for_lease(ttl: Duration, retry: Duration) -> Bounds {
        let liveness = ttl + retry.mul_f64(1.2) + LIVENESS_SLACK;
        Bounds {
            liveness_ms: liveness.as_millis() as u64,
            exclusivity: Exclusivity::default(),
            slot_ms: None,
            cache: None,
        }
    }

    /// With strict exclusivity required.
    pub fn strict(self) -> Bounds {
        Bounds { exclusivity: Exclusivity::Strict, ..self }
    }

    /// With a leader-only periodic job of period `slot`.
    pub fn with_slots(self, slot: Duration) -> Bounds {
        Bounds { slot_ms: Some(slot.as_millis() as u64), ..self }
    }

    /// With a cache of liveness window `liveness` and entry TTL `entry_ttl`: its promise,
    /// measured on a node clock that may run as slow as a simulation allows, plus slack.
    pub fn with_cache(self, liveness: Duration, entry_ttl: Duration) -> Bounds {
        let staleness = StalenessBounds::of(liveness, entry_ttl, STALENESS_SLACK);
        let cache = CacheBounds {
            published_ms: staleness.published.as_millis() as u64,
            unpublished_ms: staleness.unpublished.as_millis() as u64,
        };
        Bounds { cache: Some(cache), ..self }
    }

    /// The liveness bound, µs.
    pub fn liveness_us(&self) -> u64 {
        self.liveness_ms * 1000
    }

    /// The staleness bounds, when a cache is judged.
    pub fn staleness(&self) -> Option<StalenessBounds> {
        self.cache.map(|c| StalenessBounds {
            published: Duration::from_millis(c.published_ms),
            unpublished: Duration::from_millis(c.unpublished_ms),
        })
    }

    /// Every figure within [`BOUND_MS_MAX`] (and a slot period above zero): the check for
    /// bounds read from a file.
    pub fn validate(&self) -> Result<(), String> {
        let mut figures = vec![("liveness_ms", self.liveness_ms)];
        figures.extend(self.slot_ms.map(|s| ("slot_ms", s)));
        if let Some(c) = self.cache {
            figures.extend([("cache.published_ms", c.published_ms), ("cache.unpublished_ms", c.unpublished_ms)]);
        }
        if let Some((name, value)) = figures.iter().find(|(_, v)| *v > BOUND_MS_MAX) {
            return Err(format!("bound {name} = {value} is beyond the limit of {BOUND_MS_MAX}"));
        }
        if self.slot_ms == Some(0) {
            return Err("bound slot_ms must be above 0".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_liveness_bound_is_a_ttl_a_jittered_retry_and_slack() {
        let bounds = Bounds::for_lease(Duration::from_secs(3), Duration::from_millis(250));
        assert_eq!(bounds.liveness_ms, 3_000 + 300 + 500);
        assert_eq!(bounds.exclusivity, Exclusivity::UnlessExplained);
        assert!(bounds.validate().is_ok());
        let far = Bounds { liveness_ms: BOUND_MS_MAX + 1, ..bounds };
        assert!(far.validate().unwrap_err().contains("liveness_ms"));
    }
}
