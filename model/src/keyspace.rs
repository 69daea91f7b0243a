//! The database: keys with values and absolute expiry times (server-clock milliseconds since
//! the Unix epoch). Expiry is lazy on access, plus an active cycle that samples keys with a
//! TTL, as Redis does.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::BuildHasherDefault;

use bytes::Bytes;
use indexmap::IndexMap;

use crate::glob;

/// A stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string.
    Str(Bytes),
    /// A hash of fields to values.
    Hash(HashFields),
}

/// A hash's fields in insertion order, as Redis keeps a small hash (a listpack). The hasher
/// has fixed keys: nothing here depends on process randomness.
pub type HashFields = IndexMap<Bytes, Bytes, BuildHasherDefault<DefaultHasher>>;

/// A key's value and its expiry time, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// When the key expires, in server-clock milliseconds since the Unix epoch.
    pub expires_at_ms: Option<i64>,
}

/// The keyspace of database 0. Cloning it is how persistence snapshots are taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyspace {
    entries: BTreeMap<Bytes, Entry>,
}

/// Keys sampled per active expiry round, and the expired share that triggers another round
/// (Redis: 20 keys, 25%).
const ACTIVE_EXPIRE_SAMPLE: usize = 20;
const ACTIVE_EXPIRE_ROUNDS_MAX: usize = 16;

impl Keyspace {
    /// The entry under `key`, removing it first if it expired at or before `now_ms`.
    pub fn get(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Entry> {
        let expired = self.entries.get(key)?.expires_at_ms.is_some_and(|at| at <= now_ms);
        if expired {
            self.entries.remove(key);
            return None;
        }
        self.entries.get_mut(key)
    }

    /// Stores `entry` under `key`, replacing any previous value and TTL.
    pub fn insert(&mut self, key: Bytes, entry: Entry) {
        self.entries.insert(key, entry);
    }

    /// Removes `key` if present (and not expired); returns whether it was.
    pub fn remove(&mut self, key: &[u8], now_ms: i64) -> bool {
        self.get(key, now_ms).is_some() && self.entries.remove(key).is_some()
    }

    /// Number of keys, counting expired keys not yet reclaimed (as Redis's DBSIZE does).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Live keys matching a glob pattern, in byte order.
    pub fn keys(&self, pattern: &[u8], now_ms: i64) -> Vec<Bytes> {
        self.entries
            .iter()
            .filter(|(k, e)| e.expires_at_ms.is_none_or(|at| at > now_ms) && glob::matches(pattern, k))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Redis's active expiry cycle: sample keys that have a TTL, delete the expired ones,
    /// and go again while more than a quarter of a sample had expired. `pick(n)` returns a
    /// pseudo-random index below `n` (seeded by the caller, so runs are reproducible).
    /// Returns how many keys were deleted.
    pub fn active_expire(&mut self, now_ms: i64, mut pick: impl FnMut(usize) -> usize) -> usize {
        let mut deleted = 0;
        for _ in 0..ACTIVE_EXPIRE_ROUNDS_MAX {
            let volatile: Vec<&Bytes> =
                self.entries.iter().filter(|(_, e)| e.expires_at_ms.is_some()).map(|(k, _)| k).collect();
            if volatile.is_empty() {
                break;
            }
            let sample: Vec<Bytes> =
                (0..ACTIVE_EXPIRE_SAMPLE.min(volatile.len())).map(|_| volatile[pick(volatile.len())].clone()).collect();
            let expired: Vec<Bytes> = sample
                .into_iter()
                .filter(|k| self.entries.get(k).and_then(|e| e.expires_at_ms).is_some_and(|at| at <= now_ms))
                .collect();
            let round = expired.iter().filter(|k| self.entries.remove(*k).is_some()).count();
            deleted += round;
            if round * 4 <= ACTIVE_EXPIRE_SAMPLE {
                break;
            }
        }
        deleted
    }

    /// Every entry, for persistence and inspection.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(v: &str, expires_at_ms: Option<i64>) -> Entry {
        Entry { value: Value::Str(Bytes::from(v.to_owned())), expires_at_ms }
    }

    #[test]
    fn expired_keys_vanish_on_access_but_count_until_reclaimed() {
        let mut ks = Keyspace::default();
        ks.insert(Bytes::from("a"), string("1", Some(100)));
        ks.insert(Bytes::from("b"), string("2", None));
        assert!(ks.get(b"a", 99).is_some());
        assert_eq!(ks.keys(b"*", 100), vec![Bytes::from("b")], "KEYS skips expired keys");
        assert_eq!(ks.len(), 2, "DBSIZE still counts it");
        assert!(ks.get(b"a", 100).is_none(), "expired at exactly its time");
        assert_eq!(ks.len(), 1);
    }

    #[test]
    fn active_expiry_reclaims_expired_keys_only() {
        let mut ks = Keyspace::default();
        for i in 0..50 {
            ks.insert(Bytes::from(format!("old{i}")), string("x", Some(10)));
            ks.insert(Bytes::from(format!("new{i}")), string("x", Some(1_000)));
        }
        let mut state = 7usize;
        let deleted = ks.active_expire(500, |n| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        });
        assert!(deleted > 0);
        assert_eq!(ks.len(), 100 - deleted);
        assert!(ks.iter().all(|(k, _)| k.starts_with(b"new") || ks.len() > 50));
    }
}
