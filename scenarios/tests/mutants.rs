//! The mutant zoo under the default fuzz profile: each mutant of docs/zoo.md (all are caught
//! in every stream) is caught within its budget on the first stream here (`chaos-all`, or
//! `chaos-cache` for the cache mutants), by the checker the table names; the correct zoo
//! elector is not.

use scenarios::{campaign_seed, find, Subject, DOCS_CAMPAIGN_SEED};
use sim::check::{Outcome, Property};
use zoo::Bug;

/// Runs `bug` on stream 0 of 20 (the campaign seeds 0, 20, 40, ...) until a violation; the
/// number of seeds it took and the property, or a panic after `budget`.
fn caught(bug: Bug, budget: u64) -> (u64, Property) {
    let scenario = find(if bug.is_cache() { "chaos-cache" } else { "chaos-all" }).unwrap();
    for k in 0..budget {
        let seed = campaign_seed(DOCS_CAMPAIGN_SEED, &scenario.name, k * 20);
        let outcome = scenario.run_subject(seed, Subject::Zoo(bug)).expect("the simulation runs");
        if let Some(v) = outcome.failures().into_iter().find(|v| v.outcome == Outcome::Violated) {
            return (k + 1, v.property);
        }
    }
    panic!("{bug} escaped {budget} seeds of {}", scenario.name);
}

macro_rules! mutants {
    ($($test:ident: $bug:expr, $budget:expr, [$($property:expr),+];)*) => {
        $(
            #[test]
            fn $test() {
                let (seeds, property) = caught($bug, $budget);
                assert!([$($property),+].contains(&property), "{} caught by the wrong checker: {property:?}", $bug);
                eprintln!("{} caught after {seeds} seed(s)", $bug);
            }
        )*
    };
}

// Budgets: twice the seeds stream 0 takes (at least 8), measured on this nemesis and swarm;
// docs/zoo.md has every stream.
mutants! {
    plain_del_release: Bug::PlainDelRelease, 8, [Property::StrictExclusivity];
    get_then_del_release: Bug::GetThenDelRelease, 68, [Property::StrictExclusivity];
    plain_pexpire_renew: Bug::PlainPexpireRenew, 34, [Property::StrictExclusivity];
    get_then_pexpire_renew: Bug::GetThenPexpireRenew, 8, [Property::StrictExclusivity];
    renew_failure_only_logged: Bug::RenewFailureOnlyLogged, 8, [Property::StrictExclusivity];
    wall_clock_deadline: Bug::WallClockDeadline, 36, [Property::StrictExclusivity, Property::FencedEpochs];
    unchecked_fencing_token: Bug::UncheckedFencingToken, 30, [Property::FencedEpochs];
    unpersisted_fencing_counter: Bug::UnpersistedFencingCounter, 8, [Property::Epochs];
    release_before_jobs_stop: Bug::ReleaseBeforeJobsStop, 14, [Property::LeaderOnlyJobs];
    no_campaign_after_loss: Bug::NoCampaignAfterLoss, 8, [Property::Liveness];
    noscript_as_success: Bug::NoscriptAsSuccess, 8, [Property::StrictExclusivity];
    deadline_without_margin: Bug::DeadlineWithoutMargin, 8, [Property::StrictExclusivity, Property::Epochs];
    cache_no_flush_on_reconnect: Bug::CacheNoFlushOnReconnect, 10, [Property::CacheStaleness];
    cache_publish_before_commit: Bug::CachePublishBeforeCommit, 8, [Property::CacheStaleness];
    get_then_set_acquire: Bug::GetThenSetAcquire, 8, [Property::StrictExclusivity];
    deadline_from_reply: Bug::DeadlineFromReply, 8, [Property::StrictExclusivity, Property::Epochs];
    cache_fill_after_invalidation: Bug::CacheFillAfterInvalidation, 20, [Property::CacheStaleness];
}

/// The correct zoo elector is not caught: the seeds of stream 0 that the slowest mutants
/// needed pass.
#[test]
fn the_correct_zoo_elector_passes_stream_0() {
    let scenario = find("chaos-all").unwrap();
    for k in 0..60 {
        let seed = campaign_seed(DOCS_CAMPAIGN_SEED, &scenario.name, k * 20);
        let outcome = scenario.run_subject(seed, Subject::Zoo(Bug::None)).expect("the simulation runs");
        assert!(outcome.failures().is_empty(), "seed {seed}: {:?}", outcome.failures());
    }
}
