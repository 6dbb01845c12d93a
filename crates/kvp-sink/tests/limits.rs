//! Any limits `Limits::new` accepts work with any value: the writer encodes
//! what fits, cuts or refuses (and counts) the rest, and never panics or
//! spins. Cases come from a fixed-seed generator, so a failure repeats.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::pool_path;
use kvp_codec::{Limits, RECORD_SIZE, decode_strict};
use kvp_sink::{WriterBuilder, WriterGuard};

/// xorshift64*: enough to spread cases, and the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Limits anywhere in the range `Limits::new` accepts, the small end often.
fn limits(rng: &mut Rng) -> Limits {
    loop {
        let pick = |rng: &mut Rng, lo: u64, hi: u64| {
            if rng.below(2) == 0 {
                lo + rng.below(16.min(hi - lo + 1))
            } else {
                lo + rng.below(hi - lo + 1)
            }
        } as usize;
        let (kb, vb) = (pick(rng, 1, 511), pick(rng, 4, 2047));
        let (ku, vu) = (pick(rng, 1, 511), pick(rng, 2, 2047));
        if let Ok(l) = Limits::new(kb, vb, ku, vu) {
            return l;
        }
    }
}

/// A value of ASCII, two-, three- and four-byte characters, up to 40 KB.
fn value(rng: &mut Rng) -> String {
    const CHARS: [char; 5] = ['a', 'é', '日', '😀', '|'];
    let len = match rng.below(3) {
        0 => rng.below(16),
        1 => rng.below(4096),
        _ => rng.below(40_000),
    };
    (0..len).map(|_| CHARS[rng.below(5) as usize]).collect()
}

/// Whether the writer answers a flush before its 10 s deadline. A flush
/// also reports losses (values the limits refuse) as `false`, so only the
/// time it took tells a writer that never answered.
fn answers_a_flush(guard: &WriterGuard) -> bool {
    let asked = Instant::now();
    guard.flush(Duration::from_secs(10));
    asked.elapsed() < Duration::from_secs(10)
}

#[test]
fn any_accepted_limits_and_any_value_are_written_or_counted_never_hung() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..60 {
        let limits = limits(&mut rng);
        let max_chunks = 1 + rng.below(4) as usize;
        let (_dir, path) = pool_path();
        let (sink, guard, _) = WriterBuilder::new(&path)
            .limits(limits)
            .max_chunks(max_chunks)
            .record_cap(Some(8 + rng.below(64)))
            .spawn()
            .unwrap();
        let values: Vec<String> = (0..8).map(|_| value(&mut rng)).collect();
        for (i, v) in values.iter().enumerate() {
            sink.append(None, &format!("k{i}"), v);
            sink.upsert(None, &format!("u{i}"), v);
        }
        let what = format!("case {case}: {limits:?}, max_chunks {max_chunks}");
        assert!(
            answers_a_flush(&guard),
            "{what}: the writer did not answer a flush"
        );
        let stats = guard.stats();
        drop(guard);
        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len() % RECORD_SIZE, 0, "{what}");
        for r in decode_strict(&data) {
            let r = r.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(limits.key_fits(r.key), "{what}: key {:?}", r.key);
            assert!(limits.value_fits(r.value), "{what}: value of {}", r.key);
        }
        // Every record queued is accounted for: written or dropped with a
        // reason.
        assert!(
            stats.written > 0 || stats.dropped_invalid > 0,
            "{what}: {stats:?}"
        );
    }
}

/// The case that once spun the writer: a value needing more chunks than
/// allowed, under limits too small for the truncation marker. The value is
/// refused and counted, and the writer goes on.
#[test]
fn a_value_cut_under_limits_too_small_for_the_marker_is_counted_and_the_writer_goes_on() {
    let (_dir, path) = pool_path();
    let (sink, guard, _) = WriterBuilder::new(&path)
        .limits(Limits::new(64, 10, 64, 10).unwrap())
        .max_chunks(2)
        .spawn()
        .unwrap();
    sink.append(None, "long", &"x".repeat(1000));
    sink.upsert(None, "report", &"y".repeat(1000));
    sink.append(None, "short", "fits");
    assert!(answers_a_flush(&guard), "the writer did not answer a flush");
    let stats = guard.stats();
    assert_eq!(stats.dropped_invalid, 2, "{stats:?}");
    assert_eq!(stats.written, 1, "{stats:?}");
}
