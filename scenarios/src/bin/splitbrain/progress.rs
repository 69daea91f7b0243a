//! Progress of a long verb on stderr: an indicatif bar on a terminal (done/total or time
//! left, seeds per second, violations); a plain line every 30 s otherwise (CI logs).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How much work there is.
#[derive(Debug, Clone, Copy)]
pub enum Total {
    /// This many runs (or streams, or steps).
    Count(u64),
    /// As many runs as fit in this long.
    Time(Duration),
}

/// A progress display.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: Total,
    unit: &'static str,
    /// What the second count counts (`violation(s)`).
    counted: &'static str,
    started: Instant,
    last_line: Instant,
}

/// How often a line is printed when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(30);

impl Progress {
    /// A display of `total` work counted in `unit`s (`seeds`, `streams`, `runs`).
    pub fn new(total: Total, unit: &'static str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let (length, template) = match total {
                Total::Count(n) => (n, "{elapsed_precise} [{wide_bar}] {pos}/{len} {prefix} · eta {eta} · {msg}"),
                Total::Time(t) => (t.as_millis() as u64, "{elapsed_precise} [{wide_bar}] {eta} left · {msg}"),
            };
            let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
            bar.set_style(ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> "));
            bar.set_prefix(unit);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Progress { bar, total, unit, counted: "violation(s)", started: now, last_line: now }
    }

    /// The second count names something other than violations.
    pub fn counting(mut self, counted: &'static str) -> Progress {
        self.counted = counted;
        self
    }

    /// `done` units so far, with `violations` found.
    pub fn update(&mut self, done: u64, violations: u64) {
        let elapsed = self.started.elapsed();
        let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
        let words = format!("{rate:.1} {}/s · {violations} {}", self.unit, self.counted);
        match &self.bar {
            Some(bar) => {
                match self.total {
                    Total::Count(_) => bar.set_position(done),
                    Total::Time(t) => bar.set_position(elapsed.min(t).as_millis() as u64),
                }
                let counted = matches!(self.total, Total::Time(_)).then(|| format!("{done} {} · ", self.unit));
                bar.set_message(format!("{}{words}", counted.unwrap_or_default()));
            }
            None if self.last_line.elapsed() >= LINE_EVERY => {
                self.last_line = Instant::now();
                eprintln!("{}", self.line(done, violations));
            }
            None => {}
        }
    }

    fn line(&self, done: u64, violations: u64) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        let of = match self.total {
            Total::Count(n) => format!("{done}/{n}"),
            Total::Time(_) => done.to_string(),
        };
        let rate = done as f64 / elapsed.max(1e-9);
        format!("[{elapsed:6.1} s] {of} {}, {rate:.1} {}/s, {violations} {}", self.unit, self.unit, self.counted)
    }

    /// Prints `line` on stdout, above the bar.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    /// Prints `line` on stderr, above the bar.
    pub fn eprintln(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Clears the bar and prints the final line.
    pub fn finish(&self, done: u64, violations: u64) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!("{}", self.line(done, violations));
    }
}
