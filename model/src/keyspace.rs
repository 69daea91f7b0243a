//! One database: keys with values and absolute expiry times (server-clock milliseconds since
//! the Unix epoch). Expiry is lazy on access, plus an active cycle that samples keys with a
//! TTL, as Redis does. Every write goes through a method that records the key as touched,
//! and every expiry is recorded, so that the server can tell WATCH, keyspace notifications
//! and the replication stream about them after each command.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::BuildHasherDefault;

use bytes::Bytes;
use indexmap::IndexMap;

use crate::glob;
use crate::zset::SortedSet;

/// A stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(Bytes),
    /// A hash of fields to values.
    Hash(HashFields),
    /// A list.
    List(VecDeque<Bytes>),
    /// A set (kept in byte order: the model's iteration order is deterministic).
    Set(BTreeSet<Bytes>),
    /// A sorted set.
    ZSet(SortedSet),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }
}

/// A hash's fields in insertion order, as Redis keeps a small hash (a listpack). The hasher
/// has fixed keys: nothing here depends on process randomness.
pub type HashFields = IndexMap<Bytes, Bytes, BuildHasherDefault<DefaultHasher>>;

/// A key's value and its expiry time, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// When the key expires, in server-clock milliseconds since the Unix epoch.
    pub expires_at_ms: Option<i64>,
}

impl Entry {
    /// A value without a TTL.
    pub fn new(value: Value) -> Entry {
        Entry { value, expires_at_ms: None }
    }

    fn expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }
}

/// One database. Cloning it is how persistence snapshots are taken.
#[derive(Debug, Clone, Default)]
pub struct Keyspace {
    entries: BTreeMap<Bytes, Entry>,
    /// Keys written since the server last drained the logs (WATCH).
    touched: Vec<Bytes>,
    /// Keys deleted because they expired, since the last drain (notifications, replication).
    expired: Vec<Bytes>,
    /// Set by `DEBUG SET-DISABLE-DENY-SCRIPTS`-style test switches: lazy expiry on access off
    /// (Redis's replicas behave so). The simulation never sets it.
    pub(crate) lazy_expire_off: bool,
}

/// Two databases are equal when they hold the same entries (the logs are bookkeeping).
impl PartialEq for Keyspace {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

/// Keys sampled per active expiry round, and the expired share that triggers another round
/// (Redis: 20 keys, 25%).
const ACTIVE_EXPIRE_SAMPLE: usize = 20;
const ACTIVE_EXPIRE_ROUNDS_MAX: usize = 16;

impl Keyspace {
    /// An empty database.
    pub fn new() -> Keyspace {
        Keyspace::default()
    }

    /// The entry under `key`, removing it first if it expired at or before `now_ms`.
    pub fn get(&mut self, key: &[u8], now_ms: i64) -> Option<&Entry> {
        self.expire_if_needed(key, now_ms);
        self.entries.get(key)
    }

    /// The entry under `key` for writing (the key counts as touched).
    pub fn get_mut(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Entry> {
        self.expire_if_needed(key, now_ms);
        let entry = self.entries.get_mut(key)?;
        self.touched.push(Bytes::copy_from_slice(key));
        Some(entry)
    }

    /// Whether `key` holds a live value, without expiring it (KEYS, RANDOMKEY, SCAN skip).
    pub fn is_live(&self, key: &[u8], now_ms: i64) -> bool {
        self.entries.get(key).is_some_and(|e| !e.expired(now_ms))
    }

    /// The entry, expired or not, without touching anything (inspection, DEBUG).
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        self.entries.get(key)
    }

    fn expire_if_needed(&mut self, key: &[u8], now_ms: i64) {
        if self.lazy_expire_off {
            return;
        }
        if self.entries.get(key).is_some_and(|e| e.expired(now_ms)) {
            let gone = self.entries.remove(key);
            assert!(gone.is_some_and(|e| e.expired(now_ms)), "only an expired key is reclaimed");
            self.expired.push(Bytes::copy_from_slice(key));
        }
    }

    /// Stores `entry` under `key`, replacing any previous value and TTL.
    pub fn insert(&mut self, key: Bytes, entry: Entry) {
        self.touched.push(key.clone());
        let before = self.entries.len();
        let replaced = self.entries.insert(key, entry).is_some();
        assert_eq!(self.entries.len(), before + usize::from(!replaced), "one key stored");
    }

