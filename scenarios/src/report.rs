//! `splitbrain report FILE --html OUT`: a run as a self-contained HTML timeline.
//!
//! One page, no scripts, no fonts or styles from the network: inline CSS and SVG. At the top
//! the verdict; then the whole run, and a second timeline zoomed on the violation's evidence.
//! Each node has a lane: believed leadership as bars coloured by epoch, the node down, paused,
//! cut off or on a skewed clock as shaded spans, fenced writes and cache reads and writes as
//! marks; the violation's events are circled in red and its window is banded. Every shape has a
//! tooltip (`<title>`) with the exact times.

use std::collections::BTreeMap;
use std::fmt::Write;

use sim::check::{at, History, Outcome as Decided, Term, Verdict};
use sim::{trace_hash, Event, EventKind, Fault, FaultKind, NodeId};

use crate::cause::Cause;
use crate::failure::FailureFile;
use crate::lease_op::{Effect, LeaseOp};
use crate::Outcome;

/// Plot width in pixels (the labels' column comes on top).
const PLOT_W: f64 = 1160.0;
/// The labels' column.
const LABEL_W: f64 = 120.0;
/// One node's lane.
const LANE_H: f64 = 54.0;
/// The fault row, the Redis lane, the axis.
const ROW_H: f64 = 26.0;

/// What a page shows besides the history itself: its title, a line of facts, how to get
/// it again, and the lease key whose operations explain a second leader.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// `chaos-pauses under 0x2a`, or the history file's name.
    pub title: String,
    /// Facts for the line under the title (`mutant plain-del-release`, `splitbrain 0.1.0`).
    pub facts: Vec<String>,
    /// The command that brings this page's run back, if there is one.
    pub replay: Option<String>,
    /// The lease key.
    pub lease_key: &'a str,
}

impl Page<'_> {
    /// The page for a failure file's replay.
    pub fn of_failure<'a>(file: &'a FailureFile, path: &str) -> Page<'a> {
        let mut facts: Vec<String> = file.mutant.iter().map(|m| format!("mutant <b>{}</b>", esc(m))).collect();
        facts.push(format!("splitbrain {}", esc(&file.version)));
        Page {
            title: format!("{} under {}", file.scenario, file.seed),
            facts,
            replay: Some(format!("cargo run --release -p splitbrain-scenarios -- replay {path}")),
            lease_key: crate::find(&file.scenario).map(|s| s.key).unwrap_or("leader"),
        }
    }
}

/// The page for `file`'s replay `outcome`.
pub fn html(file: &FailureFile, path: &str, outcome: &Outcome) -> String {
    page(&Page::of_failure(file, path), &outcome.history, &outcome.verdicts)
}

/// A page for `history` and its `verdicts`.
pub fn page(meta: &Page<'_>, history: &History, verdicts: &[Verdict]) -> String {
    let run = history;
    let violated = verdicts.iter().find(|v| v.outcome == Decided::Violated);
    let evidence: Vec<&Event> = violated.map(|v| v.evidence.iter().collect()).unwrap_or_default();
    let spans = Spans::of(run);
    let terms = sim::check::terms(&run.events);
    // The lease operations serve the cause and the zoomed view's marks alike.
    let ops = crate::lease_op::lease_ops(&run.events, meta.lease_key);
    let cause = violated.and_then(|v| crate::cause::second_leader(&ops, &v.evidence));
    let band = band(&terms, &evidence);
    let mut page = String::new();
    head(&mut page, meta, history);
    verdicts_section(&mut page, verdicts, violated, cause.as_ref(), meta);
    let lanes = Lanes::of(run, &terms, &spans);
    page.push_str("<h2>The whole run</h2>\n");
    let marks = Marks { terms: &terms, evidence: &evidence, band, ops: &[] };
    page.push_str(&timeline(run, &lanes, &spans, &marks, (0, run.end_us())));
    if let (Some(first), Some(last)) = (evidence.iter().map(|e| e.at_us).min(), evidence.iter().map(|e| e.at_us).max())
    {
        // The evidence and what caused it, with room either side: a quarter of their length,
        // at least 1 s.
        let first = cause.as_ref().and_then(|c| c.ops().first().map(|op| op.sent_us)).map_or(first, |s| s.min(first));
        let margin = ((last - first) / 4).max(1_000_000);
        let window = (first.saturating_sub(margin), (last + margin).min(run.end_us()));
        let _ = writeln!(page, "<h2>The violation, from {} to {}</h2>", at(window.0), at(window.1));
        let marks = Marks { ops: &ops, ..marks };
        page.push_str(&timeline(run, &lanes, &spans, &marks, window));
        page.push_str(&evidence_table(&evidence, cause.as_ref()));
    }
    page.push_str(LEGEND);
    faults_table(&mut page, history);
    page.push_str("</table>\n</body></html>\n");
    page
}

