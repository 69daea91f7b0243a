//! The Redis model served on a real loopback port, on a runtime of its own, so that the
//! real `redis` client (sync or async) and differential tests can reach it like a server.

use std::sync::Arc;

use model::{OffsetClock, Persistence, Server, ServerConfig, SystemClock};

/// The model listening on `127.0.0.1:<port>`, with real time (shifted by an adjustable
/// offset). Dropping it stops the server.
pub struct ModelServer {
    addr: String,
    server: Server,
    clock: OffsetClock,
    /// Taken on drop, to shut down without blocking (drops may happen inside async tests).
    runtime: Option<tokio::runtime::Runtime>,
}

impl ModelServer {
    /// Starts the model with `persistence`.
    pub fn start(persistence: Persistence) -> ModelServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the model");
        let clock = OffsetClock::new(Arc::new(SystemClock));
        // The real clock moves while a script runs: scripts cost what they really take.
        let config = ServerConfig { persistence, script_time: None, ..ServerConfig::default() };
        let server = Server::new(config, Arc::new(clock.clone()));
        // Bound with std and handed over inside the runtime: `start` may itself be called
        // from async code, where blocking on another runtime is not allowed.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        std_listener.set_nonblocking(true).expect("a non-blocking listener");
        let addr = std_listener.local_addr().expect("a bound address").to_string();
        {
            let _context = runtime.enter();
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("a tokio listener");
            runtime.spawn(server.clone().serve(listener));
        }
        ModelServer { addr, server, clock, runtime: Some(runtime) }
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// `redis://host:port/`.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// A synchronous client connection.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url()).and_then(|c| c.get_connection()).expect("a connection to the model")
    }

    /// The server, for faults.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The server's clock, to make it jump.
    pub fn clock(&self) -> &OffsetClock {
        &self.clock
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
