//! The search for a linearization: Wing and Gong's algorithm with Lowe's memoisation.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use super::ops::{Call, ObjectHistory};
use super::spec::{Fold, Spec, State, FOREVER};

pub(super) enum Found {
    Linearizable {
        steps: u64,
    },
    Exhausted {
        steps: u64,
    },
    /// An operation could not be replayed (why): nothing is known.
    Unreplayable(String),
    Stuck(Stuck),
}

/// Where the search got furthest: the operations it linearized, in order, and the first
/// completed operation it could not place after them.
pub(super) struct Stuck {
    pub(super) path: Vec<usize>,
    pub(super) next: usize,
    pub(super) state: State,
}

type Memo = HashSet<(u128, State), BuildHasherDefault<std::hash::DefaultHasher>>;

struct Frame {
    children: Vec<(usize, State)>,
    next: usize,
    /// The operation this frame linearized and the state before it.
    applied: Option<(usize, State)>,
    /// The first completed operation not linearized when the frame began: candidates are
    /// looked for from there (open ones are listed apart).
    first_completed: usize,
    /// The latest invocation among the operations linearized so far: every later
    /// linearization point is at or after it.
    now_us: u64,
}

pub(super) struct Search<'a> {
    history: &'a ObjectHistory,
    spec: &'a Spec<'a>,
    budget: u64,
    linearized: Vec<bool>,
    zobrist: Vec<u128>,
    open: Vec<usize>,
    completed: usize,
}

