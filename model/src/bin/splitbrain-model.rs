//! `splitbrain-model serve`: the Redis model on a TCP port, with the real clock, so that
//! `redis-cli`, Redis's own test suite and any client can talk to it.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use model::{Persistence, Server, ServerConfig, SystemClock};

#[derive(Parser)]
#[command(name = "splitbrain-model", version, about = "The splitbrain Redis model, served on a TCP port")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the model until killed.
    #[command(
        after_help = "Examples:\n  splitbrain-model serve --port 16391\n  splitbrain-model serve --port 0 --persistence aof-everysec"
    )]
    Serve {
        /// Port to listen on (0: any free port, printed on the first line).
        #[arg(long, default_value_t = 6379)]
        port: u16,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// What survives a restart (DEBUG RESTART): none, rdb:<seconds>, aof-everysec, aof-always.
        #[arg(long, default_value = "none", value_parser = parse_persistence)]
        persistence: Persistence,
    },
}

fn parse_persistence(text: &str) -> Result<Persistence, String> {
    Persistence::parse(text).ok_or_else(|| "expected none, rdb:<seconds>, aof-everysec or aof-always".to_owned())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments").trim_start_matches("error: ");
            eprintln!("splitbrain-model: {first}");
            return ExitCode::from(2);
        }
    };
    let Command::Serve { port, bind, persistence } = cli.command;
    // One worker serves connections in the order their requests arrive, as Redis's event
    // loop does; it is a multi-threaded runtime so that a long script runs in place
    // (`block_in_place` hands the worker to a new thread) while other clients are told BUSY.
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("splitbrain-model: cannot start a runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(SocketAddr::new(bind, port)).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("splitbrain-model: cannot listen on {bind}:{port}: {e}");
                return ExitCode::from(1);
            }
        };
        let addr = listener.local_addr().map_or_else(|_| format!("{bind}:{port}"), |a| a.to_string());
        println!("splitbrain-model listening on {addr}");
        // The real clock moves while a script runs: scripts cost what they really take.
        let config = ServerConfig { persistence, script_time: None, ..ServerConfig::default() };
        let server = Server::new(config, Arc::new(SystemClock));
        match server.serve(listener).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("splitbrain-model: accept failed: {e}");
                ExitCode::from(1)
            }
        }
    })
}