/// The document's head, the title and the line of facts.
fn head(page: &mut String, meta: &Page<'_>, history: &History) {
    let _ = writeln!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>splitbrain: {}</title>\n<style>{CSS}</style></head><body>",
        esc(&meta.title)
    );
    let _ = write!(page, "<h1>{}</h1>\n<p class=\"meta\">", esc(&meta.title));
    for fact in &meta.facts[..meta.facts.len().saturating_sub(1)] {
        let _ = write!(page, "{fact} · ");
    }
    let injected = history.events.iter().filter(|e| matches!(e.kind, EventKind::FaultInjected { .. })).count();
    let _ = writeln!(
        page,
        "trace hash {:016x} · {injected} faults · {} events{}</p>",
        trace_hash(&history.events),
        history.events.len(),
        meta.facts.last().map(|f| format!(" · {f}")).unwrap_or_default()
    );
}

/// The verdict that failed (or that all held), the second leader's cause, the others.
fn verdicts_section(
    page: &mut String,
    verdicts: &[Verdict],
    violated: Option<&Verdict>,
    cause: Option<&Cause>,
    meta: &Page<'_>,
) {
    match violated {
        Some(v) => {
            let _ = writeln!(
                page,
                "<div class=\"verdict bad\"><b>{} violated.</b> {}</div>",
                esc(&format!("{:?}", v.property)),
                esc(&v.explanation)
            );
        }
        None => page.push_str("<div class=\"verdict good\"><b>Every property held.</b></div>\n"),
    }
    if let Some(cause) = cause {
        let _ = writeln!(
            page,
            "<div class=\"cause\"><b>What let the second leader in:</b> {}</div>",
            esc(&cause.sentence())
        );
    }
    for v in verdicts.iter().filter(|v| Some(*v) != violated) {
        let _ = writeln!(
            page,
            "<p class=\"other\">{} {:?}: {}</p>",
            format!("{:?}", v.outcome).to_lowercase(),
            v.property,
            esc(&v.explanation)
        );
    }
    if let Some(replay) = &meta.replay {
        let _ = writeln!(page, "<p class=\"meta\">again: <code>{}</code></p>", esc(replay));
    }
}

/// The faults as they were injected, with the nodes each hit.
fn faults_table(page: &mut String, history: &History) {
    page.push_str(
        "<h2>Faults injected</h2>\n<table class=\"evidence\"><tr><th>start</th><th>length</th><th>fault</th></tr>\n",
    );
    for e in &history.events {
        let EventKind::FaultInjected { fault, nodes, .. } = &e.kind else { continue };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{:.3} s</td><td><code>{}</code></td></tr>",
            at(e.at_us),
            fault.duration_ms as f64 / 1000.0,
            esc(&fault.describe(nodes))
        );
    }
}

/// The lanes, top to bottom: every node that ran, in name order of first appearance.
struct Lanes {
    nodes: Vec<NodeId>,
    /// Rows above the first node: the faults' rows, then believed leaders, then Redis.
    fault_rows: usize,
}

impl Lanes {
    fn of(run: &History, terms: &[Term], spans: &Spans) -> Lanes {
        let mut nodes = run.header.nodes.clone();
        let started = run.events.iter().filter(|e| e.kind == EventKind::ElectionStarted).map(|e| &e.node);
        for node in started.chain(terms.iter().map(|t| &t.acquired.node)) {
            if !nodes.contains(node) {
                nodes.push(node.clone());
            }
        }
        Lanes { nodes, fault_rows: spans.fault_rows }
    }

    fn leaders_y(&self) -> f64 {
        self.fault_rows as f64 * ROW_H
    }

    fn redis_y(&self) -> f64 {
        self.leaders_y() + ROW_H
    }

    fn y(&self, node: &str) -> Option<f64> {
        let i = self.nodes.iter().position(|n| n == node)?;
        Some(self.redis_y() + ROW_H + i as f64 * LANE_H)
    }

    fn height(&self) -> f64 {
        self.redis_y() + ROW_H + self.nodes.len() as f64 * LANE_H + ROW_H + 4.0
    }
}

/// What shades a lane.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Shade {
    Down,
    Paused,
    CutOff,
    Slow,
    Clock,
}

impl Shade {
    fn class(self) -> &'static str {
        match self {
            Shade::Down => "down",
            Shade::Paused => "paused",
            Shade::CutOff => "cut",
            Shade::Slow => "slow",
            Shade::Clock => "clock",
        }
    }
}

/// The shaded spans of every node, the fault row's bars and Redis's own faults.
struct Spans {
    /// Per node: (from, until, kind, label).
    nodes: BTreeMap<String, Vec<(u64, u64, Shade, String)>>,
    /// Every fault: (from, until, label, row), packed into rows so none overlap.
    faults: Vec<(u64, u64, String, usize)>,
    /// How many fault rows.
    fault_rows: usize,
    /// Redis: (from, until, label); instantaneous ones have from == until.
    redis: Vec<(u64, u64, String)>,
}

