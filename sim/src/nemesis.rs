//! Nemesis profiles: a seed becomes a fault schedule. Each profile draws from its family of
//! faults; `all` mixes every family, and each seed picks its own mix (swarm testing), so
//! that some seeds hammer one kind of fault and others combine them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use check::fault::{Fault, FaultKind, FaultSchedule, Moment, Target, Trigger};
use check::{Family, NodeId};

use crate::seed::SimRng;

/// A family of faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    /// No faults.
    Quiet,
    /// Partitions, one-way partitions, isolation, latency, loss, held links.
    Partitions,
    /// Process pauses, often of the leader.
    Pauses,
    /// Clock drift and jumps, on nodes and on Redis.
    Clocks,
    /// kill -9 and graceful stops, with restarts.
    Crashes,
    /// Redis restarts (keeping what the deployment's persistence keeps), dropped connections,
    /// slow commands.
    Redis,
    /// A per-seed mix of all of the above.
    All,
    /// Faults aimed at a pub/sub-invalidated cache: dropped subscriber connections, a node cut
    /// off from Redis (the source database stays reachable), short pauses (a reader between
    /// its source read and its fill), held links (a late subscribe confirmation), Redis
    /// restarts.
    Cache,
}

impl Profile {
    /// Every profile, in the order `list` shows them.
    pub const ALL: [Profile; 8] = [
        Profile::Quiet,
        Profile::Partitions,
        Profile::Pauses,
        Profile::Clocks,
        Profile::Crashes,
        Profile::Redis,
        Profile::All,
        Profile::Cache,
    ];

