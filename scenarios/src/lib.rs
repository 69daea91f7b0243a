//! The scenario catalogue. Each scenario reads like the plan it comes from: a deployment
//! (instances, election key, timings), what happens to it (scripted faults, or a nemesis
//! profile), and what must hold — every checker's property, with strict exclusivity where no
//! fault may excuse an overlap, plus the plan's own expectations.
//!
//! From `shared/seeds/000_*` (the gateway, key `gateway_service_leader`, TTL 15 s, heartbeat
//! 5 s): MI-01 .. MI-10. From `001_*` (the backend, key `maplefile:leader:lock`, TTL 10 s):
//! T1 .. T7. And `chaos-<profile>` for each nemesis profile (`chaos-cache` with the cache).

#![warn(missing_docs)]

pub mod campaign;
pub mod cause;
mod expect;
mod failure;
pub mod lease_op;
pub mod limits;
pub mod report;

use std::fmt;
use std::time::Duration;

use election::ElectorConfig;
pub use sim::check::Exclusivity;
use sim::check::{Bounds, Failovers, History, LeaseKeys, Origin, Swarm, Verdict};
use sim::{
    alongside, elector, http_client, judge, nemesis, simulate_with_clients, CacheLoad, EventKind, Fault, FaultKind,
    FaultSchedule, NodeId, Profile, Run, Seed, SimConfig, SimError, SimRng, Target, Workload,
};

pub use campaign::{campaign_seed, Shard, DOCS_CAMPAIGN_SEED};
pub use expect::Expect;
pub use failure::{Failure, FailureFile, ShrinkHooks, SIMULATION_FAILED};

/// This build's version: the crate's, and the git commit when built from a checkout
/// (`0.1.0 (3e80eed1a2b4)`); failure files record it, replays compare it.
pub fn version() -> String {
    VERSION.to_owned()
}

/// [`version`] as a constant (set by the build script).
pub const VERSION: &str = env!("SPLITBRAIN_VERSION");

/// An elector's timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// The lease TTL.
    pub ttl: Duration,
    /// How often the leader renews (the heartbeat).
    pub renew: Duration,
    /// How often a follower tries to acquire.
    pub retry: Duration,
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// The gateway's (`000_*`): TTL 15 s, heartbeat 5 s, retry 1 s.
pub const GATEWAY: Timings = Timings { ttl: secs(15), renew: secs(5), retry: secs(1) };
/// The backend's (`001_*`): lock TTL 10 s, heartbeat 3 s, retry 2 s.
pub const BACKEND: Timings = Timings { ttl: secs(10), renew: secs(3), retry: secs(2) };
/// The backend's optimised settings (`001_*`): TTL 5 s, retry 1 s (heartbeat 1.5 s).
pub const OPTIMISED: Timings = Timings { ttl: secs(5), renew: millis(1_500), retry: secs(1) };
/// The harness's chaos deployment: TTL 3 s, renewal 1 s, retry 250 ms.
pub const CHAOS: Timings = Timings { ttl: secs(3), renew: secs(1), retry: millis(250) };

/// What happens to the deployment.
#[derive(Debug, Clone)]
pub enum Faults {
    /// A nemesis profile draws the faults from the seed.
    Profile(Profile),
    /// The plan's steps, at fixed times; targets (the leader, a follower) resolve when they
    /// happen, and the seed decides the rest (latencies, jitter, which follower).
    Script(Vec<Fault>),
    /// Random kills and restarts of random instances (T7).
    Chaos {
        /// How long each instance stays down, and the pause until the next kill (ms).
        down_ms: (u64, u64),
    },
}