impl Spans {
    fn of(run: &History) -> Spans {
        let mut spans = Spans { nodes: BTreeMap::new(), faults: Vec::new(), fault_rows: 1, redis: Vec::new() };
        let mut open_faults: Vec<(u64, &Fault, &Vec<NodeId>, u64)> = Vec::new();
        let mut down: BTreeMap<&str, u64> = BTreeMap::new();
        let mut paused: BTreeMap<&str, u64> = BTreeMap::new();
        for e in &run.events {
            match &e.kind {
                EventKind::Crashed | EventKind::Exited => {
                    down.entry(&e.node).or_insert(e.at_us);
                }
                EventKind::ElectionStarted => {
                    if let Some(from) = down.remove(e.node.as_str()) {
                        spans.add(&e.node, from, e.at_us, Shade::Down, "down".into());
                    }
                }
                EventKind::Paused => {
                    paused.insert(&e.node, e.at_us);
                }
                EventKind::Resumed => {
                    if let Some(from) = paused.remove(e.node.as_str()) {
                        spans.add(&e.node, from, e.at_us, Shade::Paused, "paused".into());
                    }
                }
                EventKind::FaultInjected { id, fault, nodes } => open_faults.push((*id, fault, nodes, e.at_us)),
                EventKind::FaultHealed { id } => {
                    if let Some(i) = open_faults.iter().position(|(open, ..)| open == id) {
                        let (_, fault, nodes, from) = open_faults.remove(i);
                        spans.fault(fault, nodes, from, e.at_us);
                    }
                }
                _ => {}
            }
        }
        // What is still open at the end lasts to the end; instantaneous faults have no heal.
        for (_, fault, nodes, from) in open_faults {
            spans.fault(fault, nodes, from, run.end_us());
        }
        for (node, from) in down {
            spans.add(node, from, run.end_us(), Shade::Down, "down".into());
        }
        for (node, from) in paused {
            spans.add(node, from, run.end_us(), Shade::Paused, "paused".into());
        }
        spans.pack();
        spans
    }

    /// Puts each fault, in order of start, in the first row free at its start.
    fn pack(&mut self) {
        self.faults.sort_by_key(|f| (f.0, f.1));
        let mut free_from: Vec<u64> = Vec::new();
        for fault in &mut self.faults {
            let row = free_from.iter().position(|free| *free <= fault.0).unwrap_or(free_from.len());
            if row == free_from.len() {
                free_from.push(0);
            }
            free_from[row] = fault.1 + 1;
            fault.3 = row;
        }
        self.fault_rows = free_from.len().max(1);
    }

    fn add(&mut self, node: &str, from: u64, until: u64, shade: Shade, label: String) {
        self.nodes.entry(node.to_owned()).or_default().push((from, until, shade, label));
    }

    /// A fault, from its history form `<fault JSON> on [node, ...]`.
    fn fault(&mut self, fault: &Fault, nodes: &[NodeId], from: u64, until: u64) {
        let nodes: Vec<&str> = nodes.iter().map(NodeId::as_str).collect();
        let name = fault.kind.name();
        let on = if nodes.is_empty() { String::new() } else { format!(" {}", nodes.join(", ")) };
        shade_fault(self, fault, &nodes, from, until);
        self.faults.push((from, until, format!("{name}{on}"), 0));
    }
}

/// Shades the nodes (or Redis) a fault touches.
fn shade_fault(spans: &mut Spans, fault: &Fault, nodes: &[&str], from: u64, until: u64) {
    let shade = match &fault.kind {
        FaultKind::PartitionRedis { .. } => Some((Shade::CutOff, "cut off from Redis".to_owned())),
        FaultKind::PartitionNodes { .. } => Some((Shade::CutOff, format!("partitioned {}", nodes.join(" | ")))),
        FaultKind::PartitionOneWay { .. } => Some((Shade::CutOff, format!("one-way {}", nodes.join(" → ")))),
        FaultKind::Isolate { .. } | FaultKind::IsolateSet { .. } => Some((Shade::CutOff, "isolated".to_owned())),
        FaultKind::Hold { .. } => Some((Shade::CutOff, "packets held".to_owned())),
        FaultKind::Loss { rate, .. } => Some((Shade::Slow, format!("{:.0} % loss", rate * 100.0))),
        FaultKind::Latency { latency_ms, .. } => Some((Shade::Slow, format!("+{latency_ms} ms latency"))),
        FaultKind::LateReply { delay_ms, .. } => Some((Shade::Slow, format!("next reply +{delay_ms} ms"))),
        FaultKind::PartitionSource { .. } => Some((Shade::CutOff, "cut off from the source".to_owned())),
        FaultKind::SourceHold { .. } => Some((Shade::CutOff, "source packets held".to_owned())),
        FaultKind::SourceLoss { rate, .. } => Some((Shade::Slow, format!("{:.0} % source loss", rate * 100.0))),
        FaultKind::SourceLatency { latency_ms, .. } => Some((Shade::Slow, format!("+{latency_ms} ms to the source"))),
        FaultKind::SourceLateReply { delay_ms, .. } => Some((Shade::Slow, format!("next source reply +{delay_ms} ms"))),
        FaultKind::ClockDrift { drift_ppm, .. } => Some((Shade::Clock, format!("clock {}", drift(*drift_ppm)))),
        FaultKind::ClockJump { jump_ms, .. } => {
            Some((Shade::Clock, format!("clock jumps {:+.3} s", *jump_ms as f64 / 1000.0)))
        }
        _ => None,
    };
    match (&fault.kind, shade) {
        // A partition shades both its ends when both are nodes.
        (_, Some((shade, label))) => {
            let instant = matches!(fault.kind, FaultKind::ClockJump { .. });
            for node in nodes.iter().filter(|n| **n != sim::REDIS_HOST) {
                // A jump is an instant (drawn as a thin mark, labelled with its size).
                let until = if instant { from + 1 } else { until };
                spans.add(node, from, until, shade, label.clone());
            }
        }
        (FaultKind::RedisRestart { persistence }, None) => {
            let how = persistence.map(|p| format!(" ({})", String::from(p))).unwrap_or_default();
            spans.redis.push((from, from, format!("restart{how}")));
        }
        (FaultKind::RedisDropConnections, None) => spans.redis.push((from, from, "connections dropped".into())),
        (FaultKind::RedisSlow { delay_ms }, None) => spans.redis.push((from, until, format!("slow +{delay_ms} ms"))),
        (FaultKind::RedisClockJump { jump_ms }, None) => {
            spans.redis.push((from, from, format!("clock jumps {:+.3} s", *jump_ms as f64 / 1000.0)))
        }
        (FaultKind::RedisClockDrift { drift_ppm }, None) => {
            spans.redis.push((from, until, format!("clock {}", drift(*drift_ppm))))
        }
        _ => {}
    }
}