    /// The profile's name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Quiet => "quiet",
            Profile::Partitions => "partitions",
            Profile::Pauses => "pauses",
            Profile::Clocks => "clocks",
            Profile::Crashes => "crashes",
            Profile::Redis => "redis",
            Profile::All => "all",
            Profile::Cache => "cache",
        }
    }

    /// One line on what it does.
    pub fn describe(self) -> &'static str {
        match self {
            Profile::Quiet => "no faults: the baseline",
            Profile::Partitions => {
                "node-Redis and node-node partitions, one-way, isolation, latency spikes, loss, held links"
            }
            Profile::Pauses => {
                "process pauses (GC, VM migration), often of the leader, half of them right after a read or before a write"
            }
            Profile::Clocks => "clock drift up to 5% and jumps (some as the leader loses Redis), on nodes and on Redis",
            Profile::Crashes => {
                "kill -9 and graceful stops (half of them stalling in the hand-over) with restarts as new incarnations"
            }
            Profile::Redis => "Redis restarts (with the deployment's persistence), dropped connections, slow commands",
            Profile::All => "a per-seed mix of every family above",
            Profile::Cache => {
                "aimed at the cache: dropped subscriptions, a node cut off from Redis, pauses between read and fill, held links, Redis restarts"
            }
        }
    }

    /// Whether the profile's schedules may restart Redis.
    pub fn restarts_redis(self) -> bool {
        matches!(self, Profile::Redis | Profile::All | Profile::Cache)
    }

    /// The fault families the profile draws from; `All` and `Cache` mix several.
    pub fn families(self) -> &'static [Family] {
        match self {
            Profile::Quiet => &[],
            Profile::Partitions => &[Family::Partitions],
            Profile::Pauses => &[Family::Pauses],
            Profile::Clocks => &[Family::Clocks],
            Profile::Crashes => &[Family::Crashes],
            Profile::Redis => &[Family::Redis],
            Profile::All => &[Family::Partitions, Family::Pauses, Family::Clocks, Family::Crashes, Family::Redis],
            Profile::Cache => &[Family::Partitions, Family::Pauses, Family::Redis, Family::Source],
        }
    }

    /// A seed's own subset of the profile's families: each on with probability 0.6, at
    /// least one.
    fn draw_families(self, rng: &mut SimRng) -> Vec<Family> {
        let all = self.families();
        if all.len() <= 1 {
            return all.to_vec();
        }
        let mixed: Vec<Family> = all.iter().copied().filter(|_| rng.chance(0.6)).collect();
        if mixed.is_empty() {
            vec![*rng.pick(all)]
        } else {
            mixed
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown nemesis profile {0:?} (quiet, partitions, pauses, clocks, crashes, redis, all, cache)")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(s)).ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}

/// What the nemesis needs to know of the run to aim its faults.
#[derive(Debug, Clone, Copy)]
pub struct Aim {
    /// The lease TTL: fault durations are drawn around it.
    pub ttl: Duration,
    /// How long the safety phase lasts: every fault starts and ends within it.
    pub safety_phase: Duration,
    /// How many nodes there are.
    pub nodes: usize,
}

/// Draws a schedule for `profile` from `rng` on the scenario's own deployment: the
/// profile's families mixed per seed, about one fault per two TTLs.
pub fn schedule(profile: Profile, rng: &mut SimRng, aim: Aim) -> FaultSchedule {
    let families = profile.draw_families(rng);
    let ttl_ms = aim.ttl.as_millis().max(1) as u64;
    let per_minute = (60_000 / (2 * ttl_ms)).max(1);
    faults(&families, profile == Profile::Cache, per_minute, rng, aim)
}

/// Draws a seed's swarm for `profile` around the scenario's deployment (`aim`, and `cache`
/// where the scenario runs one) and then its faults on that swarm: the schedule carries the
/// swarm, and a run of it uses the swarm's deployment. `quiet` draws no swarm: the baseline
/// stays the scenario's own.
pub fn swarm_schedule(profile: Profile, rng: &mut SimRng, aim: Aim, cache: bool) -> FaultSchedule {
    if profile == Profile::Quiet {
        return FaultSchedule::default();
    }
    let swarm = crate::swarm::draw(profile.draw_families(rng), rng, cache);
    let aim = Aim { ttl: Duration::from_millis(swarm.ttl_ms), nodes: swarm.nodes, ..aim };
    let mut schedule = faults(&swarm.families, profile == Profile::Cache, swarm.faults_per_minute, rng, aim);
    schedule.swarm = Some(swarm);
    schedule
}

/// About `per_minute` faults a minute of the safety phase, of `families`, starting after
/// the first election settled; `cache` aims them at a cache (see [`Profile::Cache`]).
fn faults(families: &[Family], cache: bool, per_minute: u64, rng: &mut SimRng, aim: Aim) -> FaultSchedule {
    let mut faults = Vec::new();
    let phase_ms = aim.safety_phase.as_millis() as u64;
    let ttl_ms = aim.ttl.as_millis().max(1) as u64;
    if families.is_empty() || phase_ms < 2 * ttl_ms || per_minute == 0 {
        return FaultSchedule::default();
    }
    let count = (phase_ms * per_minute / 60_000).max(1);
    for _ in 0..count {
        let family = *rng.pick(families);
        let at_ms = rng.between(ttl_ms, phase_ms - ttl_ms / 2);
        let duration_ms = rng.between(ttl_ms / 5, 3 * ttl_ms).min(phase_ms - at_ms);
        let node = target(rng, aim);
        let mut kind = fault_on(family, cache, rng, aim, ttl_ms, node);
        if let FaultKind::Stop { node } = &mut kind {
            // A follower's hand-over has nothing to hand over: a stop drawn for "a follower"
            // stops the leader (a named node still stops followers). Without a draw of its
            // own, so that the rest of the schedule is what it was.
            if *node == Target::Follower {
                *node = Target::Leader;
            }
            let node = &*node;
            // Three graceful stops in four stall on the way out (shutdown hooks, a GC): the
            // node freezes within its hand-over, after a read or before a write.
            if rng.chance(0.75) {
                let stall_ms = rng.between(ttl_ms / 5, 3 * ttl_ms).min(phase_ms - at_ms);
                // Not after a write: a hand-over's window is between its check and its act.
                let moment = *rng.pick(&[Moment::AfterRead, Moment::BeforeWrite]);
                faults.push(Fault::at(at_ms, stall_ms, FaultKind::PauseAt { node: node.clone(), moment }));
            }
            // Half the stops bring a fault at a moment of the hand-over itself (its read of
            // the lease, its release): what a stopping node meets on its way out.
            if rng.chance(0.5) {
                let moment = *rng.pick(&[Moment::AfterRead, Moment::BeforeWrite]);
                let on = Some(node.clone());
                faults.extend(triggered(families, cache, rng, aim, at_ms, on, moment));
            }
        }
        if let FaultKind::ClockJump { node: Target::Leader, .. } = &kind {
            // Half the leader's clock steps come as it loses Redis — the moment a step decides
            // how long it goes on believing a lease it can no longer renew.
            if rng.chance(0.5) {
                faults.push(Fault::at(at_ms, duration_ms, FaultKind::PartitionRedis { node: Target::Leader }));
            }
        }
        if let FaultKind::Latency { node: Target::Leader, latency_ms } = &kind {
            // Half the leader's slow links degrade into a lost one (congestion before a
            // failure): its last renewal was answered late, and it renews no more — the moment
            // a deadline counted from the wrong instant outlives the lease.
            if *latency_ms <= SLOW_BUT_ANSWERED_MS && rng.chance(0.5) {
                let cut_ms = at_ms + duration_ms / 2;
                let cut = rng.between(ttl_ms, 3 * ttl_ms).min(phase_ms.saturating_sub(cut_ms));
                let kind = FaultKind::PartitionRedis { node: Target::Leader };
                faults.push(Fault::at(cut_ms, cut, kind));
            }
        }
        if let FaultKind::LateReply { node: Target::Leader, .. } = &kind {
            // Half the leader's late replies are its last: the link is cut right after the
            // late answer to a write is read (a renewal granted late, and no more renewals).
            if rng.chance(0.5) {
                let cut = rng.between(ttl_ms, 3 * ttl_ms).min(phase_ms - at_ms);
                let trigger = Some(Trigger { node: Target::Leader, moment: Moment::AfterWrite });
                let kind = FaultKind::PartitionRedis { node: Target::Leader };
                faults.push(Fault { trigger, ..Fault::at(at_ms, cut, kind) });
            }
        }
        let on_leader = kind.targets().first() == Some(&&Target::Leader);
        let restart = matches!(kind, FaultKind::RedisRestart { .. });
        faults.push(Fault::at(at_ms, duration_ms, kind));
        if restart {
            // A restart brings a fault at a node's first write answered once Redis is back:
            // the answer is a NOSCRIPT (a restart forgets scripts), and the fault lands while
            // the node's EVAL with the whole script is in flight — a window of a few
            // milliseconds that a fault at a fixed time finds once in a thousand runs.
            let heal_ms = at_ms + duration_ms;
            faults.extend(triggered(families, cache, rng, aim, heal_ms, None, Moment::AfterWrite));
        } else if rng.chance(TRIGGERED_SHARE) {
            // Some faults come with one more, started by a node's own moment rather than the
            // clock: a request in flight, a read not yet acted on.
            let moment = *rng.pick(&[Moment::AfterRead, Moment::BeforeWrite, Moment::AfterWrite]);
            faults.extend(triggered(families, cache, rng, aim, at_ms, None, moment));
        }
        // Faults come in clusters: a third of those aimed at the leader bring one of another
        // of the seed's families, at the same moment, on the leader too (its clock steps back
        // as it loses Redis; it pauses while partitioned).
        let others: Vec<Family> = families.iter().copied().filter(|f| *f != family).collect();
        if on_leader && !others.is_empty() && rng.chance(0.3) {
            let other = *rng.pick(&others);
            let kind = fault_on(other, cache, rng, aim, ttl_ms, Target::Leader);
            faults.push(Fault::at(at_ms, duration_ms, kind));
        }
    }
    faults.sort_by_key(|f| f.at_ms);
    FaultSchedule { faults, swarm: None }
}

/// The share of drawn faults that bring one more, triggered by a node's moment.
const TRIGGERED_SHARE: f64 = 0.15;

/// A fault of one of `families` armed at `at_ms` to start at the next `moment` of `on` (a
/// node drawn if none), on that node where it hits one (or on Redis, or on the deployment);
/// none when the phase has no room for it. Not a `pause-at`: that has its moment already.
fn triggered(
    families: &[Family],
    cache: bool,
    rng: &mut SimRng,
    aim: Aim,
    at_ms: u64,
    on: Option<Target>,
    moment: Moment,
) -> Option<Fault> {
    let phase_ms = aim.safety_phase.as_millis() as u64;
    let ttl_ms = aim.ttl.as_millis().max(1) as u64;
    let node = on.unwrap_or_else(|| target(rng, aim));
    let family = *rng.pick(families);
    let kind = match fault_on(family, cache, rng, aim, ttl_ms, node.clone()) {
        FaultKind::PauseAt { node, .. } => FaultKind::Pause { node },
        kind => kind,
    };
    let duration_ms = rng.between(ttl_ms / 5, 3 * ttl_ms);
    if at_ms + ttl_ms / 5 >= phase_ms {
        return None;
    }
    let trigger = Some(Trigger { node, moment });
    Some(Fault { trigger, ..Fault::at(at_ms, duration_ms.min(phase_ms - at_ms), kind) })
}

fn target(rng: &mut SimRng, aim: Aim) -> Target {
    match rng.below(4) {
        0 | 1 => Target::Leader,
        2 => Target::Follower,
        _ => Target::Node(NodeId::replica(1 + rng.below(aim.nodes as u64) as usize)),
    }
}

/// A fault of `family` aimed at `node` (or at Redis, or at the whole deployment, as the
/// fault drawn is); `cache`: the cache's mix of the family.
fn fault_on(family: Family, cache: bool, rng: &mut SimRng, aim: Aim, ttl_ms: u64, node: Target) -> FaultKind {
    match family {
        // The cache's partitions: a node cut off from Redis (the source stays reachable), a
        // held link (a late subscribe confirmation), latency.
        Family::Partitions if cache => match rng.below(4) {
            0 => FaultKind::PartitionRedis { node },
            1 => FaultKind::Hold { node },
            2 => latency(node, rng, ttl_ms),
            _ => FaultKind::LateReply { node, delay_ms: late_reply_ms(rng, ttl_ms) },
        },
        Family::Partitions => match rng.below(8) {
            0 | 1 => FaultKind::PartitionRedis { node },
            2 => FaultKind::PartitionNodes { a: node, b: target(rng, aim) },
            3 => FaultKind::Isolate { node },
            4 => FaultKind::IsolateSet { count: 1 + rng.below(aim.nodes as u64) as usize },
            5 => latency(node, rng, ttl_ms),
            6 => FaultKind::LateReply { node, delay_ms: late_reply_ms(rng, ttl_ms) },
            _ if rng.chance(0.5) => FaultKind::Hold { node },
            _ => FaultKind::Loss { node, rate: 0.05 + rng.unit() * 0.5 },
        },
        // Half at a random time, half at a moment of the node's own: right after a read's
        // reply or right before a write (a check-then-act window). Short for a cache: a
        // reader frozen between its source read and its fill while writes go on.
        Family::Pauses => pause(node, rng),
        Family::Clocks => match rng.below(4) {
            0 => FaultKind::ClockDrift { node, drift_ppm: rng.between(0, 100_000) as i64 - 50_000 },
            1 => FaultKind::ClockJump { node, jump_ms: rng.between(0, 2 * ttl_ms) as i64 - ttl_ms as i64 },
            2 => FaultKind::RedisClockDrift { drift_ppm: rng.between(0, 100_000) as i64 - 50_000 },
            _ => FaultKind::RedisClockJump { jump_ms: rng.between(0, ttl_ms) as i64 },
        },
        Family::Crashes if rng.chance(0.7) => FaultKind::Crash { node },
        Family::Crashes => FaultKind::Stop { node },
        Family::Redis if cache => match rng.below(2) {
            0 => FaultKind::RedisDropConnections,
            _ => FaultKind::RedisRestart { persistence: None },
        },
        Family::Redis => match rng.below(4) {
            // The deployment decides what a restart keeps, not the nemesis.
            0 | 1 => FaultKind::RedisRestart { persistence: None },
            2 => FaultKind::RedisDropConnections,
            _ => FaultKind::RedisSlow { delay_ms: rng.between(1, ttl_ms / 2) },
        },
        Family::Source => source(node, rng),
    }
}

/// A fault on `node`'s link to the source database: mostly latency, so that a source read
/// takes longer than a write, its publication and its delivery together (a few to 150 ms
/// each way, under the cache's request limit), or one reply late (read before a write,
/// delivered after its invalidation); else a held link, loss, or a cut.
fn source(node: Target, rng: &mut SimRng) -> FaultKind {
    match rng.below(8) {
        0..=2 => FaultKind::SourceLatency { node, latency_ms: rng.between(5, 150) },
        3 | 4 => FaultKind::SourceLateReply { node, delay_ms: rng.between(5, SLOW_BUT_ANSWERED_MS * 3) },
        5 => FaultKind::SourceHold { node },
        6 => FaultKind::SourceLoss { node, rate: 0.05 + rng.unit() * 0.3 },
        _ => FaultKind::PartitionSource { node },
    }
}

/// The elector's default drift margin for a TTL (ms): what a reply must be later than for
/// deadline arithmetic to matter.
fn margin_ms(ttl_ms: u64) -> u64 {
    election::default_drift_margin(Duration::from_millis(ttl_ms)).as_millis() as u64
}

/// How late a `late-reply` comes: from the elector's drift margin (1 % of the TTL + 2 ms) to
/// three quarters of the default 500 ms request limit — late, and still answered.
fn late_reply_ms(rng: &mut SimRng, ttl_ms: u64) -> u64 {
    let margin_ms = margin_ms(ttl_ms);
    rng.between(margin_ms, (3 * SLOW_BUT_ANSWERED_MS).max(margin_ms + 1))
}

/// Added latency on `node`'s link to Redis. Half the time a spike (a tenth of the TTL to the
/// TTL: replies come after the request's time limit, or not in time for the lease); half the
/// time *slow but answered*: each way between the elector's drift margin (1 % of the TTL +
/// 2 ms) and a quarter of the default 500 ms request limit, so that a reply arrives late by
/// more than the margin and still inside the limit — where deadline arithmetic goes wrong.
fn latency(node: Target, rng: &mut SimRng, ttl_ms: u64) -> FaultKind {
    let latency_ms = if rng.chance(0.5) {
        rng.between(ttl_ms / 10, ttl_ms)
    } else {
        let margin_ms = margin_ms(ttl_ms);
        rng.between(margin_ms, (SLOW_BUT_ANSWERED_MS).max(margin_ms + 1))
    };
    FaultKind::Latency { node, latency_ms }
}

/// The most a *slow but answered* latency adds each way: with the way back, half the
/// default request limit (500 ms), so that the reply still comes in time.
const SLOW_BUT_ANSWERED_MS: u64 = 125;

/// A pause of `node`: at the fault's time, or at a moment of its own — after a read's reply,
/// before a write, after a write's reply (a lease granted and not yet acted on: where a GC
/// pause makes a node count the pause as lease).
fn pause(node: Target, rng: &mut SimRng) -> FaultKind {
    match rng.below(8) {
        0..=2 => FaultKind::Pause { node },
        3 | 4 => FaultKind::PauseAt { node, moment: Moment::AfterRead },
        5 | 6 => FaultKind::PauseAt { node, moment: Moment::BeforeWrite },
        _ => FaultKind::PauseAt { node, moment: Moment::AfterWrite },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;

    fn aim() -> Aim {
        Aim { ttl: Duration::from_secs(3), safety_phase: Duration::from_secs(60), nodes: 3 }
    }

    #[test]
    fn schedules_are_reproducible_and_stay_in_the_safety_phase() {
        for profile in Profile::ALL {
            let a = schedule(profile, &mut SimRng::new(Seed(9), "nemesis"), aim());
            let b = schedule(profile, &mut SimRng::new(Seed(9), "nemesis"), aim());
            assert_eq!(a, b);
            assert!(a.faults.iter().all(|f| f.end() <= Duration::from_secs(60)), "{profile}");
            assert!(a.validate(&["node-1".into(), "node-2".into(), "node-3".into()]).is_ok(), "{profile}");
            assert_eq!(a.faults.is_empty(), profile == Profile::Quiet, "{profile}");
        }
    }

    #[test]
    fn latency_comes_as_spikes_and_as_slow_but_answered() {
        let (mut spikes, mut slow) = (0, 0);
        for seed in 0..200 {
            let schedule = schedule(Profile::Partitions, &mut SimRng::new(Seed(seed), "nemesis"), aim());
            for fault in &schedule.faults {
                if let FaultKind::Latency { latency_ms, .. } = fault.kind {
                    // TTL 3 s: the margin is 32 ms; a spike is 300 ms or more.
                    match latency_ms {
                        32..=SLOW_BUT_ANSWERED_MS => slow += 1,
                        300..=3_000 => spikes += 1,
                        other => panic!("latency {other} ms is in neither band"),
                    }
                }
            }
        }
        assert!(spikes > 20 && slow > 20, "spikes {spikes}, slow but answered {slow}");
    }

    #[test]
    fn late_replies_come_late_by_more_than_the_margin_and_inside_the_request_limit() {
        let (mut redis, mut source, mut after_write) = (0, 0, 0);
        for seed in 0..200 {
            let schedule = swarm_schedule(Profile::Cache, &mut SimRng::new(Seed(seed), "nemesis"), aim(), true);
            let ttl_ms = schedule.swarm.as_ref().expect("a swarm").ttl_ms;
            for fault in &schedule.faults {
                match fault.kind {
                    FaultKind::LateReply { delay_ms, .. } => {
                        assert!((ttl_ms / 100 + 2..=375).contains(&delay_ms), "{delay_ms} ms, TTL {ttl_ms} ms");
                        redis += 1;
                    }
                    FaultKind::SourceLateReply { delay_ms, .. } => {
                        assert!((5..=375).contains(&delay_ms), "{delay_ms} ms");
                        source += 1;
                    }
                    FaultKind::PauseAt { moment: Moment::AfterWrite, .. } => after_write += 1,
                    _ => {}
                }
            }
        }
        assert!(redis > 20 && source > 20 && after_write > 20, "{redis}, {source}, {after_write}");
    }

    #[test]
    fn some_faults_wait_for_a_nodes_moment_and_most_restarts_for_the_eval_after_them() {
        // Each restart drawn alone; those drawn as a companion, or too late in the phase,
        // bring none.
        let (mut restarts, mut after_restart, mut triggered) = (0, 0, 0);
        for seed in 0..300 {
            let schedule = schedule(Profile::All, &mut SimRng::new(Seed(seed), "nemesis"), aim());
            for fault in &schedule.faults {
                if matches!(fault.kind, FaultKind::RedisRestart { .. }) {
                    restarts += 1;
                    let heal_ms = fault.at_ms + fault.duration_ms;
                    let at_heal = |f: &Fault| {
                        f.at_ms == heal_ms && f.trigger.as_ref().is_some_and(|t| t.moment == Moment::AfterWrite)
                    };
                    after_restart += usize::from(schedule.faults.iter().any(at_heal));
                }
                if let Some(trigger) = &fault.trigger {
                    triggered += 1;
                    assert!(trigger.node != Target::Redis && trigger.node != Target::Random, "{fault:?}");
                    assert!(!matches!(fault.kind, FaultKind::PauseAt { .. }), "{fault:?}");
                }
            }
            assert!(schedule.validate(&["node-1".into(), "node-2".into(), "node-3".into()]).is_ok());
        }
        assert!(restarts > 50 && after_restart * 2 > restarts, "{after_restart}/{restarts}");
        assert!(triggered > after_restart + 100, "{triggered} triggered faults");
    }

    #[test]
    fn profiles_parse_case_insensitively() {
        assert_eq!("PAUSES".parse::<Profile>(), Ok(Profile::Pauses));
        assert!("gremlins".parse::<Profile>().unwrap_err().to_string().starts_with("unknown nemesis profile"));
    }
}
