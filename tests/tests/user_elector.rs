//! An elector written by a user, with scripts of its own — the same `SET NX PX` + `INCR`,
//! storing `<node>@<epoch>` instead of the `election` crate's value, renewing and releasing by
//! compare-and-act scripts — is judged by what Redis does with its scripts: it passes
//! linearizability on a fault-free run, under crashes and under pauses. Its plain-`DEL` twin
//! still fails.

use std::time::Duration;

use election::Clock;
use redis::Value;
use sim::check::{Bounds, LeaseKeys, Origin, Outcome, Property};
use sim::{failure_report, judge, nemesis, program, simulate, EventKind, NodeContext, NodeProgram, Profile};
use sim::{Seed, SimConfig, SimRng};

const TTL: Duration = Duration::from_secs(3);
const RENEW: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_millis(250);
/// Steps down this long before the TTL counted from the send.
const MARGIN: Duration = Duration::from_millis(100);

const ACQUIRE: &str = "if redis.call('SET', KEYS[1], 'pending', 'NX', 'PX', ARGV[2]) then \
    local epoch = redis.call('INCR', KEYS[2]) \
    redis.call('SET', KEYS[1], ARGV[1] .. '@' .. epoch, 'PX', ARGV[2]) return epoch end \
    return redis.call('GET', KEYS[1])";
const RENEW_SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/// How the user's elector gives its lease up when it stops.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Release {
    /// The compare-and-delete script.
    Checked,
    /// The classic bug: a plain `DEL`, whoever holds the lease now.
    PlainDel,
}

struct User {
    ctx: NodeContext,
    conn: Option<election::Connection>,
}

impl User {
    async fn call(&mut self, cmd: redis::Cmd) -> Option<Value> {
        if self.conn.is_none() {
            let options = Default::default();
            let opening = election::connect(&self.ctx.connector, &self.ctx.spawner, &options);
            self.conn = election::timeout(&self.ctx.clock, RENEW / 2, opening).await.and_then(Result::ok);
        }
        let conn = self.conn.as_mut()?;
        let reply = election::timeout(&self.ctx.clock, RENEW / 2, cmd.query_async::<Value>(conn)).await;
        let reply = reply.and_then(Result::ok);
        if reply.is_none() {
            self.conn = None;
        }
        reply
    }

    fn eval(script: &str, keys: &[&str], args: &[String]) -> redis::Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(keys.len()).arg(keys).arg(args);
        cmd
    }

    fn deadline(&self, sent_us: i64) -> (i64, u64) {
        let local = sent_us + (TTL - MARGIN).as_micros() as i64;
        (local, self.ctx.recorder.true_at(local))
    }

    /// Leads epoch `epoch` from `sent_us` until a renewal fails past the deadline or the
    /// node is asked to stop.
    async fn lead(&mut self, epoch: u64, mut sent_us: i64, release: Release) {
        let value = format!("{}@{epoch}", self.ctx.name);
        loop {
            let (deadline, _) = self.deadline(sent_us);
            let next = (sent_us + RENEW.as_micros() as i64).min(deadline);
            tokio::select! {
                biased;
                () = self.ctx.shutdown.cancelled() => {
                    self.ctx.recorder.record(EventKind::SteppedDown { epoch, reason: "Shutdown".into() });
                    return self.release(&value, release).await;
                }
                () = self.ctx.clock.sleep_until_local(next) => {}
            }
            if self.ctx.clock.local_us() >= deadline {
                self.ctx.recorder.record(EventKind::SteppedDown { epoch, reason: "DeadlineMissed".into() });
                // Tidy up on the way out, as many electors do: harmless if the release
                // checks whose lease it is.
                return self.release(&value, release).await;
            }
            let sent = self.ctx.clock.local_us();
            let renew = User::eval(RENEW_SCRIPT, &["leader"], &[value.clone(), TTL.as_millis().to_string()]);
            match self.call(renew).await {
                Some(Value::Int(1)) if self.ctx.clock.local_us() < self.deadline(sent).0 => {
                    sent_us = sent;
                    let (deadline_local_us, deadline_true_us) = self.deadline(sent);
                    self.ctx.recorder.record(EventKind::Renewed { epoch, deadline_local_us, deadline_true_us });
                }
                Some(Value::Int(_)) => {
                    self.ctx.recorder.record(EventKind::SteppedDown { epoch, reason: "LeaseLost".into() });
                    return;
                }
                _ => {}
            }
        }
    }
}

