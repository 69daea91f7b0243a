//! Keyspace notifications (`notify-keyspace-events`): writes publish `__keyspace@<db>__:<key>`
//! with the event, and `__keyevent@<db>__:<event>` with the key, as Redis does.

use bytes::Bytes;

use crate::config::Config;
use crate::pubsub::PubSub;

/// A notification class (Redis's `NOTIFY_*` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Class(pub(crate) u32);

impl Class {
    pub(crate) const KEYSPACE: Class = Class(1 << 0);
    pub(crate) const KEYEVENT: Class = Class(1 << 1);
    pub(crate) const GENERIC: Class = Class(1 << 2);
    pub(crate) const STRING: Class = Class(1 << 3);
    pub(crate) const LIST: Class = Class(1 << 4);
    pub(crate) const SET: Class = Class(1 << 5);
    pub(crate) const HASH: Class = Class(1 << 6);
    pub(crate) const ZSET: Class = Class(1 << 7);
    pub(crate) const EXPIRED: Class = Class(1 << 8);
    pub(crate) const EVICTED: Class = Class(1 << 9);
    pub(crate) const KEY_MISS: Class = Class(1 << 11);
    pub(crate) const NEW: Class = Class(1 << 14);
}

/// `A`: every class but key-miss and new.
const ALL: u32 =
    (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 13);

const LETTERS: &[(u8, u32)] = &[
    (b'g', 1 << 2),
    (b'$', 1 << 3),
    (b'l', 1 << 4),
    (b's', 1 << 5),
    (b'h', 1 << 6),
    (b'z', 1 << 7),
    (b'x', 1 << 8),
    (b'e', 1 << 9),
    (b't', 1 << 10),
    (b'd', 1 << 13),
    (b'n', 1 << 14),
];

/// `notify-keyspace-events` text to flags; `None` for an unknown letter.
pub(crate) fn parse_flags(text: &[u8]) -> Option<u32> {
    let mut flags = 0;
    for c in text {
        flags |= match c {
            b'A' => ALL,
            b'K' => Class::KEYSPACE.0,
            b'E' => Class::KEYEVENT.0,
            b'm' => Class::KEY_MISS.0,
            _ => LETTERS.iter().find(|(l, _)| l == c)?.1,
        };
    }
    Some(flags)
}

/// Flags back to text, in Redis's canonical order.
pub(crate) fn format_flags(flags: u32) -> String {
    let mut out = String::new();
    if flags & ALL == ALL {
        out.push('A');
    } else {
        out.extend(LETTERS.iter().filter(|(_, bit)| flags & bit != 0).map(|(l, _)| *l as char));
    }
    for (letter, class) in [('K', Class::KEYSPACE), ('E', Class::KEYEVENT), ('m', Class::KEY_MISS)] {
        if flags & class.0 != 0 {
            out.push(letter);
        }
    }
    out
}

/// Publishes the notification if the configured flags ask for it.
pub(crate) fn notify(config: &Config, pubsub: &mut PubSub, class: Class, event: &str, key: &[u8], db: usize) {
    let flags = config.notify_flags;
    if flags & class.0 == 0 {
        return;
    }
    if flags & Class::KEYSPACE.0 != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        pubsub.publish(&Bytes::from(channel), &Bytes::from(event.to_owned()));
    }
    if flags & Class::KEYEVENT.0 != 0 {
        let channel = Bytes::from(format!("__keyevent@{db}__:{event}"));
        pubsub.publish(&channel, &Bytes::copy_from_slice(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_in_canonical_order() {
        assert_eq!(parse_flags(b"KEA").map(format_flags).as_deref(), Some("AKE"));
        assert_eq!(parse_flags(b"$lshzxeKEtm").map(format_flags).as_deref(), Some("$lshzxetKEm"));
        assert_eq!(parse_flags(b"Ex").map(format_flags).as_deref(), Some("xE"));
        assert_eq!(parse_flags(b"Q"), None);
        assert_eq!(parse_flags(b""), Some(0));
    }
}
