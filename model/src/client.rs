//! A client inside the process: commands run one at a time on a server, without a
//! connection, in the caller's thread. A sequential Redis — the specification a checker
//! replays a command on.

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::commands::Session;
use crate::reply::Reply;
use crate::server::Server;

/// One client session (database 0, RESP2) on `server`.
pub struct Client {
    server: Server,
    session: Session,
    /// Pushes (pub/sub, invalidations) for this session: kept so that sending them never
    /// fails; nobody reads them.
    _pushes: mpsc::UnboundedReceiver<Reply>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("server", &self.server).finish_non_exhaustive()
    }
}

impl Client {
    /// A new session on `server`.
    pub fn new(server: Server) -> Client {
        let (push, pushes) = mpsc::unbounded_channel();
        let session = Session::new(server.next_client_id(), push);
        Client { server, session, _pushes: pushes }
    }

    /// Runs one command and returns its reply; None when the server is down. A server whose
    /// scripts cost simulated time (`ServerConfig::script_time`) may answer a script with an
    /// internal wait: give such a client a server without it.
    pub fn call(&mut self, args: &[&[u8]]) -> Option<Reply> {
        self.call_noting_writes(args).map(|(reply, _)| reply)
    }

    /// [`Client::call`], and whether the command touched any key: one that touched none
    /// left the keyspace as it was (reads, refusals, a script that only read).
    pub fn call_noting_writes(&mut self, args: &[&[u8]]) -> Option<(Reply, bool)> {
        assert!(!args.is_empty(), "a command has a name");
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        let (reply, wrote) = self.server.execute_noting_writes(&mut self.session, &args)?;
        assert!(!matches!(reply, Reply::Wait(_)), "an in-process client's server has no script time");
        Some((reply, wrote))
    }
}