/// One scenario of the catalogue.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its id, e.g. `MI-02`, `T7`, `chaos-pauses`.
    pub name: String,
    /// One line on what it does.
    pub description: String,
    /// The plan it comes from.
    pub plan: &'static str,
    /// Instances at the start.
    pub nodes: usize,
    /// The election key.
    pub key: &'static str,
    /// The elector's timings.
    pub timings: Timings,
    /// What happens.
    pub faults: Faults,
    /// Faults happen in this phase; then everything heals for `liveness_phase`.
    pub safety_phase: Duration,
    /// The calm after the faults.
    pub liveness_phase: Duration,
    /// The leader's periodic job's slot.
    pub slot: Duration,
    /// Which exclusivity it requires.
    pub exclusivity: Exclusivity,
    /// The plan's own expectations.
    pub expect: Vec<Expect>,
    /// What the plan says a failover takes (min, typical, max), if it says.
    pub plan_failover: Option<&'static str>,
    /// Every node serves `/health`, and a client host sends a request this often, round robin
    /// with load-balancer failover.
    pub requests_every: Option<Duration>,
    /// Every node runs the coherent cache over a source database and reads and writes
    /// through it; cache staleness is checked.
    pub cache: Option<CacheLoad>,
    /// The seed's own deployment, when its schedule drew one (swarm testing): the scenario
    /// as run, with its nodes, timings and workloads in place of the catalogue's.
    pub swarm: Option<Swarm>,
}

