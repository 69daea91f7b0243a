//! Property 7: bounded cache staleness. A cache read that begins more than the bound after a
//! write returned gives that write's version or a newer one; the bound is the cache's liveness
//! window when the write's invalidation was published, and its entry TTL when it was not (both
//! stretched by the slowest clock the simulation allows, plus one tick of slack). After the
//! faults heal, every node still up answers reads again, and those reads are fresh.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{at, who, Property, Verdict};
use crate::clock_trace::DRIFT_PPM_MAX;
use crate::event::{Event, EventKind};

/// How stale a read may be, in true time, after a write returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StalenessBounds {
    /// When the write's invalidation was published.
    pub published: Duration,
    /// When it was not (entries expire by TTL alone).
    pub unpublished: Duration,
}

impl StalenessBounds {
    /// The bounds a cache with this `liveness` window and `entry_ttl` promises, measured on a
    /// node clock that may run as slow as the simulation allows, plus `slack` (a tick and the
    /// network's latency).
    pub fn of(liveness: Duration, entry_ttl: Duration, slack: Duration) -> StalenessBounds {
        let stretch = |d: Duration| d.mul_f64(1_000_000.0 / (1_000_000 - DRIFT_PPM_MAX) as f64) + slack;
        StalenessBounds { published: stretch(liveness), unpublished: stretch(entry_ttl) }
    }
}

/// A write of a key: when it stops excusing stale reads, its version, its event.
struct Write<'a> {
    due_us: u64,
    version: u64,
    event: &'a Event,
}

/// Checks every cache read in `events` against the writes before it; reads after `healed_us`
/// must exist on every node still up at `end_us`.
pub fn cache_staleness(events: &[Event], bounds: StalenessBounds, healed_us: u64, end_us: u64) -> Verdict {
    // Per key, writes in order of when they become due, with the running highest version.
    let mut writes: BTreeMap<&str, Vec<Write>> = BTreeMap::new();
    for e in events {
        if let EventKind::CacheWrite { key, version, published } = &e.kind {
            let bound = if *published { bounds.published } else { bounds.unpublished };
            writes.entry(key).or_default().push(Write {
                due_us: e.at_us + bound.as_micros() as u64,
                version: *version,
                event: e,
            });
        }
    }
    let mut due: BTreeMap<&str, (Vec<u64>, Vec<usize>)> = BTreeMap::new();
    for (key, list) in &mut writes {
        list.sort_by_key(|w| (w.due_us, w.version));
        let mut best: Option<usize> = None;
        let (mut times, mut highest) = (Vec::new(), Vec::new());
        for (i, w) in list.iter().enumerate() {
            if best.is_none_or(|b| list[b].version < w.version) {
                best = Some(i);
            }
            times.push(w.due_us);
            highest.push(best.expect("set above"));
        }
        due.insert(key, (times, highest));
    }
    let (mut reads, mut checked) = (0u64, 0u64);
    for e in events {
        let EventKind::CacheRead { key, version, started_us, hit } = &e.kind else { continue };
        reads += 1;
        let (Some((times, highest)), Some(list)) = (due.get(key.as_str()), writes.get(key.as_str())) else { continue };
        // The writes due strictly before the read began.
        let n = times.partition_point(|t| *t < *started_us);
        if n == 0 {
            continue;
        }
        checked += 1;
        let missed = &list[highest[n - 1]];
        if *version < missed.version {
            return Verdict::violated(
                Property::CacheStaleness,
                stale(e, key, *version, *started_us, *hit, missed, bounds, events),
                vec![missed.event.clone(), e.clone()],
            );
        }
    }
    if let Some(violation) = unconverged(events, bounds, healed_us, end_us) {
        return violation;
    }
    Verdict::pass(
        Property::CacheStaleness,
        format!(
            "{reads} cache reads, {checked} of them after a write was due, none stale (bounds {:.3} s published, {:.3} s unpublished); every node still up read fresh values after the faults healed",
            bounds.published.as_secs_f64(),
            bounds.unpublished.as_secs_f64()
        ),
    )
}

