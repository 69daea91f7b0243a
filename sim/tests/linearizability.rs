//! The linearizability checker on hand-written lease histories, with the Redis model as
//! its specification: the production elector's scripts replayed on it.

use sim::check::{linearizability_with, ClockLine, ClockTrace, LeaseKeys, Outcome, Verdict, DEFAULT_BUDGET};
use sim::{Event, EventKind, ModelReplayer, NodeId};

/// An event at `ms` milliseconds.
fn ev(ms: u64, node: &str, incarnation: u64, kind: EventKind) -> Event {
    Event { seq: 0, at_us: ms * 1000, node: NodeId::new(node), incarnation, local_us: Some((ms * 1000) as i64), kind }
}

/// Numbers events in order, as a history does.
fn history(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by_key(|e| e.at_us);
    for (i, e) in events.iter_mut().enumerate() {
        e.seq = i as u64;
    }
    events
}

/// The elector's scripts loaded once, as the elector does before it calls them by SHA1.
fn scripts_loaded() -> Vec<Event> {
    let mut events = Vec::new();
    for (op, source) in [election::ACQUIRE, election::RENEW, election::RELEASE].into_iter().enumerate() {
        let sha = format!("{:?}", election::LuaScript::new(source).sha());
        events.extend(cmd("loader", op as u64, 0, Some(0), &["SCRIPT", "LOAD", source], &sha));
    }
    events
}

/// One command: invoked at `inv_ms`, answered `reply` at `ret_ms` (never, if None).
fn cmd(node: &str, op: u64, inv_ms: u64, ret_ms: Option<u64>, args: &[&str], reply: &str) -> Vec<Event> {
    let args = args.iter().map(|a| format!("{a:?}")).collect();
    let mut events = vec![ev(inv_ms, node, 1, EventKind::RedisInvoke { conn: 1, op, args })];
    if let Some(ret) = ret_ms {
        events.push(ev(ret, node, 1, EventKind::RedisComplete { conn: 1, op, reply: reply.into() }));
    }
    events
}

fn acquire(node: &str, op: u64, inv_ms: u64, ret_ms: Option<u64>, reply: &str) -> Vec<Event> {
    let sha = election::LuaScript::new(election::ACQUIRE).sha().to_owned();
    let prefix = format!("{node}/0000000000000001/");
    cmd(
        node,
        op,
        inv_ms,
        ret_ms,
        &["EVALSHA", &sha, "3", "leader", "leader:epoch", "leader:info", &prefix, "3000", "{"],
        reply,
    )
}

fn renew(node: &str, op: u64, inv_ms: u64, ret_ms: u64, epoch: u64, reply: &str) -> Vec<Event> {
    let value = format!("{node}/0000000000000001/{epoch}");
    cmd(node, op, inv_ms, Some(ret_ms), &["EVAL", election::RENEW, "2", "leader", "leader:info", &value, "3000"], reply)
}

fn release(node: &str, op: u64, inv_ms: u64, ret_ms: u64, epoch: u64, reply: &str) -> Vec<Event> {
    let value = format!("{node}/0000000000000001/{epoch}");
    let sha = election::LuaScript::new(election::RELEASE).sha().to_owned();
    cmd(node, op, inv_ms, Some(ret_ms), &["EVALSHA", &sha, "2", "leader", "leader:info", &value], reply)
}

fn check(parts: Vec<Vec<Event>>) -> Verdict {
    check_with(parts, &ClockTrace::default(), DEFAULT_BUDGET)
}

fn check_with(parts: Vec<Vec<Event>>, clock: &ClockTrace, budget: u64) -> Verdict {
    let events = history(scripts_loaded().into_iter().chain(parts.into_iter().flatten()).collect());
    linearizability_with(&events, &[LeaseKeys::of_election("leader")], clock, budget, &ModelReplayer::new())
}