/// A name that is no scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScenario(pub String);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = catalogue().into_iter().map(|s| s.name).collect();
        write!(f, "unknown scenario {:?} (one of: {})", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownScenario {}

/// A scenario of `plan` with `nodes` instances on `key` with `timings`, scripted `faults`
/// in a safety phase of `safety_s` seconds: strict exclusivity, no extra expectation yet.
fn plan(
    name: &str,
    plan: &'static str,
    description: &str,
    (nodes, key, timings): (usize, &'static str, Timings),
    safety_s: u64,
    faults: Vec<Fault>,
) -> Scenario {
    Scenario {
        name: name.to_owned(),
        description: description.to_owned(),
        plan,
        nodes,
        key,
        timings,
        faults: Faults::Script(faults),
        safety_phase: secs(safety_s),
        liveness_phase: timings.ttl * 2,
        slot: timings.renew,
        exclusivity: Exclusivity::Strict,
        expect: vec![],
        plan_failover: None,
        requests_every: None,
        cache: None,
        swarm: None,
    }
}

impl Scenario {
    fn expecting(mut self, expect: impl IntoIterator<Item = Expect>) -> Scenario {
        self.expect.extend(expect);
        self
    }

    fn with_requests(mut self, every: Duration) -> Scenario {
        self.requests_every = Some(every);
        self
    }

    fn with_cache(mut self, load: CacheLoad) -> Scenario {
        self.cache = Some(load);
        self
    }

    fn figures(mut self, plan_failover: &'static str) -> Scenario {
        self.plan_failover = Some(plan_failover);
        self
    }

    /// The same plan with the backend's optimised timings (TTL 5 s, retry 1 s).
    fn optimised(mut self, plan_failover: &'static str) -> Scenario {
        self.name = format!("{}-optimised", self.name);
        self.description = format!("{} (TTL 5 s, retry 1 s)", self.description);
        self.timings = OPTIMISED;
        self.slot = OPTIMISED.renew;
        self.liveness_phase = OPTIMISED.ttl * 2;
        self.expect = self.expect.into_iter().map(|e| e.scaled(BACKEND, OPTIMISED)).collect();
        self.plan_failover = Some(plan_failover);
        self
    }
}

const GW: &str = "000 (gateway)";
const BE: &str = "001 (backend)";

/// Every scenario.
pub fn catalogue() -> Vec<Scenario> {
    let mut scenarios = gateway_plans();
    scenarios.extend(backend_plans());
    let optimised: Vec<Scenario> = [("T1", "0.5 s / 1 s / 2 s"), ("T2", "5 s / 6 s / 8 s"), ("T5", "5 s / 6 s / 8 s")]
        .into_iter()
        .map(|(name, figures)| scenarios.iter().find(|s| s.name == name).expect("a plan").clone().optimised(figures))
        .collect();
    scenarios.extend(optimised);
    scenarios.push(backend_chaos());
    scenarios.extend(Profile::ALL.into_iter().map(chaos));
    let mut names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert!(names.windows(2).all(|w| !w[0].eq_ignore_ascii_case(w[1])), "scenario names are unique");
    scenarios
}

/// The gateway's test plan (`000_*`): MI-01 .. MI-10.
fn gateway_plans() -> Vec<Scenario> {
    let gateway = |n| (n, "gateway_service_leader", GATEWAY);
    let (leader, follower) = (|| Target::Leader, || Target::Follower);
    vec![
        plan(
            "MI-01",
            GW,
            "3 instances start 3 s apart: exactly one leader, named by the key",
            gateway(1),
            30,
            vec![Fault::at(3_000, 0, FaultKind::AddNode), Fault::at(6_000, 0, FaultKind::AddNode)],
        )
        .expecting([Expect::KeyNamesTheLeader, Expect::OneInstanceReportsLeader])
        .with_requests(secs(1)),
        plan(
            "MI-02",
            GW,
            "kill -9 the leader: a new leader within TTL + heartbeat",
            gateway(3),
            60,
            vec![Fault::at(20_000, 40_000, FaultKind::Crash { node: leader() })],
        )
        .expecting([Expect::FailoverWithin(GATEWAY.ttl + GATEWAY.renew), Expect::EveryRequestAnswered])
        .figures("within TTL + heartbeat: 20 s")
        .with_requests(secs(1)),
        plan("MI-03", GW, "the leader runs: renewed every heartbeat, its TTL never runs out", gateway(3), 60, vec![])
            .expecting([Expect::RenewedEvery(GATEWAY.renew + secs(1)), Expect::OneTerm]),
        plan(
            "MI-04",
            GW,
            "Redis frozen for 20 s (longer than the TTL): never two leaders; one after",
            gateway(3),
            60,
            vec![
                Fault::at(20_000, 20_000, FaultKind::Hold { node: Target::Node("node-1".into()) }),
                Fault::at(20_000, 20_000, FaultKind::Hold { node: Target::Node("node-2".into()) }),
                Fault::at(20_000, 20_000, FaultKind::Hold { node: Target::Node("node-3".into()) }),
            ],
        ),
        plan(
            "MI-05",
            GW,
            "requests round robin over 3 instances: every instance serves its share",
            gateway(3),
            40,
            vec![],
        )
        .expecting([Expect::EveryRequestAnswered, Expect::EveryInstanceServesItsShare])
        .with_requests(millis(500)),
        plan(
            "MI-06",
            GW,
            "update through instance 1, read through instance 2 (cached): it sees the update within 1 s",
            gateway(3),
            40,
            vec![],
        )
        .with_cache(CacheLoad {
            keys: 1,
            read_every: millis(100),
            write_every: secs(4),
            writer: Some(1),
            ..CacheLoad::new()
        })
        .expecting([Expect::UpdateSeenWithin { writer: 1, reader: 2, within: secs(1) }]),
        plan(
            "MI-07",
            GW,
            "the periodic health-check job: only the leader runs it, each slot once",
            gateway(3),
            60,
            vec![Fault::at(25_000, 10_000, FaultKind::Crash { node: leader() })],
        ),
        plan(
            "MI-08",
            GW,
            "a 4th instance joins: it follows, the leader is undisturbed",
            gateway(3),
            40,
            vec![Fault::at(20_000, 0, FaultKind::AddNode)],
        )
        .expecting([Expect::LeaderUndisturbedFrom(secs(20))]),
        plan(
            "MI-09",
            GW,
            "a follower stops: the leader is unchanged, service continues",
            gateway(3),
            40,
            vec![Fault::at(20_000, 0, FaultKind::RemoveNode { node: follower() })],
        )
        .expecting([Expect::LeaderUndisturbedFrom(secs(20))]),
        plan(
            "MI-10",
            GW,
            "SIGTERM the leader: the key is released at once, a new leader quickly",
            gateway(3),
            40,
            vec![Fault::at(20_000, 0, FaultKind::RemoveNode { node: leader() })],
        )
        .expecting([
            Expect::ReleasedOnStop,
            Expect::FailoverWithin(GATEWAY.retry * 2 + secs(1)),
            Expect::KeyNamesTheLeader,
        ]),
    ]
}

/// The backend's failover tests (`001_*`): T1 .. T6.
fn backend_plans() -> Vec<Scenario> {
    let backend = |n| (n, "maplefile:leader:lock", BACKEND);
    let (leader, follower) = (|| Target::Leader, || Target::Follower);
    vec![
        plan(
            "T1",
            BE,
            "graceful stop of the leader: a new leader within about 2 s",
            backend(3),
            40,
            vec![Fault::at(15_000, 0, FaultKind::RemoveNode { node: leader() })],
        )
        .expecting([Expect::ReleasedOnStop, Expect::FailoverWithin(secs(3))])
        .figures("1 s / 2 s / 3 s"),
        plan(
            "T2",
            BE,
            "hard crash of the leader: a new leader within about 12 s",
            backend(3),
            40,
            vec![Fault::at(15_000, 25_000, FaultKind::Crash { node: leader() })],
        )
        .expecting([Expect::FailoverWithin(secs(15))])
        .figures("10 s / 12 s / 15 s"),
        plan(
            "T3",
            BE,
            "4 instances; the leader stops three times in a row: the last one leads",
            backend(4),
            60,
            vec![
                Fault::at(15_000, 0, FaultKind::RemoveNode { node: leader() }),
                Fault::at(30_000, 0, FaultKind::RemoveNode { node: leader() }),
                Fault::at(45_000, 0, FaultKind::RemoveNode { node: leader() }),
            ],
        )
        .expecting([Expect::FailoverWithin(secs(3)), Expect::LastStandingLeads])
        .figures("2 s / 4 s / 6 s for two leaders in a row"),
        plan(
            "T4",
            BE,
            "the old leader re-joins after a failover: it follows",
            backend(3),
            45,
            vec![Fault::at(15_000, 10_000, FaultKind::Stop { node: leader() })],
        )
        .expecting([Expect::LeaderUndisturbedFrom(secs(20))]),
        plan(
            "T5",
            BE,
            "the leader loses Redis: it steps down, one new leader, a follower on return",
            backend(3),
            50,
            vec![Fault::at(15_000, 20_000, FaultKind::PartitionRedis { node: leader() })],
        )
        .expecting([Expect::FailoverWithin(secs(15)), Expect::LeaderUndisturbedFrom(secs(34))])
        .figures("10 s / 12 s / 15 s"),
        plan(
            "T6",
            BE,
            "the leader and a follower crash together: the last one leads",
            backend(3),
            40,
            vec![
                Fault::at(15_000, 25_000, FaultKind::Crash { node: leader() }),
                Fault::at(15_000, 25_000, FaultKind::Crash { node: follower() }),
            ],
        )
        .expecting([Expect::FailoverWithin(secs(15))])
        .figures("about 12 s"),
    ]
}

/// T7: random kills and restarts of five backend instances.
fn backend_chaos() -> Scenario {
    let backend = |n| (n, "maplefile:leader:lock", BACKEND);
    let mut t7 = plan(
        "T7",
        BE,
        "5 instances killed and restarted at random for 5 minutes: one leader (fenced)",
        backend(5),
        300,
        vec![],
    );
    t7.faults = Faults::Chaos { down_ms: (5_000, 15_000) };
    t7.exclusivity = Exclusivity::UnlessExplained;
    t7.expecting([Expect::EveryFailoverWithin(BACKEND.ttl + BACKEND.retry + secs(3))])
}

/// `chaos-<profile>`: the harness's deployment under a nemesis profile.
fn chaos(profile: Profile) -> Scenario {
    let strict = matches!(profile, Profile::Quiet | Profile::Partitions | Profile::Crashes);
    Scenario {
        name: format!("chaos-{profile}"),
        description: if profile == Profile::Quiet {
            format!("3 instances, TTL 3 s, renewal 1 s: {}", profile.describe())
        } else {
            format!("a swarm per seed around 3 instances, TTL 3 s, renewal 1 s: {}", profile.describe())
        },
        plan: "the harness's nemesis",
        nodes: 3,
        key: "leader",
        timings: CHAOS,
        faults: Faults::Profile(profile),
        safety_phase: secs(60),
        liveness_phase: secs(20),
        slot: secs(1),
        exclusivity: if strict { Exclusivity::Strict } else { Exclusivity::UnlessExplained },
        expect: vec![],
        plan_failover: None,
        requests_every: None,
        cache: (profile == Profile::Cache).then(CacheLoad::new),
        swarm: None,
    }
}

/// The scenario called `name`, matched case-insensitively.
pub fn find(name: &str) -> Result<Scenario, UnknownScenario> {
    catalogue().into_iter().find(|s| s.name.eq_ignore_ascii_case(name)).ok_or_else(|| UnknownScenario(name.to_owned()))
}

/// What runs on the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The production elector (`election`), with a fenced writer and a periodic job.
    Production,
    /// The zoo's elector with one classic bug (or none), or the zoo's cache with one (beside
    /// the production elector).
    Zoo(zoo::Bug),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Production => f.write_str("production"),
            Subject::Zoo(bug) => write!(f, "{bug}"),
        }
    }
}

