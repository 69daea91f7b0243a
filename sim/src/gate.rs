//! Pause: a gate around every task a node runs. While the gate is closed no task of the node
//! is polled — each stops at its next `.await` and resumes after — so a paused node does
//! nothing at all, the redis-rs connection driver included. turmoil has no pause; this is it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tracing::Instrument;

/// Opens and closes a node's tasks.
#[derive(Debug, Default)]
pub struct Gate {
    paused: AtomicBool,
    waiting: Mutex<Vec<Waker>>,
}

impl Gate {
    /// Freezes every gated task at its next poll.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Lets every gated task run again.
    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
        for waker in self.waiting.lock().expect("gate lock").drain(..) {
            waker.wake();
        }
    }

    /// Whether the node is paused.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }
}

/// A future that only makes progress while its gate is open.
pub struct Gated<F> {
    gate: Arc<Gate>,
    inner: Pin<Box<F>>,
}

impl<F: Future> Gated<F> {
    /// Wraps `inner` in `gate`.
    pub fn new(gate: Arc<Gate>, inner: F) -> Self {
        Gated { gate, inner: Box::pin(inner) }
    }
}

impl<F: Future> Future for Gated<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if self.gate.is_paused() {
            let mut waiting = self.gate.waiting.lock().expect("gate lock");
            // Checked again under the lock: a resume in between would have found no waker.
            if self.gate.is_paused() {
                waiting.push(cx.waker().clone());
                return Poll::Pending;
            }
        }
        self.inner.as_mut().poll(cx)
    }
}

/// The node's [`election::Spawner`]: tasks run on the node's host, behind its gate, and die
/// with it when it crashes.
#[derive(Debug, Clone)]
pub struct NodeSpawner {
    gate: Arc<Gate>,
}

impl NodeSpawner {
    pub(crate) fn new(gate: Arc<Gate>) -> Self {
        NodeSpawner { gate }
    }

    /// Spawns a task that need not be `Send` (turmoil hosts are single-threaded). It logs in
    /// the spawner's span (the node and its incarnation).
    pub fn spawn_local(&self, task: impl Future<Output = ()> + 'static) {
        tokio::task::spawn_local(Gated::new(self.gate.clone(), task.instrument(tracing::Span::current())));
    }
}

impl election::Spawner for NodeSpawner {
    fn spawn(&self, task: election::BoxFuture<'static, ()>) {
        self.spawn_local(task);
    }
}
