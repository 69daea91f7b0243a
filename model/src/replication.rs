//! The replication stream: connections that sent SYNC get every effect of every write step,
//! as RESP arrays, with a SELECT whenever the database changes — what a replica or the AOF
//! of a real Redis would see.

use std::collections::BTreeMap;

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedSender;

use crate::reply::Reply;

/// The replicas and the database the stream last selected.
#[derive(Debug, Default)]
pub(crate) struct Replication {
    replicas: BTreeMap<u64, UnboundedSender<Reply>>,
    selected: Option<usize>,
}

/// An empty RDB file (version 10, no keys, EOF, no checksum): what a new replica loads.
pub(crate) const EMPTY_RDB: &[u8] = b"REDIS0010\xff\0\0\0\0\0\0\0\0";

impl Replication {
    /// A connection became a replica; the stream restarts with a SELECT for it.
    pub(crate) fn add(&mut self, client: u64, push: UnboundedSender<Reply>) {
        self.replicas.insert(client, push);
        self.selected = None;
    }

    pub(crate) fn remove(&mut self, client: u64) {
        self.replicas.remove(&client);
    }

    pub(crate) fn clear(&mut self) {
        self.replicas.clear();
        self.selected = None;
    }

    /// Sends a step's effects to every replica.
    pub(crate) fn feed(&mut self, effects: &[(usize, Vec<Bytes>)]) {
        if self.replicas.is_empty() || effects.is_empty() {
            return;
        }
        for (db, command) in effects {
            if self.selected != Some(*db) {
                self.send(vec![Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())]);
                self.selected = Some(*db);
            }
            self.send(command.clone());
        }
    }

    fn send(&mut self, command: Vec<Bytes>) {
        let frame = Reply::Push(command.into_iter().map(Reply::Bulk).collect());
        // A replica whose connection is gone is dropped from the stream.
        self.replicas.retain(|_, push| push.send(frame.clone()).is_ok());
    }
}