/// `2.50 % fast` or `4.92 % slow`.
fn drift(ppm: i64) -> String {
    let how = if ppm < 0 { "slow" } else { "fast" };
    format!("{:.2} % {how}", ppm.unsigned_abs() as f64 / 10_000.0)
}

/// A colour per epoch: hues a golden angle apart, so neighbours differ.
fn epoch_colour(epoch: u64) -> String {
    format!("hsl({:.0},62%,48%)", (epoch as f64 * 137.508) % 360.0)
}

/// What a timeline marks beyond the run itself.
#[derive(Clone, Copy)]
struct Marks<'a> {
    terms: &'a [Term],
    evidence: &'a [&'a Event],
    /// The violation's window: the overlap of two terms, or the evidence's span.
    band: Option<(u64, u64)>,
    /// Lease operations to mark (the zoomed view only).
    ops: &'a [LeaseOp],
}

/// The violation's window: where the evidence's terms overlap, else from its first event to
/// its last.
fn band(terms: &[Term], evidence: &[&Event]) -> Option<(u64, u64)> {
    let theirs: Vec<&Term> = terms.iter().filter(|t| evidence.iter().any(|e| e.seq == t.acquired.seq)).collect();
    if let [a, b, ..] = theirs[..] {
        let (from, until) = (a.from_us.max(b.from_us), a.until_us.min(b.until_us));
        if from < until {
            return Some((from, until));
        }
    }
    Some((evidence.iter().map(|e| e.at_us).min()?, evidence.iter().map(|e| e.at_us).max()?))
}

/// The evidence in words, then the lease operations that caused it.
fn evidence_table(evidence: &[&Event], cause: Option<&Cause>) -> String {
    let mut table =
        "<h2>The evidence</h2>\n<table class=\"evidence\"><tr><th>time</th><th>who</th><th>what</th></tr>\n".to_owned();
    let mut rows: Vec<(u64, String, String)> =
        evidence.iter().map(|e| (e.at_us, sim::check::who(e), event_words(&e.kind))).collect();
    for op in cause.map(Cause::ops).unwrap_or_default() {
        let reply = op.reply.as_deref().map_or("no reply".to_owned(), |r| format!("answered {r}"));
        let role = match op.effect {
            Effect::Removed => " — removed the lease",
            Effect::Granted => " — took the lease",
            Effect::Extended => " — kept the lease alive",
            Effect::Nothing => "",
        };
        rows.push((op.sent_us, op.who.clone(), format!("sent {}, {reply}{role}", op.command)));
    }
    rows.sort_by_key(|r| r.0);
    for (at_us, who, what) in rows {
        let _ = writeln!(table, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", at(at_us), esc(&who), esc(&what));
    }
    table.push_str("</table>\n");
    table
}

/// An event in words, for the evidence table (the exact JSON is in the tooltip's file).
fn event_words(kind: &EventKind) -> String {
    let until = |deadline_true_us: &u64| format!("until {}", at(*deadline_true_us));
    match kind {
        EventKind::Acquired { epoch, deadline_true_us, .. } => {
            format!("acquired the lease with epoch {epoch}, believing {}", until(deadline_true_us))
        }
        EventKind::Renewed { epoch, deadline_true_us, .. } => {
            format!("renewed epoch {epoch}, believing {}", until(deadline_true_us))
        }
        EventKind::Believes { epoch, deadline_true_us, .. } => {
            format!("believes it leads with epoch {epoch} {}", until(deadline_true_us))
        }
        EventKind::Released { epoch } => format!("released epoch {epoch}"),
        EventKind::SteppedDown { epoch, reason } => format!("stepped down from epoch {epoch}: {reason}"),
        EventKind::FencedWrite { epoch, accepted, value, .. } => {
            format!("fenced write {value:?} with epoch {epoch}: {}", if *accepted { "accepted" } else { "rejected" })
        }
        other => describe(other),
    }
}

/// One SVG timeline of `window` (µs).
fn timeline(run: &History, lanes: &Lanes, spans: &Spans, marks: &Marks<'_>, window: (u64, u64)) -> String {
    let sc = Scale::new(window);
    let height = lanes.height();
    let axis_y = height - ROW_H + 4.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\">",
        w = LABEL_W + PLOT_W + 10.0
    );
    lane_backgrounds(&mut svg, lanes);
    time_grid(&mut svg, &sc, axis_y);
    violation_band(&mut svg, &sc, marks.band, axis_y);
    fault_row(&mut svg, &sc, spans);
    leaders_row(&mut svg, &sc, lanes, marks.terms, run.end_us());
    redis_row(&mut svg, &sc, lanes, spans);
    node_shading(&mut svg, &sc, lanes, spans);
    term_bars(&mut svg, &sc, lanes, marks.terms);
    event_marks(&mut svg, &sc, lanes, run);
    lease_marks(&mut svg, lanes, marks.ops, &|us| sc.x(us), &|from, until| sc.visible(from, until));
    evidence_marks(&mut svg, &sc, lanes, marks.evidence);
    let _ = writeln!(
        svg,
        "<line class=\"axis\" x1=\"{LABEL_W}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\"/>",
        LABEL_W + PLOT_W
    );
    svg.push_str("</svg>\n");
    svg
}

