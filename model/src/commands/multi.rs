//! MULTI, EXEC, DISCARD, WATCH, UNWATCH: queued commands run as one atomic step, and
//! optimistic locking — EXEC fails (a null reply) when a WATCHed key was written, or expired,
//! since it was watched.

use bytes::Bytes;

use super::{execute, Caller, Exec};
use crate::reply::Reply;

/// One connection's transaction state.
#[derive(Debug, Default)]
pub(crate) struct Transaction {
    /// The queued commands, while in MULTI.
    queued: Option<Vec<Vec<Bytes>>>,
    /// A command was refused while queueing: EXEC will abort.
    failed: bool,
    /// Watched keys: database, key, and whether it was live when watched.
    watched: Vec<(usize, Bytes, bool)>,
}

impl Transaction {
    pub(crate) fn active(&self) -> bool {
        self.queued.is_some()
    }

    pub(crate) fn queue(&mut self, args: Vec<Bytes>) {
        self.queued.as_mut().expect("queueing only inside MULTI").push(args);
    }

    pub(crate) fn watched_keys(&self) -> Vec<(usize, Bytes)> {
        self.watched.iter().map(|(db, k, _)| (*db, k.clone())).collect()
    }
}

/// A command refused while queueing makes the whole transaction fail at EXEC.
pub(crate) fn flag_queueing_error(exec: &mut Exec<'_>) {
    if exec.session.tx.active() {
        exec.session.tx.failed = true;
    }
}

pub(super) fn multi(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    if exec.session.tx.active() {
        return Reply::error("ERR MULTI calls can not be nested");
    }
    exec.session.tx.queued = Some(Vec::new());
    exec.session.tx.failed = false;
    Reply::ok()
}

pub(super) fn discard(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    if !exec.session.tx.active() {
        return Reply::error("ERR DISCARD without MULTI");
    }
    end(exec);
    Reply::ok()
}

/// Leaves MULTI and forgets every watched key.
fn end(exec: &mut Exec<'_>) {
    exec.session.tx.queued = None;
    exec.session.tx.failed = false;
    unwatch_all(exec);
    debug_assert!(!exec.session.tx.active() && exec.session.tx.watched.is_empty());
}

pub(crate) fn unwatch_all(exec: &mut Exec<'_>) {
    let keys = exec.session.tx.watched_keys();
    exec.meta.watches.unwatch_all(exec.session.id, &keys);
    exec.session.tx.watched.clear();
}

pub(super) fn exec(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    let Some(queued) = exec.session.tx.queued.clone() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    if exec.session.tx.failed {
        end(exec);
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    let out_of_memory = exec.meta.out_of_memory(exec.dbs);
    let refusal = queued.iter().find_map(|args| {
        let spec = super::lookup(&args[0])?;
        if out_of_memory && spec.flags & super::DENYOOM != 0 {
            return Some(super::oom());
        }
        super::state_refusal(exec, spec)
    });
    if let Some(Reply::Error(text)) = refusal {
        end(exec);
        return Reply::error(format!("EXECABORT Transaction discarded because of: {text}"));
    }
    let spoiled = exec.meta.watches.is_dirty(exec.session.id) || watched_key_expired(exec);
    end(exec);
    if spoiled {
        return Reply::NilArray;
    }
    let before = exec.effects.len();
    let was_master = exec.meta.replica_of.is_none();
    exec.in_exec = true;
    let replies = queued.iter().map(|args| execute(exec, Caller::Client, args)).collect();
    exec.in_exec = false;
    // A master demoted by REPLICAOF inside the transaction propagates none of it: its
    // replicas will resynchronise from the new master.
    if was_master && exec.meta.replica_of.is_some() {
        exec.effects.truncate(before);
    }
    // Replicas and the AOF see the transaction's effects wrapped as one, when several.
    if exec.effects.len() - before > 1 {
        let db = exec.effects[before].0;
        exec.effects.insert(before, (db, vec![Bytes::from_static(b"MULTI")]));
        exec.effects.push((db, vec![Bytes::from_static(b"EXEC")]));
    }
    Reply::Array(replies)
}

/// A key that was live when watched and has expired since spoils the transaction, even if
/// nobody deleted it yet.
fn watched_key_expired(exec: &mut Exec<'_>) -> bool {
    let now_ms = exec.now_ms;
    exec.session.tx.watched.iter().any(|(db, key, live)| *live && !exec.dbs[*db].is_live(key, now_ms))
}

pub(super) fn watch(exec: &mut Exec<'_>, args: &[Bytes]) -> Reply {
    if exec.session.tx.active() {
        return Reply::error("ERR WATCH inside MULTI is not allowed");
    }
    let (db, now_ms) = (exec.session.db, exec.now_ms);
    for key in &args[1..] {
        if exec.session.tx.watched.iter().any(|(d, k, _)| *d == db && k == key) {
            continue;
        }
        let live = exec.dbs[db].is_live(key, now_ms);
        exec.session.tx.watched.push((db, key.clone(), live));
        exec.meta.watches.watch(exec.session.id, db, key.clone());
    }
    Reply::ok()
}

pub(super) fn unwatch(exec: &mut Exec<'_>, _args: &[Bytes]) -> Reply {
    unwatch_all(exec);
    Reply::ok()
}

/// The reply to a command refused because a script is busy, with what that means for the
/// connection's transaction: MULTI still starts one, a queued command's refusal makes EXEC
/// fail, and EXEC itself discards the transaction (Redis 7.0).
pub(crate) fn busy(session: &mut super::Session, args: &[Bytes], busy: Reply) -> Reply {
    let tx = &mut session.tx;
    if args[0].eq_ignore_ascii_case(b"multi") && !tx.active() {
        tx.queued = Some(Vec::new());
        tx.failed = false;
        return Reply::ok();
    }
    if args[0].eq_ignore_ascii_case(b"exec") && tx.active() {
        tx.queued = None;
        tx.failed = false;
        let Reply::Error(text) = busy else { return busy };
        return Reply::error(format!("EXECABORT Transaction discarded because of: {text}"));
    }
    if tx.active() {
        tx.failed = true;
    }
    busy
}
