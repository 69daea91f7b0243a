//! Test support for splitbrain's cargo-test entry points.
//!
//! [`ModelServer`] serves the Redis model on a loopback port, for differential tests.
//!
//! [`RedisServer`] starts a real `redis-server` for one test. When redis-server is not
//! installed the test is skipped with a one-line reason — unless `SPLITBRAIN_REQUIRE_REDIS=1`
//! (set by `.ci/run`), in which case it fails, so CI never skips.

mod backend;
pub mod differential;
mod model_server;
mod redis_server;

pub use backend::Backend;
pub use model_server::ModelServer;
pub use redis_server::{RedisServer, REQUIRE_REDIS_ENV};

/// Starts a redis-server with `args` for this test, or returns from the test (skipping it)
/// when redis-server is missing and not required.
#[macro_export]
macro_rules! redis_or_skip {
    () => {
        $crate::redis_or_skip!([])
    };
    ($args:expr) => {
        match $crate::RedisServer::start(&$args) {
            Some(server) => server,
            None => return,
        }
    };
}