impl Subject {
    /// Whether the nodes run the production elector (a zoo cache runs beside it).
    pub fn elector_is_production(self) -> bool {
        match self {
            Subject::Production => true,
            Subject::Zoo(bug) => bug.is_cache() || bug.is_deployment(),
        }
    }
}

/// What a run of a scenario came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run.
    pub run: Run,
    /// The run's history with its header: what `splitbrain run --history` writes.
    pub history: History,
    /// Every required property's verdict.
    pub verdicts: Vec<Verdict>,
    /// The failover times the liveness checker measured (leaderless gaps ended by a grant).
    pub failovers: Failovers,
    /// From each fault aimed at the leader to the next grant, as the plans time a failover.
    pub recoveries: Failovers,
}

impl Outcome {
    /// The verdicts that did not pass (violations first).
    pub fn failures(&self) -> Vec<&Verdict> {
        let mut failed: Vec<&Verdict> = self.verdicts.iter().filter(|v| !v.passed()).collect();
        failed.sort_by_key(|v| v.outcome != sim::check::Outcome::Violated);
        failed
    }
}

impl Scenario {
    /// The simulation's configuration for `seed`: the scenario's deployment (the seed's
    /// swarm, if its profile draws one) and the faults the seed draws.
    pub fn config(&self, seed: Seed) -> SimConfig {
        self.deployed(self.draw_schedule(seed)).configured(seed)
    }

