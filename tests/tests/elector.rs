//! The election library, unchanged, against a real redis-server and against the Redis model
//! served over a tokio listener, with short timings (TTL 1 s, renewal every 300 ms, retry
//! every 100 ms). Each scenario is written once over a [`Backend`] and run on both; the
//! real-Redis runs skip without redis-server, unless SPLITBRAIN_REQUIRE_REDIS=1.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use election::{
    ConfigError, Elector, ElectorConfig, ElectorHandle, FencedResource, FencingToken, LeaseValue, SlotClaims,
    TcpConnector, WriteOutcome,
};
use redis::Commands;
use splitbrain_tests::Backend;
use tokio::task::JoinHandle;

const KEY: &str = "gateway_service_leader";
const TTL: Duration = Duration::from_millis(1000);
const RENEW: Duration = Duration::from_millis(300);
const RETRY: Duration = Duration::from_millis(100);
/// Scheduling and loopback latency on a loaded 2-core CI machine.
const SLACK: Duration = Duration::from_millis(700);

fn config(instance: &str, incarnation: u64) -> ElectorConfig {
    let mut config = ElectorConfig::new(KEY, instance, incarnation).with_timings(TTL, RENEW, RETRY);
    config.command_timeout = Duration::from_millis(200);
    config.drain_timeout = Duration::from_millis(500);
    config
}

struct Node {
    handle: ElectorHandle,
    task: JoinHandle<()>,
}

/// Jobs started, as (instance, token), in order.
type JobLog = Arc<Mutex<Vec<(String, FencingToken)>>>;

fn start(server: &impl Backend, instance: &str, incarnation: u64, jobs: &JobLog) -> Node {
    let log = jobs.clone();
    let name = instance.to_owned();
    let elector = Elector::builder(config(instance, incarnation), TcpConnector::new(server.addr()))
        .job("record", move |leader| {
            log.lock().unwrap().push((name.clone(), leader.token()));
            async move { leader.stopping().await }
        })
        .build()
        .expect("a valid configuration");
    let handle = elector.handle();
    Node { handle, task: tokio::spawn(elector.run()) }
}

fn start_three(server: &impl Backend, jobs: &JobLog) -> Vec<Node> {
    (1..=3).map(|i| start(server, &format!("node-{i}"), i, jobs)).collect()
}

