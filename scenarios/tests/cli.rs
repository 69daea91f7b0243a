//! The `splitbrain` command as a user runs it: exit codes, one-line errors, and the same
//! run byte for byte in two processes.

use std::process::{Command, Output};

fn splitbrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splitbrain")).args(args).output().expect("the command runs")
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    for args in [
        &["run", "chaos-gremlins", "--seed", "0x1"][..],
        &["run", "CHAOS-QUIET", "--seed", "12"],
        &["fuzz", "--time", "5x"],
        &["fuzz", "--shard", "3/2"],
        &["fuzz", "--profile", "gremlins"],
        &["frobnicate"],
        &["replay", "/nonexistent/failure.json"],
        &["run", "T2", "--seed", "0x1", "--mutant", "gremlin"],
        &["report", "regressions/plain-del-release-pause.json"],
        &["report", "/nonexistent/failure.json", "--html", "/tmp/x.html"],
        &["merge", "/nonexistent/report.json"],
        &["bench", "--seeds", "0"],
    ] {
        let out = splitbrain(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("splitbrain: ") && !stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_run_is_the_same_in_two_processes_and_names_are_case_insensitive() {
    let first = splitbrain(&["run", "chaos-pauses", "--seed", "0x00000000000000a1"]);
    let second = splitbrain(&["run", "CHAOS-Pauses", "--seed", "0x00000000000000a1"]);
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stdout));
    assert_eq!(first.stdout, second.stdout, "same seed, same output, trace hash included");
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("trace hash") && stdout.contains("pass      Linearizability"), "{stdout}");
}

#[test]
fn list_names_every_scenario_and_profile() {
    let out = splitbrain(&["list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    for name in ["chaos-quiet", "chaos-partitions", "chaos-pauses", "chaos-all", "profile redis"] {
        assert!(stdout.contains(name), "{name} missing from:\n{stdout}");
    }
}

#[test]
fn a_short_campaign_runs_and_reports() {
    let dir = std::env::temp_dir().join(format!("splitbrain-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("report.json");
    let out = splitbrain(&[
        "fuzz",
        "--scenario",
        "chaos-crashes",
        "--seeds",
        "4",
        "--jobs",
        "2",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["scenarios"]["chaos-crashes"]["runs"], 4);

    // The same campaign in two shards of two seeds each, merged, gives the same totals and failover figures.
    let mut shards = Vec::new();
    for shard in ["1/2", "2/2"] {
        let path = dir.join(format!("shard-{}.json", &shard[..1]));
        let args = [
            "fuzz",
            "--scenario",
            "chaos-crashes",
            "--seeds",
            "2",
            "--shard",
            shard,
            "--report",
            path.to_str().unwrap(),
        ];
        assert_eq!(splitbrain(&args).status.code(), Some(0));
        shards.push(path);
    }
    let merged = dir.join("merged.json");
    let out = splitbrain(&[
        "merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--report",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let merged: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(merged["scenarios"]["chaos-crashes"]["runs"], 4);
    assert_eq!(merged["scenarios"]["chaos-crashes"]["failover_s"], json["scenarios"]["chaos-crashes"]["failover_s"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_planted_bug_is_found_and_its_replay_gives_the_same_verdict_and_hash() {
    let dir = std::env::temp_dir().join(format!("splitbrain-planted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args(["fuzz", "--profile", "pauses", "--mutant", "plain-del-release", "--seeds", "50", "--jobs", "1"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let replay = stdout.lines().find_map(|l| l.trim().strip_prefix("replay: ")).expect("a replay command").to_owned();
    let file = stdout.lines().find_map(|l| l.trim().strip_prefix("failure file: ")).expect("a failure file");
    let failure: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
    // `cargo run --release -p splitbrain-scenarios -- run ...`: run the same arguments here.
    let args: Vec<&str> = replay.split(" -- ").nth(1).unwrap().split(' ').collect();
    let again = splitbrain(&args);
    let again_stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(1), "{again_stdout}");
    let hash = failure["trace_hash"].as_str().unwrap();
    assert!(again_stdout.contains(&format!("trace hash {hash}")), "{again_stdout}");
    let explanation = failure["verdict"]["explanation"].as_str().unwrap();
    assert!(again_stdout.contains(explanation), "the same verdict: {explanation}\n{again_stdout}");
    // `replay FILE`: the same run, with the nodes' logs stamped with simulated time.
    let replayed = splitbrain(&["replay", dir.join(file).to_str().unwrap()]);
    let replayed_stdout = String::from_utf8_lossy(&replayed.stdout);
    assert_eq!(replayed.status.code(), Some(1), "{replayed_stdout}");
    assert!(replayed_stdout.contains(&format!("the same trace hash {hash}")), "{replayed_stdout}");
    assert!(
        replayed_stdout.contains("host{node=node-") && replayed_stdout.contains("released the lease"),
        "{replayed_stdout}"
    );
    // `shrink FILE`: a schedule of a few faults that still shows the same violation.
    let shrunk = splitbrain(&["shrink", dir.join(file).to_str().unwrap()]);
    assert_eq!(shrunk.status.code(), Some(1), "{}", String::from_utf8_lossy(&shrunk.stderr));
    let min = dir.join(file.replace(".json", ".min.json"));
    let minimal: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&min).unwrap()).unwrap();
    let faults = minimal["schedule"]["faults"].as_array().unwrap().len();
    assert!((1..=3).contains(&faults), "{faults} faults: {minimal}");
    assert_eq!(minimal["verdict"]["property"], failure["verdict"]["property"]);
    let replayed_min = splitbrain(&["replay", min.to_str().unwrap()]);
    let hash = minimal["trace_hash"].as_str().unwrap();
    assert!(String::from_utf8_lossy(&replayed_min.stdout).contains(&format!("the same trace hash {hash}")));
    // `report FILE --html OUT`: one self-contained page with the violation on it.
    let page = dir.join("timeline.html");
    let drawn = splitbrain(&["report", min.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    assert_eq!(drawn.status.code(), Some(0), "{}", String::from_utf8_lossy(&drawn.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    let explanation = minimal["verdict"]["explanation"].as_str().unwrap();
    assert!(html.contains("<svg") && html.contains("class=\"evidence\""), "{html}");
    let escaped = explanation.replace('&', "&amp;").replace('"', "&quot;").replace('>', "&gt;").replace('<', "&lt;");
    assert!(html.contains(&escaped), "{html}");
    // Nothing to fetch: no scripts, stylesheets, images or fonts from anywhere.
    assert!(!html.contains("src=") && !html.contains("<link") && !html.contains("url("), "{html}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_prints_the_fields_runs_are_compared_by() {
    let out = splitbrain(&["bench", "--seeds", "2"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in
        ["seeds_per_second_one_core", "seeds_per_second_all_cores", "sim_seconds_per_wall_second", "peak_rss_bytes"]
    {
        assert!(json[field].as_f64().is_some_and(|v| v > 0.0), "{field} in {json}");
    }
}
