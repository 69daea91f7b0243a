//! The seed a run is made from, in its one printed and parsed form, and the deterministic
//! random numbers derived from it.

use std::fmt;
use std::str::FromStr;

/// A run's seed. Printed and parsed in one form: `0x` and 16 hex digits (fewer are accepted).
///
/// ```
/// use sim::Seed;
/// let seed: Seed = "0x2a".parse().unwrap();
/// assert_eq!(seed.to_string(), "0x000000000000002a");
/// assert!("42".parse::<Seed>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Seed(pub u64);

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.0)
    }
}

/// A seed that is not `0x` followed by 1 to 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed seed {0:?}: expected 0x followed by 1 to 16 hex digits, e.g. 0x000000000000002a")]
pub struct SeedError(pub String);

impl FromStr for Seed {
    type Err = SeedError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix("0x").ok_or_else(|| SeedError(s.to_owned()))?;
        if digits.is_empty() || digits.len() > 16 {
            return Err(SeedError(s.to_owned()));
        }
        u64::from_str_radix(digits, 16).map(Seed).map_err(|_| SeedError(s.to_owned()))
    }
}

impl From<Seed> for String {
    fn from(seed: Seed) -> String {
        seed.to_string()
    }
}

impl TryFrom<String> for Seed {
    type Error = SeedError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Deterministic random numbers (SplitMix64): the same on every platform, cheap to fork into
/// independent streams by name.
#[derive(Debug, Clone)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    /// The stream named `stream` of `seed`.
    pub fn new(seed: Seed, stream: &str) -> SimRng {
        SimRng { state: seed.0 ^ fnv1a(stream.as_bytes()) }
    }

    /// An independent stream derived from this one's current state and `stream`.
    pub fn fork(&mut self, stream: &str) -> SimRng {
        SimRng { state: self.next_u64() ^ fnv1a(stream.as_bytes()) }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no value");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "between({lo}, {hi})");
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items` (non-empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

pub use check::fnv1a;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_round_trip_in_one_format() {
        for s in [0, 1, u64::MAX, 0xdead_beef] {
            assert_eq!(Seed(s).to_string().parse::<Seed>(), Ok(Seed(s)));
        }
        for bad in ["", "0x", "12", "0xg", "0x11112222333344445", "-0x1", " 0x1"] {
            let err = bad.parse::<Seed>().unwrap_err().to_string();
            assert!(err.starts_with("malformed seed") && !err.contains('\n'), "{err}");
        }
        assert_eq!(serde_json::to_string(&Seed(42)).unwrap(), "\"0x000000000000002a\"");
    }

    #[test]
    fn streams_are_reproducible_and_independent() {
        let mut a = SimRng::new(Seed(7), "nemesis");
        let mut b = SimRng::new(Seed(7), "nemesis");
        let mut c = SimRng::new(Seed(7), "node-1");
        let xs: Vec<u64> = (0..100).map(|_| a.below(1000)).collect();
        assert_eq!(xs, (0..100).map(|_| b.below(1000)).collect::<Vec<_>>());
        assert_ne!(xs, (0..100).map(|_| c.below(1000)).collect::<Vec<_>>());
        assert!(xs.iter().all(|x| *x < 1000));
        assert!((0..1000).all(|_| (3..=5).contains(&a.between(3, 5))));
    }
}
