//! Drawing a seed's swarm ([`check::Swarm`]): its deployment and fault mix. The choices lean
//! towards the harness's own deployment (3 nodes, TTL 3 s, renewal 1 s) so that a campaign
//! stays about as fast, and reach out to the corners (each costs: a 7-node seed runs about
//! twice as long as a 3-node one, a cache read every 10 ms brings ten times the events of one
//! every 100 ms; drawing the harness's values more often made seeds 5-10 % cheaper and the
//! slowest mutants 2-5 times slower to find, so the corners stay this likely): 2 and 7 nodes, a renewal at half the
//! TTL or a sixth of it, slow networks, faults every few seconds or seldom, one hot key.

use std::time::Duration;

use check::{CacheMix, Family, Swarm};
use election::ElectorConfig;

use crate::seed::SimRng;

/// The node counts a swarm draws from (3 most often).
const NODES: [usize; 10] = [2, 2, 3, 3, 3, 3, 4, 4, 5, 7];
/// The lease TTLs (ms).
const TTL_MS: [u64; 4] = [1_500, 3_000, 3_000, 5_000];
/// TTL / renewal.
const RENEWALS_PER_TTL: [u64; 5] = [2, 3, 3, 4, 6];
/// TTL / retry.
const RETRIES_PER_TTL: [u64; 4] = [6, 12, 12, 24];
/// Faults per minute, where the harness has about 10.
const FAULTS_PER_MINUTE: [u64; 6] = [3, 6, 10, 10, 20, 30];
/// The slowest a healthy link is (ms).
const LINK_LATENCY_MAX_MS: [u64; 4] = [5, 20, 20, 40];
/// Renewal / fenced-write period.
const WRITES_PER_RENEWAL: [u64; 4] = [1, 2, 2, 4];
/// Cache keys: one is a hot key every node reads and writes.
const CACHE_KEYS: [u32; 4] = [1, 1, 3, 8];
/// Between a node's cache reads (ms).
const CACHE_READ_EVERY_MS: [u64; 3] = [10, 30, 100];
/// Between a node's cache writes (ms).
const CACHE_WRITE_EVERY_MS: [u64; 3] = [50, 200, 1_000];

/// A swarm with `families` on, drawn from `rng`; with a cache mix where the scenario runs a
/// cache (`cache`). Its timings are ones the elector accepts.
pub fn draw(families: Vec<Family>, rng: &mut SimRng, cache: bool) -> Swarm {
    let nodes = *rng.pick(&NODES);
    let ttl_ms = *rng.pick(&TTL_MS);
    let mut renew_ms = ttl_ms / *rng.pick(&RENEWALS_PER_TTL);
    let mut retry_ms = ttl_ms / *rng.pick(&RETRIES_PER_TTL);
    if !accepted(ttl_ms, renew_ms, retry_ms) {
        // The harness's ratios always are.
        (renew_ms, retry_ms) = (ttl_ms / 3, ttl_ms / 12);
    }
    assert!(accepted(ttl_ms, renew_ms, retry_ms), "a swarm's timings are the elector's to accept");
    let swarm = Swarm {
        families,
        nodes,
        ttl_ms,
        renew_ms,
        retry_ms,
        faults_per_minute: *rng.pick(&FAULTS_PER_MINUTE),
        link_latency_max_ms: *rng.pick(&LINK_LATENCY_MAX_MS),
        fenced_write_every_ms: renew_ms / *rng.pick(&WRITES_PER_RENEWAL),
        cache: cache.then(|| CacheMix {
            keys: *rng.pick(&CACHE_KEYS),
            read_every_ms: *rng.pick(&CACHE_READ_EVERY_MS),
            write_every_ms: *rng.pick(&CACHE_WRITE_EVERY_MS),
            read_during_write: rng.chance(0.5),
        }),
    };
    debug_assert_eq!(swarm.validate(), Ok(()));
    swarm
}

/// Whether the production elector accepts these timings.
fn accepted(ttl_ms: u64, renew_ms: u64, retry_ms: u64) -> bool {
    let ms = Duration::from_millis;
    ElectorConfig::new("k", "n", 0).with_timings(ms(ttl_ms), ms(renew_ms), ms(retry_ms)).validate().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;

    #[test]
    fn swarms_vary_and_stay_valid() {
        let (mut nodes, mut ttls) = (Vec::new(), Vec::new());
        for seed in 0..300 {
            let families = vec![Family::Partitions];
            let swarm = draw(families, &mut SimRng::new(Seed(seed), "swarm"), seed % 2 == 0);
            assert_eq!(swarm.validate(), Ok(()));
            assert_eq!(swarm.cache.is_some(), seed % 2 == 0);
            nodes.push(swarm.nodes);
            ttls.push(swarm.ttl_ms);
        }
        for n in [2, 3, 4, 5, 7] {
            assert!(nodes.contains(&n), "{n} nodes drawn");
        }
        assert!(ttls.contains(&1_500) && ttls.contains(&5_000));
    }
}
