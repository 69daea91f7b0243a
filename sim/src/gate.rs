//! Pause: a gate around every task a node runs. While the gate is closed no task of the node
//! is polled — each stops at its next `.await` and resumes after — so a paused node does
//! nothing at all, the redis-rs connection driver included. turmoil has no pause; this is it.
//!
//! A gate can also be armed to close itself at a moment of the node's own (see
//! [`crate::fault::Moment`]): the node's streams close it right after a read's reply
//! arrives, right before a write leaves, or right after a write's reply arrives, so that a pause lands inside a check-then-act
//! window that a pause at a fixed time would almost never hit.
//!
//! A gate can also *watch* for a moment without closing: the moment is noted for the world,
//! which starts a triggered fault there ([`crate::fault::Trigger`]).

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
    /// The moment watched for a triggered fault (`code`; 0: none).
    watching: AtomicU8,
    /// When the watched moment came (true µs); taken by the world.
    reached: Mutex<Option<u64>>,
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

    /// Watches for the node's next `moment`, to start a triggered fault there.
    pub fn watch(&self, moment: Moment) {
        let was = self.watching.swap(code(Some(moment)), Ordering::SeqCst);
        assert_eq!(was, 0, "one watched moment per node at a time");
    }

    /// Stops watching; whether the gate still was.
    pub fn unwatch(&self) -> bool {
        self.watching.swap(0, Ordering::SeqCst) != 0
    }

    /// Whether a moment is watched.
    pub fn is_watching(&self) -> bool {
        self.watching.load(Ordering::SeqCst) != 0
    }

    /// Whether `moment` is armed or watched: the node's streams look at it on every command.
    pub(crate) fn awaits(&self, moment: Moment) -> bool {
        let c = code(Some(moment));
        self.armed.load(Ordering::SeqCst) == c || self.watching.load(Ordering::SeqCst) == c
    }

    /// When the watched moment came, if it did since the last call.
    pub(crate) fn take_reached(&self) -> Option<u64> {
        self.reached.lock().expect("gate lock").take()
    }

    /// The node reached `moment`, at `at_us` (true time). Watched: noted for the world, and
    /// no longer watched. Armed: the gate closes and stays closed until resumed. Whether it
    /// closed.
    pub(crate) fn fire(&self, moment: Moment, at_us: u64) -> bool {
        if self.watching.compare_exchange(code(Some(moment)), 0, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            let was = self.reached.lock().expect("gate lock").replace(at_us);
            assert!(was.is_none(), "a watched moment is taken before the next is watched");
        }
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