    /// Removes `key` if present (and not expired); returns whether it was.
    pub fn remove(&mut self, key: &[u8], now_ms: i64) -> bool {
        self.take(key, now_ms).is_some()
    }

    /// Removes and returns the entry under `key` (if live).
    pub fn take(&mut self, key: &[u8], now_ms: i64) -> Option<Entry> {
        self.expire_if_needed(key, now_ms);
        let entry = self.entries.remove(key)?;
        // Lazy expiry ran first: what is taken was live (or expiry is switched off for a test).
        assert!(self.lazy_expire_off || !entry.expired(now_ms), "an expired key is never taken as live");
        self.touched.push(Bytes::copy_from_slice(key));
        Some(entry)
    }

    /// Number of keys, counting expired keys not yet reclaimed (as Redis's DBSIZE does).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys with a TTL (INFO's `expires=`).
    pub fn volatile_len(&self) -> usize {
        self.entries.values().filter(|e| e.expires_at_ms.is_some()).count()
    }

    /// Removes every key; the live ones count as touched (FLUSHDB signals only those).
    pub fn clear(&mut self, now_ms: i64) {
        let live: Vec<Bytes> =
            self.entries.iter().filter(|(_, e)| !e.expired(now_ms)).map(|(k, _)| k.clone()).collect();
        self.touched.extend(live);
        self.entries.clear();
        assert!(self.is_empty() && self.volatile_len() == 0, "a cleared database holds nothing");
    }

    /// Swaps the contents of two databases (SWAPDB); the logs stay with each side.
    pub fn swap_contents(&mut self, other: &mut Keyspace) {
        std::mem::swap(&mut self.entries, &mut other.entries);
    }

    /// Live keys matching a glob pattern, in byte order.
    pub fn keys(&self, pattern: &[u8], now_ms: i64) -> Vec<Bytes> {
        let all = pattern == b"*";
        self.entries
            .iter()
            .filter(|(k, e)| !e.expired(now_ms) && (all || glob::matches(pattern, k)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The `index`-th key in byte order (RANDOMKEY, SCAN), expired or not.
    pub fn key_at(&self, index: usize) -> Option<&Bytes> {
        self.entries.keys().nth(index)
    }

    /// Keys at or after `from` in byte order, at most `count` (SCAN's cursor walk).
    pub fn keys_from(&self, from: &[u8], count: usize) -> Vec<Bytes> {
        self.entries
            .range::<[u8], _>((std::ops::Bound::Included(from), std::ops::Bound::Unbounded))
            .take(count)
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
            let sample: BTreeSet<Bytes> =
                (0..ACTIVE_EXPIRE_SAMPLE.min(volatile.len())).map(|_| volatile[pick(volatile.len())].clone()).collect();
            let mut round = 0;
            for key in sample {
                if self.entries.get(&key).is_some_and(|e| e.expired(now_ms)) {
                    let gone = self.entries.remove(&key);
                    assert!(gone.is_some_and(|e| e.expires_at_ms.is_some()), "the cycle reclaims volatile keys only");
                    self.expired.push(key);
                    round += 1;
                }
            }
            deleted += round;
            if round * 4 <= ACTIVE_EXPIRE_SAMPLE {
                break;
            }
        }
        deleted
    }

    /// Takes the log of touched keys.
    pub(crate) fn drain_touched(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.touched)
    }

    /// Takes the log of expired keys.
    pub(crate) fn drain_expired(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.expired)
    }

    /// How many writes the touched log holds.
    pub(crate) fn touched_len(&self) -> usize {
        self.touched.len()
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
        let mut ks = Keyspace::new();
        ks.insert(Bytes::from("a"), string("1", Some(100)));
        ks.insert(Bytes::from("b"), string("2", None));
        assert!(ks.get(b"a", 99).is_some());
        assert_eq!(ks.keys(b"*", 100), vec![Bytes::from("b")], "KEYS skips expired keys");
        assert_eq!(ks.len(), 2, "DBSIZE still counts it");
        assert!(ks.get(b"a", 100).is_none(), "expired at exactly its time");
        assert_eq!(ks.len(), 1);
        assert_eq!(ks.drain_touched().len(), 2);
        assert_eq!(ks.drain_expired(), vec![Bytes::from("a")]);
    }

    #[test]
    fn active_expiry_reclaims_expired_keys_only() {
        let mut ks = Keyspace::new();
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
