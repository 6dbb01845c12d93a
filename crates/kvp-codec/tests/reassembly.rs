//! Which records the reader joins, and which it keeps apart: the rules that
//! decide whether another writer's records on a shared file keep their
//! meaning.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; a panic is a failed test

use kvp_codec::{LogicalRecord, RECORD_SIZE, Reassembled, reassemble};

/// A file of raw records, written the way the other writers write them: key
/// and value as given, NUL-padded, with no chunk handling of our own.
fn file(records: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let mut rec = [0u8; RECORD_SIZE];
        rec[..key.len()].copy_from_slice(key.as_bytes());
        rec[512..512 + value.len()].copy_from_slice(value.as_bytes());
        out.extend_from_slice(&rec);
    }
    out
}

fn records(data: &[u8]) -> Vec<LogicalRecord> {
    reassemble(data)
        .into_iter()
        .map(|r| match r {
            Reassembled::Record(r) => r,
            Reassembled::Error { index, message } => panic!("record {index}: {message}"),
        })
        .collect()
}

#[test]
fn a_repeated_plain_key_is_separate_records_whatever_their_length() {
    let full = "x".repeat(1022);
    let out = records(&file(&[("status", &full), ("status", "second")]));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!((out[0].key.as_str(), out[0].value.len()), ("status", 1022));
    assert_eq!(
        (out[1].key.as_str(), out[1].value.as_str()),
        ("status", "second")
    );
}

#[test]
fn a_repeated_event_key_after_a_full_chunk_is_one_record() {
    // azure-init 0.1.x repeats the event key for every 1022-byte chunk.
    let key = "azure-init|vm-1|INFO|provision|9f0c2a41-5d3e-4b8a-9c1d-2e7f6a8b0c3d";
    let full = "x".repeat(1022);
    let out = records(&file(&[(key, &full), (key, "tail")]));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].chunks, 2);
    assert_eq!(out[0].value, format!("{full}tail"));
    assert!(out[0].complete);
}

#[test]
fn a_plain_key_ending_in_digits_is_its_own_record() {
    let out = records(&file(&[("pipe|key|1", "v"), ("other", "w")]));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].key, "pipe|key|1");
    assert_eq!(out[0].chunks, 1);
    assert!(out[0].complete);
}

#[test]
fn a_plain_key_with_real_siblings_is_still_a_series() {
    let out = records(&file(&[("pipe|key|0", "a"), ("pipe|key|1", "b")]));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        (out[0].key.as_str(), out[0].value.as_str()),
        ("pipe|key", "ab")
    );
    assert!(out[0].complete);
}

#[test]
fn a_lone_late_chunk_of_an_event_key_stays_an_incomplete_series() {
    let out = records(&file(&[("p|vm|INFO|n|ab-1|2", "tail")]));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].key, "p|vm|INFO|n|ab-1");
    assert!(!out[0].complete);
}

/// azure-init's store deletes by moving the last record into the hole, so a
/// series can come back out of order: its chunks are still joined, in index
/// order, within the reassembly window.
#[test]
fn a_series_another_tool_reordered_is_still_joined() {
    let key = "p|vm|INFO|n|ab-1";
    let out = records(&file(&[
        (&format!("{key}|0"), "one "),
        (&format!("{key}|2"), "three"),
        ("other|key", "x"),
        (&format!("{key}|1"), "two "),
    ]));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].key, key);
    assert_eq!(out[0].value, "one two three");
    assert_eq!(out[0].chunks, 3);
    assert!(out[0].complete);
    assert_eq!(out[0].chunk_value(1), Some("two "));
    // Chunk 0 last, after the others moved ahead of it.
    let out = records(&file(&[
        (&format!("{key}|1"), "b"),
        (&format!("{key}|2"), "c"),
        (&format!("{key}|0"), "a"),
    ]));
    assert_eq!(
        (out.len(), out[0].value.as_str(), out[0].complete),
        (1, "abc", true),
        "{out:?}"
    );
    // A gap stays a gap: joined, and said incomplete.
    let out = records(&file(&[
        (&format!("{key}|0"), "a"),
        (&format!("{key}|2"), "c"),
    ]));
    assert_eq!((out.len(), out[0].complete), (1, false), "{out:?}");
}
