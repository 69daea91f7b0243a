//! The guard a user puts in front of the resource a leader protects: writes carry the
//! writer's fencing token, and the resource refuses any token below the largest it accepted.

use redis::aio::ConnectionLike;
use std::collections::BTreeMap;

use redis::RedisResult;

use crate::lease::FencingToken;
use crate::scripts::{LuaScript, FENCED_WRITE};

/// What a fenced write came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Stored; the resource's highest epoch is now the writer's.
    Accepted,
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
///     WriteOutcome::Accepted => {}
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
            1 => WriteOutcome::Accepted,
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