/// Polls `condition` every 5 ms; returns how long it took, or panics after `limit`.
async fn within(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

fn leaders(nodes: &[Node]) -> Vec<usize> {
    (0..nodes.len()).filter(|i| nodes[*i].handle.is_leader()).collect()
}

async fn the_leader(nodes: &[Node]) -> usize {
    within(TTL * 3, "a single leader", || leaders(nodes).len() == 1).await;
    leaders(nodes)[0]
}

fn stored_lease(server: &impl Backend) -> Option<LeaseValue> {
    let value: Option<String> = server.client().get(KEY).unwrap();
    value.map(|v| v.parse().expect("the key holds a lease value"))
}

async fn three_electors_agree_on_exactly_one_leader_named_by_the_key(server: impl Backend) {
    let jobs = JobLog::default();
    let nodes = start_three(&server, &jobs);
    let leader = the_leader(&nodes).await;

    // Several renewals' worth of time: never two leaders, and the same one throughout.
    let watch_until = Instant::now() + TTL * 2;
    while Instant::now() < watch_until {
        assert_eq!(leaders(&nodes), vec![leader], "exactly one leader, the same one");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let lease = stored_lease(&server).expect("the key exists");
    let handle = &nodes[leader].handle;
    assert!(lease.is_held_by(handle.instance(), handle.incarnation()));
    assert_eq!(Some(lease.token()), handle.fencing_token());
    let info: String = server.client().get(format!("{KEY}:info")).unwrap();
    assert!(info.contains(&format!(r#""instance":"{}""#, handle.instance())), "{info}");
    assert!(info.ends_with(&format!(r#""epoch":{}}}"#, lease.epoch)), "{info}");

    for (i, node) in nodes.iter().enumerate().filter(|(i, _)| *i != leader) {
        let seen = node.handle.current_leader().and_then(|l| l.lease());
        assert_eq!(seen.as_ref(), Some(&lease), "follower {i} reports the leader");
        assert!(node.handle.metrics().acquire_attempts > 0);
    }
    assert_eq!(*jobs.lock().unwrap(), vec![(handle.instance().to_owned(), lease.token())], "only the leader runs jobs");
    assert!(handle.metrics().renewals >= 3, "{:?}", handle.metrics());
}

async fn successive_leaders_hold_strictly_increasing_epochs(server: impl Backend) {
    let jobs = JobLog::default();
    let mut nodes = start_three(&server, &jobs);
    let mut epochs = Vec::new();
    for _ in 0..3 {
        let leader = the_leader(&nodes).await;
        epochs.push(nodes[leader].handle.fencing_token().unwrap());
        let node = nodes.remove(leader);
        node.handle.shutdown();
        node.task.await.unwrap();
    }
    assert!(epochs.windows(2).all(|w| w[0] < w[1]), "{epochs:?}");
    let tokens: Vec<_> = jobs.lock().unwrap().iter().map(|(_, t)| *t).collect();
    assert_eq!(tokens, epochs, "each term's jobs got that term's token");
}

async fn crashed_leader_is_replaced_within_ttl_plus_retry(server: impl Backend) {
    let nodes = start_three(&server, &JobLog::default());
    let leader = the_leader(&nodes).await;
    let crashed = stored_lease(&server).unwrap();

    // kill -9: the task is dropped mid-flight, nothing is released.
    nodes[leader].task.abort();
    let crashed_at = Instant::now();
    assert_eq!(stored_lease(&server), Some(crashed.clone()), "a crash releases nothing");

    let others: Vec<&Node> = nodes.iter().enumerate().filter(|(i, _)| *i != leader).map(|(_, n)| n).collect();
    let bound = TTL + RETRY.mul_f64(1.2) + SLACK;
    within(bound, "a new leader after the crash", || others.iter().any(|n| n.handle.is_leader())).await;
    let failover = crashed_at.elapsed();
    let successor = stored_lease(&server).unwrap();
    assert!(successor.epoch > crashed.epoch);
    eprintln!("failover after a crash took {failover:?} (bound {bound:?})");
}

async fn graceful_shutdown_drains_jobs_then_releases_the_key_at_once(server: impl Backend) {
    let released_before_job_stopped = Arc::new(AtomicBool::new(false));
    let flag = released_before_job_stopped.clone();
    let url = format!("redis://{}/", server.addr());
    let elector = Elector::builder(config("node-1", 1), TcpConnector::new(server.addr()))
        .job("slow-to-stop", move |leader| {
            let (flag, url) = (flag.clone(), url.clone());
            async move {
                leader.stopping().await;
                // Still inside the drain: the lease must still be ours.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut client = redis::Client::open(url).unwrap().get_connection().unwrap();
                let value: Option<String> = client.get(KEY).unwrap();
                let ours = value.and_then(|v| v.parse::<LeaseValue>().ok()).is_some_and(|v| v.is_held_by("node-1", 1));
                flag.store(!ours, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    let first = Node { handle: elector.handle(), task: tokio::spawn(elector.run()) };
    within(TTL * 3, "node-1 leads", || first.handle.is_leader()).await;
    let second = start(&server, "node-2", 2, &JobLog::default());
    within(TTL, "node-2 sees node-1 lead", || second.handle.current_leader().is_some()).await;

    first.handle.shutdown();
    tokio::time::timeout(Duration::from_secs(2), first.task).await.expect("shutdown completes").unwrap();
    let stopped_at = Instant::now();
    assert!(!released_before_job_stopped.load(Ordering::SeqCst), "the lease outlived the job's drain");
    let after = stored_lease(&server);
    assert!(after.as_ref().is_none_or(|v| !v.is_held_by("node-1", 1)), "released at once: {after:?}");
    assert_eq!(first.handle.metrics().releases, 1);
    assert!(!first.handle.is_leader());

    let bound = RETRY.mul_f64(1.2) + SLACK;
    within(bound, "node-2 takes over", || second.handle.is_leader()).await;
    eprintln!("failover after a graceful stop took {:?} (bound {bound:?})", stopped_at.elapsed());
}

async fn leader_whose_key_is_overwritten_steps_down_and_never_extends_it(server: impl Backend) {
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = cancelled.clone();
    let elector = Elector::builder(config("node-1", 1), TcpConnector::new(server.addr()))
        .job("until-cancelled", move |_leader| {
            let guard = SetOnDrop(flag.clone());
            async move {
                let _guard = guard;
                std::future::pending::<()>().await
            }
        })
        .build()
        .unwrap();
    let node = Node { handle: elector.handle(), task: tokio::spawn(elector.run()) };
    within(TTL * 3, "node-1 leads", || node.handle.is_leader()).await;

    let intruder_ttl_ms = 5_000;
    let mut client = server.client();
    let _: () = redis::cmd("SET").arg(KEY).arg("intruder").arg("PX").arg(intruder_ttl_ms).query(&mut client).unwrap();
    let overwritten_at = Instant::now();
    within(RENEW + SLACK, "node-1 steps down", || !node.handle.is_leader()).await;
    within(Duration::from_millis(200), "its job is cancelled", || cancelled.load(Ordering::SeqCst)).await;
    assert_eq!(node.handle.metrics().leases_lost, 1);

    // For two more renew periods: the intruder's key keeps counting down, untouched.
    let watch_until = Instant::now() + RENEW * 2;
    while Instant::now() < watch_until {
        let pttl: i64 = client.pttl(KEY).unwrap();
        let elapsed_ms = overwritten_at.elapsed().as_millis() as i64;
        assert!(pttl <= intruder_ttl_ms - elapsed_ms + 5, "PTTL {pttl} after {elapsed_ms} ms: extended");
        let value: String = client.get(KEY).unwrap();
        assert_eq!(value, "intruder");
        assert!(!node.handle.is_leader());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(node.handle.current_leader().map(|l| l.value), Some("intruder".to_owned()));
    node.task.abort();
}

struct SetOnDrop(Arc<AtomicBool>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// `server` must persist every write (AOF always): the epoch counter survives the kill, so
/// fencing holds across it.
async fn electors_recover_after_redis_is_killed_and_restarted(mut server: impl Backend) {
    let nodes = start_three(&server, &JobLog::default());
    let leader = the_leader(&nodes).await;
    let before = nodes[leader].handle.fencing_token().unwrap();

    server.kill();
    let killed_at = Instant::now();
    within(TTL + SLACK, "the leader steps down without Redis", || leaders(&nodes).is_empty()).await;
    assert!(
        killed_at.elapsed() >= TTL - TTL / 100 - Duration::from_millis(2) - RENEW,
        "not before its deadline could pass"
    );
    tokio::time::sleep(TTL).await;

    server.restart();
    let new_leader = the_leader(&nodes).await;
    let after = nodes[new_leader].handle.fencing_token().unwrap();
    assert!(after > before, "epochs keep increasing across the restart: {before} then {after}");
    let reloads: u64 = nodes.iter().map(|n| n.handle.metrics().script_reloads).sum();
    assert!(reloads > 0, "the restarted server had no scripts: they were re-sent by EVAL");
    let deadlines: u64 = nodes.iter().map(|n| n.handle.metrics().deadlines_missed).sum();
    assert_eq!(deadlines, 1, "the old leader stepped down by its deadline");
}

async fn fenced_resource_accepts_writes_only_in_epoch_order(server: impl Backend) {
    let connector = TcpConnector::new(server.addr());
    let mut conn = election::connect(&connector, &election::TokioSpawner, &Default::default()).await.unwrap();
    let resource = FencedResource::new("jobs:schedule");
    assert_eq!(resource.read(&mut conn).await.unwrap(), None);
    let accepted = |replaced: Option<u64>| WriteOutcome::Accepted { replaced: replaced.map(FencingToken) };
    assert_eq!(resource.write(&mut conn, FencingToken(5), "a").await.unwrap(), accepted(None));
    assert_eq!(resource.write(&mut conn, FencingToken(5), "b").await.unwrap(), accepted(Some(5)));
    assert_eq!(
        resource.write(&mut conn, FencingToken(4), "stale").await.unwrap(),
        WriteOutcome::Rejected { highest: FencingToken(5) }
    );
    assert_eq!(resource.write(&mut conn, FencingToken(9), "c").await.unwrap(), accepted(Some(5)));
    assert_eq!(resource.read(&mut conn).await.unwrap(), Some(("c".to_owned(), FencingToken(9))));
}

async fn slot_claims_run_each_slot_once_and_refuse_deposed_epochs(server: impl Backend) {
    let connector = TcpConnector::new(server.addr());
    let mut conn = election::connect(&connector, &election::TokioSpawner, &Default::default()).await.unwrap();
    let slots = SlotClaims::new("jobs:health-check");
    assert!(slots.claim(&mut conn, FencingToken(3), 100).await.unwrap(), "the first claim of a slot wins");
    assert!(!slots.claim(&mut conn, FencingToken(3), 100).await.unwrap(), "a slot runs once");
    assert!(!slots.claim(&mut conn, FencingToken(4), 99).await.unwrap(), "a clock behind never reruns a slot");
    assert!(slots.claim(&mut conn, FencingToken(4), 101).await.unwrap());
    assert!(!slots.claim(&mut conn, FencingToken(3), 102).await.unwrap(), "a deposed epoch claims nothing");
    assert!(slots.claim(&mut conn, FencingToken(4), 105).await.unwrap(), "slots may be skipped, never repeated");
}

#[test]
fn invalid_configurations_are_refused_by_the_builder() {
    let mut bad = config("node-1", 1);
    bad.renew_interval = TTL;
    let error = Elector::builder(bad, TcpConnector::new("127.0.0.1:1")).build().err().unwrap();
    assert!(matches!(error, ConfigError::RenewNotBelowLease { .. }), "{error}");
    assert_eq!(error.to_string(), "renew interval (1s) must be below the local lease ttl - drift margin (988ms)");
}

splitbrain_tests::on_both! {
    three_electors_agree_on_exactly_one_leader_named_by_the_key;
    successive_leaders_hold_strictly_increasing_epochs;
    crashed_leader_is_replaced_within_ttl_plus_retry;
    graceful_shutdown_drains_jobs_then_releases_the_key_at_once;
    leader_whose_key_is_overwritten_steps_down_and_never_extends_it;
    fenced_resource_accepts_writes_only_in_epoch_order;
    slot_claims_run_each_slot_once_and_refuse_deposed_epochs;
    electors_recover_after_redis_is_killed_and_restarted with
        ["--appendonly", "yes", "--appendfsync", "always"], ::model::Persistence::AofAlways;
}
