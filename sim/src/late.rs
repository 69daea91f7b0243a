//! A late reply: one reply, to one request, held back on its way to the node. turmoil's
//! latency is per link and both ways, so a request is as late as its reply; this delays the
//! way back only, and only once. The world arms it on the node ([`LateReply::arm`]) for the
//! host the reply must come from; the first of the node's streams to that host that
//! receives the reply to a read or a write takes it ([`LateReply::take`]) and holds the
//! reply's bytes — and whatever follows them on that connection — for the delay.

use std::sync::Mutex;

/// A node's armed late reply, shared by all its streams.
#[derive(Debug, Default)]
pub struct LateReply {
    /// The host the reply must come from, and the delay (ms); `None`: not armed.
    armed: Mutex<Option<(&'static str, u64)>>,
}

impl LateReply {
    /// Arms the node's next reply from `host` to be `delay_ms` late.
    pub fn arm(&self, host: &'static str, delay_ms: u64) {
        let was = self.armed.lock().expect("late-reply lock").replace((host, delay_ms));
        assert!(was.is_none(), "one late reply armed per node at a time");
    }

    /// Disarms it; whether it was still armed (had not been taken).
    pub fn disarm(&self) -> bool {
        self.armed.lock().expect("late-reply lock").take().is_some()
    }

    /// Whether a late reply is armed.
    pub fn is_armed(&self) -> bool {
        self.armed.lock().expect("late-reply lock").is_some()
    }

    /// The delay (ms) for a reply arriving from `host`, if one is armed for it; it is then
    /// disarmed: it delays one reply.
    pub(crate) fn take(&self, host: &str) -> Option<u64> {
        let mut armed = self.armed.lock().expect("late-reply lock");
        match *armed {
            Some((from, delay_ms)) if from == host => {
                *armed = None;
                Some(delay_ms)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_reply_is_taken_once_and_only_from_its_host() {
        let late = LateReply::default();
        assert_eq!(late.take("redis"), None);
        late.arm("db", 40);
        assert!(late.is_armed());
        assert_eq!(late.take("redis"), None, "armed for the source database only");
        assert_eq!(late.take("db"), Some(40));
        assert_eq!(late.take("db"), None, "one reply");
        assert!(!late.disarm(), "taken: nothing left to disarm");
        late.arm("redis", 7);
        assert!(late.disarm());
        assert!(!late.is_armed());
    }
}
