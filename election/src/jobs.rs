//! Leader-only jobs: started when a term begins, handed the term's fencing token, and
//! cancelled when the term ends.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::lease::FencingToken;
use crate::spawn::Spawner;
use crate::state::ElectorHandle;
use crate::BoxFuture;

pub(crate) type JobFn = Arc<dyn Fn(LeaderContext) -> BoxFuture<'static, ()> + Send + Sync>;

/// What a leader-only job is given.
///
/// A job is cancelled — dropped at its next `.await` — the moment its term ends because the
/// lease was lost or its deadline passed. On graceful shutdown it is first asked to stop
/// ([`LeaderContext::stopping`]) and given the drain timeout to finish.
#[derive(Debug, Clone)]
pub struct LeaderContext {
    token: FencingToken,
    stop: CancellationToken,
    handle: ElectorHandle,
}

impl LeaderContext {
    /// The fencing token of the term this job runs in. Pass it to every fenced write.
    pub fn token(&self) -> FencingToken {
        self.token
    }

    /// The token only while the local lease is still valid, checked now.
    pub fn valid_token(&self) -> Option<FencingToken> {
        self.handle.fencing_token().filter(|t| *t == self.token)
    }

    /// Whether a graceful shutdown asked this job to stop.
    pub fn is_stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Completes when a graceful shutdown asks this job to stop.
    pub fn stopping(&self) -> WaitForCancellationFuture<'_> {
        self.stop.cancelled()
    }

    /// The elector's handle.
    pub fn elector(&self) -> &ElectorHandle {
        &self.handle
    }
}

/// The jobs of one term. Dropping it cancels them.
pub(crate) struct Term {
    stop: CancellationToken,
    abort: CancellationToken,
    running: watch::Receiver<usize>,
}

impl Term {
    /// Starts every job for the term with fencing token `token`.
    pub(crate) fn start(
        jobs: &[(String, JobFn)],
        spawner: &dyn Spawner,
        token: FencingToken,
        handle: &ElectorHandle,
    ) -> Term {
        let stop = CancellationToken::new();
        let abort = CancellationToken::new();
        let (count, running) = watch::channel(jobs.len());
        let count = Arc::new(count);
        for (name, job) in jobs {
            let context = LeaderContext { token, stop: stop.clone(), handle: handle.clone() };
            let work = job(context);
            let (abort, count, name) = (abort.clone(), count.clone(), name.clone());
            spawner.spawn(Box::pin(async move {
                tracing::debug!(job = %name, %token, "leader-only job started");
                tokio::select! {
                    biased;
                    () = abort.cancelled() => tracing::debug!(job = %name, %token, "leader-only job cancelled"),
                    () = work => tracing::debug!(job = %name, %token, "leader-only job finished"),
                }
                count.send_modify(|n| *n -= 1);
            }));
        }
        Term { stop, abort, running }
    }

    /// Asks the jobs to stop (graceful shutdown).
    pub(crate) fn request_stop(&self) {
        self.stop.cancel();
    }

    /// Completes when every job has ended.
    pub(crate) async fn idle(&mut self) {
        // The sender lives as long as a job does; an error means they are all gone.
        let _ = self.running.wait_for(|n| *n == 0).await;
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        self.abort.cancel();
    }
}
