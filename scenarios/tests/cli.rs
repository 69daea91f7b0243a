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
        &["list", "extra"],
        &["run", "T2", "T1", "--seed", "0x1"],
        &["run", "T2", "--seed", "0x1", "--seed", "0x2"],
        &["fuzz", "--seeds", "0"],
        &["run", "T2", "--seed", "0x1", "--mutant", "cache-no-flush-on-reconnect"],
        &["fuzz", "--scenario", "T2", "--mutant", "cache-no-flush-on-reconnect"],
        &["fuzz", "--report", "/nonexistent/r.json", "--seeds", "1"],
        &["fuzz", "--seeds", "1", "--shard", "2/2"],
        &["check", "/nonexistent/history.jsonl"],
        &["check", "Cargo.toml"],
        &["check"],
        &["check", "regressions/plain-del-release-pause.json", "--linear-budget", "0"],
        &["check", "regressions/plain-del-release-pause.json", "--linear-budget", "200000001"],
        &["check", "regressions/plain-del-release-pause.json", "--linear-budget", "-5"],
        &["report", "/nonexistent/history.jsonl", "--html", "/tmp/x.html"],
        &[],
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
        "--campaign-seed",
        "0x5eed",
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

    assert_eq!(json["campaign_seed"], "0x0000000000005eed");
    // The same campaign in two shards (its 4 seeds split two and two), merged, gives the same
    // totals and failover figures.
    let mut shards = Vec::new();
    for shard in ["1/2", "2/2"] {
        let path = dir.join(format!("shard-{}.json", &shard[..1]));
        let args = [
            "fuzz",
            "--campaign-seed",
            "0x5eed",
            "--scenario",
            "chaos-crashes",
            "--seeds",
            "4",
            "--shard",
            shard,
            "--report",
            path.to_str().unwrap(),
        ];
        assert_eq!(splitbrain(&args).status.code(), Some(0));
        let shard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(shard["scenarios"]["chaos-crashes"]["runs"], 2, "{shard}");
        shards.push(path);
    }
    // The same shard twice would count its runs twice; another campaign's shard does not belong.
    let twice = splitbrain(&["merge", shards[0].to_str().unwrap(), shards[0].to_str().unwrap()]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("appears twice"));
    let other = dir.join("other.json");
    let args = ["fuzz", "--campaign-seed", "0x1", "--scenario", "chaos-crashes", "--seeds", "4", "--shard", "2/2"];
    assert_eq!(splitbrain(&[&args[..], &["--report", other.to_str().unwrap()]].concat()).status.code(), Some(0));
    let mixed = splitbrain(&["merge", shards[0].to_str().unwrap(), other.to_str().unwrap()]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("merge the shards of one campaign"));
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
        .args(["--campaign-seed", "0x0"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("cause: ") && stdout.contains("with a plain DEL"), "{stdout}");
    let replay = stdout.lines().find_map(|l| l.trim().strip_prefix("replay: ")).expect("a replay command").to_owned();
    let file = stdout.lines().find_map(|l| l.trim().strip_prefix("failure file: ")).expect("a failure file");
    let failure: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
    assert_eq!(failure["campaign_seed"], "0x0000000000000000");
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
    assert_eq!(drawn.status.code(), Some(1), "a violating file: {}", String::from_utf8_lossy(&drawn.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    let explanation = minimal["verdict"]["explanation"].as_str().unwrap();
    assert!(html.contains("<svg") && html.contains("class=\"evidence\""), "{html}");
    let escaped = explanation.replace('&', "&amp;").replace('"', "&quot;").replace('>', "&gt;").replace('<', "&lt;");
    assert!(html.contains(&escaped), "{html}");
    // The page names what let the second leader in: the mutant's plain DEL of another's lease.
    assert!(html.contains("What let the second leader in:") && html.contains("with a plain DEL"), "{html}");
    assert!(html.contains("class=\"op removed\""), "the DEL is marked in the zoomed view");
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

#[test]
fn every_verb_has_help_with_examples_and_the_exit_codes() {
    for verb in ["list", "run", "fuzz", "failovers", "replay", "shrink", "report", "zoo", "bench", "merge"] {
        let out = splitbrain(&[verb, "--help"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{verb}: {stdout}");
        assert!(stdout.contains("Examples:") && stdout.contains("130  interrupted"), "{verb}: {stdout}");
    }
    let version = splitbrain(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with(&format!("splitbrain {}", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn campaigns_draw_fresh_seeds_unless_given_a_base() {
    let base_of = |out: &Output| {
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        stderr.lines().find_map(|l| l.strip_prefix("campaign seed ")).map(|l| l[..18].to_owned()).expect(&stderr)
    };
    let args = ["fuzz", "--scenario", "chaos-quiet", "--seeds", "1", "--jobs", "1"];
    let (a, b) = (splitbrain(&args), splitbrain(&args));
    assert_eq!((a.status.code(), b.status.code()), (Some(0), Some(0)));
    assert_ne!(base_of(&a), base_of(&b), "two campaigns without --campaign-seed draw different bases");
    let given = splitbrain(&[&args[..], &["--campaign-seed", "0x77"]].concat());
    assert_eq!(base_of(&given), "0x0000000000000077");
    assert!(String::from_utf8_lossy(&given.stdout)
        .contains("rerun: cargo run --release -p splitbrain-scenarios -- fuzz --campaign-seed 0x0000000000000077"));
}

#[test]
fn replay_exit_codes_follow_the_one_table() {
    let dir = std::env::temp_dir().join(format!("splitbrain-exits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let original = concat!(env!("CARGO_MANIFEST_DIR"), "/../regressions/plain-del-release-pause.json");
    let mut file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(original).unwrap()).unwrap();
    let replayed = splitbrain(&["replay", original]);
    assert_eq!(replayed.status.code(), Some(1), "a violating file replays as a violation");
    // Another build's file: a warning, then the replay; a hash that differs: exit 3.
    file["version"] = "0.0.1 (0123456789ab)".into();
    file["trace_hash"] = "0000000000000000".into();
    let path = dir.join("diverged.json");
    std::fs::write(&path, file.to_string()).unwrap();
    let diverged = splitbrain(&["replay", path.to_str().unwrap()]);
    assert_eq!(diverged.status.code(), Some(3), "{}", String::from_utf8_lossy(&diverged.stdout));
    assert!(String::from_utf8_lossy(&diverged.stderr).contains("written by splitbrain 0.0.1"));
    assert!(String::from_utf8_lossy(&diverged.stdout).contains("DIVERGED"));
    let page = dir.join("page.html");
    let drawn = splitbrain(&["report", path.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    assert_eq!(drawn.status.code(), Some(3));
    assert!(page.exists(), "the diverged replay is still drawn");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The lines of `splitbrain` output that give a verdict.
fn verdict_lines(out: &Output) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter(|l| l.starts_with("  pass") || l.starts_with("  violated") || l.starts_with("  unknown"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn check_judges_a_history_written_by_run_to_the_runs_own_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    for (scenario, mutant) in [("chaos-all", None), ("chaos-pauses", Some("plain-del-release"))] {
        let file = dir.path().join(format!("{scenario}.jsonl"));
        let file_arg = file.to_str().unwrap();
        let mut args = vec!["run", scenario, "--seed", "0x00000000000000a1", "--history", file_arg];
        args.extend(mutant.iter().flat_map(|m| ["--mutant", *m]));
        let run = splitbrain(&args);
        let checked = splitbrain(&["check", file_arg]);
        assert_eq!(checked.status.code(), run.status.code(), "{}", String::from_utf8_lossy(&checked.stderr));
        let (ran, judged) = (verdict_lines(&run), verdict_lines(&checked));
        // `run` adds the scenario's own expectations after the checkers' verdicts.
        assert!(!judged.is_empty() && ran.starts_with(&judged), "run:\n{ran:#?}\ncheck:\n{judged:#?}");
    }
}

#[test]
fn check_judges_the_hand_written_example_of_the_docs() {
    let doc = include_str!("../../docs/history.md");
    let start = doc.find("```jsonl\n").unwrap() + "```jsonl\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.jsonl");
    std::fs::write(&file, &doc[start..end]).unwrap();
    let page = dir.path().join("example.html");
    let out = splitbrain(&["check", file.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(verdict_lines(&out).len(), 6, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(std::fs::read_to_string(&page).unwrap().contains("Every property held"));
    let json = splitbrain(&["check", file.to_str().unwrap(), "--json"]);
    let verdicts: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON verdicts");
    assert_eq!(verdicts["verdicts"].as_array().map(Vec::len), Some(6));
}

#[test]
fn coverage_prints_a_table_of_windows_and_concurrent_events() {
    let out = splitbrain(&["coverage", "chaos-pauses", "--seeds", "3", "--campaign-seed", "0x0", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("in-flight EVALSHA") && stdout.contains("near-deadline"), "{stdout}");
    assert!(stdout.contains("other-node-write") && stdout.contains("over 3 runs"), "{stdout}");
    let json = splitbrain(&["coverage", "chaos-pauses", "--seeds", "2", "--campaign-seed", "0x0", "--json"]);
    let coverage: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON coverage");
    assert_eq!(coverage["runs"], 2);
}
