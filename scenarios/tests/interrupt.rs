//! SIGINT stops a campaign cleanly: the runs in flight finish, every failure file found so
//! far is on disk (each written when found), the summary is printed, `--report` is written,
//! and the exit code is 130.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn failure_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.filter(|e| e.is_ok()).count())
}

#[test]
fn sigint_keeps_every_finding_and_the_report() {
    let dir = std::env::temp_dir().join(format!("splitbrain-sigint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("r.json");
    let failures = dir.join("splitbrain-failures");
    let child = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args(["fuzz", "--time", "10m", "--profile", "pauses", "--mutant", "plain-del-release", "--keep-going"])
        .args(["--jobs", "2", "--campaign-seed", "0x0", "--report", report.to_str().unwrap()])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Failure files appear while the campaign runs, not at its end.
    let started = Instant::now();
    while failure_files(&failures) < 3 {
        assert!(started.elapsed() < Duration::from_secs(120), "no failure file after 120 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!report.exists(), "the report is written at the end");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stdout.contains("chaos-pauses") && stdout.contains("StrictExclusivity"), "the summary: {stdout}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["interrupted"], true);
    let listed = json["failures"].as_array().unwrap();
    assert_eq!(listed.len(), failure_files(&failures), "every failure is listed and on disk");
    for failure in listed {
        assert!(dir.join(failure["file"].as_str().unwrap()).exists(), "{failure}");
    }
    let runs = json["scenarios"]["chaos-pauses"]["runs"].as_u64().unwrap();
    assert!(runs as usize >= listed.len(), "{json}");
    std::fs::remove_dir_all(&dir).unwrap();
}
