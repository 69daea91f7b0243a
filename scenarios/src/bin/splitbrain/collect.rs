//! The command's side of a pool: take results as they come, redraw progress, and honour
//! SIGINT/SIGTERM (first: no more work; second: abandon the work in flight).

use std::time::Duration;

use crate::pool::{Next, Pool};
use crate::progress::Progress;

/// How long the command's thread waits for a result before it redraws and looks at signals.
const TICK: Duration = Duration::from_millis(100);

/// Takes every result of `pool` into `take` (which returns how much is done and how many
/// violations so far); whether a signal ended it.
pub fn collect<R: Send + 'static>(
    pool: &Pool<R>,
    progress: &mut Progress,
    mut take: impl FnMut(R, &Progress) -> (u64, u64),
) -> bool {
    let (mut done, mut violations, mut noted) = (0, 0, false);
    loop {
        match pool.next(TICK) {
            Next::Result(result) => (done, violations) = take(result, progress),
            Next::Waiting => {}
            Next::Finished => break,
        }
        progress.update(done, violations);
        if crate::interrupt::requested() && !noted {
            noted = true;
            pool.stop();
            progress.eprintln("interrupted: finishing the work in flight (again to abandon it)");
        }
        if crate::interrupt::abandoned() {
            progress.eprintln("interrupted again: abandoning the work in flight");
            break;
        }
    }
    progress.finish(done, violations);
    noted
}
