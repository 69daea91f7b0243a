//! The elector's one connection to Redis: opened on demand, every request bounded in time,
//! dropped and reopened after any failure.

use std::sync::Arc;
use std::time::Duration;

use redis::{RedisConnectionInfo, Value};

use crate::clock::{timeout, Clock};
use crate::connection::{connect, Connection};
use crate::connector::Connector;
use crate::scripts::LuaScript;
use crate::spawn::Spawner;
use crate::state::{bump, Shared};

/// Why a request to Redis did not return a reply.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply: {0}")]
    Reply(#[from] redis::ParsingError),
}

pub(crate) struct Link {
    connector: Arc<dyn Connector>,
    spawner: Arc<dyn Spawner>,
    info: RedisConnectionInfo,
    conn: Option<Connection>,
}

impl Link {
    pub(crate) fn new(connector: Arc<dyn Connector>, spawner: Arc<dyn Spawner>, info: RedisConnectionInfo) -> Self {
        Link { connector, spawner, info, conn: None }
    }

    /// Runs `script` within `limit` (connecting first if needed). Any failure drops the
    /// connection: a request that timed out may still be answered later, and a fresh
    /// connection is the only way to be sure that late answer is never read as a new one's.
    pub(crate) async fn run(
        &mut self,
        shared: &Shared,
        limit: Duration,
        script: &LuaScript,
        keys: &[&str],
        args: &[String],
    ) -> Result<Value, LinkError> {
        let clock: &dyn Clock = &*shared.clock;
        let outcome = timeout(clock, limit, async {
            if self.conn.is_none() {
                let conn = connect(&*self.connector, &*self.spawner, &self.info).await?;
                bump(&shared.counters.connections);
                self.conn = Some(conn);
            }
            let conn = self.conn.as_mut().expect("connected above");
            script.invoke(conn, keys, args).await
        })
        .await;
        match outcome {
            Some(Ok(reply)) => {
                if reply.reloaded {
                    bump(&shared.counters.script_reloads);
                    tracing::info!(sha = script.sha(), "redis had lost the script; re-sent it by EVAL");
                }
                Ok(reply.value)
            }
            Some(Err(e)) => {
                self.conn = None;
                Err(e.into())
            }
            None => {
                self.conn = None;
                Err(LinkError::Timeout(limit))
            }
        }
    }
}