#[test]
fn a_lease_acquired_renewed_released_and_taken_over_is_linearizable() {
    let verdict = check(vec![
        acquire("a", 0, 0, Some(10), ":1"),
        acquire("b", 0, 500, Some(510), "\"a/0000000000000001/1\""),
        renew("a", 1, 1000, 1010, 1, ":1"),
        renew("b", 1, 1005, 1012, 1, ":0"),
        release("a", 2, 2000, 2010, 1, ":1"),
        acquire("b", 2, 2100, Some(2110), ":2"),
        cmd("c", 0, 2200, Some(2210), &["GET", "leader"], "\"b/0000000000000001/2\""),
        cmd("c", 1, 2300, Some(2310), &["PTTL", "leader"], ":2800"),
    ]);
    assert!(verdict.passed(), "{}", verdict.explanation);
}

#[test]
fn a_lease_that_expires_may_be_taken_over() {
    let verdict = check(vec![acquire("a", 0, 0, Some(10), ":1"), acquire("b", 0, 3_500, Some(3_510), ":2")]);
    assert!(verdict.passed(), "{}", verdict.explanation);
}

#[test]
fn a_lease_lost_before_its_ttl_is_caught() {
    let verdict = check(vec![acquire("a", 0, 0, Some(10), ":1"), acquire("b", 0, 1_000, Some(1_010), ":2")]);
    assert_eq!(verdict.outcome, Outcome::Violated);
    assert!(verdict.explanation.contains("(sent t=1.000 s, answered :2"), "{}", verdict.explanation);
    assert!(verdict.explanation.contains("last changed by a#1's EVALSHA"), "{}", verdict.explanation);
    assert_eq!(verdict.evidence.len(), 4, "both acquires, invoked and answered");
}

#[test]
fn an_epoch_handed_out_twice_is_caught() {
    let verdict = check(vec![acquire("a", 0, 0, Some(10), ":1"), acquire("b", 0, 3_500, Some(3_510), ":1")]);
    assert_eq!(verdict.outcome, Outcome::Violated, "{}", verdict.explanation);
}

#[test]
fn an_unanswered_acquire_may_have_taken_effect_or_not() {
    let took_effect =
        check(vec![acquire("a", 0, 0, None, ""), acquire("b", 0, 100, Some(110), "\"a/0000000000000001/1\"")]);
    assert!(took_effect.passed(), "{}", took_effect.explanation);
    let did_not = check(vec![acquire("a", 0, 0, None, ""), acquire("b", 0, 100, Some(110), ":1")]);
    assert!(did_not.passed(), "{}", did_not.explanation);
    let both = check(vec![
        acquire("a", 0, 0, None, ""),
        acquire("b", 0, 100, Some(110), ":1"),
        acquire("c", 0, 200, Some(210), "\"a/0000000000000001/1\""),
    ]);
    assert_eq!(both.outcome, Outcome::Violated, "a's acquire cannot both fail and hold epoch 1");
}

#[test]
fn an_unanswered_renewal_may_have_kept_the_lease_alive() {
    let open_renew = cmd(
        "a",
        1,
        2_000,
        None,
        &["EVAL", election::RENEW, "2", "leader", "leader:info", "a/0000000000000001/1", "3000"],
        "",
    );
    let still_held = check(vec![
        acquire("a", 0, 0, Some(10), ":1"),
        open_renew.clone(),
        acquire("b", 0, 4_000, Some(4_010), "\"a/0000000000000001/1\""),
    ]);
    assert!(still_held.passed(), "{}", still_held.explanation);
    let lost_early =
        check(vec![acquire("a", 0, 0, Some(10), ":1"), open_renew, acquire("b", 0, 2_500, Some(2_510), ":2")]);
    assert_eq!(lost_early.outcome, Outcome::Violated, "the lease was due until 3 s whatever the renewal did");
}

