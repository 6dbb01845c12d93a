//! Captured entries: a producer's own type, rendered on the writer thread
//! through `Capture`, in arrival order with text entries; a capture that
//! fails to render, or panics, costs one counted record, never the writer.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::pool_path;
use kvp_sink::{Capture, RenderError, WriterBuilder};

/// Renders as `n=<byte count>` under key `captured`; a capture starting
/// with `!` panics, one starting with `?` fails, one starting with `-`
/// renders an empty key.
struct Counting(Vec<u8>);

impl Capture for Counting {
    type Renderer = ();

    fn level(&self) -> Option<kvp_codec::Level> {
        None
    }

    fn render(&self, _: &mut (), key: &mut String, value: &mut String) -> Result<(), RenderError> {
        match self.0.first() {
            Some(b'!') => panic!("a renderer bug"),
            Some(b'?') => return Err(RenderError),
            Some(b'-') => return Ok(()),
            _ => {}
        }
        key.push_str("captured");
        value.push_str(&format!("n={}", self.0.len()));
        Ok(())
    }
}

#[test]
fn captured_entries_are_rendered_in_order_and_failures_are_counted() {
    let (_dir, path) = pool_path();
    let (sink, guard, _) = WriterBuilder::new(&path)
        .record_cap(None)
        .report_interval(Duration::from_secs(3600))
        .spawn_for::<Counting>()
        .unwrap();
    sink.append(None, "text-1", "a");
    assert!(sink.capture(Counting(b"abc".to_vec())));
    assert!(sink.capture(Counting(b"!boom".to_vec())));
    assert!(sink.capture(Counting(b"?".to_vec())));
    assert!(sink.capture(Counting(b"-".to_vec())));
    sink.append(None, "text-2", "b");
    assert!(sink.capture(Counting(vec![7; 1000])));
    assert!(
        !guard.flush(Duration::from_secs(10)),
        "three records were dropped after the queue"
    );

    let records = test_support::pool_records(&path);
    let got: Vec<(&str, &str)> = records
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("text-1", "a"),
            ("captured", "n=3"),
            ("text-2", "b"),
            ("captured", "n=1000"),
        ]
    );
    let stats = guard.stats();
    assert_eq!(stats.dropped_invalid, 3, "{stats:?}");
    assert_eq!(stats.written, 4, "{stats:?}");
}
