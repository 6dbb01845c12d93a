//! Decoding pool files written by real cloud-init and azure-init (and the
//! hand-made edge cases), kept in this crate's `testdata/pools/` (inside the package, so the published tests run).

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; a panic is a failed test

use kvp_codec::{
    DecodeError, Field, KeyParts, Level, Mode, RECORD_SIZE, Reassembled, Records, decode,
    decode_strict, reassemble,
};

fn pool(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/pools/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn records(r: &[Reassembled]) -> Vec<&kvp_codec::LogicalRecord> {
    r.iter()
        .filter_map(|r| match r {
            Reassembled::Record(r) => Some(r),
            Reassembled::Error { .. } => None,
        })
        .collect()
}

#[test]
fn cloud_init_small_files_decode_completely() {
    for name in [
        "cloud-init/cloud-init-22.4-small.kvp",
        "cloud-init/cloud-init-main-small.kvp",
    ] {
        let data = pool(name);
        let all: Vec<_> = decode_strict(&data).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 50, "{name}");
        for (i, r) in all.iter().enumerate() {
            assert!(
                r.key
                    .starts_with("CLOUD_INIT|1795265110|cloudinit_peer|peer/ev")
            );
            assert!(r.value.contains(&format!("\"msg\":\"peer event {i}\"")));
            assert!(!r.record.has_stale_bytes());
        }
    }
}

/// cloud-init puts one slice of the message in each chunk's JSON; joined,
/// the slices give back the description: its label and 5000 `x`.
#[test]
fn cloud_init_split_events_reassemble_to_full_text() {
    for name in [
        "cloud-init/cloud-init-22.4-split.kvp",
        "cloud-init/cloud-init-main-split.kvp",
    ] {
        let data = pool(name);
        assert_eq!(decode(&data).count(), 18);
        let out = reassemble(&data);
        let logical = records(&out);
        assert_eq!(logical.len(), 3, "{name}: 18 records make 3 events");
        for (n, event) in logical.iter().enumerate() {
            assert_eq!(event.chunks, 6);
            assert!(event.complete);
            assert!(!event.key.ends_with("|0"), "chunk suffix is removed");
            let mut text = String::new();
            for i in 0..event.chunks {
                let json: serde_json::Value =
                    serde_json::from_str(event.chunk_value(i).unwrap()).unwrap();
                assert_eq!(json["msg_i"], i);
                text.push_str(json["msg"].as_str().unwrap());
            }
            assert_eq!(
                text,
                format!("peer event {n}{}", "x".repeat(5000)),
                "{name}"
            );
        }
    }
}

#[test]
fn azure_init_sample_reports_its_invalid_utf8() {
    let data = pool("azure-init/azure-init-0.1.1-sample.kvp");
    let items: Vec<_> = decode(&data).collect();
    assert_eq!(items.len(), 11);
    let bad: Vec<(usize, Field)> = items
        .iter()
        .filter_map(|r| match r {
            Err(DecodeError::InvalidUtf8 { index, field, .. }) => Some((*index, *field)),
            _ => None,
        })
        .collect();
    assert_eq!(bad, [(5, Field::Value), (6, Field::Value)]);

    // Strict mode stops at record 5.
    let strict: Vec<_> = decode_strict(&data).collect();
    assert_eq!(strict.len(), 6);
    assert!(strict[5].is_err());

    let first = items[0].as_ref().unwrap();
    let parts = KeyParts::parse(first.key).unwrap();
    assert_eq!(parts.prefix, "azure-init-0.1.1");
    assert_eq!(parts.vm_id, "00000000-0000-0000-0000-000000000001");
    assert_eq!(parts.level, Level::Info);
    assert_eq!(parts.name, "provision::user:create_user");
    assert_eq!(parts.chunk, None);
}

/// azure-init repeated one key for the chunks of a long value and cut
/// inside characters; joining the bytes repairs both.
#[test]
fn azure_init_shared_key_chunks_reassemble() {
    let data = pool("azure-init/azure-init-0.1.1-sample.kvp");
    let out = reassemble(&data);
    assert!(
        out.iter().all(|r| matches!(r, Reassembled::Record(_))),
        "joining records 5 and 6 makes their value valid: {out:?}"
    );
    let logical = records(&out);
    let index_and_chunks: Vec<_> = logical.iter().map(|r| (r.index, r.chunks)).collect();
    assert_eq!(
        index_and_chunks,
        [
            (0, 1),
            (1, 1),
            (2, 3),
            (5, 2),
            (7, 1),
            (8, 1),
            (9, 1),
            (10, 1)
        ]
    );
    let long = logical[2];
    assert!(long.value.ends_with('x'));
    assert_eq!(long.value.len(), 1022 + 1022 + 524);
    let accents = logical[3];
    assert!(accents.value.contains("yéé"));
    assert!(
        accents.value.trim_start_matches(|c| c != 'y')[1..]
            .chars()
            .all(|c| c == 'é')
    );
    assert_eq!(logical[7].key, "PROVISIONING_REPORT");
    assert!(
        logical[7]
            .value
            .starts_with("result=success|agent=Azure-Init/0.1.1|")
    );
}

#[test]
fn edge_cases_are_reported_not_hidden() {
    let data = pool("edge-cases.kvp");
    let records = Records::new(&data, Mode::Lenient);
    assert_eq!(records.whole_records(), 5);
    assert_eq!(records.partial_tail(), Some((5 * RECORD_SIZE, 70)));

    let items: Vec<_> = records.collect();
    assert_eq!(items.len(), 6);
    let ok = |i: usize| items[i].as_ref().unwrap();

    assert_eq!((ok(0).key, ok(0).value), ("plain", "value"));
    // `stale\0junk`: the key ends at the first NUL; the rest is stale.
    assert_eq!(ok(1).key, "stale");
    assert!(ok(1).record.has_stale_bytes());
    // Invalid UTF-8 after the NUL is invisible to readers.
    assert_eq!(ok(2).key, "badutf8");
    assert!(ok(2).record.has_stale_bytes());
    // A key without any NUL is read whole (lenient) ...
    assert_eq!(ok(3).key.len(), 512);
    assert!(!ok(3).record.is_terminated(Field::Key));
    assert_eq!(ok(4).key, "unicode-é");
    assert_eq!(ok(4).value, "é".repeat(10));
    assert_eq!(
        items[5],
        Err(DecodeError::PartialTail {
            index: 5,
            offset: 5 * RECORD_SIZE,
            len: 70
        })
    );

    // ... and is where strict mode stops.
    let strict: Vec<_> = decode_strict(&data).collect();
    assert_eq!(strict.len(), 4);
    assert!(matches!(
        strict[3],
        Err(DecodeError::Unterminated {
            index: 3,
            field: Field::Key,
            ..
        })
    ));

    let out = reassemble(&data);
    assert_eq!(out.len(), 6);
    assert!(
        matches!(&out[5], Reassembled::Error { index: 5, message } if message.contains("partial record of 70 bytes"))
    );
}
