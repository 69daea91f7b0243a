//! What the server knows beside its data: parameters, statistics (INFO), WATCHed keys, and
//! the test switches DEBUG sets.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::config::Config;
use crate::keyspace::{Keyspace, Value};
use crate::reply::Reply;

/// Per-command counters (INFO COMMANDSTATS).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CommandStats {
    pub(crate) calls: u64,
    pub(crate) rejected: u64,
    pub(crate) failed: u64,
}

/// INFO's counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) commands: BTreeMap<&'static str, CommandStats>,
    /// Error replies by their code (the first word).
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) total_error_replies: u64,
    pub(crate) total_commands: u64,
    pub(crate) expired_keys: u64,
    pub(crate) evicted_keys: u64,
    pub(crate) keyspace_hits: u64,
    pub(crate) keyspace_misses: u64,
    /// The next error is already counted (a script returning a command's error).
    pub(crate) skip_next_error: bool,
    /// The last error a command gave inside the running script.
    pub(crate) last_script_error: Option<Reply>,
}

impl Stats {
    /// Counts an error reply by its code.
    pub(crate) fn count_error(&mut self, reply: &Reply) {
        let Reply::Error(text) = reply else { return };
        if std::mem::take(&mut self.skip_next_error) {
            return;
        }
        let code = text.split(' ').next().unwrap_or("ERR").to_owned();
        *self.errors.entry(code).or_default() += 1;
        self.total_error_replies += 1;
    }

    /// A command refused before it ran.
    pub(crate) fn count_rejected(&mut self, name: &'static str) {
        self.commands.entry(name).or_default().rejected += 1;
    }

    /// A command that ran, and its reply.
    pub(crate) fn count_call(&mut self, name: &'static str, reply: &Reply) {
        let stats = self.commands.entry(name).or_default();
        stats.calls += 1;
        self.total_commands += 1;
        if reply.is_error() {
            stats.failed += 1;
            self.count_error(reply);
        }
    }

    /// CONFIG RESETSTAT.
    pub(crate) fn reset(&mut self) {
        *self = Stats::default();
    }
}

/// WATCHed keys: who watches what, and whose transaction a write has spoiled.
#[derive(Debug, Default)]
pub(crate) struct Watches {
    watchers: BTreeMap<(usize, Bytes), BTreeSet<u64>>,
    dirty: BTreeSet<u64>,
}

impl Watches {
    pub(crate) fn watch(&mut self, client: u64, db: usize, key: Bytes) {
        self.watchers.entry((db, key)).or_default().insert(client);
    }

    pub(crate) fn unwatch_all(&mut self, client: u64, keys: &[(usize, Bytes)]) {
        for key in keys {
            if let Some(clients) = self.watchers.get_mut(key) {
                clients.remove(&client);
                if clients.is_empty() {
                    self.watchers.remove(key);
                }
            }
        }
        self.dirty.remove(&client);
    }

    /// A write to `key` in `db`: every watcher's transaction will fail.
    pub(crate) fn touch(&mut self, db: usize, key: &Bytes) {
        if self.watchers.is_empty() {
            return;
        }
        if let Some(clients) = self.watchers.get(&(db, key.clone())) {
            self.dirty.extend(clients.iter().copied());
        }
    }

    pub(crate) fn is_dirty(&self, client: u64) -> bool {
        self.dirty.contains(&client)
    }

    pub(crate) fn watched_keys(&self) -> usize {
        self.watchers.len()
    }
}

/// The server's side state.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    pub(crate) config: Config,
    pub(crate) stats: Stats,
    pub(crate) watches: Watches,
    /// CLIENT TRACKING.
    pub(crate) tracking: crate::tracking::Tracking,
    /// `DEBUG SET-ACTIVE-EXPIRE 0` stops the active expiry cycle.
    pub(crate) active_expire_off: bool,
    /// After `REPLICAOF host port`: the master it was told to follow. The model never
    /// reaches it: a replica whose link is down (read-only, stale).
    pub(crate) replica_of: Option<String>,
    /// `DEBUG SET-DISABLE-DENY-SCRIPTS 1`: scripts may call commands flagged noscript.
    pub(crate) deny_scripts_off: bool,
    /// Seeds SPOP, SRANDMEMBER, RANDOMKEY.
    pub(crate) rng: u64,
    /// When the server started (server-clock ms), for INFO's uptime.
    pub(crate) started_ms: i64,
    /// LASTSAVE, in seconds.
    pub(crate) last_save_s: i64,
    /// Connections, counted by the connections themselves (outside the server's lock).
    pub(crate) connections: std::sync::Arc<Connections>,
}

/// Connected clients and connections ever accepted.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    pub(crate) connected: std::sync::atomic::AtomicU64,
    pub(crate) received: std::sync::atomic::AtomicU64,
}

/// A baseline the model reports as used memory before any key, as a fresh Redis does.
const BASE_MEMORY_BYTES: u64 = 900 * 1024;

impl Meta {
    /// A pseudo-random index below `n` (SplitMix64 over the seeded state).
    pub(crate) fn random_below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        (crate::server::splitmix64(&mut self.rng) % n as u64) as usize
    }

    /// An estimate of used memory: a baseline plus each key and value's bytes.
    pub(crate) fn used_memory(dbs: &[Keyspace]) -> u64 {
        let data: usize = dbs.iter().flat_map(|db| db.iter()).map(|(k, e)| k.len() + 16 + value_bytes(&e.value)).sum();
        BASE_MEMORY_BYTES + data as u64
    }

    /// One key's estimated bytes (MEMORY USAGE).
    pub(crate) fn entry_bytes(key: &[u8], entry: &crate::keyspace::Entry) -> usize {
        key.len() + 16 + value_bytes(&entry.value) + 16
    }

    /// Whether `maxmemory` is set and exceeded (the model evicts nothing: `noeviction`).
    pub(crate) fn out_of_memory(&self, dbs: &[Keyspace]) -> bool {
        self.config.maxmemory > 0 && Meta::used_memory(dbs) > self.config.maxmemory
    }
}

fn value_bytes(value: &Value) -> usize {
    match value {
        Value::Str(s) => s.len(),
        Value::Hash(h) => h.iter().map(|(f, v)| f.len() + v.len() + 16).sum(),
        Value::List(l) => l.iter().map(|v| v.len() + 8).sum(),
        Value::Set(s) => s.iter().map(|v| v.len() + 8).sum(),
        Value::ZSet(z) => z.iter().map(|(m, _)| m.len() + 24).sum(),
    }
}
