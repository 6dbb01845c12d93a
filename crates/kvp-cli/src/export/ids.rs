//! Trace and span ids derived from the pool, so that exporting one file
//! twice gives the same ids (a backend that deduplicates keeps one trace).
//!
//! [`Fnv1a`], seeded per use.

use kvp_codec::Fnv1a;

/// A trace id (16 bytes) and a span id (8 bytes), never all zero (an
/// all-zero id is invalid in OpenTelemetry and in W3C trace context).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TraceId(pub(crate) [u8; 16]);

/// See [`TraceId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SpanId(pub(crate) [u8; 8]);

fn fnv(seed: u64, parts: &[&str]) -> u64 {
    let mut h = Fnv1a::with_seed(seed);
    for part in parts {
        h.write(part.as_bytes());
        // A separator no text byte equals, so ("ab", "c") and ("a", "bc")
        // differ.
        h.write(&[0xff]);
    }
    h.finish()
}

fn nonzero(h: u64) -> u64 {
    if h == 0 { 1 } else { h }
}

impl TraceId {
    /// The trace id named by `parts` (for example the vm_id and a run).
    pub(crate) fn of(parts: &[&str]) -> TraceId {
        let hi = fnv(0x7472_6163_6531, parts);
        let lo = nonzero(fnv(0x7472_6163_6532, parts));
        let mut id = [0; 16];
        id[..8].copy_from_slice(&hi.to_be_bytes());
        id[8..].copy_from_slice(&lo.to_be_bytes());
        TraceId(id)
    }

    /// Lower-case hex, as trace viewers show it.
    pub(crate) fn hex(&self) -> String {
        hex(&self.0)
    }
}

impl SpanId {
    /// The span id named by `parts` (for example the vm_id and a span's id
    /// in the pool).
    pub(crate) fn of(parts: &[&str]) -> SpanId {
        SpanId(nonzero(fnv(0x7370_616e, parts)).to_be_bytes())
    }

    /// Lower-case hex, as trace viewers show it.
    pub(crate) fn hex(&self) -> String {
        hex(&self.0)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_tell_parts_apart() {
        assert_eq!(TraceId::of(&["vm", "run"]), TraceId::of(&["vm", "run"]));
        assert_ne!(TraceId::of(&["vm", "run"]), TraceId::of(&["vmr", "un"]));
        assert_ne!(SpanId::of(&["vm", "1"]), SpanId::of(&["vm", "2"]));
        // Fixed for good: a change here re-identifies every exported trace.
        assert_eq!(SpanId::of(&["vm-1", "5f3a9c0e12ab-1"]).hex().len(), 16);
        assert_eq!(
            TraceId::of(&["vm-1", "5f3a9c0e12ab"]),
            TraceId::of(&["vm-1", "5f3a9c0e12ab"])
        );
        assert!(TraceId::of(&[]).0.iter().any(|b| *b != 0));
    }
}
