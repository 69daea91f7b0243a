//! The server's parameters (CONFIG GET/SET): the ones that change the model's behaviour are
//! typed fields; the others a client may set are kept as text, so that a test suite or a
//! client library that sets them is answered as Redis answers, without pretending they act.

use std::collections::BTreeMap;

use crate::glob;
use crate::notify;

/// The parameters.
#[derive(Debug, Clone)]
pub struct Config {
    /// `notify-keyspace-events` as flags.
    pub(crate) notify_flags: u32,
    /// `busy-reply-threshold` (alias `lua-time-limit`): after this long a running script makes
    /// other clients get BUSY.
    pub(crate) busy_reply_threshold_ms: i64,
    /// `maxmemory` in bytes (0: no limit).
    pub(crate) maxmemory: u64,
    /// Parameters kept as text.
    other: BTreeMap<&'static str, String>,
}

/// How a text parameter is checked.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Memory,
    Text,
    /// Read-only after start.
    Immutable,
}

/// The text parameters and their defaults (Redis 7.0's).
const TEXT_PARAMS: &[(&str, Kind, &str)] = &[
    ("activedefrag", Kind::Bool, "no"),
    ("active-expire-effort", Kind::Int, "1"),
    ("appendfsync", Kind::Text, "everysec"),
    ("appendonly", Kind::Bool, "no"),
    ("bind", Kind::Text, "127.0.0.1"),
    ("daemonize", Kind::Immutable, "no"),
    ("databases", Kind::Immutable, "16"),
    ("dir", Kind::Text, "."),
    ("enable-debug-command", Kind::Immutable, "yes"),
    ("hash-max-listpack-entries", Kind::Int, "128"),
    ("hash-max-listpack-value", Kind::Int, "64"),
    ("hash-max-ziplist-entries", Kind::Int, "128"),
    ("hash-max-ziplist-value", Kind::Int, "64"),
    ("hz", Kind::Int, "10"),
    ("lazyfree-lazy-eviction", Kind::Bool, "no"),
    ("lazyfree-lazy-expire", Kind::Bool, "no"),
    ("lazyfree-lazy-server-del", Kind::Bool, "no"),
    ("lazyfree-lazy-user-del", Kind::Bool, "no"),
    ("lazyfree-lazy-user-flush", Kind::Bool, "no"),
    ("list-compress-depth", Kind::Int, "0"),
    ("list-max-listpack-size", Kind::Int, "-2"),
    ("list-max-ziplist-size", Kind::Int, "-2"),
    ("loglevel", Kind::Text, "notice"),
    ("lua-replicate-commands", Kind::Bool, "yes"),
    ("maxclients", Kind::Int, "10000"),
    ("maxmemory-policy", Kind::Text, "noeviction"),
    ("maxmemory-samples", Kind::Int, "5"),
    ("min-replicas-max-lag", Kind::Int, "10"),
    ("min-replicas-to-write", Kind::Int, "0"),
    ("port", Kind::Immutable, "6379"),
    ("proto-max-bulk-len", Kind::Memory, "536870912"),
    ("repl-backlog-size", Kind::Memory, "1048576"),
    ("repl-diskless-sync", Kind::Bool, "yes"),
    ("repl-ping-replica-period", Kind::Int, "10"),
    ("replica-read-only", Kind::Bool, "yes"),
    ("replica-serve-stale-data", Kind::Bool, "yes"),
    ("save", Kind::Text, ""),
    ("set-max-intset-entries", Kind::Int, "512"),
    ("set-max-listpack-entries", Kind::Int, "128"),
    ("slowlog-log-slower-than", Kind::Int, "10000"),
    ("slowlog-max-len", Kind::Int, "128"),
    ("timeout", Kind::Int, "0"),
    ("zset-max-listpack-entries", Kind::Int, "128"),
    ("zset-max-listpack-value", Kind::Int, "64"),
    ("zset-max-ziplist-entries", Kind::Int, "128"),
    ("zset-max-ziplist-value", Kind::Int, "64"),
];

/// The typed parameters' names (and aliases).
const TYPED: &[&str] = &["busy-reply-threshold", "lua-time-limit", "maxmemory", "notify-keyspace-events"];

impl Default for Config {
    fn default() -> Self {
        Config {
            notify_flags: 0,
            busy_reply_threshold_ms: 5000,
            maxmemory: 0,
            other: TEXT_PARAMS.iter().map(|(name, _, default)| (*name, (*default).to_owned())).collect(),
        }
    }
}