/// A timeline's window and its mapping from true time to the plot's x.
struct Scale {
    t0: u64,
    t1: u64,
    span: f64,
}

impl Scale {
    fn new((t0, t1): (u64, u64)) -> Scale {
        assert!(t0 <= t1, "a window runs forward");
        Scale { t0, t1, span: (t1 - t0).max(1) as f64 }
    }

    fn x(&self, us: u64) -> f64 {
        LABEL_W + (us.clamp(self.t0, self.t1) - self.t0) as f64 / self.span * PLOT_W
    }

    fn visible(&self, from: u64, until: u64) -> bool {
        until >= self.t0 && from <= self.t1
    }
}

/// The rows' and lanes' labels and backgrounds.
fn lane_backgrounds(svg: &mut String, lanes: &Lanes) {
    let _ = writeln!(svg, "<text class=\"label\" x=\"4\" y=\"{}\">faults</text>", ROW_H * 0.65);
    let _ = writeln!(svg, "<text class=\"label\" x=\"4\" y=\"{}\">leaders</text>", lanes.leaders_y() + ROW_H * 0.65);
    let _ = writeln!(svg, "<text class=\"label\" x=\"4\" y=\"{}\">redis</text>", lanes.redis_y() + ROW_H * 0.65);
    for (i, node) in lanes.nodes.iter().enumerate() {
        let y = lanes.y(node).unwrap_or(0.0);
        let class = if i % 2 == 0 { "lane" } else { "lane odd" };
        let _ =
            writeln!(svg, "<rect class=\"{class}\" x=\"{LABEL_W}\" y=\"{y}\" width=\"{PLOT_W}\" height=\"{LANE_H}\"/>");
        let _ = writeln!(svg, "<text class=\"label\" x=\"4\" y=\"{}\">{}</text>", y + LANE_H / 2.0 + 4.0, esc(node));
    }
}

/// The time grid, a line per tick with its label.
fn time_grid(svg: &mut String, sc: &Scale, axis_y: f64) {
    let step = tick_step(sc.span / 1e6);
    let mut tick = (sc.t0 as f64 / 1e6 / step).ceil() * step;
    while tick * 1e6 <= sc.t1 as f64 {
        let tx = sc.x((tick * 1e6) as u64);
        let _ = writeln!(svg, "<line class=\"grid\" x1=\"{tx:.1}\" y1=\"0\" x2=\"{tx:.1}\" y2=\"{axis_y}\"/>");
        let label = if step < 1.0 { format!("{tick:.1} s") } else { format!("{tick:.0} s") };
        let _ = writeln!(svg, "<text class=\"tick\" x=\"{tx:.1}\" y=\"{}\">{label}</text>", axis_y + 14.0);
        tick += step;
    }
}

/// The violation's window, banded.
fn violation_band(svg: &mut String, sc: &Scale, band: Option<(u64, u64)>, axis_y: f64) {
    if let Some((first, last)) = band {
        if sc.visible(first, last) {
            let (a, b) = (sc.x(first), sc.x(last).max(sc.x(first) + 2.0));
            let _ = writeln!(
                svg,
                "<rect class=\"violation\" x=\"{a:.1}\" y=\"0\" width=\"{:.1}\" height=\"{axis_y}\"><title>the violation: {} to {}</title></rect>",
                b - a,
                at(first),
                at(last)
            );
        }
    }
}

/// The faults row: each fault a bar with its kind and targets.
fn fault_row(svg: &mut String, sc: &Scale, spans: &Spans) {
    for (from, until, label, row) in spans.faults.iter().filter(|(f, u, _, _)| sc.visible(*f, *u)) {
        let (a, b) = (sc.x(*from), sc.x(*until).max(sc.x(*from) + 3.0));
        let y = *row as f64 * ROW_H;
        let _ = writeln!(
            svg,
            "<rect class=\"fault\" x=\"{a:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\"><title>{}: {} to {}</title></rect>",
            y + 4.0,
            b - a,
            ROW_H - 8.0,
            esc(label),
            at(*from),
            at(*until)
        );
        if b - a > 60.0 {
            let _ = writeln!(
                svg,
                "<text class=\"in\" x=\"{:.1}\" y=\"{}\">{}</text>",
                a + 3.0,
                y + ROW_H - 9.0,
                esc(&clip(label, b - a))
            );
        }
    }
}

