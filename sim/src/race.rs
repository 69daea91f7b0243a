//! Races on demand: while a node's read from the source database is held late (a
//! `source-late-reply`), the world asks another node to write the key that read is for. A
//! check-then-act bug of a cache needs exactly that — a write, and its invalidation,
//! landing while a read is in flight — and random writes seldom land there: a hot key makes
//! the race likely and then hides its result under the next write. Asked for, the race
//! happens once, on a key left alone otherwise.

use std::sync::{Arc, Mutex};

use check::NodeId;
use tokio::sync::Notify;

/// The run's open race, shared by every node's streams and workloads.
#[derive(Debug, Clone, Default)]
pub struct Races {
    open: Arc<Mutex<Option<Race>>>,
    posted: Arc<Notify>,
}

/// A read in flight that another node is asked to race.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Race {
    /// The node whose read is late.
    reader: NodeId,
    /// The source key it reads.
    key: String,
    /// Whether another node took it.
    taken: bool,
}

impl Races {
    /// Opens a race on `reader`'s read of `key`, replacing one still open.
    pub(crate) fn post(&self, reader: &NodeId, key: &str) {
        *self.open.lock().expect("race lock") =
            Some(Race { reader: reader.clone(), key: key.to_owned(), taken: false });
        self.posted.notify_waiters();
    }

    /// Closes `reader`'s race on `key`, taken or not: its reply has come.
    pub(crate) fn close(&self, reader: &NodeId, key: &str) {
        let mut open = self.open.lock().expect("race lock");
        if open.as_ref().is_some_and(|r| r.reader == *reader && r.key == key) {
            *open = None;
        }
    }

    /// The source key of the next race open to `writer` (one whose read is not its own),
    /// once one is posted; it is then taken — one writer races a read.
    pub async fn claim(&self, writer: &NodeId) -> String {
        loop {
            // Registered before looking, so that a post in between is not missed.
            let posted = self.posted.notified();
            tokio::pin!(posted);
            posted.as_mut().enable();
            if let Some(key) = self.take(writer) {
                return key;
            }
            posted.await;
        }
    }

    fn take(&self, writer: &NodeId) -> Option<String> {
        let mut open = self.open.lock().expect("race lock");
        let race = open.as_mut().filter(|r| !r.taken && r.reader != *writer)?;
        race.taken = true;
        Some(race.key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_race_is_taken_once_by_another_node_while_it_is_open() {
        let races = Races::default();
        let (reader, writer) = (NodeId::replica(1), NodeId::replica(2));
        assert_eq!(races.take(&writer), None);
        races.post(&reader, "cache:k1");
        assert_eq!(races.take(&reader), None, "not a node's own read");
        assert_eq!(races.claim(&writer).await, "cache:k1");
        assert_eq!(races.take(&NodeId::replica(3)), None, "one writer");
        races.close(&reader, "cache:k1");
        races.post(&reader, "cache:k2");
        races.close(&reader, "cache:k2");
        assert_eq!(races.take(&writer), None, "closed when the reply came");
    }
}