impl<'a> Search<'a> {
    pub(super) fn new(history: &'a ObjectHistory, spec: &'a Spec<'a>, budget: u64) -> Search<'a> {
        let mut rng = SplitMix64(0x11ea);
        let zobrist =
            history.ops.iter().map(|_| (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())).collect();
        let open = (0..history.ops.len()).filter(|&i| history.ops[i].reply.is_none()).collect();
        let completed = history.ops.iter().filter(|op| op.reply.is_some()).count();
        Search { history, spec, budget, linearized: vec![false; history.ops.len()], zobrist, open, completed }
    }

    /// The operations that may come next, with the states they lead to: completed ones first,
    /// then open ones that change the state.
    fn children(&self, state: State, first: usize, now_us: u64) -> Vec<(usize, State)> {
        let ops = &self.history.ops;
        let horizon = self.horizon(first);
        let state = self.saturate(state, horizon, now_us);
        let mut children = Vec::new();
        for (i, op) in ops.iter().enumerate().skip(first) {
            if op.inv_us > horizon {
                break;
            }
            if self.linearized[i] {
                continue;
            }
            if op.reply.is_none() {
                continue;
            }
            for (next, expect) in self.spec.apply(op, state) {
                if self.spec.admits(op, expect) {
                    children.push((i, next));
                }
            }
        }
        // Open operations with the same call and the same closing are interchangeable but for
        // their invocation: the earliest can go wherever a later one can, so only it is tried.
        let mut tried: Vec<(Call, Option<u64>)> = Vec::new();
        for &i in &self.open {
            let op = &ops[i];
            if self.linearized[i] || op.inv_us > horizon || op.reads() || !op.possible_at(now_us) {
                continue;
            }
            // Folded into the state already (see `saturate`).
            if self.spec.fold(op, state).is_some() {
                continue;
            }
            if tried.contains(&(op.call, op.closed_us)) {
                continue;
            }
            tried.push((op.call, op.closed_us));
            for (next, _) in self.spec.apply(op, state) {
                if next != state && !children.contains(&(i, next)) {
                    children.push((i, next));
                }
            }
        }
        children
    }

    /// No operation may go before one that returned before it was invoked: the earliest
    /// return among the operations not yet linearized.
    fn horizon(&self, first: usize) -> u64 {
        let mut horizon = u64::MAX;
        for (i, op) in self.history.ops.iter().enumerate().skip(first) {
            if op.inv_us > horizon {
                break;
            }
            if !self.linearized[i] {
                if let Some(ret) = op.ret_us {
                    horizon = horizon.min(ret);
                }
            }
        }
        horizon
    }

    /// Folds in the open renewals and releases that could have run by now: an owner's
    /// unanswered renewal may have extended its lease to any later deadline, and an
    /// unanswered release may have removed it at any time. Trying each at every place
    /// instead would multiply the search by the places; their effects are the union of those.
    fn saturate(&self, mut state: State, horizon: u64, now_us: u64) -> State {
        let Some((value, Some((mut earliest, mut latest)))) = state.lease else { return state };
        let folding = state;
        for &i in &self.open {
            let op = &self.history.ops[i];
            if op.inv_us > horizon || !op.possible_at(now_us) {
                continue;
            }
            if op.reply.is_some() || self.linearized[i] {
                continue;
            }
            match self.spec.fold(op, folding) {
                Some(Fold::Extends { px_ms }) => latest = latest.max(op.deadline(px_ms).map_or(FOREVER, |d| d.1)),
                Some(Fold::Deletes) => earliest = i64::MIN / 4,
                None => {}
            }
        }
        state.lease = Some((value, Some((earliest, latest))));
        state
    }

    /// The first completed operation not yet linearized, at or after `from`.
    fn first_completed(&self, from: usize) -> usize {
        let ops = &self.history.ops;
        (from..ops.len()).find(|&i| !self.linearized[i] && ops[i].reply.is_some()).unwrap_or(ops.len())
    }

    pub(super) fn run(mut self) -> Found {
        let found = self.search();
        match self.spec.unreplayable() {
            Some(reason) if !matches!(found, Found::Linearizable { .. }) => Found::Unreplayable(reason),
            _ => found,
        }
    }

    fn search(&mut self) -> Found {
        let initial = State { lease: None, counter: 0 };
        if self.completed == 0 {
            return Found::Linearizable { steps: 0 };
        }
        let mut memo = Memo::default();
        let mut state = initial;
        let mut hash = 0u128;
        let mut done = 0usize;
        let mut steps = 0u64;
        let mut path: Vec<usize> = Vec::new();
        let mut best: Option<(usize, Stuck)> = None;
        let first = self.first_completed(0);
        let children = self.children(state, first, 0);
        let mut stack = vec![Frame { children, next: 0, applied: None, first_completed: first, now_us: 0 }];
        loop {
            let Some(top) = stack.last_mut() else {
                let (_, stuck) = best.expect("a failed search got somewhere");
                return Found::Stuck(stuck);
            };
            if top.next == top.children.len() {
                let frame = stack.pop().expect("a frame");
                if best.as_ref().is_none_or(|(depth, _)| done > *depth) {
                    let stuck = Stuck { path: path.clone(), next: self.first_completed(frame.first_completed), state };
                    best = Some((done, stuck));
                }
                if let Some((i, before)) = frame.applied {
                    assert!(self.linearized[i], "a frame undoes the operation it placed");
                    self.linearized[i] = false;
                    hash ^= self.zobrist[i];
                    state = before;
                    done -= usize::from(self.history.ops[i].reply.is_some());
                    path.pop();
                }
                continue;
            }
            let (i, next) = top.children[top.next];
            top.next += 1;
            let first = top.first_completed;
            let now_us = top.now_us.max(self.history.ops[i].inv_us);
            steps += 1;
            if steps > self.budget {
                return Found::Exhausted { steps: steps - 1 };
            }
            if !memo.insert((hash ^ self.zobrist[i], next)) {
                continue;
            }
            let before = state;
            assert!(!self.linearized[i], "an operation is placed once on a path");
            self.linearized[i] = true;
            hash ^= self.zobrist[i];
            state = next;
            path.push(i);
            done += usize::from(self.history.ops[i].reply.is_some());
            assert!(
                done <= self.completed && path.len() <= self.history.ops.len(),
                "a path places each operation once"
            );
            if done == self.completed {
                return Found::Linearizable { steps };
            }
            let first = self.first_completed(first);
            let children = self.children(state, first, now_us);
            stack.push(Frame { children, next: 0, applied: Some((i, before)), first_completed: first, now_us });
        }
    }
}

/// SplitMix64: the Zobrist keys, the same on every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
