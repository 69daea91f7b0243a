//! What an elector shows the rest of the program: who leads, counters, and the handle to ask
//! and to stop it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, Instant};
use crate::lease::{FencingToken, LeaseValue};

/// Who leads, as this elector last knew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leadership {
    /// This elector does not hold the lease.
    Follower {
        /// The lease's holder when this elector last looked; `None` when unknown (Redis
        /// unreachable, or the lease was free).
        leader: Option<CurrentLeader>,
    },
    /// This elector holds the lease until `deadline` on its own clock, unless renewed.
    Leader {
        /// The fencing token of this term.
        epoch: FencingToken,
        /// The local lease deadline.
        deadline: Instant,
    },
}

/// The value of the lease key as read from Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentLeader {
    /// The raw value, whoever wrote it.
    pub value: String,
}

impl CurrentLeader {
    /// The lease, if the value was written by an elector of this library.
    pub fn lease(&self) -> Option<LeaseValue> {
        self.value.parse().ok()
    }
}

/// Why a leader stopped leading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepDown {
    /// A renewal found the lease gone or someone else's.
    LeaseLost,
    /// The local deadline passed before a renewal succeeded (Redis unreachable or slow).
    DeadlineMissed,
    /// Graceful shutdown: jobs drained, then the lease released.
    Shutdown,
}

/// A transition, reported synchronously to an observer at the instant the elector makes it
/// (see [`crate::ElectorBuilder::observer`]), like client-go's leader callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElectorEvent {
    /// An acquire attempt is about to be sent.
    AcquireAttempt,
    /// A term began: the lease is held until `deadline` (local clock) unless renewed.
    Acquired {
        /// The term's fencing token.
        epoch: FencingToken,
        /// The local lease deadline.
        deadline: Instant,
    },
    /// The lease was renewed until `deadline`.
    Renewed {
        /// The term's fencing token.
        epoch: FencingToken,
        /// The new local lease deadline.
        deadline: Instant,
    },
    /// A renewal request failed (error or timeout); the term goes on until its deadline.
    RenewFailed {
        /// The term's fencing token.
        epoch: FencingToken,
    },
    /// The term ended.
    SteppedDown {
        /// The term's fencing token.
        epoch: FencingToken,
        /// Why.
        reason: StepDown,
    },
    /// The lease was deleted by its holder (graceful shutdown, or a leftover of this
    /// incarnation found while campaigning).
    Released {
        /// The released lease's epoch.
        epoch: FencingToken,
    },
}

/// Receives [`ElectorEvent`]s. Called on the elector's task: keep it short and non-blocking.
pub type Observer = std::sync::Arc<dyn Fn(&ElectorEvent) + Send + Sync>;

/// Counters an elector keeps; read them with [`ElectorHandle::metrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Acquire attempts that reached Redis and got an answer.
    pub acquire_attempts: u64,
    /// Successful acquisitions (terms started).
    pub acquisitions: u64,
    /// Acquire attempts that failed with an error or a timeout.
    pub acquire_errors: u64,
    /// Successful renewals.
    pub renewals: u64,
    /// Renewals that failed with an error or a timeout.
    pub renew_failures: u64,
    /// Terms ended because the lease was gone.
    pub leases_lost: u64,
    /// Terms ended because the local deadline passed.
    pub deadlines_missed: u64,
    /// Leases released on shutdown.
    pub releases: u64,
    /// Leader/follower transitions, in both directions.
    pub transitions: u64,
    /// Scripts re-sent by `EVAL` after a NOSCRIPT.
    pub script_reloads: u64,
    /// Connections opened to Redis.
    pub connections: u64,
}

macro_rules! counters {
    ($($field:ident),*) => {
        #[derive(Debug, Default)]
        pub(crate) struct Counters { $(pub(crate) $field: AtomicU64,)* }
        impl Counters {
            fn snapshot(&self) -> Metrics {
                Metrics { $($field: self.$field.load(Ordering::Relaxed),)* }
            }
        }
    };
}
counters!(
    acquire_attempts,
    acquisitions,
    acquire_errors,
    renewals,
    renew_failures,
    leases_lost,
    deadlines_missed,
    releases,
    transitions,
    script_reloads,
    connections
);

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// State shared between the elector's loop and its handles.
pub(crate) struct Shared {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) leadership: watch::Sender<Leadership>,
    pub(crate) counters: Counters,
    pub(crate) shutdown: CancellationToken,
    pub(crate) instance: String,
    pub(crate) incarnation: u64,
}

/// A cheap, cloneable view of a running elector.
#[derive(Clone)]
pub struct ElectorHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for ElectorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElectorHandle")
            .field("instance", &self.shared.instance)
            .field("incarnation", &self.shared.incarnation)
            .field("leadership", &*self.shared.leadership.borrow())
            .finish()
    }
}

impl ElectorHandle {
    /// A receiver that sees every change of leadership.
    pub fn subscribe(&self) -> watch::Receiver<Leadership> {
        self.shared.leadership.subscribe()
    }

    /// The leadership as last published.
    pub fn leadership(&self) -> Leadership {
        self.shared.leadership.borrow().clone()
    }

    /// Whether this elector leads *now*: it published leadership and its local deadline has
    /// not passed. Checks the clock, so it is right even when the elector's loop is late.
    pub fn is_leader(&self) -> bool {
        self.fencing_token().is_some()
    }

    /// The fencing token of the current term, only while the local lease is valid.
    pub fn fencing_token(&self) -> Option<FencingToken> {
        match *self.shared.leadership.borrow() {
            Leadership::Leader { epoch, deadline } if self.shared.clock.now() < deadline => Some(epoch),
            _ => None,
        }
    }

    /// The lease holder as this elector last knew it: itself while leading.
    pub fn current_leader(&self) -> Option<CurrentLeader> {
        match &*self.shared.leadership.borrow() {
            Leadership::Follower { leader } => leader.clone(),
            Leadership::Leader { epoch, .. } => Some(CurrentLeader {
                value: LeaseValue {
                    instance: self.shared.instance.clone(),
                    incarnation: self.shared.incarnation,
                    epoch: epoch.0,
                }
                .to_string(),
            }),
        }
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        self.shared.counters.snapshot()
    }

    /// Asks for a graceful stop: a leader stops its jobs (bounded by the drain timeout), then
    /// releases the lease; a follower stops campaigning. [`crate::Elector::run`] returns once
    /// that is done.
    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
    }

    /// This elector's instance name.
    pub fn instance(&self) -> &str {
        &self.shared.instance
    }

    /// This elector's incarnation.
    pub fn incarnation(&self) -> u64 {
        self.shared.incarnation
    }
}
