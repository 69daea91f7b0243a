//! Client-side caching (CLIENT TRACKING): the server remembers which keys each tracking
//! client read, and when one is written, expired or evicted, tells that client once with an
//! invalidation push (RESP3), or on `__redis__:invalidate` of the client it redirects to
//! (RESP2). Broadcast mode (BCAST, PREFIX) tells about every written key with the prefixes.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedSender;

use crate::reply::Reply;

/// The most keys remembered for all clients (Redis's `tracking-table-max-keys` is 1,000,000
/// by default): past it, the oldest keys are invalidated and forgotten.
pub(crate) const TRACKED_KEYS_MAX: usize = 1_000_000;

/// One tracking client's options.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    /// Where its invalidations go: its own connection, or the redirect target's.
    pub(crate) push: UnboundedSender<Reply>,
    /// Redirected: invalidations go as `message __redis__:invalidate [keys]`.
    pub(crate) redirect: bool,
    pub(crate) bcast: bool,
    pub(crate) prefixes: Vec<Bytes>,
    /// Not told about its own writes.
    pub(crate) noloop: bool,
    /// OPTIN: only reads right after `CLIENT CACHING yes` are remembered; OPTOUT: all but
    /// those right after `CLIENT CACHING no`.
    pub(crate) opt: Opt,
}

/// CLIENT TRACKING's OPTIN / OPTOUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opt {
    All,
    In,
    Out,
}

/// Every tracking client and the keys they read.
#[derive(Debug, Default)]
pub(crate) struct Tracking {
    clients: BTreeMap<u64, Tracker>,
    /// Key -> clients that read it since its last invalidation (default mode).
    readers: BTreeMap<Bytes, BTreeSet<u64>>,
    /// A flush told everyone already: this step's written keys are not told again.
    flushed: bool,
}

impl Tracking {
    /// Starts (or changes) tracking; the caller checked Redis's rules on changing modes.
    pub(crate) fn enable(&mut self, client: u64, tracker: Tracker) {
        self.clients.insert(client, tracker);
    }

    /// The client's BCAST flag and OPTIN/OPTOUT mode, if it tracks.
    pub(crate) fn mode(&self, client: u64) -> Option<(bool, Opt)> {
        self.clients.get(&client).map(|t| (t.bcast, t.opt))
    }

    pub(crate) fn disable(&mut self, client: u64) {
        self.clients.remove(&client);
        self.readers.retain(|_, clients| {
            clients.remove(&client);
            !clients.is_empty()
        });
    }

    /// The client's OPTIN/OPTOUT mode, if it tracks.
    pub(crate) fn opt(&self, client: u64) -> Option<Opt> {
        self.clients.get(&client).map(|t| t.opt)
    }

    pub(crate) fn clients(&self) -> usize {
        self.clients.len()
    }

    pub(crate) fn tracked_keys(&self) -> usize {
        self.readers.len()
    }

    /// `client` read `key`: remembered unless it is in broadcast mode (or not tracking).
    pub(crate) fn read(&mut self, client: u64, key: &Bytes) {
        match self.clients.get(&client) {
            Some(t) if !t.bcast => {
                if self.readers.len() >= TRACKED_KEYS_MAX && !self.readers.contains_key(key) {
                    if let Some((oldest, clients)) = self.readers.pop_first() {
                        self.send_to(&clients, vec![oldest], None);
                    }
                    debug_assert!(self.readers.len() < TRACKED_KEYS_MAX);
                }
                self.readers.entry(key.clone()).or_default().insert(client);
            }
            _ => {}
        }
    }

    /// `key` was written by `writer` (None: expiry, eviction): tell its readers once, and
    /// the broadcast clients whose prefixes match. The writer's own message is returned, not
    /// sent: Redis sends it after the writer's reply.
    pub(crate) fn invalidate(&mut self, key: &Bytes, writer: Option<u64>) -> Option<Reply> {
        if self.clients.is_empty() || self.flushed {
            return None;
        }
        let readers = self.readers.remove(key).unwrap_or_default();
        let broadcast: BTreeSet<u64> = self
            .clients
            .iter()
            .filter(|(_, t)| t.bcast && (t.prefixes.is_empty() || t.prefixes.iter().any(|p| key.starts_with(p))))
            .map(|(id, _)| *id)
            .collect();
        let mut told: BTreeSet<u64> = readers.union(&broadcast).copied().collect();
        let own = writer.filter(|w| told.remove(w)).and_then(|w| {
            let tracker = &self.clients[&w];
            (!tracker.noloop).then(|| message(tracker, Reply::Array(vec![Reply::Bulk(key.clone())])))
        });
        self.send_to(&told, vec![key.clone()], writer);
        own
    }

    /// The step is over: the next one's writes are told again.
    pub(crate) fn end_step(&mut self) {
        self.flushed = false;
    }

    /// FLUSHDB / FLUSHALL: every tracking client is told with a null key list.
    pub(crate) fn flush(&mut self) {
        self.readers.clear();
        self.flushed = true;
        for tracker in self.clients.values() {
            let _ = tracker.push.send(message(tracker, Reply::NilArray));
        }
    }

    fn send_to(&self, clients: &BTreeSet<u64>, keys: Vec<Bytes>, writer: Option<u64>) {
        for id in clients {
            let Some(tracker) = self.clients.get(id) else { continue };
            if tracker.noloop && writer == Some(*id) {
                continue;
            }
            let listed = Reply::Array(keys.iter().cloned().map(Reply::Bulk).collect());
            // A connection already gone loses the message, as in Redis.
            let _ = tracker.push.send(message(tracker, listed));
        }
    }
}

/// The invalidation as the tracker receives it.
fn message(tracker: &Tracker, keys: Reply) -> Reply {
    if tracker.redirect {
        Reply::Push(vec![Reply::bulk("message"), Reply::bulk("__redis__:invalidate"), keys])
    } else {
        Reply::Push(vec![Reply::bulk("invalidate"), keys])
    }
}
