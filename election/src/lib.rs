//! Lease-based leader election over Redis, with fencing epochs, leader-only jobs and fenced
//! writes — production code that splitbrain also runs, unchanged, inside its simulation.
//!
//! N replicas of a service each run an [`Elector`]. One of them holds the lease key
//! (`SET key value NX PX ttl`, done by a script that also increments a fencing epoch), renews
//! it every `renew_interval`, and runs the leader-only jobs; the others campaign every
//! `retry_interval`. A leader steps down the moment a renewal finds the lease gone, or when
//! its local deadline — measured from *before* its last successful request, minus a drift
//! margin — passes without a renewal, even if Redis cannot be reached. On a graceful stop it
//! drains its jobs, then releases the lease with a compare-and-delete.
//!
//! Everything outside the process goes through three seams, so that a simulation can
//! replace them: a [`Clock`], a [`Connector`] (a byte stream to Redis, under the real `redis`
//! client) and a [`Spawner`].
//!
//! ```no_run
//! use std::time::Duration;
//! use election::{Elector, ElectorConfig, FencedResource, TcpConnector, WriteOutcome};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ElectorConfig::new("gateway_service_leader", "gateway-1:8001", election::random_incarnation())
//!     .with_timings(Duration::from_secs(15), Duration::from_secs(5), Duration::from_secs(1));
//! let connector = TcpConnector::new("127.0.0.1:6379");
//! let conn = election::connect(&connector, &election::TokioSpawner, &Default::default()).await?;
//! let elector = Elector::builder(config, connector)
//!     .job("health-check", move |leader| {
//!         let mut conn = conn.clone();
//!         async move {
//!             let last_check = FencedResource::new("gateway:last_health_check");
//!             while !leader.is_stopping() {
//!                 // Every write carries this term's token: a deposed leader's write is refused.
//!                 match last_check.write(&mut conn, leader.token(), "ok").await {
//!                     Ok(WriteOutcome::Accepted { .. }) => {}
//!                     Ok(WriteOutcome::Rejected { highest }) => return tracing::warn!(%highest, "a newer leader wrote"),
//!                     Err(e) => tracing::warn!(%e, "health check write failed"),
//!                 }
//!                 tokio::time::sleep(Duration::from_secs(30)).await;
//!             }
//!         }
//!     })
//!     .build()?; // an invalid configuration is a typed error with a one-line message
//! let handle = elector.spawn();
//! // ... serve traffic; `handle.is_leader()`, `handle.subscribe()` ...
//! handle.shutdown(); // drain leader-only jobs, then release the lease
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod cache;
mod clock;
mod config;
mod connection;
mod connector;
mod elector;
mod fence;
mod jobs;
mod lease;
mod link;
mod scripts;
mod spawn;
mod state;

use std::future::Future;
use std::pin::Pin;

pub use cache::{
    Cache, CacheBuilder, CacheConfig, CacheConfigError, CacheError, CacheMetrics, Put, RedisSource, Source, Versioned,
    SOURCE_COMMIT,
};
pub use clock::{timeout, Clock, Instant, TokioClock};
pub use config::{default_drift_margin, ConfigError, ElectorConfig};
pub use connection::{connect, connect_with, Connection};
pub use connector::{BoxStream, Connector, RedisStream, TcpConnector};
pub use elector::{Elector, ElectorBuilder};
pub use fence::{FencedResource, SlotClaims, WriteOutcome};
pub use jobs::LeaderContext;
pub use lease::{FencingToken, ForeignValue, LeaseValue};
pub use scripts::{LuaScript, ScriptReply, ACQUIRE, CLAIM_SLOT, FENCED_WRITE, RELEASE, RENEW};
pub use spawn::{Spawner, TokioSpawner};
pub use state::{CurrentLeader, ElectorEvent, ElectorHandle, Leadership, Metrics, Observer, StepDown};

/// A boxed, sendable future: what the seams hand around.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A fresh incarnation for a production process: random, from the operating system's
/// entropy (via std's randomly keyed hasher), mixed with the process id. Simulations set
/// incarnations themselves and never call this.
pub fn random_incarnation() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}
