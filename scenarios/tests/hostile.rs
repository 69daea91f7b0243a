//! Hostile input through every verb: each is refused with one line on stderr and exit 2,
//! never a panic, a wrap-around or a hang — in the debug build that `cargo test` builds and,
//! when `SPLITBRAIN_RELEASE_BIN` names it (CI does), in the release build too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binaries to try: the debug build, and the release build when named.
fn binaries() -> Vec<PathBuf> {
    let mut binaries = vec![PathBuf::from(env!("CARGO_BIN_EXE_splitbrain"))];
    if let Ok(release) = std::env::var("SPLITBRAIN_RELEASE_BIN") {
        let release = PathBuf::from(release);
        assert!(release.exists(), "SPLITBRAIN_RELEASE_BIN={} does not exist", release.display());
        binaries.push(release);
    }
    binaries
}

fn assert_refused(binary: &Path, args: &[&str]) {
    let out: Output = Command::new(binary).args(args).output().expect("the command runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!("{} {args:?}", binary.display());
    assert_eq!(out.status.code(), Some(2), "{shown}: exit {:?}, stderr: {stderr}", out.status.code());
    assert_eq!(stderr.lines().count(), 1, "{shown}: {stderr}");
    assert!(stderr.starts_with("splitbrain: ") && !stderr.contains("panicked"), "{shown}: {stderr}");
}

/// Command lines that must be refused before any work.
const COMMAND_LINES: &[&[&str]] = &[
    &[],
    &["frobnicate"],
    &["--frobnicate"],
    &["list", "extra"],
    &["run"],
    &["run", "T2"],
    &["run", "", "--seed", "0x1"],
    &["run", "T2", "--seed", ""],
    &["run", "T2", "--seed", "0x"],
    &["run", "T2", "--seed", "0xzz"],
    &["run", "T2", "--seed", "-1"],
    &["run", "T2", "--seed", "12"],
    &["run", "T2", "--seed", "0x1ffffffffffffffff"],
    &["run", "T2", "--seed", "99999999999999999999999999"],
    &["run", "T2", "--seed", "0x1", "--mutant", ""],
    &["fuzz", "--seeds", "0"],
    &["fuzz", "--seeds", "-1"],
    &["fuzz", "--seeds", ""],
    &["fuzz", "--seeds", "1e3"],
    &["fuzz", "--seeds", "99999999999999999999999"],
    &["fuzz", "--seeds", "1000000001"],
    &["fuzz", "--seeds", "1", "--time", "1s"],
    &["fuzz", "--time", "5124095576030432h"],
    &["fuzz", "--time", "18446744073709551615ms"],
    &["fuzz", "--time", "721h"],
    &["fuzz", "--time", "-1s"],
    &["fuzz", "--time", ""],
    &["fuzz", "--time", "0s"],
    &["fuzz", "--jobs", "0"],
    &["fuzz", "--jobs", "100000"],
    &["fuzz", "--jobs", "-1"],
    &["fuzz", "--shard", "0/0"],
    &["fuzz", "--shard", "1/0"],
    &["fuzz", "--shard", "18446744073709551616/18446744073709551616"],
    &["fuzz", "--shard", ""],
    &["fuzz", "--shard", "1/100000"],
    &["fuzz", "--campaign-seed", "nothex"],
    &["fuzz", "--mutant", ""],
    &["fuzz", "--profile", ""],
    &["fuzz", "--scenario", ""],
    &["fuzz", "--scenario", "T2", "--scenario", "t2"],
    &["fuzz", "--seeds", "1", "--report", ""],
    &["fuzz", "--seeds", "1", "--report", "/tmp"],
    &["fuzz", "--seeds", "1", "--report", "/proc/splitbrain/r.json"],
    &["fuzz", "--seeds", "1", "--failures", "/proc/splitbrain-failures"],
    &["failovers", "--seeds", "0"],
    &["failovers", "--jobs", "0"],
    &["failovers", "--campaign-seed", "1"],
    &["failovers", "extra"],
    &["zoo", "--streams", "0"],
    &["zoo", "--streams", "10001"],
    &["zoo", "--budget", "0"],
    &["zoo", "--budget", "1000001"],
    &["zoo", "--mutant", "gremlin"],
    &["bench", "--seeds", "0"],
    &["bench", "--seeds", "x"],
    &["bench", "--seeds", "1000000001"],
    &["merge"],
    &["merge", "/nonexistent/report.json"],
    &["replay"],
    &["replay", "/nonexistent/failure.json"],
    &["replay", "/tmp"],
    &["shrink"],
    &["report", "/nonexistent/failure.json"],
];

#[test]
fn hostile_command_lines_are_refused_in_one_line() {
    for binary in binaries() {
        for args in COMMAND_LINES {
            assert_refused(&binary, args);
        }
    }
}

/// A valid failure file, to be spoiled.
fn valid() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../regressions/plain-del-release-pause.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The valid file with its one fault replaced by `fault` (JSON text).
fn with_fault(fault: &str) -> String {
    with_faults(&[fault.to_owned()])
}

/// The valid file with its faults replaced by `faults` (JSON text, spliced in as written,
/// so that numbers past what JSON values hold stay exactly as typed).
fn with_faults(faults: &[String]) -> String {
    let mut file = valid();
    file["schedule"] = "SCHEDULE".into();
    file.to_string().replace(r#""SCHEDULE""#, &format!(r#"{{"faults":[{}]}}"#, faults.join(",")))
}

/// Failure files that must be refused by replay, shrink and report.
fn hostile_files() -> Vec<(&'static str, Vec<u8>)> {
    let pause = |at: &str, duration: &str| {
        format!(r#"{{"at_ms":{at},"duration_ms":{duration},"fault":"pause","node":"leader"}}"#)
    };
    let field = |key: &str, value: serde_json::Value| {
        let mut file = valid();
        file[key] = value;
        file.to_string().into_bytes()
    };
    let text = valid().to_string();
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("duration u64::MAX", with_fault(&pause("1000", "18446744073709551615")).into_bytes()),
        ("duration past u64", with_fault(&pause("1000", "18446744073709551616")).into_bytes()),
        ("negative duration", with_fault(&pause("1000", "-1")).into_bytes()),
        ("duration as text", with_fault(&pause("1000", "\"5\"")).into_bytes()),
        ("at u64::MAX", with_fault(&pause("18446744073709551615", "1")).into_bytes()),
        (
            "jump i64::MIN",
            with_fault(
                r#"{"at_ms":1,"duration_ms":0,"fault":"clock-jump","node":"leader","jump_ms":-9223372036854775808}"#,
            )
            .into_bytes(),
        ),
        (
            "jump i64::MAX",
            with_fault(
                r#"{"at_ms":1,"duration_ms":0,"fault":"clock-jump","node":"leader","jump_ms":9223372036854775807}"#,
            )
            .into_bytes(),
        ),
        (
            "redis jump i64::MIN",
            with_fault(r#"{"at_ms":1,"duration_ms":0,"fault":"redis-clock-jump","jump_ms":-9223372036854775808}"#)
                .into_bytes(),
        ),
        (
            "drift i64::MIN",
            with_fault(
                r#"{"at_ms":1,"duration_ms":5,"fault":"clock-drift","node":"leader","drift_ppm":-9223372036854775808}"#,
            )
            .into_bytes(),
        ),
        (
            "redis drift i64::MIN",
            with_fault(r#"{"at_ms":1,"duration_ms":5,"fault":"redis-clock-drift","drift_ppm":-9223372036854775808}"#)
                .into_bytes(),
        ),
        (
            "latency u64::MAX",
            with_fault(
                r#"{"at_ms":1,"duration_ms":5,"fault":"latency","node":"leader","latency_ms":18446744073709551615}"#,
            )
            .into_bytes(),
        ),
        (
            "slow u64::MAX",
            with_fault(r#"{"at_ms":1,"duration_ms":5,"fault":"redis-slow","delay_ms":18446744073709551615}"#)
                .into_bytes(),
        ),
        (
            "isolate a huge set",
            with_fault(r#"{"at_ms":1,"duration_ms":5,"fault":"isolate-set","count":18446744073709551615}"#)
                .into_bytes(),
        ),
        (
            "loss rate 1e308",
            with_fault(r#"{"at_ms":1,"duration_ms":5,"fault":"loss","node":"leader","rate":1e308}"#).into_bytes(),
        ),
        (
            "unknown node",
            with_fault(r#"{"at_ms":1,"duration_ms":5,"fault":"crash","node":{"node":"node-9"}}"#).into_bytes(),
        ),
        ("unknown fault", with_fault(r#"{"at_ms":1,"duration_ms":5,"fault":"gremlin","node":"leader"}"#).into_bytes()),
        (
            "200 add-node",
            with_faults(&vec![r#"{"at_ms":1,"duration_ms":0,"fault":"add-node"}"#.to_owned(); 200]).into_bytes(),
        ),
        (
            "10000 add-node",
            with_faults(&vec![r#"{"at_ms":1,"duration_ms":0,"fault":"add-node"}"#.to_owned(); 10_000]).into_bytes(),
        ),
        ("1001 pauses", with_faults(&vec![pause("1000", "1"); 1001]).into_bytes()),
        ("truncated", text.as_bytes()[..text.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("not UTF-8", vec![0xff, 0xfe, 0x00, 0x7b]),
        ("nested too deep", "[".repeat(100_000).into_bytes()),
        ("seed as a number", field("seed", 12.into())),
        ("seed not hex", field("seed", "0xzz".into())),
        ("seed in decimal", field("seed", "12".into())),
        ("seed too long", field("seed", "0x1ffffffffffffffff".into())),
        ("faults as text", field("schedule", serde_json::json!({"faults": "many"}))),
        ("unknown scenario", field("scenario", "gremlins".into())),
        ("unknown mutant", field("mutant", "gremlin".into())),
        ("no schedule", {
            let mut file = valid();
            file.as_object_mut().unwrap().remove("schedule");
            file.to_string().into_bytes()
        }),
    ];
    // Past the size limit (64 MiB): refused without being parsed.
    files.push(("larger than the limit", vec![b' '; 64 * 1024 * 1024 + 1]));
    files
}

#[test]
fn hostile_failure_files_are_refused_in_one_line_by_every_verb_that_reads_them() {
    let dir = std::env::temp_dir().join(format!("splitbrain-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("page.html");
    for (n, (what, bytes)) in hostile_files().into_iter().enumerate() {
        let path = dir.join(format!("{n}.json"));
        std::fs::write(&path, &bytes).unwrap();
        let file = path.to_str().unwrap();
        for binary in binaries() {
            for args in [&["replay", file][..], &["shrink", file], &["report", file, "--html", page.to_str().unwrap()]]
            {
                let out = Command::new(&binary).args(args).output().unwrap();
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(2), "{what}: {args:?}: {stderr}");
                assert!(stderr.lines().count() == 1 && !stderr.contains("panicked"), "{what}: {args:?}: {stderr}");
            }
            assert_refused(&binary, &["merge", file]);
        }
        std::fs::remove_file(&path).unwrap();
    }
    // Output paths are checked before the work.
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/../regressions/plain-del-release-pause.json");
    for binary in binaries() {
        assert_refused(&binary, &["shrink", good, "--out", "/tmp"]);
        assert_refused(&binary, &["shrink", good, "--out", "/proc/splitbrain/x.json"]);
        assert_refused(&binary, &["report", good, "--html", "/tmp"]);
        assert_refused(&binary, &["report", good, "--html", "/nonexistent/x.html"]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
