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

/// Runs each listed scenario (an async fn taking a [`Backend`]) twice: against a real
/// redis-server (skipped without one, unless required) and against the model. A scenario may
/// name redis-server arguments and the model's persistence: `name with [args], persistence;`.
#[macro_export]
macro_rules! on_both {
    ($($scenario:ident $(with $redis_args:expr, $persistence:expr)?;)*) => {
        mod on_real_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let server = $crate::redis_or_skip!($($redis_args)?);
                    super::$scenario(server).await
                }
            )*
        }
        mod on_model {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    #[allow(unused_mut, unused_assignments)]
                    let mut persistence = ::model::Persistence::None;
                    $(persistence = $persistence;)?
                    super::$scenario($crate::ModelServer::start(persistence)).await
                }
            )*
        }
    };
}