/// The fill that raced `missed`, in words, if the stale version came from one: the reader's
/// last source read of `key` that returned `version` began before the newer write was
/// recorded and ended after it, so the cache kept what it read though the write (and its
/// invalidation) came in between — the check-then-act of a fill without a version floor.
fn raced_fill(read: &Event, key: &str, version: u64, missed: &Write, events: &[Event]) -> Option<String> {
    let written_us = missed.event.at_us;
    let (began_us, filled_us) = events
        .iter()
        .rev()
        .filter(|e| e.node == read.node && e.incarnation == read.incarnation && e.at_us <= read.at_us)
        .filter_map(|e| match &e.kind {
            EventKind::CacheRead { key: k, version: v, started_us, hit: false } if k == key && *v == version => {
                Some((*started_us, e.at_us))
            }
            _ => None,
        })
        .next()?;
    (began_us < written_us && filled_us > written_us).then(|| {
        format!(
            "The cached version came from a fill whose source read began at {} and returned at {}, across the newer write: a fill that raced the write and its invalidation, kept without checking that no newer version was announced meanwhile.",
            at(began_us),
            at(filled_us)
        )
    })
}

/// The explanation of a stale read, with the faults that touched the reader or Redis between
/// the write and the read.
#[allow(clippy::too_many_arguments)]
fn stale(
    read: &Event,
    key: &str,
    version: u64,
    started_us: u64,
    hit: bool,
    missed: &Write,
    bounds: StalenessBounds,
    events: &[Event],
) -> String {
    let published = matches!(missed.event.kind, EventKind::CacheWrite { published: true, .. });
    let bound = if published { bounds.published } else { bounds.unpublished };
    let from = if hit { "from its cache" } else { "from the source" };
    let mut faults: Vec<String> = Vec::new();
    for e in events.iter().filter(|e| e.at_us >= missed.event.at_us.saturating_sub(5_000_000) && e.at_us <= read.at_us)
    {
        match &e.kind {
            EventKind::FaultInjected { fault, nodes, .. } if fault.kind.touches(nodes, &read.node) => {
                faults.push(format!("{} at {}", fault.describe(nodes), at(e.at_us)))
            }
            EventKind::Paused | EventKind::Crashed if e.node == read.node => {
                faults.push(format!("{} {:?} at {}", who(e), e.kind, at(e.at_us)))
            }
            _ => {}
        }
    }
    let why = if let Some(fill) = raced_fill(read, key, version, missed, events) {
        fill
    } else if faults.is_empty() {
        "No fault touched the reader or Redis in between: a bug in the cache (an invalidation applied too late, or a fill that raced it).".to_owned()
    } else {
        format!(
            "In between: {}. Likely an invalidation lost while the subscription was down, and the cache not flushed.",
            faults.join("; ")
        )
    };
    format!(
        "{} read {key} {from} at {} (begun {}) and got version {version}, but {} had written version {} at {} ({}), {:.3} s before the read began — beyond the {:.3} s bound. {why}",
        who(read),
        at(read.at_us),
        at(started_us),
        who(missed.event),
        missed.version,
        at(missed.event.at_us),
        if published { "its invalidation published" } else { "its invalidation NOT published" },
        (started_us - missed.event.at_us) as f64 / 1e6,
        bound.as_secs_f64(),
    )
}

