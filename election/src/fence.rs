//! The guard a user puts in front of the resource a leader protects: writes carry the
//! writer's fencing token, and the resource refuses any token below the largest it accepted.

use redis::aio::ConnectionLike;
use std::collections::BTreeMap;

use redis::RedisResult;

use crate::lease::FencingToken;
use crate::scripts::{LuaScript, CLAIM_SLOT, FENCED_WRITE};

/// What a fenced write came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Stored; the resource's highest epoch is now the writer's.
    Accepted {
        /// The epoch of the write this one replaced (None: the resource was empty). Never
        /// above the writer's: a history of these shows the order the resource applied
        /// writes in, timed-out writes included.
        replaced: Option<FencingToken>,
    },
    /// Refused: the resource already accepted a write with a higher epoch.
    Rejected {
        /// The highest epoch the resource has accepted.
        highest: FencingToken,
    },
}

/// A value in Redis (a hash with fields `value` and `epoch`) that only accepts writes in
/// non-decreasing epoch order.
///
/// ```no_run
/// # async fn demo(mut conn: election::Connection, token: election::FencingToken) -> redis::RedisResult<()> {
/// use election::{FencedResource, WriteOutcome};
/// let schedule = FencedResource::new("jobs:schedule");
/// match schedule.write(&mut conn, token, "v2").await? {
///     WriteOutcome::Accepted { .. } => {}
///     WriteOutcome::Rejected { highest } => tracing::warn!(%highest, "deposed: a newer leader wrote"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FencedResource {
    key: String,
    script: LuaScript,
}

impl FencedResource {
    /// The resource stored under `key`.
    pub fn new(key: impl Into<String>) -> Self {
        FencedResource { key: key.into(), script: LuaScript::new(FENCED_WRITE) }
    }

    /// The resource's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Writes `value` under `token` if no higher epoch has written before, atomically.
    pub async fn write<C>(&self, conn: &mut C, token: FencingToken, value: &str) -> RedisResult<WriteOutcome>
    where
        C: ConnectionLike + Send,
    {
        let reply = self.script.invoke(conn, &[&self.key], &[token.0.to_string(), value.to_owned()]).await?;
        let (accepted, epoch): (i64, u64) = redis::from_redis_value(reply.value)?;
        Ok(match accepted {
            1 => WriteOutcome::Accepted { replaced: (epoch > 0).then_some(FencingToken(epoch)) },
            _ => WriteOutcome::Rejected { highest: FencingToken(epoch) },
        })
    }

    /// The current value and the epoch that wrote it, if any write was accepted.
    pub async fn read<C>(&self, conn: &mut C) -> RedisResult<Option<(String, FencingToken)>>
    where
        C: ConnectionLike + Send,
    {
        let mut fields: BTreeMap<String, String> = redis::cmd("HGETALL").arg(&self.key).query_async(conn).await?;
        let epoch = fields.get("epoch").and_then(|e| e.parse().ok()).map(FencingToken);
        Ok(fields.remove("value").zip(epoch))
    }
}

/// The slots of a periodic leader-only job (a health check every 30 s, a report every hour):
/// each slot runs at most once across all leaders, past and present. A leader claims a slot
/// with its fencing token before running it; the claim fails if the slot (or a later one)
/// already ran or a newer epoch has claimed, so a deposed leader that wakes up late, or a
/// new leader whose clock is behind, never runs a slot twice.
///
/// ```no_run
/// # async fn demo(mut conn: election::Connection, token: election::FencingToken) -> redis::RedisResult<()> {
/// let slots = election::SlotClaims::new("jobs:health-check");
/// let slot = 1_764_000_000_000 / 30_000; // the 30-second slot now
/// if slots.claim(&mut conn, token, slot).await? {
///     // run the health check for this slot
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SlotClaims {
    key: String,
    script: LuaScript,
}

impl SlotClaims {
    /// The claims stored under `key` (a hash with fields `epoch` and `slot`).
    pub fn new(key: impl Into<String>) -> Self {
        SlotClaims { key: key.into(), script: LuaScript::new(CLAIM_SLOT) }
    }

    /// Claims `slot` under `token`, atomically: true if this caller may run it.
    pub async fn claim<C>(&self, conn: &mut C, token: FencingToken, slot: u64) -> RedisResult<bool>
    where
        C: ConnectionLike + Send,
    {
        let reply = self.script.invoke(conn, &[&self.key], &[token.0.to_string(), slot.to_string()]).await?;
        Ok(redis::from_redis_value::<i64>(reply.value)? == 1)
    }
}