#[test]
fn an_unanswered_command_cannot_take_effect_after_its_connection_closed() {
    let parts = |closed: bool| {
        let mut a = acquire("a", 0, 0, None, "");
        if closed {
            a.push(ev(50, "a", 1, EventKind::RedisClosed { conn: 1 }));
        }
        vec![
            a,
            cmd("b", 0, 100, Some(110), &["GET", "leader"], "(nil)"),
            cmd("c", 0, 200, Some(210), &["GET", "leader"], "\"a/0000000000000001/1\""),
        ]
    };
    assert!(check(parts(false)).passed(), "a's acquire may have run at t=0.15 s");
    assert_eq!(check(parts(true)).outcome, Outcome::Violated, "not after its connection closed at t=0.05 s");
}

#[test]
fn error_replies_did_nothing() {
    let verdict =
        check(vec![acquire("a", 0, 0, Some(10), "-NOSCRIPT No matching script."), acquire("a", 1, 20, Some(30), ":1")]);
    assert!(verdict.passed(), "{}", verdict.explanation);
}

#[test]
fn plain_commands_on_the_lease_and_counter_are_checked() {
    let ok = check(vec![
        cmd("a", 0, 0, Some(10), &["SET", "leader", "x", "NX", "PX", "3000"], "OK"),
        cmd("b", 0, 100, Some(110), &["SET", "leader", "y", "NX", "PX", "3000"], "(nil)"),
        cmd("a", 1, 200, Some(210), &["PEXPIRE", "leader", "5000"], ":1"),
        cmd("b", 1, 4_000, Some(4_010), &["GET", "leader"], "\"x\""),
        cmd("b", 2, 4_100, Some(4_110), &["INCR", "leader:epoch"], ":1"),
        cmd("b", 3, 4_200, Some(4_210), &["GET", "leader:epoch"], "\"1\""),
        cmd("a", 2, 4_300, Some(4_310), &["DEL", "leader"], ":1"),
        cmd("b", 4, 4_400, Some(4_410), &["PTTL", "leader"], ":-2"),
    ]);
    assert!(ok.passed(), "{}", ok.explanation);
    let stale_read = check(vec![
        cmd("a", 0, 0, Some(10), &["SET", "leader", "x", "PX", "3000"], "OK"),
        cmd("b", 0, 4_000, Some(4_010), &["GET", "leader"], "\"x\""),
    ]);
    assert_eq!(stale_read.outcome, Outcome::Violated, "x expired at 3.01 s at the latest");
}

#[test]
fn expiry_follows_redis_clock() {
    // Redis's clock jumps 2 s ahead at t=0.5 s: the lease set at t=0 expires at t=1 s.
    let line = |true_us: u64, local_us: i64| ClockLine {
        anchor_true_us: true_us,
        anchor_local_us: local_us,
        drift_ppm: 0,
        wall_offset_us: 0,
    };
    let redis = ClockTrace::new(vec![(0, line(0, 0)), (500_000, line(500_000, 2_500_000))]);
    let parts = || vec![acquire("a", 0, 0, Some(10), ":1"), acquire("b", 0, 1_500, Some(1_510), ":2")];
    assert!(check_with(parts(), &redis, DEFAULT_BUDGET).passed());
    assert_eq!(check(parts()).outcome, Outcome::Violated, "on a true clock the lease was still live");
}

#[test]
fn an_exhausted_budget_answers_unknown() {
    let verdict = check_with(
        vec![acquire("a", 0, 0, Some(10), ":1"), acquire("b", 0, 5, Some(20), "\"a/0000000000000001/1\"")],
        &ClockTrace::default(),
        1,
    );
    assert_eq!(verdict.outcome, Outcome::Unknown, "{}", verdict.explanation);
    assert!(verdict.explanation.contains("gave up after 1 steps"), "{}", verdict.explanation);
}

