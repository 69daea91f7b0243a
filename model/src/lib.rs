//! An in-memory Redis server for deterministic simulation.
//!
//! It speaks the real wire protocol (RESP2, and RESP3 after `HELLO 3`, framed by
//! `redis-protocol`) over any `AsyncRead + AsyncWrite` stream — turmoil's in simulation,
//! tokio's in differential tests — so the real `redis` client runs against it unchanged. It
//! implements what election, heartbeat and cache code can notice: strings with TTLs, hashes,
//! counters, Lua scripting on an embedded Lua 5.1 with Redis's conversions and error texts,
//! and pub/sub. It reads time only from an injected [`ServerClock`], and exposes the faults a
//! simulation injects: crash and restart under each [`Persistence`] mode, dropped
//! connections, slow commands, and (through the clock) clock jumps.
//!
//! Every reply it gives is held to real Redis by differential tests; deliberate differences
//! are listed in `docs/model.md`.

#![warn(missing_docs)]

mod client;
mod clock;
mod commands;
mod config;
mod connection;
mod glob;
mod keyspace;
mod meta;
mod notify;
mod persistence;
mod pubsub;
mod replication;
mod reply;
mod scripting;
mod server;
mod tracking;
mod zset;

use std::future::Future;
use std::pin::Pin;

pub use client::Client;
pub use clock::{OffsetClock, ServerClock, SystemClock};
pub use keyspace::{Entry, HashFields, Keyspace, Value};
pub use persistence::Persistence;
pub use reply::Reply;
pub use scripting::{sha1_hex, ScriptTime};
pub use server::{Listener, Server, ServerConfig};
pub use zset::SortedSet;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
