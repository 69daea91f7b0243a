//! The `splitbrain-model serve` binary: it listens where it says, real clients talk to it,
//! and bad flags get one line and exit code 2.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_splitbrain-model");

#[test]
fn serve_answers_a_real_client_on_the_port_it_prints() {
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("a first line");
    let addr = first.trim().rsplit(' ').next().expect("an address").to_owned();
    assert!(first.starts_with("splitbrain-model listening on 127.0.0.1:"), "{first}");
    let client = redis::Client::open(format!("redis://{addr}/")).expect("a client");
    let mut conn = client.get_connection().expect("a connection");
    let _: () = redis::cmd("SET").arg("k").arg("v").arg("PX").arg(60_000).query(&mut conn).expect("SET");
    let got: String = redis::cmd("GET").arg("k").query(&mut conn).expect("GET");
    assert_eq!(got, "v");
    let info: String = redis::cmd("INFO").arg("server").query(&mut conn).expect("INFO");
    assert!(info.contains("redis_version:"), "{info}");
    child.kill().expect("the server stops");
    let _ = child.wait();
}

#[test]
fn bad_flags_get_one_line_and_exit_2() {
    for args in [vec!["serve", "--port", "70000"], vec!["serve", "--persistence", "disk"], vec!["nosuch"], vec![]] {
        let out = Command::new(BIN).args(&args).output().expect("the binary runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("splitbrain-model: "), "{stderr}");
    }
}
