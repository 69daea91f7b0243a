//! A campaign's arithmetic: its base seed, its shards, and which seeds each shard runs.
//!
//! Every seed of a campaign is a function of (base, scenario, k): two campaigns with
//! different bases draw different seeds (so a nightly run explores new ground), and every
//! shard of one campaign, on whatever machine, draws from the same sequence without overlap.

use std::fmt;
use std::str::FromStr;

use sim::{Seed, SimRng};

/// The base of the tables in docs/ and of the tests: with it, [`campaign_seed`] gives the
/// seeds every earlier version of splitbrain gave, so those tables can be regenerated.
pub const DOCS_CAMPAIGN_SEED: Seed = Seed(0);

/// At most this many shards in one campaign.
pub const SHARDS_MAX: u64 = 10_000;

/// The `k`-th seed of campaign `base` over `scenario`.
pub fn campaign_seed(base: Seed, scenario: &str, k: u64) -> Seed {
    let mixed = sim::fnv1a(scenario.as_bytes()) ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ spread(base.0);
    Seed(SimRng::new(Seed(mixed), "campaign").next_u64())
}

/// A bijection of the 64-bit values with `spread(0) == 0` (murmur3's finalizer), so that
/// nearby bases give unrelated seed sequences and base 0 keeps the seeds of old.
fn spread(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Shard `index` (0-based) of `count`: the seeds `k` with `k % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shard {
    /// Which shard, from 0.
    pub index: u64,
    /// Of how many.
    pub count: u64,
}

impl Shard {
    /// The whole campaign as one shard.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The `round`-th seed index of this shard in each scenario's sequence.
    pub fn seed_index(self, round: u64) -> Option<u64> {
        round.checked_mul(self.count)?.checked_add(self.index)
    }

    /// How many of the indices `0..seeds` (a whole campaign's seeds per scenario) fall to
    /// this shard: the shards' shares add up to `seeds`.
    pub fn share(self, seeds: u64) -> u64 {
        if seeds <= self.index {
            0
        } else {
            (seeds - self.index).div_ceil(self.count)
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// A shard that is not `I/N` with `1 <= I <= N <= SHARDS_MAX`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad shard {0:?} (I/N with 1 <= I <= N <= {SHARDS_MAX}, e.g. 2/4)")]
pub struct ShardError(pub String);

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ShardError(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if i == 0 || i > n || n > SHARDS_MAX {
            return Err(bad());
        }
        Ok(Shard { index: i - 1, count: n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_zero_keeps_the_old_seeds_and_other_bases_differ() {
        // The seed every version before campaign bases gave for k = 3 of chaos-all.
        let old = {
            let mut rng =
                SimRng::new(Seed(sim::fnv1a(b"chaos-all") ^ 3u64.wrapping_mul(0x9e37_79b9_7f4a_7c15)), "campaign");
            Seed(rng.next_u64())
        };
        assert_eq!(campaign_seed(DOCS_CAMPAIGN_SEED, "chaos-all", 3), old);
        assert_ne!(campaign_seed(Seed(1), "chaos-all", 3), old);
        let night = |base| (0..100).map(|k| campaign_seed(Seed(base), "chaos-all", k)).collect::<Vec<_>>();
        let (a, b) = (night(7), night(8));
        assert!(a.iter().all(|s| !b.contains(s)), "two nights share no seed");
    }

    #[test]
    fn shards_split_a_campaign_exactly() {
        for seeds in [0u64, 1, 19, 20, 21, 1000] {
            for count in [1u64, 2, 3, 7] {
                let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count }).collect();
                assert_eq!(shards.iter().map(|s| s.share(seeds)).sum::<u64>(), seeds, "{seeds} over {count}");
                let mut indices: Vec<u64> =
                    shards.iter().flat_map(|s| (0..s.share(seeds)).map(|r| s.seed_index(r).unwrap())).collect();
                indices.sort_unstable();
                assert_eq!(indices, (0..seeds).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn shards_parse_within_limits() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert_eq!("2/4".parse::<Shard>().unwrap().to_string(), "2/4");
        for bad in ["0/4", "5/4", "1/0", "x/2", "1/18446744073709551616", "1/10001", "", "1", "1/2/3", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
