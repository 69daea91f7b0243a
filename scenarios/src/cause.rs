//! Why a second leader got in: the Redis operation that removed the first holder's lease
//! before the second acquired it (a `DEL`, a release script), or, when none did, the lease
//! expiring in Redis after the first holder's last renewal. The exclusivity checker says
//! whether an overlap is explained by faults; this says what let the second leader in.

use sim::{Event, EventKind};

use crate::lease_op::{Effect, LeaseOp};

/// What let the second leader in.
#[derive(Debug, Clone)]
pub struct Cause {
    /// The operation that removed the lease, if one did (else it expired).
    pub removal: Option<LeaseOp>,
    /// The first holder's last operation that kept its lease alive (acquired or renewed it).
    pub last_kept: Option<LeaseOp>,
    /// The second leader's acquisition.
    pub acquired: LeaseOp,
    /// Whose lease was there before: `node-2#1`.
    pub holder: String,
}

impl Cause {
    /// The cause in one sentence.
    pub fn sentence(&self) -> String {
        let acquired = format!(
            "{} acquired it at {} ({})",
            self.acquired.who,
            secs(self.acquired.replied_us.unwrap_or(self.acquired.sent_us)),
            self.acquired.command
        );
        match &self.removal {
            Some(op) => {
                let how = match op.command.as_str() {
                    "DEL" => "a plain DEL".to_owned(),
                    other => other.to_owned(),
                };
                let whose = if op.who == self.holder { "its own".to_owned() } else { format!("{}'s", self.holder) };
                format!("{} deleted {whose} lease at {} with {how}; {acquired}", op.who, secs(op.sent_us))
            }
            None => {
                let last = self.last_kept.as_ref().map_or(String::new(), |op| {
                    format!(" after its last {} at {}", op.command, secs(op.replied_us.unwrap_or(op.sent_us)))
                });
                format!("{}'s lease expired in Redis{last}; {acquired}", self.holder)
            }
        }
    }

    /// The operations that tell the story, in time order.
    pub fn ops(&self) -> Vec<&LeaseOp> {
        let mut ops: Vec<&LeaseOp> =
            [self.last_kept.as_ref(), self.removal.as_ref(), Some(&self.acquired)].into_iter().flatten().collect();
        ops.sort_by_key(|op| op.sent_us);
        ops
    }
}

/// `55.800 s`.
fn secs(us: u64) -> String {
    format!("{:.3} s", us as f64 / 1e6)
}

/// The cause of two leaders: `evidence` holds the two terms' acquisitions (as the
/// exclusivity checkers give them); `ops` are the lease key's operations ([`lease_ops`]).
///
/// [`lease_ops`]: crate::lease_op::lease_ops
pub fn second_leader(ops: &[LeaseOp], evidence: &[Event]) -> Option<Cause> {
    let acquisitions: Vec<&Event> =
        evidence.iter().filter(|e| matches!(e.kind, EventKind::Acquired { .. } | EventKind::Renewed { .. })).collect();
    let second = acquisitions.iter().max_by_key(|e| e.at_us)?;
    let first = acquisitions.iter().find(|e| e.node != second.node || e.incarnation != second.incarnation)?;
    let second_who = sim::check::who(second);
    // The grant the second leader read just before it believed.
    let acquired = ops
        .iter()
        .rfind(|op| {
            op.who == second_who && op.effect == Effect::Granted && op.replied_us.is_some_and(|r| r <= second.at_us)
        })?
        .clone();
    let before = |op: &&LeaseOp| op.sent_us < acquired.sent_us;
    let first_who = sim::check::who(first);
    let last_kept = ops
        .iter()
        .filter(before)
        .rfind(|op| op.who == first_who && matches!(op.effect, Effect::Granted | Effect::Extended))
        .cloned();
    let since = last_kept.as_ref().map_or(0, |op| op.sent_us);
    let removal = ops.iter().filter(before).rfind(|op| op.sent_us >= since && op.effect == Effect::Removed).cloned();
    // Whose lease was in Redis when it was removed (or expired): the last grant before that.
    let until = removal.as_ref().map_or(acquired.sent_us, |op| op.sent_us);
    let holder = ops
        .iter()
        .rfind(|op| op.effect == Effect::Granted && op.sent_us < until)
        .map_or_else(|| first_who.clone(), |op| op.who.clone());
    Some(Cause { removal, last_kept, acquired, holder })
}