/// How many nodes believe they lead: none, one, or (red) more.
fn leaders_row(svg: &mut String, sc: &Scale, lanes: &Lanes, terms: &[Term], end_us: u64) {
    for (from, until, leaders) in believed(terms, end_us).into_iter().filter(|(f, u, _)| sc.visible(*f, *u)) {
        let (a, b) = (sc.x(from), sc.x(until).max(sc.x(from) + 1.0));
        let class = match leaders.len() {
            0 => "none",
            1 => "one",
            _ => "many",
        };
        let who = if leaders.is_empty() { "no leader".to_owned() } else { leaders.join(" and ") };
        let _ = writeln!(
            svg,
            "<rect class=\"{class}\" x=\"{a:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\"><title>{}: {} to {}</title></rect>",
            lanes.leaders_y() + 5.0,
            b - a,
            ROW_H - 10.0,
            esc(&who),
            at(from),
            at(until)
        );
    }
}

/// The Redis row: restarts, dropped connections, slow commands, clock faults.
fn redis_row(svg: &mut String, sc: &Scale, lanes: &Lanes, spans: &Spans) {
    for (from, until, label) in spans.redis.iter().filter(|(f, u, _)| sc.visible(*f, *u)) {
        let (a, b) = (sc.x(*from), sc.x(*until));
        let y = lanes.redis_y();
        if until > from {
            let _ = writeln!(
                svg,
                "<rect class=\"slow\" x=\"{a:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\"><title>redis {}: {} to {}</title></rect>",
                y + 4.0,
                (b - a).max(2.0),
                ROW_H - 8.0,
                esc(label),
                at(*from),
                at(*until)
            );
        } else {
            let _ = writeln!(
                svg,
                "<path class=\"restart\" d=\"M{a:.1} {} l-5 -9 h10 z\"><title>redis {}: {}</title></path>",
                y + ROW_H - 4.0,
                esc(label),
                at(*from)
            );
            let _ = writeln!(
                svg,
                "<text class=\"note\" x=\"{:.1}\" y=\"{}\">{}</text>",
                a + 7.0,
                y + ROW_H - 8.0,
                esc(label)
            );
        }
    }
}

/// Each node down, paused, cut off, slowed or on a skewed clock, shaded.
fn node_shading(svg: &mut String, sc: &Scale, lanes: &Lanes, spans: &Spans) {
    for (node, shaded) in &spans.nodes {
        let Some(y) = lanes.y(node) else { continue };
        let mut shaded: Vec<_> = shaded.iter().filter(|(f, u, _, _)| sc.visible(*f, *u)).collect();
        shaded.sort_by_key(|(f, _, s, _)| (*s, *f));
        for (from, until, shade, label) in shaded {
            let (a, b) = (sc.x(*from), sc.x(*until).max(sc.x(*from) + 2.0));
            let _ = writeln!(
                svg,
                "<rect class=\"{}\" x=\"{a:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\"><title>{} {}: {} to {}</title></rect>",
                shade.class(),
                y + 1.0,
                b - a,
                LANE_H - 2.0,
                esc(node),
                esc(label),
                at(*from),
                at(*until)
            );
            if b - a > 50.0 && *shade != Shade::Down {
                let _ = writeln!(
                    svg,
                    "<text class=\"note\" x=\"{:.1}\" y=\"{}\">{}</text>",
                    a + 3.0,
                    y + 11.0,
                    esc(&clip(label, b - a))
                );
            }
        }
    }
}

/// Terms: believed leadership, coloured by epoch.
fn term_bars(svg: &mut String, sc: &Scale, lanes: &Lanes, terms: &[Term]) {
    for term in terms.iter().filter(|t| sc.visible(t.from_us, t.until_us)) {
        let Some(y) = lanes.y(&term.acquired.node) else { continue };
        let (a, b) = (sc.x(term.from_us), sc.x(term.until_us).max(sc.x(term.from_us) + 2.0));
        let ended = match &term.ended_by {
            Some(e) => describe(&e.kind),
            None => "its local deadline passed".into(),
        };
        let _ = writeln!(
            svg,
            "<rect class=\"term\" x=\"{a:.1}\" y=\"{}\" width=\"{:.1}\" height=\"16\" fill=\"{}\"><title>{} leads with epoch {} from {} to {}; ended by {}</title></rect>",
            y + 18.0,
            b - a,
            epoch_colour(term.epoch),
            esc(&term.holder()),
            term.epoch,
            at(term.from_us),
            at(term.until_us),
            esc(&ended)
        );
        if b - a > 26.0 {
            let _ =
                writeln!(svg, "<text class=\"epoch\" x=\"{:.1}\" y=\"{}\">e{}</text>", a + 5.0, y + 30.0, term.epoch);
        }
    }
}

