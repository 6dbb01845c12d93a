//! Snapshots of encoded records as a readable hex/ASCII dump, so a change to
//! the bytes on disk shows up in review. Runs of all-zero lines are folded
//! into one `*` line, as `hexdump -C` does.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; a panic is a failed test

use std::fmt::Write;

use kvp_codec::{KEY_SIZE, Limits, RECORD_SIZE, encode, encode_chunk, split_value};

fn dump(record: &[u8; RECORD_SIZE]) -> String {
    let mut out = String::new();
    let mut folded = false;
    for (line, bytes) in record.chunks(16).enumerate() {
        let offset = line * 16;
        if offset == 0 || offset == KEY_SIZE {
            writeln!(
                out,
                "-- {} field --",
                if offset == 0 { "key" } else { "value" }
            )
            .unwrap();
        } else if bytes.iter().all(|&b| b == 0) {
            if !folded {
                out.push_str("*\n");
                folded = true;
            }
            continue;
        }
        folded = false;
        write!(out, "{offset:04x}  ").unwrap();
        for b in bytes {
            write!(out, "{b:02x} ").unwrap();
        }
        out.push_str(" |");
        out.extend(bytes.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out
}

fn encoded(key: &str, value: &str) -> [u8; RECORD_SIZE] {
    let mut buf = [0xEE; RECORD_SIZE];
    encode(key, value, &Limits::SAFE, &mut buf).unwrap();
    buf
}

#[test]
fn ascii_record() {
    let key = "azure-init|6b1c32a4-8f0e-4d52-9c1e-0a3b5e7d9f11|INFO|provision::user|0000002a-0001";
    insta::assert_snapshot!(dump(&encoded(
        key,
        "time=2026-11-21T13:15:47.947Z message=\"created user\" user=azureuser"
    )));
}

#[test]
fn non_ascii_record() {
    insta::assert_snapshot!(dump(&encoded("clé|日本語", "héllo wörld ✓ 😀")));
}

#[test]
fn key_at_the_exact_limit() {
    let key = format!("k|{}", "n".repeat(252));
    assert_eq!(key.len(), 254);
    insta::assert_snapshot!(dump(&encoded(&key, "at the limit")));
    let over = format!("{key}n");
    let mut buf = [0; RECORD_SIZE];
    insta::assert_snapshot!(
        "key_one_over_the_limit",
        encode(&over, "v", &Limits::SAFE, &mut buf)
            .unwrap_err()
            .to_string()
    );
}

#[test]
fn value_split_into_three_chunks() {
    // 2,100 units of mixed text: two full chunks and a short third.
    let value: String = "abcdéfgh日本".chars().cycle().take(2100).collect();
    let chunks: Vec<&str> = split_value(&value, &Limits::SAFE).collect();
    assert_eq!(chunks.len(), 3);
    let mut all = String::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut buf = [0xEE; RECORD_SIZE];
        encode_chunk(
            "agent|vm|INFO|long|00ff-0001",
            i as u32,
            chunk,
            &Limits::SAFE,
            &mut buf,
        )
        .unwrap();
        writeln!(
            all,
            "== chunk {i}: {} bytes, {} units ==",
            chunk.len(),
            kvp_codec::utf16_len(chunk)
        )
        .unwrap();
        all.push_str(&dump(&buf));
    }
    insta::assert_snapshot!(all);
}
