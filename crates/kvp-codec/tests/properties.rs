//! Properties that must hold for every input, checked with proptest.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; a panic is a failed test

use kvp_codec::{
    KEY_SIZE, Limits, RECORD_SIZE, decode, decode_strict, encode, encode_chunk, reassemble,
    split_value, utf16_len,
};
use proptest::prelude::*;

/// Text without NUL, from every plane (ASCII, 2-, 3- and 4-byte characters).
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            proptest::char::range('\u{1}', '\u{7f}'),
            proptest::char::range('\u{80}', '\u{7ff}'),
            proptest::char::range('\u{800}', '\u{ffff}'),
            proptest::char::range('\u{10000}', '\u{10ffff}'),
        ],
        0..max_chars,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::SAFE),
        Just(Limits::RAW),
        (1usize..=511, 4usize..=2047, 1usize..=511, 2usize..=2047)
            .prop_map(|(kb, vb, ku, vu)| Limits::new(kb, vb, ku, vu).unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..3 * RECORD_SIZE + 100)) {
        let lenient = decode(&data).count();
        prop_assert_eq!(lenient, data.len().div_ceil(RECORD_SIZE));
        prop_assert!(decode_strict(&data).count() <= lenient);
        let _ = reassemble(&data);
    }

    #[test]
    fn decoding_mostly_valid_records_never_panics(
        records in proptest::collection::vec((text(300), text(1100), any::<u8>(), 0usize..RECORD_SIZE), 1..5),
    ) {
        // Valid records with one byte overwritten: near-miss input.
        let mut data = vec![0u8; records.len() * RECORD_SIZE];
        for (i, (k, v, b, at)) in records.iter().enumerate() {
            let rec: &mut [u8; RECORD_SIZE] = (&mut data[i * RECORD_SIZE..][..RECORD_SIZE]).try_into().unwrap();
            let _ = encode(k, v, &Limits::RAW, rec);
            rec[*at] = *b;
        }
        prop_assert_eq!(decode(&data).count(), records.len());
        let _ = reassemble(&data);
    }

    #[test]
    fn encode_then_decode_round_trips(key in text(300), value in text(1200), limits in limits()) {
        let mut buf = [0xAA; RECORD_SIZE];
        let fits = limits.key_fits(&key) && limits.value_fits(&value);
        match encode(&key, &value, &limits, &mut buf) {
            Ok(()) => {
                prop_assert!(fits);
                let d = decode_strict(&buf).next().unwrap().unwrap();
                prop_assert_eq!(d.key, key.as_str());
                prop_assert_eq!(d.value, value.as_str());
                prop_assert!(!d.record.has_stale_bytes());
            }
            Err(e) => {
                prop_assert!(!fits, "{e}");
                prop_assert!(buf.iter().all(|&b| b == 0xAA), "nothing written on error");
            }
        }
    }

    #[test]
    fn every_chunk_is_valid_within_limits_and_they_concatenate(value in text(3000), limits in limits()) {
        let chunks: Vec<&str> = split_value(&value, &limits).collect();
        prop_assert_eq!(chunks.concat(), value.as_str());
        for (i, chunk) in chunks.iter().enumerate() {
            prop_assert!(!chunk.is_empty());
            prop_assert!(limits.value_fits(chunk));
            prop_assert!(chunk.len() <= limits.value_bytes());
            prop_assert!(utf16_len(chunk) <= limits.value_units());
            // Greedy: a chunk could not have taken the next character.
            if let Some(next) = chunks.get(i + 1).and_then(|n| n.chars().next()) {
                let mut longer = chunk.to_string();
                longer.push(next);
                prop_assert!(!limits.value_fits(&longer));
            }
            let mut buf = [0; RECORD_SIZE];
            if encode_chunk("key", i as u32, chunk, &limits, &mut buf).is_ok() {
                let d = decode_strict(&buf).next().unwrap().unwrap();
                prop_assert_eq!(d.value, *chunk);
            }
        }
    }

    #[test]
    fn chunks_reassemble_to_the_value(value in text(4000)) {
        let chunks: Vec<&str> = split_value(&value, &Limits::SAFE).collect();
        let mut file = vec![0u8; chunks.len() * RECORD_SIZE];
        for (i, (chunk, rec)) in chunks.iter().zip(file.chunks_exact_mut(RECORD_SIZE)).enumerate() {
            encode_chunk("p|vm|INFO|n|ab-1", i as u32, chunk, &Limits::SAFE, rec.try_into().unwrap()).unwrap();
        }
        let out = reassemble(&file);
        if value.is_empty() {
            prop_assert!(out.is_empty());
        } else {
            prop_assert_eq!(out.len(), 1);
            let kvp_codec::Reassembled::Record(r) = &out[0] else { panic!("{out:?}") };
            prop_assert_eq!(&r.value, &value);
            prop_assert_eq!(r.chunks, chunks.len());
            prop_assert_eq!(r.key.as_str(), "p|vm|INFO|n|ab-1");
        }
    }
}

#[test]
fn errors_name_the_limit_and_the_size() {
    let mut buf = [0; RECORD_SIZE];
    let msg = |k: &str, v: &str| {
        encode(k, v, &Limits::SAFE, &mut [0; RECORD_SIZE])
            .unwrap_err()
            .to_string()
    };
    assert_eq!(msg("", "v"), "KVP key is empty");
    assert_eq!(msg("a\0b", "v"), "KVP key contains a NUL byte at offset 1");
    assert_eq!(
        msg("k", "va\0"),
        "KVP value contains a NUL byte at offset 2"
    );
    assert_eq!(
        msg(&"日".repeat(200), "v"),
        "KVP key is 600 bytes long; the limit is 511 bytes"
    );
    assert_eq!(
        msg("k", &"é".repeat(1023)),
        "KVP value is 1023 UTF-16 code units long; the limit is 1022 UTF-16 code units"
    );
    // 4-byte characters count two units each.
    assert_eq!(
        msg(&format!("a{}", "😀".repeat(127)), "v"),
        "KVP key is 255 UTF-16 code units long; the limit is 254 UTF-16 code units"
    );
    // The chunk suffix counts against the key.
    let key = "k".repeat(252);
    assert!(encode_chunk(&key, 9, "v", &Limits::SAFE, &mut buf).is_ok());
    assert_eq!(
        encode_chunk(&key, 10, "v", &Limits::SAFE, &mut buf)
            .unwrap_err()
            .to_string(),
        "KVP key is 255 UTF-16 code units long; the limit is 254 UTF-16 code units"
    );
    assert_eq!(&buf[..KEY_SIZE][252..255], b"|9\0");
    // RAW allows the full field, less the NUL.
    assert!(encode(&"k".repeat(511), &"v".repeat(2047), &Limits::RAW, &mut buf).is_ok());
    assert!(encode(&"k".repeat(512), "v", &Limits::RAW, &mut buf).is_err());
}

#[test]
fn a_reused_buffer_keeps_nothing_of_the_previous_record() {
    let mut buf = [0; RECORD_SIZE];
    encode(
        &"long key".repeat(30),
        &"long value".repeat(100),
        &Limits::SAFE,
        &mut buf,
    )
    .unwrap();
    encode("k", "v", &Limits::SAFE, &mut buf).unwrap();
    assert!(
        !decode(&buf)
            .next()
            .unwrap()
            .unwrap()
            .record
            .has_stale_bytes()
    );
}