/// Fenced writes above the bar, cache reads and writes below it.
fn event_marks(svg: &mut String, sc: &Scale, lanes: &Lanes, run: &History) {
    for e in run.events.iter().filter(|e| sc.visible(e.at_us, e.at_us)) {
        let Some(y) = lanes.y(&e.node) else { continue };
        let ex = sc.x(e.at_us);
        match &e.kind {
            EventKind::FencedWrite { epoch, accepted, value, sent_us, .. } => {
                let (class, what) = if *accepted { ("write", "accepted") } else { ("write rejected", "rejected") };
                let _ = writeln!(
                    svg,
                    "<path class=\"{class}\" d=\"M{ex:.1} {} l-4 -7 h8 z\" fill=\"{}\"><title>{} fenced write {} with epoch {epoch}, sent {} , {what} {}</title></path>",
                    y + 17.0,
                    epoch_colour(*epoch),
                    esc(&sim::check::who(e)),
                    esc(value),
                    at(*sent_us),
                    at(e.at_us)
                );
            }
            EventKind::CacheRead { key, version, .. } | EventKind::CacheWrite { key, version, .. } => {
                let write = matches!(e.kind, EventKind::CacheWrite { .. });
                let (class, what) = if write { ("cachewrite", "committed") } else { ("cacheread", "read") };
                let _ = writeln!(
                    svg,
                    "<circle class=\"{class}\" cx=\"{ex:.1}\" cy=\"{}\" r=\"3\"><title>{} {what} {} version {version} at {}</title></circle>",
                    y + 42.0,
                    esc(&sim::check::who(e)),
                    esc(key),
                    at(e.at_us)
                );
            }
            _ => {}
        }
    }
}

/// The evidence: a red stroke through the lane and a ring under the bar, clear of the epoch
/// label (drawn from 5 px right of the bar's start).
fn evidence_marks(svg: &mut String, sc: &Scale, lanes: &Lanes, evidence: &[&Event]) {
    // epoch label (drawn from 5 px right of the bar's start).
    for e in evidence.iter().filter(|e| sc.visible(e.at_us, e.at_us)) {
        let (ex, y) = (sc.x(e.at_us), lanes.y(&e.node).unwrap_or(0.0));
        let _ = writeln!(
            svg,
            "<g class=\"evidence\"><line x1=\"{ex:.1}\" y1=\"{:.1}\" x2=\"{ex:.1}\" y2=\"{:.1}\"/><circle cx=\"{ex:.1}\" cy=\"{:.1}\" r=\"4\"/><title>evidence: {} {} at {}</title></g>",
            y + 2.0,
            y + LANE_H - 2.0,
            y + LANE_H - 8.0,
            esc(&sim::check::who(e)),
            esc(&event_words(&e.kind)),
            at(e.at_us)
        );
    }
}

/// Lease operations as marks at the top of each sender's lane: a square for a grant, a dot
/// for a renewal, a red cross for a removal, a small tick for the rest; the name of the
/// command beside the mark when there is room before the lane's next one.
fn lease_marks(
    svg: &mut String,
    lanes: &Lanes,
    ops: &[LeaseOp],
    x: &dyn Fn(u64) -> f64,
    visible: &dyn Fn(u64, u64) -> bool,
) {
    let shown: Vec<&LeaseOp> = ops.iter().filter(|op| visible(op.sent_us, op.sent_us)).collect();
    for (i, op) in shown.iter().enumerate() {
        let Some(y) = lanes.y(&op.node) else { continue };
        let (ox, my) = (x(op.sent_us), y + 9.0);
        let reply = op.reply.as_deref().map_or("no reply".to_owned(), |r| format!("answered {r}"));
        let title = format!("{} sent {} at {}, {reply}", op.who, op.command, at(op.sent_us));
        let (class, shape) = match op.effect {
            Effect::Granted => {
                ("op granted", format!("<rect x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\"/>", ox - 3.5, my - 3.5))
            }
            Effect::Extended => ("op extended", format!("<circle cx=\"{ox:.1}\" cy=\"{my:.1}\" r=\"3\"/>")),
            Effect::Removed => {
                ("op removed", format!("<path d=\"M{:.1} {:.1} l8 8 m0 -8 l-8 8\"/>", ox - 4.0, my - 4.0))
            }
            Effect::Nothing => (
                "op other",
                format!("<line x1=\"{ox:.1}\" y1=\"{:.1}\" x2=\"{ox:.1}\" y2=\"{:.1}\"/>", my - 3.0, my + 3.0),
            ),
        };
        let _ = writeln!(svg, "<g class=\"{class}\">{shape}<title>{}</title></g>", esc(&title));
        let next = shown[i + 1..].iter().find(|o| o.node == op.node).map_or(LABEL_W + PLOT_W, |o| x(o.sent_us));
        let label = op.command.strip_prefix("EVALSHA ").unwrap_or(&op.command);
        if next - ox > 40.0 && op.effect != Effect::Nothing {
            let _ = writeln!(
                svg,
                "<text class=\"opname\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                ox + 6.0,
                my + 3.5,
                esc(&clip(label, next - ox - 8.0))
            );
        }
    }
}

/// The believed leaders over time: (from, until, holders) for each stretch between changes.
fn believed(terms: &[Term], end_us: u64) -> Vec<(u64, u64, Vec<String>)> {
    let mut cuts: Vec<u64> = terms.iter().flat_map(|t| [t.from_us, t.until_us]).chain([0, end_us]).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut stretches: Vec<(u64, u64, Vec<String>)> = Vec::new();
    for pair in cuts.windows(2) {
        let (from, until) = (pair[0], pair[1]);
        let holders: Vec<String> =
            terms.iter().filter(|t| t.covers(from)).map(|t| format!("{} (epoch {})", t.holder(), t.epoch)).collect();
        match stretches.last_mut() {
            Some(last) if last.2 == holders && last.1 == from => last.1 = until,
            _ => stretches.push((from, until, holders)),
        }
    }
    stretches
}

