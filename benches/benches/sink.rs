//! End-to-end records per second through the sink into a file (page
//! cache), side by side with the floor: the same records, already encoded,
//! written with one `write_all` (no encoding, no queue, no locks). That
//! floor is the page cache's bandwidth: a record is 2,560 bytes, so 1 M
//! records/s is 2.56 GB/s. The producer thread count grows 1, 2, 4 to show
//! how throughput holds.
//!
//! `cargo bench -p kvp-benches --bench sink`

use std::io::Write;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kvp_codec::{Limits, RECORD_SIZE, encode};
use kvp_sink::WriterBuilder;

const RECORDS: usize = 100_000;
const VALUE: &str = "time=2026-11-21T13:15:47.947Z span=0000002a-0001 message=\"created user\" user=azureuser count=3";

fn key(i: usize) -> String {
    format!("azure-init|6b1c32a4-8f0e-4d52-9c1e-0a3b5e7d9f11|INFO|provision::user|{i:08x}-0001")
}

fn sink_end_to_end(c: &mut Criterion) {
    let keys: Vec<String> = (0..RECORDS).map(key).collect();
    let mut group = c.benchmark_group("sink_records_per_second");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));

    for threads in [1usize, 2, 4] {
        group.bench_with_input(
            BenchmarkId::new("kvp_sink", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let dir = tempfile::tempdir().expect("a temporary directory");
                        let (sink, guard, _) = WriterBuilder::new(dir.path().join(".kvp_pool_1"))
                            .record_cap(None)
                            .blocking(true)
                            .spawn()
                            .expect("the sink opens a fresh pool");
                        let start = Instant::now();
                        std::thread::scope(|s| {
                            for part in keys.chunks(RECORDS / threads) {
                                let sink = sink.clone();
                                s.spawn(move || {
                                    for k in part {
                                        sink.append(None, k, VALUE);
                                    }
                                });
                            }
                        });
                        assert!(guard.flush(Duration::from_secs(60)), "every record written");
                        total += start.elapsed();
                        assert_eq!(guard.stats().written, RECORDS as u64);
                    }
                    total
                });
            },
        );
    }

    let mut encoded = vec![0u8; RECORDS * RECORD_SIZE];
    for (slot, k) in encoded.chunks_exact_mut(RECORD_SIZE).zip(&keys) {
        let slot = slot.try_into().expect("exact chunks");
        encode(k, VALUE, &Limits::SAFE, slot).expect("bench records fit");
    }
    group.bench_function("floor_one_write_all_preencoded", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let mut file = std::fs::File::create(dir.path().join("pool")).expect("a file");
                let start = Instant::now();
                file.write_all(&encoded).expect("page-cache write");
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
}

/// How long a flush takes when the writer has been idle for 25 ms and
/// waits on its timer: the flush must wake it, not wait for its next look
/// (up to `max_delay`). Beside it, the same flush with no pause.
fn sink_flush_after_pause(c: &mut Criterion) {
    let mut group = c.benchmark_group("sink_flush_after_pause");
    group.sample_size(20);
    for (name, pause) in [
        ("kvp_sink_after_25ms", Duration::from_millis(25)),
        ("no_pause_baseline", Duration::ZERO),
    ] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (sink, _guard, _) = WriterBuilder::new(dir.path().join(".kvp_pool_1"))
            .record_cap(None)
            .spawn()
            .expect("the writer starts");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    sink.append(None, "k", &i.to_string());
                    std::thread::sleep(pause);
                    let start = Instant::now();
                    assert!(sink.flush(Duration::from_secs(5)), "the flush completes");
                    total += start.elapsed();
                }
                total
            });
        });
    }
    group.finish();
}

/// How long a record takes to reach the file with no flush, from the call
/// that sends it to the moment the file is longer (polled without pause).
/// An ERROR record wakes the writer. An ordinary record 100 ms after the
/// last finds the writer asleep and wakes it; one 30 ms after the last
/// finds it between two timed looks and waits for the next (at most
/// `max_delay`, 80 ms). The per-record p50 and p99 are printed.
fn sink_delivery(c: &mut Criterion) {
    use kvp_codec::Level;
    let mut group = c.benchmark_group("sink_delivery");
    group.sample_size(10);
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.warm_up_time(Duration::from_nanos(1));
    for (name, level, pause, per_sample) in [
        (
            "error_record",
            Level::Error,
            Duration::from_millis(100),
            20u64,
        ),
        (
            "info_record_100ms_apart",
            Level::Info,
            Duration::from_millis(100),
            20,
        ),
        (
            "info_record_30ms_apart",
            Level::Info,
            Duration::from_millis(30),
            20,
        ),
        (
            "warn_record_30ms_apart",
            Level::Warn,
            Duration::from_millis(30),
            20,
        ),
    ] {
        group.measurement_time((pause + Duration::from_millis(100)) * (10 * per_sample) as u32);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join(".kvp_pool_1");
        let (sink, _guard, _) = WriterBuilder::new(&path)
            .record_cap(None)
            .spawn()
            .expect("the writer starts");
        let mut times = Vec::new();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let real = iters.min(per_sample);
                let mut total = Duration::ZERO;
                for i in 0..real {
                    std::thread::sleep(pause);
                    let before = std::fs::metadata(&path).expect("the pool").len();
                    let start = Instant::now();
                    sink.append(Some(level), "k", &i.to_string());
                    while std::fs::metadata(&path).expect("the pool").len() == before {
                        std::hint::spin_loop();
                    }
                    let t = start.elapsed();
                    times.push(t);
                    total += t;
                }
                total.mul_f64(iters as f64 / real as f64)
            });
        });
        if !times.is_empty() {
            times.sort_unstable();
            let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
            eprintln!(
                "sink_delivery/{name}: {} records, p50 {:?}, p99 {:?}, max {:?}",
                times.len(),
                at(0.5),
                at(0.99),
                times[times.len() - 1]
            );
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = kvp_benches::criterion();
    targets = sink_end_to_end, sink_flush_after_pause, sink_delivery
}
criterion_main!(benches);
