//! The mutant zoo under the default fuzz profile: each mutant that docs/zoo.md shows caught
//! in every stream is caught within its budget on the first stream here (`chaos-all`, or
//! `chaos-cache` for the cache mutants), by the checker the table names.

use scenarios::{campaign_seed, find, Subject};
use sim::check::{Outcome, Property};
use zoo::Bug;

/// Runs `bug` on stream 0 of 20 (the campaign seeds 0, 20, 40, ...) until a violation; the
/// number of seeds it took and the property, or a panic after `budget`.
fn caught(bug: Bug, budget: u64) -> (u64, Property) {
    let scenario = find(if bug.is_cache() { "chaos-cache" } else { "chaos-all" }).unwrap();
    for k in 0..budget {
        let seed = campaign_seed(&scenario.name, k * 20);
        let outcome = scenario.run_subject(seed, Subject::Zoo(bug)).expect("the simulation runs");
        if let Some(v) = outcome.failures().into_iter().find(|v| v.outcome == Outcome::Violated) {
            return (k + 1, v.property);
        }
    }
    panic!("{bug} escaped {budget} seeds of {}", scenario.name);
}

macro_rules! mutants {
    ($($test:ident: $bug:expr, $budget:expr, $($property:expr)|+;)*) => {
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

mutants! {
    plain_del_release: Bug::PlainDelRelease, 15, Property::StrictExclusivity;
    plain_pexpire_renew: Bug::PlainPexpireRenew, 40, Property::StrictExclusivity;
    renew_failure_only_logged: Bug::RenewFailureOnlyLogged, 5, Property::StrictExclusivity;
    no_campaign_after_loss: Bug::NoCampaignAfterLoss, 16, Property::Liveness;
    noscript_as_success: Bug::NoscriptAsSuccess, 20, Property::StrictExclusivity;
    unpersisted_fencing_counter: Bug::UnpersistedFencingCounter, 15, Property::Epochs;
    cache_no_flush_on_reconnect: Bug::CacheNoFlushOnReconnect, 8, Property::CacheStaleness;
    cache_publish_before_commit: Bug::CachePublishBeforeCommit, 4, Property::CacheStaleness;
}
