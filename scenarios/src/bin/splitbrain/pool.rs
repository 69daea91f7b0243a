//! Worker threads for the long verbs: each runs one simulation at a time and sends its
//! result to the command's own thread, which writes what it learns at once. The workers are
//! detached, so that an abandoned campaign need not wait for the runs in flight.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

/// The workers and what they send.
pub struct Pool<R> {
    results: Receiver<R>,
    stop: Arc<AtomicBool>,
}

/// What [`Pool::next`] saw.
pub enum Next<R> {
    /// A worker's result.
    Result(R),
    /// Nothing within the wait: time for progress and signals.
    Waiting,
    /// Every worker has finished and every result was taken.
    Finished,
}

impl<R: Send + 'static> Pool<R> {
    /// `jobs` workers, each calling `step` until it returns `None` (no more work) or the pool
    /// is stopped. `step` is given the stop flag, to end long work early.
    pub fn start<F>(jobs: usize, step: F) -> Result<Pool<R>, String>
    where
        F: Fn(&AtomicBool) -> Option<R> + Send + Sync + 'static,
    {
        assert!(jobs >= 1, "a pool has a worker");
        let (sender, results) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let step = Arc::new(step);
        for n in 0..jobs {
            let (sender, stop, step) = (sender.clone(), Arc::clone(&stop), Arc::clone(&step));
            std::thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Some(result) = step(&stop) else { return };
                        if sender.send(result).is_err() {
                            return;
                        }
                    }
                })
                .map_err(|e| format!("cannot start worker thread {n}: {e}"))?;
        }
        Ok(Pool { results, stop })
    }

    /// The workers draw no more work.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The next result, waiting at most `wait`.
    pub fn next(&self, wait: Duration) -> Next<R> {
        match self.results.recv_timeout(wait) {
            Ok(result) => Next::Result(result),
            Err(RecvTimeoutError::Timeout) => Next::Waiting,
            Err(RecvTimeoutError::Disconnected) => Next::Finished,
        }
    }
}
