//! The limits on what enters the command line, each with its unit. The schedule's own
//! limits (faults, nodes, times, magnitudes) live with it in `sim::fault`.

use std::time::Duration;

/// At most this many worker threads (`--jobs`).
pub const JOBS_MAX: usize = 256;
/// At most this many seeds per scenario in one campaign, table or bench (`--seeds`).
pub const SEEDS_MAX: u64 = 1_000_000_000;
/// A campaign runs for at most this long (`--time`): thirty days.
pub const CAMPAIGN_TIME_MAX: Duration = Duration::from_secs(30 * 24 * 3600);
/// At most this many seed streams per mutant (`zoo --streams`).
pub const STREAMS_MAX: u64 = 10_000;
/// At most this many seeds per stream (`zoo --budget`).
pub const BUDGET_MAX: u64 = 1_000_000;
/// A failure file, history or report read from disk is at most this large.
pub const INPUT_FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// At most this many reports in one `merge`.
pub const REPORTS_MAX: usize = 10_000;

/// Reads a file of at most [`INPUT_FILE_BYTES_MAX`] as text; errors are one line.
pub fn read_input(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut text = String::new();
    // One byte past the limit tells a file at the limit from a larger one.
    file.take(INPUT_FILE_BYTES_MAX + 1).read_to_string(&mut text).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if text.len() as u64 > INPUT_FILE_BYTES_MAX {
        return Err(format!("{shown} is larger than the limit of {INPUT_FILE_BYTES_MAX} bytes"));
    }
    Ok(text)
}
