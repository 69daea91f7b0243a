//! A Redis to test against: a real redis-server or the model, behind one interface, so that
//! the same test runs on both.

use crate::{ModelServer, RedisServer};

/// A Redis server a test can reach over loopback TCP, stop (kill -9) and start again.
pub trait Backend: Send + 'static {
    /// `host:port`.
    fn addr(&self) -> String;
    /// A synchronous client connection for the test's own reads and writes.
    fn client(&self) -> redis::Connection;
    /// Kills the server: connections drop, new ones fail, unpersisted data is lost.
    fn kill(&mut self);
    /// Starts it again after [`Backend::kill`], on the same address.
    fn restart(&mut self);
}

impl Backend for RedisServer {
    fn addr(&self) -> String {
        RedisServer::addr(self)
    }
    fn client(&self) -> redis::Connection {
        RedisServer::client(self)
    }
    fn kill(&mut self) {
        RedisServer::kill(self)
    }
    fn restart(&mut self) {
        RedisServer::restart(self)
    }
}

impl Backend for ModelServer {
    fn addr(&self) -> String {
        ModelServer::addr(self)
    }
    fn client(&self) -> redis::Connection {
        ModelServer::client(self)
    }
    fn kill(&mut self) {
        self.server().crash()
    }
    fn restart(&mut self) {
        self.server().start()
    }
}