/// A grid step (seconds) giving about 10-20 ticks over `seconds`.
fn tick_step(seconds: f64) -> f64 {
    for step in [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0] {
        if seconds / step <= 20.0 {
            return step;
        }
    }
    1200.0
}

/// `label`, cut to what fits in `width` pixels.
fn clip(label: &str, width: f64) -> String {
    let fits = ((width - 6.0) / 6.2).max(1.0) as usize;
    if label.chars().count() <= fits {
        label.to_owned()
    } else {
        let cut: String = label.chars().take(fits.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// An event in one line.
fn describe(kind: &EventKind) -> String {
    serde_json::to_string(kind).unwrap_or_else(|_| format!("{kind:?}"))
}

/// HTML-escaped text.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1d2330;background:#fff}\
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 6px}\
.meta,.other{color:#5a6270;margin:2px 0;font-size:13px}\
.verdict{padding:10px 14px;border-radius:6px;margin:12px 0;max-width:1240px}\
.bad{background:#fde8e8;border:1px solid #e0a0a0}.good{background:#e6f5ea;border:1px solid #9fd0ad}\
code{font:12px ui-monospace,Menlo,Consolas,monospace}\
svg{display:block;overflow:visible}\
.lane{fill:#f6f7f9}.lane.odd{fill:#eef0f3}\
.label{font:600 13px system-ui,sans-serif;fill:#1d2330}\
.tick{font:11px system-ui,sans-serif;fill:#5a6270;text-anchor:middle}\
.grid{stroke:#d5d9e0;stroke-width:1}.axis{stroke:#5a6270}\
.fault{fill:#f2b36b;stroke:#c57d2a;stroke-width:.5;opacity:.85}\
.in,.note{font:10px system-ui,sans-serif;fill:#3a3f4a}\
.down{fill:#3a3f4a;opacity:.28}\
.paused{fill:#8a63d2;opacity:.30}\
.cut{fill:#f08a24;opacity:.25}\
.slow{fill:#e6c229;opacity:.30}\
.clock{fill:#2b8cc4;opacity:.25}\
.restart{fill:#c0392b}\
.term{stroke:#1d2330;stroke-width:.5}\
.epoch{font:600 10px system-ui,sans-serif;fill:#fff}\
.write{stroke:#1d2330;stroke-width:.6}.write.rejected{fill:#fff;stroke:#c0392b;stroke-width:1.5}\
.cacheread{fill:#2b8cc4}.cachewrite{fill:#1d2330}\
.violation{fill:#e53935;opacity:.12}\
.none{fill:#d5d9e0}.one{fill:#5cb85c}.many{fill:#e53935}\
.evidence line{stroke:#e53935;stroke-width:2}.evidence circle{fill:#fff;stroke:#e53935;stroke-width:2}\
.cause{padding:8px 14px;border-left:4px solid #e53935;background:#fff6f6;margin:8px 0;max-width:1240px}\
.op rect,.op circle{stroke:#1d2330;stroke-width:.6}.op.granted rect{fill:#2e7d32}.op.extended circle{fill:#7cb342}\
.op.removed path{stroke:#c62828;stroke-width:2.2}.op.other line{stroke:#8a909c;stroke-width:1}\
.opname{font:9px system-ui,sans-serif;fill:#3a3f4a}\
.legend span{display:inline-block;margin-right:16px;font-size:12px}\
.legend i{display:inline-block;width:14px;height:10px;margin-right:5px;vertical-align:middle;border-radius:2px}\
table.evidence{border-collapse:collapse;font-size:12px}table.evidence td,table.evidence th{border-bottom:1px solid #e3e6eb;padding:3px 10px;text-align:left;vertical-align:top}";

const LEGEND: &str = "<h2>Legend</h2><p class=\"legend\">\
<span><i style=\"background:hsl(137,62%,48%)\"></i>believed leadership (colour = epoch, label eN)</span>\
<span><i style=\"background:#3a3f4a;opacity:.4\"></i>down (crashed or stopped)</span>\
<span><i style=\"background:#8a63d2;opacity:.45\"></i>paused</span>\
<span><i style=\"background:#f08a24;opacity:.4\"></i>cut off (partition, isolation, held packets)</span>\
<span><i style=\"background:#e6c229;opacity:.45\"></i>slow (latency, loss, slow Redis)</span>\
<span><i style=\"background:#2b8cc4;opacity:.4\"></i>clock drift or jump</span>\
<span>▼ fenced write (hollow red: rejected)</span>\
<span>● cache read (blue) / committed write (black)</span>\
<span><i style=\"background:#5cb85c\"></i>one believed leader</span>\
<span><i style=\"background:#e53935\"></i>two or more (split brain)</span>\
<span><i style=\"background:#d5d9e0\"></i>none</span>\
<span><i style=\"background:#fff;border:2px solid #e53935\"></i>the violation's events (red stroke), and the overlap banded red</span>\
<span>zoomed view, top of each lane: ■ lease taken (SET NX, acquire) · ● kept alive (PEXPIRE, renew) · ✕ removed (DEL, release) · | other commands on the key</span>\
</p>\n<p class=\"meta\">Hover any shape for its exact times.</p>\n";