/// A node up at the end that answered no read after the faults healed (plus the longest
/// bound), if any.
fn unconverged(events: &[Event], bounds: StalenessBounds, healed_us: u64, end_us: u64) -> Option<Verdict> {
    let settled_us = healed_us + bounds.unpublished.as_micros() as u64;
    if settled_us + 1_000_000 >= end_us || !events.iter().any(|e| matches!(e.kind, EventKind::CacheRead { .. })) {
        return None;
    }
    let mut up: BTreeMap<&str, bool> = BTreeMap::new();
    let mut fresh: BTreeMap<&str, bool> = BTreeMap::new();
    for e in events {
        match &e.kind {
            EventKind::ElectionStarted => {
                up.insert(&e.node, true);
            }
            EventKind::Crashed | EventKind::Exited | EventKind::StopRequested => {
                up.insert(&e.node, false);
            }
            EventKind::CacheRead { started_us, .. } if *started_us >= settled_us => {
                fresh.insert(&e.node, true);
            }
            _ => {}
        }
    }
    let silent: Vec<&str> = up.iter().filter(|(n, up)| **up && !fresh.contains_key(*n)).map(|(n, _)| *n).collect();
    let node = silent.first()?;
    let explanation = format!(
        "{node} was up at the end but answered no cache read begun after {} (the faults healed at {}, plus the {:.3} s bound): its cache did not recover",
        at(settled_us),
        at(healed_us),
        bounds.unpublished.as_secs_f64()
    );
    Some(Verdict::violated(Property::CacheStaleness, explanation, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{ev, history};

    const BOUNDS: StalenessBounds =
        StalenessBounds { published: Duration::from_millis(1000), unpublished: Duration::from_millis(10_000) };

    fn write(ms: u64, node: &str, version: u64, published: bool) -> Event {
        ev(ms, node, 1, EventKind::CacheWrite { key: "k".into(), version, published })
    }

    fn read(started_ms: u64, ms: u64, node: &str, version: u64) -> Event {
        ev(ms, node, 1, EventKind::CacheRead { key: "k".into(), version, started_us: started_ms * 1000, hit: true })
    }

    #[test]
    fn reads_within_the_bound_may_be_stale_and_later_ones_may_not() {
        let ok =
            history(vec![write(1000, "node-1", 1, true), read(1900, 1901, "node-2", 0), read(2100, 2101, "node-2", 1)]);
        assert!(cache_staleness(&ok, BOUNDS, 0, 3_000_000).passed());
        let bad = history(vec![write(1000, "node-1", 1, true), read(2100, 2101, "node-2", 0)]);
        let verdict = cache_staleness(&bad, BOUNDS, 0, 3_000_000);
        assert!(!verdict.passed() && verdict.evidence.len() == 2, "{}", verdict.explanation);
        assert!(verdict.explanation.contains("got version 0") && verdict.explanation.contains("version 1"));
    }

    #[test]
    fn an_unpublished_write_is_excused_until_the_entry_ttl() {
        let ok = history(vec![write(1000, "node-1", 1, false), read(9000, 9001, "node-2", 0)]);
        assert!(cache_staleness(&ok, BOUNDS, 0, 12_000_000).passed());
        let bad = history(vec![write(1000, "node-1", 1, false), read(11_500, 11_501, "node-2", 0)]);
        assert!(!cache_staleness(&bad, BOUNDS, 0, 12_000_000).passed());
    }

    #[test]
    fn a_newer_version_than_the_due_write_is_fine() {
        let ok = history(vec![
            write(1000, "node-1", 1, true),
            write(1500, "node-3", 2, true),
            read(2100, 2101, "node-2", 2),
        ]);
        assert!(cache_staleness(&ok, BOUNDS, 0, 3_000_000).passed());
    }

    #[test]
    fn a_node_up_at_the_end_that_never_reads_again_did_not_converge() {
        let mut events = vec![ev(0, "node-2", 1, EventKind::ElectionStarted), write(1000, "node-1", 1, true)];
        events.push(read(500, 501, "node-2", 0));
        let verdict = cache_staleness(&history(events.clone()), BOUNDS, 2_000_000, 20_000_000);
        assert!(!verdict.passed() && verdict.explanation.contains("node-2"), "{}", verdict.explanation);
        events.push(read(13_000, 13_001, "node-2", 1));
        assert!(cache_staleness(&history(events), BOUNDS, 2_000_000, 20_000_000).passed());
    }

    #[test]
    fn a_stale_entry_from_a_fill_that_raced_the_write_is_named_so() {
        // node-2's source read began before version 1 was written and returned version 0
        // after it; the entry it filled was then served from memory.
        let fill = ev(
            1200,
            "node-2",
            1,
            EventKind::CacheRead { key: "k".into(), version: 0, started_us: 900_000, hit: false },
        );
        let bad = history(vec![write(1000, "node-1", 1, true), fill, read(2100, 2101, "node-2", 0)]);
        let verdict = cache_staleness(&bad, BOUNDS, 0, 3_000_000);
        assert!(!verdict.passed());
        assert!(verdict.explanation.contains("a fill that raced the write"), "{}", verdict.explanation);
        // Without the racing fill the old sentence stays.
        let bad = history(vec![write(1000, "node-1", 1, true), read(2100, 2101, "node-2", 0)]);
        assert!(!cache_staleness(&bad, BOUNDS, 0, 3_000_000).explanation.contains("raced the write"));
    }
}
