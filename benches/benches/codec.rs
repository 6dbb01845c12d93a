//! Encoding one record against the floor it cannot beat (a memset plus two
//! copies), and decoding a 1,024-record pool file.
//!
//! `cargo bench -p kvp-benches --bench codec`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kvp_benches::sample_pool;
use kvp_codec::{KEY_SIZE, Limits, RECORD_SIZE, decode, encode};

const KEY: &str =
    "azure-init|6b1c32a4-8f0e-4d52-9c1e-0a3b5e7d9f11|INFO|provision::user|0000002a-0001";
const VALUE: &str = "time=2026-11-21T13:15:47.947Z span=0000002a-0001 message=\"created user\" user=azureuser count=3 elapsed_ms=12.5";

/// What any encoder must do at least: zero the record, copy key and value.
fn memset_and_copy(key: &[u8], value: &[u8], out: &mut [u8; RECORD_SIZE]) {
    out.fill(0);
    out[..key.len()].copy_from_slice(key);
    out[KEY_SIZE..KEY_SIZE + value.len()].copy_from_slice(value);
}

fn encode_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_record");
    let mut out = [0u8; RECORD_SIZE];
    group.bench_function("kvp_codec", |b| {
        b.iter(|| {
            encode(black_box(KEY), black_box(VALUE), &Limits::SAFE, &mut out)
                .expect("the bench record fits")
        });
    });
    group.bench_function("baseline_memset_copy", |b| {
        b.iter(|| {
            memset_and_copy(
                black_box(KEY.as_bytes()),
                black_box(VALUE.as_bytes()),
                &mut out,
            )
        });
    });
    group.finish();
}

fn decode_file(c: &mut Criterion) {
    let file = sample_pool(1024);
    let mut group = c.benchmark_group("decode_pool_1024");
    group.throughput(Throughput::Elements(1024));
    group.bench_function("kvp_codec", |b| {
        b.iter(|| {
            decode(black_box(&file))
                .map(|r| r.map_or(0, |d| d.value.len()))
                .sum::<usize>()
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = kvp_benches::criterion();
    targets = encode_one, decode_file
}
criterion_main!(benches);