impl User {
    async fn release(&mut self, value: &str, release: Release) {
        let cmd = match release {
            Release::Checked => User::eval(RELEASE, &["leader"], &[value.to_owned()]),
            Release::PlainDel => redis::cmd("DEL").arg("leader").clone(),
        };
        self.call(cmd).await;
    }
}

fn user_elector(release: Release) -> NodeProgram {
    program(move |ctx: NodeContext| async move {
        ctx.recorder.record(EventKind::ElectionStarted);
        let mut user = User { ctx, conn: None };
        while !user.ctx.shutdown.is_cancelled() {
            user.ctx.recorder.record(EventKind::AcquireAttempt);
            let sent = user.ctx.clock.local_us();
            let args = [user.ctx.name.to_string(), TTL.as_millis().to_string()];
            if let Some(Value::Int(epoch)) = user.call(User::eval(ACQUIRE, &["leader", "leader:epoch"], &args)).await {
                let (deadline_local_us, deadline_true_us) = user.deadline(sent);
                if user.ctx.clock.local_us() < deadline_local_us {
                    let epoch = epoch as u64;
                    user.ctx.recorder.record(EventKind::Acquired { epoch, deadline_local_us, deadline_true_us });
                    user.lead(epoch, sent, release).await;
                    continue;
                }
            }
            tokio::select! {
                biased;
                () = user.ctx.shutdown.cancelled() => {}
                () = user.ctx.clock.sleep(RETRY) => {}
            }
        }
        user.ctx.recorder.record(EventKind::Exited);
    })
}

fn judged(seed: Seed, profile: Option<Profile>, release: Release) -> (sim::Run, Vec<sim::check::Verdict>) {
    let mut config = SimConfig::new(seed);
    config.safety_phase = Duration::from_secs(40);
    config.liveness_phase = Duration::from_secs(10);
    if let Some(profile) = profile {
        let aim = nemesis::Aim { ttl: TTL, safety_phase: config.safety_phase, nodes: 3 };
        config.schedule = nemesis::schedule(profile, &mut SimRng::new(seed, "nemesis"), aim);
    }
    let run = simulate(&config, user_elector(release)).expect("the simulation runs");
    let history = run.history(vec![LeaseKeys::of_election("leader")], Bounds::for_lease(TTL, RETRY), Origin::default());
    let verdicts = judge(&history).verdicts;
    (run, verdicts)
}

#[test]
fn a_user_elector_with_scripts_of_its_own_passes_without_faults_and_under_crashes_and_pauses() {
    for (profile, seeds) in [(None, 3u64), (Some(Profile::Crashes), 5), (Some(Profile::Pauses), 5)] {
        for seed in (1..=seeds).map(Seed) {
            let (run, verdicts) = judged(seed, profile, Release::Checked);
            let terms = run.events.iter().filter(|e| matches!(e.kind, EventKind::Acquired { .. })).count();
            assert!(terms >= 1, "the user's elector led");
            for verdict in verdicts {
                let report = failure_report(&run, &verdict.explanation, "user_elector", "a_user_elector");
                assert!(verdict.passed(), "{profile:?}: {report}");
            }
        }
    }
}

#[test]
fn the_users_plain_del_release_still_fails_linearizability_or_exclusivity() {
    // A leader paused past its deadline steps down and tidies up; a plain DEL then deletes
    // the next holder's lease.
    let mut caught = None;
    for seed in (1..=40u64).map(Seed) {
        let (_, verdicts) = judged(seed, Some(Profile::Pauses), Release::PlainDel);
        if let Some(v) = verdicts.iter().find(|v| v.outcome == Outcome::Violated) {
            caught = Some((seed, v.property));
            break;
        }
    }
    let (seed, property) = caught.expect("the plain-DEL release is caught within 40 seeds");
    eprintln!("the user's plain-DEL release caught at seed {seed} by {property:?}");
    assert!(matches!(property, Property::Linearizability | Property::StrictExclusivity), "{seed}: {property:?}");
}