    /// The scenario as run with `schedule`: with its swarm's deployment, if it carries one.
    pub fn deployed(&self, schedule: FaultSchedule) -> Deployed {
        let scenario = match &schedule.swarm {
            Some(swarm) => self.swarmed(swarm),
            None => self.clone(),
        };
        Deployed { scenario, schedule }
    }

    /// This scenario with `swarm`'s nodes, timings and workload mix.
    fn swarmed(&self, swarm: &Swarm) -> Scenario {
        let ms = Duration::from_millis;
        let mut scenario = self.clone();
        scenario.nodes = swarm.nodes;
        scenario.timings = Timings { ttl: ms(swarm.ttl_ms), renew: ms(swarm.renew_ms), retry: ms(swarm.retry_ms) };
        scenario.slot = scenario.timings.renew;
        if let (Some(load), Some(mix)) = (self.cache, &swarm.cache) {
            scenario.cache = Some(load.with_mix(mix));
        }
        scenario.swarm = Some(swarm.clone());
        scenario
    }

    /// The faults `seed` draws for this scenario.
    fn draw_schedule(&self, seed: Seed) -> FaultSchedule {
        let mut rng = SimRng::new(seed, "nemesis");
        let faults = match &self.faults {
            Faults::Profile(profile) => {
                let aim = nemesis::Aim { ttl: self.timings.ttl, safety_phase: self.safety_phase, nodes: self.nodes };
                return nemesis::swarm_schedule(*profile, &mut rng, aim, self.cache.is_some());
            }
            Faults::Script(faults) => faults.clone(),
            Faults::Chaos { down_ms: (lo, hi) } => {
                let (mut faults, mut t) = (Vec::new(), self.timings.ttl.as_millis() as u64);
                let end = self.safety_phase.as_millis() as u64;
                while t < end {
                    let down = rng.between(*lo, *hi).min(end - t);
                    let node = Target::Node(NodeId::replica(1 + rng.below(self.nodes as u64) as usize));
                    faults.push(Fault::at(t, down, FaultKind::Crash { node }));
                    t += down + rng.between(*lo, *hi);
                }
                faults
            }
        };
        FaultSchedule { faults, swarm: None }
    }