/// An elector written by a user: the same SET NX PX + INCR, a value of its own
/// (`<owner>@<epoch>`), renewal by `PEXPIRE` after an owner check, release by a compare and
/// delete — none of it the `election` crate's scripts.
const USER_ACQUIRE: &str = "if redis.call('SET', KEYS[1], 'pending', 'NX', 'PX', ARGV[2]) then \
    local epoch = redis.call('INCR', KEYS[2]) \
    redis.call('SET', KEYS[1], ARGV[1] .. '@' .. epoch, 'PX', ARGV[2]) return epoch end \
    return redis.call('GET', KEYS[1])";
const USER_RENEW: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const USER_RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    return redis.call('DEL', KEYS[1]) end return 0";

fn user(script: &str, node: &str, op: u64, inv_ms: u64, keys: &[&str], argv: &[&str], reply: &str) -> Vec<Event> {
    let numkeys = keys.len().to_string();
    let mut args = vec!["EVAL", script, &numkeys];
    args.extend(keys);
    args.extend(argv);
    cmd(node, op, inv_ms, Some(inv_ms + 5), &args, reply)
}

fn user_elector() -> Vec<Vec<Event>> {
    let keys = ["leader", "leader:epoch"];
    let release = user(USER_RELEASE, "a", 3, 2_000, &keys[..1], &["a@1"], ":1");
    vec![
        user(USER_ACQUIRE, "a", 0, 0, &keys, &["a", "3000"], ":1"),
        user(USER_ACQUIRE, "b", 0, 500, &keys, &["b", "3000"], "\"a@1\""),
        user(USER_RENEW, "a", 1, 1_000, &keys[..1], &["a@1", "3000"], ":1"),
        user(USER_RENEW, "b", 1, 1_100, &keys[..1], &["b@2", "3000"], ":0"),
        release,
        user(USER_ACQUIRE, "b", 2, 4_500, &keys, &["b", "3000"], ":2"),
    ]
}

#[test]
fn an_elector_with_scripts_of_its_own_is_held_to_what_redis_does_with_them() {
    let verdict = check(user_elector());
    assert!(verdict.passed(), "{}", verdict.explanation);
    // Without a Redis to replay them on, nothing is known, and nothing is called a violation.
    let events = history(user_elector().into_iter().flatten().collect());
    let keys = [LeaseKeys::of_election("leader")];
    let blind = sim::check::linearizability(&events, &keys, &ClockTrace::default(), DEFAULT_BUDGET);
    assert_eq!(blind.outcome, Outcome::Unknown, "{}", blind.explanation);
    assert!(blind.explanation.contains("needs a Redis to replay it"), "{}", blind.explanation);
}

#[test]
fn a_function_or_a_script_never_shown_is_unknown_not_a_violation() {
    let fcall = cmd("a", 0, 0, Some(5), &["FCALL", "acquire", "2", "leader", "leader:epoch", "a"], ":1");
    let verdict = check(vec![fcall]);
    assert_eq!(verdict.outcome, Outcome::Unknown, "{}", verdict.explanation);
    assert!(verdict.explanation.contains("functions are not replayed"), "{}", verdict.explanation);
    let unseen = "0123456789abcdef0123456789abcdef01234567";
    let evalsha = cmd("a", 0, 0, Some(5), &["EVALSHA", unseen, "1", "leader", "a"], ":1");
    let verdict = check(vec![evalsha]);
    assert_eq!(verdict.outcome, Outcome::Unknown, "{}", verdict.explanation);
    assert!(verdict.explanation.contains("never sent in the history"), "{}", verdict.explanation);
}

#[test]
fn a_user_elector_whose_acquire_reads_a_lease_it_cannot_hold_is_caught() {
    // b's acquire at 1.5 s claims epoch 2 while a's lease (renewed at 1 s to 4 s) is live.
    let mut parts = user_elector();
    parts.push(user(USER_ACQUIRE, "c", 0, 1_500, &["leader", "leader:epoch"], &["c", "3000"], ":2"));
    let verdict = check(parts);
    assert_eq!(verdict.outcome, Outcome::Violated, "{}", verdict.explanation);
}
