//! The Lua scripts that make every lease operation one atomic step in Redis, and how they are
//! invoked: `EVALSHA`, falling back to `EVAL` when the server answers NOSCRIPT (its script
//! cache is empty after a restart or a failover).

use redis::aio::ConnectionLike;
use redis::{ErrorKind, RedisResult, ServerErrorKind, Value};

/// A Lua script and its SHA1, as Redis names it.
#[derive(Debug, Clone)]
pub struct LuaScript {
    source: &'static str,
    sha: String,
}

/// What running a script returned, and whether the server had to be sent its source.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptReply {
    /// The script's reply.
    pub value: Value,
    /// The server answered NOSCRIPT to `EVALSHA` and the script ran by `EVAL`.
    pub reloaded: bool,
}

impl LuaScript {
    /// A script with its SHA1 computed once.
    pub fn new(source: &'static str) -> Self {
        LuaScript { source, sha: sha1_smol::Sha1::from(source).digest().to_string() }
    }

    /// The script's SHA1 in hex, as `SCRIPT LOAD` returns it.
    pub fn sha(&self) -> &str {
        &self.sha
    }

    /// The script's source.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// Runs the script by `EVALSHA`, and by `EVAL` if the server does not know it. Any other
    /// error is returned as it is: a NOSCRIPT is never taken for a result.
    pub async fn invoke<C>(&self, conn: &mut C, keys: &[&str], args: &[String]) -> RedisResult<ScriptReply>
    where
        C: ConnectionLike + Send,
    {
        let by_sha = Self::command("EVALSHA", &self.sha, keys, args).query_async(conn).await;
        match by_sha {
            Ok(value) => Ok(ScriptReply { value, reloaded: false }),
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                let value = Self::command("EVAL", self.source, keys, args).query_async(conn).await?;
                Ok(ScriptReply { value, reloaded: true })
            }
            Err(e) => Err(e),
        }
    }

    fn command(verb: &str, script: &str, keys: &[&str], args: &[String]) -> redis::Cmd {
        let mut cmd = redis::cmd(verb);
        cmd.arg(script).arg(keys.len()).arg(keys).arg(args);
        cmd
    }
}

/// Acquire: `SET lease NX PX ttl` and, only if that succeeded, `INCR epoch`; the epoch is
/// appended to the stored value and the info record. Returns the new epoch (an integer) or,
/// when the lease is held, the holder's value (a string).
///
/// KEYS: lease, epoch, info. ARGV: identity prefix, ttl in ms, info JSON without its epoch
/// and closing brace.
pub const ACQUIRE: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local epoch = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. epoch, 'PX', ARGV[2])
  redis.call('SET', KEYS[3], ARGV[3] .. epoch .. '}', 'PX', ARGV[2])
  return epoch
end
return redis.call('GET', KEYS[1])
"#;

/// Renew: `PEXPIRE` the lease and the info record only if the lease still holds the caller's
/// value. Returns 1 when renewed, 0 when the lease is gone or someone else's.
///
/// KEYS: lease, info. ARGV: the caller's lease value, ttl in ms.
pub const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Release: `DEL` the lease and the info record only if the lease still holds the caller's
/// value. Returns 1 when released, 0 when it was not the caller's.
///
/// KEYS: lease, info. ARGV: the caller's lease value.
pub const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// Fenced write: store a value in the resource hash only if the writer's epoch is at least
/// the highest epoch the resource has accepted. Returns `{1, replaced}` when accepted (the
/// epoch it held before, 0 when empty) and `{0, highest}` when refused.
///
/// KEYS: resource. ARGV: epoch, value.
pub const FENCED_WRITE: &str = r#"
local highest = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
local epoch = tonumber(ARGV[1])
if epoch < highest then
  return {0, highest}
end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'value', ARGV[2])
return {1, highest}
"#;

/// Slot claim: record that the periodic job's slot `ARGV[2]` ran, only if the claimer's epoch
/// is at least the highest that claimed before and the slot is later than the last claimed.
/// Returns 1 when claimed, 0 when refused (a newer leader claimed, or the slot already ran).
///
/// KEYS: claims. ARGV: epoch, slot.
pub const CLAIM_SLOT: &str = r#"
local highest = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'slot') or '-1')
local epoch = tonumber(ARGV[1])
local slot = tonumber(ARGV[2])
if epoch < highest or slot <= last then
  return 0
end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'slot', ARGV[2])
return 1
"#;

/// The elector's scripts, hashed once.
#[derive(Debug, Clone)]
pub(crate) struct Scripts {
    pub(crate) acquire: LuaScript,
    pub(crate) renew: LuaScript,
    pub(crate) release: LuaScript,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts { acquire: LuaScript::new(ACQUIRE), renew: LuaScript::new(RENEW), release: LuaScript::new(RELEASE) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_is_the_one_redis_computes() {
        // `redis-cli SCRIPT LOAD "return 1"` answers this digest.
        assert_eq!(LuaScript::new("return 1").sha(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }
}