    /// Why `subject` would test nothing in this scenario, if it would not: a cache bug where
    /// no cache runs, a Redis deployment bug where Redis never restarts.
    pub fn inapplicable(&self, subject: Subject) -> Option<String> {
        let Subject::Zoo(bug) = subject else { return None };
        if bug.is_cache() && self.cache.is_none() {
            return Some(format!("{} runs no cache, and mutant {bug} is a bug of the cache", self.name));
        }
        if bug.is_deployment() && !self.restarts_redis() {
            return Some(format!(
                "{} never restarts Redis, and mutant {bug} shows only when Redis restarts",
                self.name
            ));
        }
        None
    }

    /// Whether the scenario's faults may restart Redis.
    fn restarts_redis(&self) -> bool {
        match &self.faults {
            Faults::Profile(profile) => profile.restarts_redis(),
            Faults::Script(faults) => faults.iter().any(|f| matches!(f.kind, FaultKind::RedisRestart { .. })),
            Faults::Chaos { .. } => false,
        }
    }

    /// The bound on a leader after the faults heal: TTL + the longest retry (with jitter) +
    /// slack for latency.
    pub fn liveness_bound(&self) -> Duration {
        Duration::from_millis(Bounds::for_lease(self.timings.ttl, self.timings.retry).liveness_ms)
    }

    /// Runs the production elector in the scenario under `seed` and checks every property it
    /// requires.
    pub fn run(&self, seed: Seed) -> Result<Outcome, SimError> {
        self.run_subject(seed, Subject::Production)
    }

    /// Runs `subject` in the scenario under `seed` and checks every property it requires
    /// (a zoo elector has no leader-only jobs and serves no requests: those checks are left out).
    pub fn run_subject(&self, seed: Seed, subject: Subject) -> Result<Outcome, SimError> {
        self.run_schedule(seed, subject, None)
    }

    /// Like [`Scenario::run_subject`], with `schedule` in place of the one the seed draws (a
    /// failure file's, or a shrunk one).
    pub fn run_schedule(
        &self,
        seed: Seed,
        subject: Subject,
        schedule: Option<&FaultSchedule>,
    ) -> Result<Outcome, SimError> {
        let schedule = schedule.cloned().unwrap_or_else(|| self.draw_schedule(seed));
        self.deployed(schedule).run(seed, subject)
    }

    /// What the scenario's runs are judged against: its elector's liveness bound and
    /// exclusivity, and — with the production elector, which runs them — its periodic job's
    /// slots and its cache's staleness.
    pub fn bounds(&self, subject: Subject) -> Bounds {
        let mut bounds = Bounds::for_lease(self.timings.ttl, self.timings.retry);
        bounds.exclusivity = self.exclusivity;
        if subject.elector_is_production() {
            bounds = bounds.with_slots(self.slot);
            if let Some(load) = self.cache {
                bounds = bounds.with_cache(load.liveness, load.entry_ttl);
            }
        }
        bounds
    }
}

/// A scenario deployed for one schedule: the scenario as run (its swarm's deployment, if
/// the schedule carries one) and the schedule.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// The scenario as run.
    pub scenario: Scenario,
    /// Its faults.
    pub schedule: FaultSchedule,
}

impl Deployed {
    /// The simulation's configuration under `seed`.
    pub fn configured(&self, seed: Seed) -> SimConfig {
        let scenario = &self.scenario;
        let mut config = SimConfig::new(seed);
        config.nodes = scenario.nodes;
        config.safety_phase = scenario.safety_phase;
        config.liveness_phase = scenario.liveness_phase;
        config.source_db = scenario.cache.is_some();
        if let Some(swarm) = &scenario.swarm {
            config.latency.1 = Duration::from_millis(swarm.link_latency_max_ms).max(config.latency.0);
        }
        config.schedule = self.schedule.clone();
        config
    }

