//! What survives a restart: the keyspace as of the last durable point, by persistence mode.
//! TTLs are absolute times, so after a restart they keep counting against the server clock.

use std::time::Duration;

use crate::keyspace::Keyspace;

/// Every database of a server.
pub(crate) type Databases = Vec<Keyspace>;

/// How the server persists its keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Persistence {
    /// Nothing: a restart empties the keyspace.
    #[default]
    None,
    /// An RDB snapshot every `every` of server time: a restart returns to the last one.
    Rdb {
        /// Time between snapshots.
        every: Duration,
    },
    /// AOF with `appendfsync everysec`: a restart loses the writes since the last fsync,
    /// which happens on each whole second of server time.
    AofEverysec,
    /// AOF with `appendfsync always`: nothing acknowledged is lost.
    AofAlways,
}

impl Persistence {
    /// Parses `none`, `rdb:<seconds>`, `aof-everysec`, `aof-always`.
    pub fn parse(text: &str) -> Option<Persistence> {
        match text {
            "none" => Some(Persistence::None),
            "aof-everysec" => Some(Persistence::AofEverysec),
            "aof-always" => Some(Persistence::AofAlways),
            _ => {
                let seconds: u64 = text.strip_prefix("rdb:")?.parse().ok().filter(|s| *s > 0)?;
                Some(Persistence::Rdb { every: Duration::from_secs(seconds) })
            }
        }
    }

    fn period_ms(self) -> Option<i64> {
        match self {
            Persistence::Rdb { every } => Some(every.as_millis().max(1) as i64),
            Persistence::AofEverysec => Some(1000),
            Persistence::None | Persistence::AofAlways => None,
        }
    }
}

/// The durable copy of the keyspace and when the next durable point falls.
#[derive(Debug, Default)]
pub(crate) struct Durability {
    mode: Persistence,
    durable: Databases,
    next_point_ms: Option<i64>,
}

impl Durability {
    pub(crate) fn new(mode: Persistence) -> Self {
        Durability { mode, durable: Databases::new(), next_point_ms: None }
    }

    pub(crate) fn mode(&self) -> Persistence {
        self.mode
    }

    /// Takes the durable points that fell at or before `now_ms`. Called before each command
    /// runs: the keyspace at a point is the keyspace before the first command after it.
    pub(crate) fn tick(&mut self, now_ms: i64, live: &Databases) {
        let Some(period) = self.mode.period_ms() else { return };
        let next = *self.next_point_ms.get_or_insert(now_ms - now_ms.rem_euclid(period) + period);
        if now_ms >= next {
            self.durable = live.clone();
            self.next_point_ms = Some(now_ms - now_ms.rem_euclid(period) + period);
        }
    }

    /// What a restart at `now_ms` finds, given the live keyspace before it.
    pub(crate) fn recover(&mut self, now_ms: i64, live: Databases) -> Databases {
        self.tick(now_ms, &live);
        let empty = || live.iter().map(|_| Keyspace::new()).collect();
        match self.mode {
            Persistence::None => empty(),
            Persistence::AofAlways => live,
            Persistence::Rdb { .. } | Persistence::AofEverysec if self.durable.is_empty() => empty(),
            Persistence::Rdb { .. } | Persistence::AofEverysec => self.durable.clone(),
        }
    }

    /// Switches mode; the live keyspace becomes durable at once (as a BGSAVE or AOF rewrite
    /// would make it).
    pub(crate) fn set_mode(&mut self, mode: Persistence, live: &Databases) {
        self.mode = mode;
        self.durable = live.clone();
        self.next_point_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Entry, Value};
    use bytes::Bytes;

    fn with(keys: &[&str]) -> Databases {
        let mut ks = Keyspace::default();
        for k in keys {
            ks.insert(Bytes::from(k.to_string()), Entry { value: Value::Str(Bytes::from("v")), expires_at_ms: None });
        }
        vec![ks]
    }

    #[test]
    fn each_mode_recovers_what_it_would_have_on_disk() {
        let mut none = Durability::new(Persistence::None);
        assert!(none.recover(5_000, with(&["a"]))[0].is_empty());

        let mut always = Durability::new(Persistence::AofAlways);
        assert_eq!(always.recover(5_000, with(&["a"])), with(&["a"]));

        // everysec: "a" written at 10.2 s, fsync at 11 s, "b" at 11.5 s, crash at 11.9 s.
        let mut everysec = Durability::new(Persistence::AofEverysec);
        everysec.tick(10_200, &with(&[]));
        everysec.tick(11_500, &with(&["a"]));
        assert_eq!(everysec.recover(11_900, with(&["a", "b"])), with(&["a"]));

        // rdb every 5 s: snapshot at 15 s holds "a"; "b" came after.
        let mut rdb = Durability::new(Persistence::Rdb { every: Duration::from_secs(5) });
        rdb.tick(12_000, &with(&[]));
        rdb.tick(15_001, &with(&["a"]));
        assert_eq!(rdb.recover(19_000, with(&["a", "b"])), with(&["a"]));
        assert_eq!(rdb.recover(20_000, with(&["a", "b"])), with(&["a", "b"]), "the 20 s snapshot had both");
    }

    #[test]
    fn modes_parse_from_their_names() {
        assert_eq!(Persistence::parse("rdb:5"), Some(Persistence::Rdb { every: Duration::from_secs(5) }));
        assert_eq!(Persistence::parse("aof-always"), Some(Persistence::AofAlways));
        assert_eq!(Persistence::parse("rdb:0"), None);
        assert_eq!(Persistence::parse("disk"), None);
    }
}
