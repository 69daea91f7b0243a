//! Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012): each seed draws its own
//! deployment and fault mix — which fault families are on, how often faults come, the lease's
//! timings, how many nodes, how fast the network and the workloads are — instead of one fixed
//! mix for every seed. A family left out of a seed cannot mask the others; a rare
//! combination of timings comes up in some seeds in full. The swarm is data: it travels in
//! the schedule and in the failure file, and a shrink may turn families off.

use serde::{Deserialize, Serialize};

use crate::fault::NODES_MAX;

/// A family of faults, as a swarm turns them on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Partitions, one-way partitions, isolation, latency, loss, held links to Redis.
    Partitions,
    /// Process pauses, at a time or at a moment of the node's own.
    Pauses,
    /// Clock drift and jumps, on nodes and on Redis.
    Clocks,
    /// kill -9 and graceful stops.
    Crashes,
    /// Redis restarts, dropped connections, slow commands.
    Redis,
    /// The link between a node and the cache's source database: latency, holds, loss, cuts.
    Source,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 6] =
        [Family::Partitions, Family::Pauses, Family::Clocks, Family::Crashes, Family::Redis, Family::Source];

    /// The family's name, as a swarm spells it.
    pub fn name(self) -> &'static str {
        match self {
            Family::Partitions => "partitions",
            Family::Pauses => "pauses",
            Family::Clocks => "clocks",
            Family::Crashes => "crashes",
            Family::Redis => "redis",
            Family::Source => "source",
        }
    }
}

/// The cache workload's mix in a swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheMix {
    /// Keys `k0` .. `k<keys-1>`: one is a single hot key every node reads and writes.
    pub keys: u32,
    /// Between one node's reads.
    pub read_every_ms: u64,
    /// Between one node's writes, on average.
    pub write_every_ms: u64,
    /// Whether each write is raced by a read of the same key on the same node, issued while
    /// the write is in flight.
    pub read_during_write: bool,
}

/// One seed's deployment and fault mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Swarm {
    /// The fault families on, in [`Family::ALL`] order.
    pub families: Vec<Family>,
    /// How many nodes.
    pub nodes: usize,
    /// The lease's TTL.
    pub ttl_ms: u64,
    /// Between renewals.
    pub renew_ms: u64,
    /// Between a follower's attempts.
    pub retry_ms: u64,
    /// Faults per minute of the safety phase, on average.
    pub faults_per_minute: u64,
    /// The slowest a message takes on a healthy link (the fastest is 1 ms).
    pub link_latency_max_ms: u64,
    /// Between the leader's fenced writes.
    pub fenced_write_every_ms: u64,
    /// The cache workload's mix, where a cache runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheMix>,
}

/// A swarm's lease TTL is within this range (ms).
pub const SWARM_TTL_MS: (u64, u64) = (100, 600_000);
/// A swarm draws at most this many faults per minute.
pub const FAULTS_PER_MINUTE_MAX: u64 = 600;
/// A healthy link is at most this slow (ms).
pub const LINK_LATENCY_MS_MAX: u64 = 1_000;
/// A workload's period is within this range (ms).
pub const PERIOD_MS: (u64, u64) = (1, 600_000);
/// A cache mix names at most this many keys.
pub const CACHE_KEYS_MAX: u32 = 1_000;

impl Swarm {
    /// Whether `family` is on.
    pub fn has(&self, family: Family) -> bool {
        self.families.contains(&family)
    }

    /// Checks every limit; the problem in one line.
    pub fn validate(&self) -> Result<(), String> {
        let within = |what: &str, v: u64, (lo, hi): (u64, u64)| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("{what} {v} is outside {lo}..={hi}"))
            }
        };
        if self.families.windows(2).any(|w| w[0] >= w[1]) {
            return Err(
                "families must be listed once each, in the order partitions, pauses, clocks, crashes, redis, source"
                    .into(),
            );
        }
        within("nodes", self.nodes as u64, (1, NODES_MAX as u64))?;
        within("ttl_ms", self.ttl_ms, SWARM_TTL_MS)?;
        within("renew_ms", self.renew_ms, (1, self.ttl_ms.saturating_sub(1).max(1)))?;
        within("retry_ms", self.retry_ms, (1, self.ttl_ms))?;
        within("faults_per_minute", self.faults_per_minute, (0, FAULTS_PER_MINUTE_MAX))?;
        within("link_latency_max_ms", self.link_latency_max_ms, (1, LINK_LATENCY_MS_MAX))?;
        within("fenced_write_every_ms", self.fenced_write_every_ms, PERIOD_MS)?;
        if let Some(cache) = &self.cache {
            within("cache keys", u64::from(cache.keys), (1, u64::from(CACHE_KEYS_MAX)))?;
            within("cache read_every_ms", cache.read_every_ms, PERIOD_MS)?;
            within("cache write_every_ms", cache.write_every_ms, PERIOD_MS)?;
        }
        Ok(())
    }

    /// The swarm in one line for a person.
    pub fn describe(&self) -> String {
        let families: Vec<&str> = self.families.iter().map(|f| f.name()).collect();
        let mut line = format!(
            "families [{}], {} nodes, TTL {} ms, renew {} ms, retry {} ms, {} faults/min, links 1-{} ms, fenced write every {} ms",
            families.join(", "),
            self.nodes,
            self.ttl_ms,
            self.renew_ms,
            self.retry_ms,
            self.faults_per_minute,
            self.link_latency_max_ms,
            self.fenced_write_every_ms
        );
        if let Some(c) = &self.cache {
            line += &format!(
                ", cache {} keys read every {} ms written every {} ms{}",
                c.keys,
                c.read_every_ms,
                c.write_every_ms,
                if c.read_during_write { ", reads racing writes" } else { "" }
            );
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swarm() -> Swarm {
        Swarm {
            families: vec![Family::Partitions, Family::Crashes],
            nodes: 3,
            ttl_ms: 3_000,
            renew_ms: 1_000,
            retry_ms: 250,
            faults_per_minute: 10,
            link_latency_max_ms: 20,
            fenced_write_every_ms: 500,
            cache: Some(CacheMix { keys: 1, read_every_ms: 10, write_every_ms: 100, read_during_write: true }),
        }
    }

    #[test]
    fn a_swarm_round_trips_and_is_checked_against_its_limits() {
        let s = swarm();
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"families\":[\"partitions\",\"crashes\"]"), "{json}");
        assert_eq!(serde_json::from_str::<Swarm>(&json).unwrap(), s);
        assert!(s.validate().is_ok());
        let bad = |f: fn(&mut Swarm)| {
            let mut s = swarm();
            f(&mut s);
            s.validate().unwrap_err()
        };
        assert!(bad(|s| s.nodes = 0).starts_with("nodes 0"));
        assert!(bad(|s| s.nodes = 17).starts_with("nodes 17"));
        assert!(bad(|s| s.renew_ms = 3_000).starts_with("renew_ms"));
        assert!(bad(|s| s.ttl_ms = u64::MAX).starts_with("ttl_ms"));
        assert!(bad(|s| s.families = vec![Family::Crashes, Family::Partitions]).starts_with("families"));
        assert!(bad(|s| s.families = vec![Family::Crashes, Family::Crashes]).starts_with("families"));
        assert!(bad(|s| s.cache.as_mut().unwrap().keys = 0).starts_with("cache keys"));
        assert!(s.describe().contains("reads racing writes"));
    }
}
