//! The Redis model as the linearizability checker's sequential specification: a command or
//! script, run alone on a model holding just a lease object's keys, answers what Redis
//! would have answered in that order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use check::{ObjectKeys, Replayed, Replayer, Ttl};
use model::{Client, Reply, Server, ServerClock, ServerConfig};

/// The TTL a replay gives a lease that has one: long enough that nothing expires during the
/// replay, and a figure no command is likely to set, so that a TTL the command left alone
/// reads back as this.
const UNTOUCHED_TTL_MS: i64 = 1_000_000_007;

/// A clock that stands still: a replay happens at one instant.
struct StillClock;

/// The instant every replay happens at (the simulation's epoch).
const STILL_MS: i64 = crate::clock::EPOCH_UNIX_MS as i64;

impl ServerClock for StillClock {
    fn now_ms(&self) -> i64 {
        STILL_MS
    }

    fn sleep(&self, _: Duration) -> model::BoxFuture<'static, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// One command on the replay's client: its reply, or why there is none.
type Call<'a> = dyn FnMut(&[&[u8]]) -> Result<Reply, String> + 'a;

/// A sequential Redis: the model, one client, run in the caller's thread.
pub struct ModelReplayer {
    client: Mutex<Session>,
}

/// The replayer's client, and what its keyspace is known to hold: the object's keys exactly
/// as the last setup left them, when nothing has touched them since (a follower's acquire
/// attempts, each with other arguments, replay on one setup).
struct Session {
    client: Client,
    holds: Option<(String, String, ObjectKeys)>,
}

impl std::fmt::Debug for ModelReplayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelReplayer")
    }
}

impl Default for ModelReplayer {
    fn default() -> Self {
        ModelReplayer::new()
    }
}

impl ModelReplayer {
    /// A model of its own, without persistence, whose scripts take no time.
    pub fn new() -> ModelReplayer {
        let config = ServerConfig { script_time: None, ..ServerConfig::default() };
        let server = Server::new(config, Arc::new(StillClock));
        ModelReplayer { client: Mutex::new(Session { client: Client::new(server), holds: None }) }
    }
}

impl Replayer for ModelReplayer {
    fn replay(
        &self,
        lease_key: &str,
        counter_key: &str,
        before: &ObjectKeys,
        args: &[String],
    ) -> Result<Replayed, String> {
        let mut session = self.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Session { client, holds } = &mut *session;
        let command: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        if command.is_empty() {
            return Err("an empty command".to_owned());
        }
        let wanted = (lease_key.to_owned(), counter_key.to_owned(), before.clone());
        if holds.as_ref() != Some(&wanted) {
            *holds = None;
            set_up(client, lease_key, counter_key, before)?;
        }
        let (reply, wrote) = client.call_noting_writes(&command).ok_or_else(|| "the model is down".to_owned())?;
        let reply = history_form(&reply);
        if !wrote {
            // Nothing touched: the keys are as they were set up, TTL included.
            *holds = Some(wanted);
            let lease = before.lease.as_ref().map(|(value, _)| (value.clone(), Ttl::Kept));
            return Ok(Replayed { reply, lease, counter: before.counter });
        }
        *holds = None;
        let mut call = |args: &[&[u8]]| client.call(args).ok_or_else(|| "the model is down".to_owned());
        let Reply::Array(after) = call(&[b"MGET", lease_key.as_bytes(), counter_key.as_bytes()])? else {
            return Err("MGET of the object's keys answered no array".to_owned());
        };
        let string = |key: &str, reply: &Reply, call: &mut Call<'_>| match reply {
            Reply::Bulk(value) => Ok(Some(String::from_utf8_lossy(value).into_owned())),
            // MGET answers nil for a key of another type too.
            _ => match call(&[b"EXISTS", key.as_bytes()])? {
                Reply::Int(0) => Ok(None),
                _ => Err(format!("after {}, {key} holds no string", args[0])),
            },
        };
        let lease = match string(lease_key, &after[0], &mut call)? {
            Some(value) => Some((value, ttl_after(&mut call, lease_key, before)?)),
            None => None,
        };
        let counter = match string(counter_key, &after[1], &mut call)? {
            None => 0,
            Some(value) => value.parse().map_err(|_| format!("after {}, the counter holds no integer", args[0]))?,
        };
        Ok(Replayed { reply, lease, counter })
    }
}

/// Puts the object's two keys in the state `before` (a lease with a TTL gets the
/// sentinel one), and nothing else the command could see of them.
fn set_up(client: &mut Client, lease_key: &str, counter_key: &str, before: &ObjectKeys) -> Result<(), String> {
    let mut call = |args: &[&[u8]]| client.call(args).ok_or_else(|| "the model is down".to_owned());
    call(&[b"DEL", lease_key.as_bytes(), counter_key.as_bytes()])?;
    if let Some((value, has_ttl)) = &before.lease {
        let ttl = UNTOUCHED_TTL_MS.to_string();
        let mut set: Vec<&[u8]> = vec![b"SET", lease_key.as_bytes(), value.as_bytes()];
        if *has_ttl {
            set.extend([&b"PX"[..], ttl.as_bytes()]);
        }
        call(&set)?;
    }
    if before.counter != 0 {
        call(&[b"SET", counter_key.as_bytes(), before.counter.to_string().as_bytes()])?;
    }
    Ok(())
}

/// What became of the lease's TTL.
fn ttl_after(call: &mut Call<'_>, lease_key: &str, before: &ObjectKeys) -> Result<Ttl, String> {
    let had_ttl = before.lease.as_ref().is_some_and(|(_, ttl)| *ttl);
    match call(&[b"PTTL", lease_key.as_bytes()])? {
        Reply::Int(-1) if had_ttl => Ok(Ttl::Removed),
        Reply::Int(-1) => Ok(if before.lease.is_some() { Ttl::Kept } else { Ttl::Removed }),
        Reply::Int(ms) if ms == UNTOUCHED_TTL_MS && had_ttl => Ok(Ttl::Kept),
        Reply::Int(ms) if ms >= 0 => Ok(Ttl::Set(ms)),
        other => Err(format!("PTTL of the lease answered {}", history_form(&other))),
    }
}

/// A reply written as the history writes what a client read: encoded as Redis sends it on
/// RESP2, decoded as the recorder decodes it.
fn history_form(reply: &Reply) -> String {
    let mut bytes = BytesMut::new();
    reply.encode(2, &mut bytes);
    match redis_protocol::resp2::decode::decode_bytes_mut(&mut bytes) {
        Ok(Some((frame, _, _))) => crate::wire::short(&frame),
        _ => format!("{reply:?}"),
    }
}
