//! Who an event is about: a node of the system under test, or one of the actors around it.

use serde::{Deserialize, Serialize};

/// The name of an actor in a history: a replica (`node-3`), a client (`client-1`), the
/// server (`redis`), or the fault injector (`nemesis`). Written as its name in JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(String);

/// A replica's name begins so; its number follows.
const REPLICA_PREFIX: &str = "node-";

impl NodeId {
    /// The fault injector: faults begin and heal in its name.
    pub const NEMESIS: &'static str = "nemesis";
    /// The Redis server.
    pub const REDIS: &'static str = "redis";

    /// An actor with this name.
    pub fn new(name: impl Into<String>) -> NodeId {
        NodeId(name.into())
    }

    /// Replica `number`: `node-<number>` (a deployment counts them from 1).
    pub fn replica(number: usize) -> NodeId {
        NodeId(format!("{REPLICA_PREFIX}{number}"))
    }

    /// The fault injector.
    pub fn nemesis() -> NodeId {
        NodeId(NodeId::NEMESIS.to_owned())
    }

    /// A replica's number, if this is a replica's name.
    pub fn replica_number(&self) -> Option<usize> {
        self.0.strip_prefix(REPLICA_PREFIX)?.parse().ok()
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for NodeId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for NodeId {
    fn from(name: &str) -> NodeId {
        NodeId(name.to_owned())
    }
}

impl From<String> for NodeId {
    fn from(name: String) -> NodeId {
        NodeId(name)
    }
}

impl From<NodeId> for String {
    fn from(node: NodeId) -> String {
        node.0
    }
}

impl PartialEq<str> for NodeId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for NodeId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for NodeId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_numbered_from_one_and_read_back() {
        assert_eq!(NodeId::replica(3).as_str(), "node-3");
        assert_eq!(NodeId::replica(12).replica_number(), Some(12));
        for other in ["redis", "nemesis", "client-1", "node-", "node-x"] {
            assert_eq!(NodeId::new(other).replica_number(), None, "{other}");
        }
        assert_eq!(serde_json::to_string(&NodeId::replica(1)).unwrap(), "\"node-1\"");
    }
}