    /// Runs `subject` under `seed` and checks every property the scenario requires.
    fn run(&self, seed: Seed, subject: Subject) -> Result<Outcome, SimError> {
        let scenario = &self.scenario;
        let Timings { ttl, renew, retry } = scenario.timings;
        let key = scenario.key;
        let mut config = self.configured(seed);
        if let Some(persistence) = match subject {
            Subject::Zoo(bug) => bug.persistence(),
            Subject::Production => None,
        } {
            config.persistence = persistence;
        }
        let fenced_every = scenario.swarm.as_ref().map_or(renew / 2, |s| millis(s.fenced_write_every_ms));
        let mut clients = Vec::new();
        // The production elector runs unless the subject is a zoo elector; the cache is the
        // production one unless the subject is a zoo cache.
        let program = match subject {
            Subject::Zoo(bug) if !bug.is_cache() && !bug.is_deployment() => {
                let margin = ttl / 100 + millis(2);
                zoo::elector(zoo::Timings { key: key.to_owned(), ttl, renew, retry, margin }, bug)
            }
            _ => {
                let mut workload = Workload::none().with_fenced_writes(fenced_every).with_slots(scenario.slot);
                let cache_bug = match subject {
                    Subject::Zoo(bug) if bug.is_cache() => Some(bug),
                    _ => None,
                };
                if let (Some(load), None) = (scenario.cache, cache_bug) {
                    workload = workload.with_cache(load);
                }
                if let Some(every) = scenario.requests_every {
                    workload = workload.with_health();
                    // Every instance there will be, those the schedule adds included.
                    let added = config.schedule.faults.iter().filter(|f| f.kind == FaultKind::AddNode).count();
                    let targets = (1..=config.nodes + added).map(|i| NodeId::replica(i).to_string()).collect();
                    clients.push(("client".to_owned(), http_client(targets, every, secs(1))));
                }
                let program = elector(
                    move |node| {
                        ElectorConfig::new(key, node.name.clone(), node.incarnation).with_timings(ttl, renew, retry)
                    },
                    workload,
                );
                match (scenario.cache, cache_bug) {
                    (Some(load), Some(bug)) => alongside(program, move |ctx| zoo::cache_node(ctx, load, bug)),
                    _ => program,
                }
            }
        };
        let run = simulate_with_clients(&config, program, clients)?;
        let origin = Origin {
            recorder: format!("splitbrain {}", version()),
            scenario: Some(scenario.name.clone()),
            ..Origin::default()
        };
        let history = run.history(vec![LeaseKeys::of_election(key)], scenario.bounds(subject), origin);
        let judged = SimError::catching("a checker", || run.end_us / 1000, || judge(&history))?;
        let (mut verdicts, failovers) = (judged.verdicts, judged.failovers);
        let production = subject.elector_is_production();
        // A zoo elector runs alone: no requests are served and no cache runs beside it.
        let cache_ran = scenario.cache.is_some() && production;
        let expected =
            scenario.expect.iter().filter(|e| (production || !e.needs_requests()) && (cache_ran || !e.needs_cache()));
        verdicts.extend(expected.map(|e| e.check(scenario, &run, &failovers)));
        let recoveries = recoveries(scenario, &run);
        Ok(Outcome { run, history, verdicts, failovers, recoveries })
    }
}

/// From each fault aimed at the leader to the next grant, in seconds (scripted plans only:
/// under a nemesis a fault aimed at the leader need not depose it).
fn recoveries(scenario: &Scenario, run: &Run) -> Failovers {
    if !matches!(scenario.faults, Faults::Script(_)) {
        return Failovers::default();
    }
    let mut samples_s = Vec::new();
    for (i, event) in run.events.iter().enumerate() {
        let EventKind::FaultInjected { fault, .. } = &event.kind else { continue };
        if !fault.kind.aims_at_leader() {
            continue;
        }
        if let Some(grant) = run.events[i..].iter().find(|e| matches!(e.kind, EventKind::Acquired { .. })) {
            samples_s.push((grant.at_us - event.at_us) as f64 / 1e6);
        }
    }
    Failovers { samples_s }
}
