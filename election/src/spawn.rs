//! Where the elector's background tasks run. Every task the elector starts — the redis
//! connection driver and leader-only jobs — goes through a [`Spawner`], so that a simulation
//! can freeze them all (a process pause) or drop them all (a crash).

use crate::BoxFuture;

/// Starts detached tasks.
pub trait Spawner: Send + Sync + 'static {
    /// Runs `task` in the background until it completes.
    fn spawn(&self, task: BoxFuture<'static, ()>);
}

/// The production spawner: `tokio::spawn` on the current runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSpawner;

impl Spawner for TokioSpawner {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        tokio::spawn(task);
    }
}
