//! Every failure file under `regressions/` is replayed forever after: a file of the
//! production elector must now pass every check (the bug it found stays fixed); a file of a
//! zoo mutant must still show its violation (the checkers keep catching it).

use std::path::Path;

use scenarios::{FailureFile, Subject};

#[test]
fn every_regression_replays_as_expected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the regressions folder")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regression files in {}", dir.display());
    for path in files {
        let failure = FailureFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let outcome = failure.replay().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let replay = format!("cargo run --release -p splitbrain-scenarios -- replay {}", path.display());
        match failure.subject {
            Subject::Production => {
                let failed = outcome.failures();
                assert!(
                    failed.is_empty(),
                    "{}: the production elector fails again: {}\n  {replay}",
                    path.display(),
                    failed[0].explanation
                );
            }
            Subject::Zoo(bug) => assert!(
                failure.violated(&outcome).is_some(),
                "{}: {bug} no longer violates {}\n  {replay}",
                path.display(),
                failure.file.property()
            ),
        }
    }
}
