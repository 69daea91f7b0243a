//! A real redis-server, owned by one test: a free loopback port, a temporary directory, and
//! the process killed when the value is dropped.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set to `1` to make a missing redis-server fail the tests instead of skipping them.
pub const REQUIRE_REDIS_ENV: &str = "SPLITBRAIN_REQUIRE_REDIS";

const BINARY: &str = "redis-server";
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const START_ATTEMPTS: usize = 5;

/// A redis-server process for one test.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    args: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts redis-server on a free loopback port with extra `args` (e.g. `--appendonly yes`),
    /// persistence off unless `args` turn it on. Returns `None` after printing why when
    /// redis-server is not installed and `SPLITBRAIN_REQUIRE_REDIS` is not `1`.
    ///
    /// Panics (failing the test) when redis-server is required but missing, or installed but
    /// unable to start.
    pub fn start(args: &[&str]) -> Option<RedisServer> {
        if !installed() {
            if required() {
                panic!("{REQUIRE_REDIS_ENV}=1 but `{BINARY}` is not on PATH (apt-get install -y redis-server)");
            }
            eprintln!("skipped: `{BINARY}` is not installed (set {REQUIRE_REDIS_ENV}=1 to fail instead)");
            return None;
        }
        let dir = tempfile::tempdir().expect("a temporary directory for redis-server");
        let mut server = RedisServer { port: 0, args: args.iter().map(|a| a.to_string()).collect(), dir, child: None };
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            // Another process may take the port between probing and binding: try again.
            server.port = free_port();
            match server.spawn() {
                Ok(()) => return Some(server),
                Err(e) => last_error = e,
            }
        }
        panic!("redis-server did not start after {START_ATTEMPTS} attempts: {last_error}");
    }

    /// `host:port` of the server.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://host:port/` of the server.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr())
    }

    /// A synchronous client connection, for a test's own reads and writes.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("a connection to the test's redis-server")
    }

    /// Kills the server with SIGKILL (no shutdown save) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (so persistence files are
    /// found), killing it first if it runs.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("redis-server did not restart: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let log = dir.join("redis.log");
        let mut command = Command::new(BINARY);
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = command.spawn().map_err(|e| format!("cannot run {BINARY}: {e}"))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{BINARY} exited with {status}: {}", log_tail(&log)));
            }
            if answers_ping(self.port) {
                self.child = Some(child);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!("{BINARY} did not answer PING within {READY_TIMEOUT:?}: {}", log_tail(&log)))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn installed() -> bool {
    Command::new(BINARY)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn required() -> bool {
    std::env::var(REQUIRE_REDIS_ENV).is_ok_and(|v| v == "1")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

fn answers_ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
}