impl Config {
    /// Every parameter whose name matches one of `patterns`, with its value, in name order.
    pub(crate) fn get(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let names = TYPED.iter().copied().chain(TEXT_PARAMS.iter().map(|(n, _, _)| *n));
        let mut found: Vec<(String, String)> = names
            .filter(|name| patterns.iter().any(|p| glob::matches_nocase(p, name.as_bytes())))
            .filter_map(|name| self.value(name).map(|v| (name.to_owned(), v)))
            .collect();
        found.sort();
        found.dedup();
        found
    }

    fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            "notify-keyspace-events" => notify::format_flags(self.notify_flags),
            "busy-reply-threshold" | "lua-time-limit" => self.busy_reply_threshold_ms.to_string(),
            "maxmemory" => self.maxmemory.to_string(),
            other => self.other.get(other)?.clone(),
        })
    }

    /// Sets one parameter; `Err` is Redis's message after `ERR CONFIG SET failed (possibly
    /// related to argument '<name>') - `, or `None` when the name is unknown.
    pub(crate) fn set(&mut self, name: &str, value: &[u8]) -> Result<(), Option<String>> {
        let text = String::from_utf8_lossy(value).into_owned();
        match name {
            "notify-keyspace-events" => {
                self.notify_flags = notify::parse_flags(value)
                    .ok_or_else(|| Some("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_owned()))?;
            }
            "busy-reply-threshold" | "lua-time-limit" => {
                self.busy_reply_threshold_ms = text
                    .parse::<i64>()
                    .ok()
                    .filter(|v| *v >= 0)
                    .ok_or_else(|| Some("argument couldn't be parsed into an integer".to_owned()))?;
            }
            "maxmemory" => {
                self.maxmemory =
                    parse_memory(&text).ok_or_else(|| Some("argument must be a memory value".to_owned()))?
            }
            _ => {
                let (known, kind, _) = TEXT_PARAMS.iter().find(|(n, _, _)| *n == name).ok_or(None)?;
                let valid = match kind {
                    Kind::Bool => matches!(text.to_ascii_lowercase().as_str(), "yes" | "no"),
                    Kind::Int => text.parse::<i64>().is_ok(),
                    Kind::Memory => parse_memory(&text).is_some(),
                    Kind::Text => true,
                    Kind::Immutable => return Err(Some("can't set immutable config".to_owned())),
                };
                if !valid {
                    return Err(Some(match kind {
                        Kind::Bool => "argument must be 'yes' or 'no'".to_owned(),
                        Kind::Memory => "argument must be a memory value".to_owned(),
                        _ => "argument couldn't be parsed into an integer".to_owned(),
                    }));
                }
                let stored = if matches!(kind, Kind::Bool) { text.to_ascii_lowercase() } else { text };
                self.other.insert(known, stored);
            }
        }
        Ok(())
    }

    /// `min-replicas-to-write`: with no replicas, any positive value refuses writes.
    pub(crate) fn min_replicas_to_write(&self) -> i64 {
        self.other.get("min-replicas-to-write").and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// `maxmemory-policy`.
    pub(crate) fn maxmemory_policy(&self) -> &str {
        self.other.get("maxmemory-policy").map_or("noeviction", String::as_str)
    }

    /// `replica-serve-stale-data`.
    pub(crate) fn serve_stale_data(&self) -> bool {
        self.other.get("replica-serve-stale-data").is_none_or(|v| v == "yes")
    }

    /// Whether `name` (lowercase) is a parameter.
    pub(crate) fn knows(name: &str) -> bool {
        TYPED.contains(&name) || TEXT_PARAMS.iter().any(|(n, _, _)| *n == name)
    }
}

/// Redis's `memtoull`: a number with an optional `k`, `kb`, `m`, `mb`, `g`, `gb` unit.
fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let digits_end = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_read_back_as_set() {
        let mut config = Config::default();
        config.set("notify-keyspace-events", b"KEA").unwrap();
        assert_eq!(config.get(&[b"notify-keyspace-events"]), vec![("notify-keyspace-events".into(), "AKE".into())]);
        config.set("maxmemory", b"1mb").unwrap();
        assert_eq!(config.maxmemory, 1024 * 1024);
        assert_eq!(config.set("nosuch", b"1"), Err(None));
        assert!(config.set("appendonly", b"maybe").is_err());
        assert_eq!(config.get(&[b"lua-time-limit"]), vec![("lua-time-limit".into(), "5000".into())]);
    }
}
