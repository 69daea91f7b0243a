//! Pause: a gate around every task a node runs. While the gate is closed no task of the node
//! is polled — each stops at its next `.await` and resumes after — so a paused node does
//! nothing at all, the redis-rs connection driver included. turmoil has no pause; this is it.
//!
//! A gate can also be armed to close itself at a moment of the node's own (see
//! [`crate::fault::Moment`]): the node's streams close it right after a read's reply
//! arrives, right before a write leaves, or right after a write's reply arrives, so that a pause lands inside a check-then-act
//! window that a pause at a fixed time would almost never hit.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tracing::Instrument;

use crate::fault::Moment;

/// Opens and closes a node's tasks.
#[derive(Debug, Default)]
pub struct Gate {
    paused: AtomicBool,
    waiting: Mutex<Vec<Waker>>,
    /// The moment at which the gate closes itself, while armed (`code`; 0: not armed). An
    /// atomic: the node's streams read it on every command and reply.
    armed: AtomicU8,
    /// When an armed gate closed itself (true µs); taken by the world.
    fired: Mutex<Option<u64>>,
}

impl Gate {
    /// Freezes every gated task at its next poll.
    pub fn pause(&self) {
        // The world counts overlapping pauses and closes the gate once, on the first.
        let was = self.paused.swap(true, Ordering::SeqCst);
        assert!(!was, "a gate closes only when open");
    }

    /// Lets every gated task run again.
    pub fn resume(&self) {
        let was = self.paused.swap(false, Ordering::SeqCst);
        assert!(was, "a gate opens only when closed");
        for waker in self.waiting.lock().expect("gate lock").drain(..) {
            waker.wake();
        }
    }

    /// Whether the node is paused.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Arms the gate to close itself at the node's next `moment`.
    pub fn arm(&self, moment: Moment) {
        let was = self.armed.swap(code(Some(moment)), Ordering::SeqCst);
        assert_eq!(was, 0, "one armed moment per node at a time");
    }

    /// Disarms the gate; whether it was still armed.
    pub fn disarm(&self) -> bool {
        self.armed.swap(0, Ordering::SeqCst) != 0
    }

    /// The moment the gate is armed for, if any.
    pub fn armed(&self) -> Option<Moment> {
        match self.armed.load(Ordering::SeqCst) {
            1 => Some(Moment::AfterRead),
            2 => Some(Moment::BeforeWrite),
            3 => Some(Moment::AfterWrite),
            _ => None,
        }
    }

    /// The armed moment came, at `at_us` (true time): the gate closes and stays closed until
    /// resumed. Whether it was armed for `moment`.
    pub(crate) fn fire(&self, moment: Moment, at_us: u64) -> bool {
        if self.armed.compare_exchange(code(Some(moment)), 0, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            return false;
        }
        self.pause();
        *self.fired.lock().expect("gate lock") = Some(at_us);
        true
    }

    /// When the gate closed itself, if it did since the last call.
    pub(crate) fn take_fired(&self) -> Option<u64> {
        self.fired.lock().expect("gate lock").take()
    }

    /// While paused, registers `waker` to be woken on resume and returns true.
    pub(crate) fn park(&self, waker: &Waker) -> bool {
        if !self.is_paused() {
            return false;
        }
        let mut waiting = self.waiting.lock().expect("gate lock");
        if !self.is_paused() {
            return false;
        }
        waiting.push(waker.clone());
        true
    }
}

/// A moment as the gate stores it.
fn code(moment: Option<Moment>) -> u8 {
    match moment {
        None => 0,
        Some(Moment::AfterRead) => 1,
        Some(Moment::BeforeWrite) => 2,
        Some(Moment::AfterWrite) => 3,
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
        // `park` checks again under the lock: a resume in between would have found no waker.
        if self.gate.park(cx.waker()) {
            return Poll::Pending;
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
