//! A history's identity (its hash) and where two histories of one seed first part.

use crate::event::Event;

/// FNV-1a, 64 bits: a stable hash of bytes (the standard library's hashers may change between
/// releases; trace hashes are compared across machines and kept in files).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_on(FNV_OFFSET, bytes)
}

/// FNV-1a of `bytes` continued from `hash`.
fn fnv1a_on(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, b| (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME))
}

/// The hash of a history: FNV-1a over each event's JSON. Equal histories, equal hashes.
pub fn trace_hash(events: &[Event]) -> u64 {
    let mut hash = FNV_OFFSET;
    for event in events {
        // The line's FNV-1a folded as it is written: no line is allocated.
        let mut line = Fnv1a(FNV_OFFSET);
        serde_json::to_writer(&mut line, event).expect("events serialize");
        hash = (hash ^ line.0).wrapping_mul(FNV_PRIME);
    }
    hash
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// A writer that keeps only the FNV-1a hash of what it was given.
struct Fnv1a(u64);

impl std::io::Write for Fnv1a {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 = fnv1a_on(self.0, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where two histories of the same seed first differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// Index of the first differing event.
    pub index: usize,
    /// The first run's event there (None: the first run ended).
    pub first: Option<Event>,
    /// The second run's.
    pub second: Option<Event>,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show =
            |e: &Option<Event>| e.as_ref().map_or("(end of history)".to_owned(), |e| serde_json::to_string(e).unwrap());
        write!(
            f,
            "histories diverge at event {}:\n  first run:  {}\n  second run: {}",
            self.index,
            show(&self.first),
            show(&self.second)
        )
    }
}

/// The first difference between two histories, if any.
pub fn first_divergence(a: &[Event], b: &[Event]) -> Option<Divergence> {
    let index = a.iter().zip(b).position(|(x, y)| x != y).or((a.len() != b.len()).then(|| a.len().min(b.len())))?;
    Some(Divergence { index, first: a.get(index).cloned(), second: b.get(index).cloned() })
}
