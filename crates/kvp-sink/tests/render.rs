//! Captured entries: rendered on the writer thread by a registered
//! [`Render`], in arrival order with text entries; a renderer that fails
//! costs one counted record, never the writer.

#![allow(clippy::unwrap_used)]

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use kvp_codec::{Reassembled, reassemble};
use kvp_sink::{Entry, Render, WriterBuilder};

/// Renders `bytes` as `n=<byte count>` under the key its context names; a
/// capture starting with `!` panics, one starting with `?` renders nothing.
struct Counting;

impl Render for Counting {
    fn render(
        &self,
        context: &'static (dyn Any + Send + Sync),
        bytes: &[u8],
        key: &mut String,
        value: &mut String,
    ) {
        match bytes.first() {
            Some(b'!') => panic!("a renderer bug"),
            Some(b'?') => return,
            _ => {}
        }
        key.push_str(context.downcast_ref::<&str>().unwrap());
        value.push_str(&format!("n={}", bytes.len()));
    }
}

static NAME: &str = "captured";

#[test]
fn captured_entries_are_rendered_in_order_and_failures_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kvp_pool_1");
    let (sink, guard, _) = WriterBuilder::new(&path)
        .record_cap(None)
        .report_interval(Duration::from_secs(3600))
        .spawn()
        .unwrap();
    let id = sink.register_renderer(Arc::new(Counting));
    sink.append(None, "text-1", "a");
    assert!(sink.send(Entry::captured(None, id, &NAME, b"abc")));
    assert!(sink.send(Entry::captured(None, id, &NAME, b"!boom")));
    assert!(sink.send(Entry::captured(None, id, &NAME, b"?")));
    sink.append(None, "text-2", "b");
    assert!(sink.send(Entry::captured(None, id, &NAME, &[7; 1000])));
    assert!(
        !guard.flush(Duration::from_secs(10)),
        "two records were dropped after the queue"
    );

    let records: Vec<(String, String)> = reassemble(&std::fs::read(&path).unwrap())
        .into_iter()
        .map(|r| match r {
            Reassembled::Record(r) => (r.key, r.value),
            Reassembled::Error { message, .. } => panic!("{message}"),
        })
        .collect();
    let expected = [
        ("text-1", "a"),
        ("captured", "n=3"),
        ("text-2", "b"),
        ("captured", "n=1000"),
    ];
    let got: Vec<(&str, &str)> = records
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, expected);
    let stats = guard.stats();
    assert_eq!(stats.dropped_invalid, 2, "{stats:?}");
    assert_eq!(stats.written, 4, "{stats:?}");
}
