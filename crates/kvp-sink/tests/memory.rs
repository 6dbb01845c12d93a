//! Memory stays bounded by the queue whatever the disk does: 1,000,000
//! records sent while another process (cloud-init's kind of lock) holds the
//! pool. Runs in a child so the peak (`VmHWM`) is this scenario's alone.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{LockHolder, child_role, empty_pool, pool_path, spawn_self};
use kvp_sink::WriterBuilder;

/// Peak resident memory of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// Runs `test` of this binary as a child in the `memory` role with `env`,
/// and returns the figures it printed as `PEAK <n> NAME <n> NAME <n> ...`:
/// the peak first, then the others in order.
fn child_figures(test: &str, env: &[(&str, String)]) -> Vec<u64> {
    let mut child = spawn_self(test, "memory", env);
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    out.split("PEAK ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap()
        .split_whitespace()
        .step_by(2)
        .map(|n| n.parse().unwrap())
        .collect()
}

#[test]
fn a_stalled_writer_keeps_memory_bounded() {
    if child_role().is_some() {
        let path = std::env::var("KVP_TEST_POOL").unwrap();
        let (sink, guard, _) = WriterBuilder::new(&path)
            .lock_timeout(Duration::from_millis(10))
            .shutdown_timeout(Duration::from_millis(100))
            .spawn()
            .unwrap();
        let value = "time=2026-11-21T13:15:47.947Z message=\"user created\" user=azureuser count=3";
        for i in 0..1_000_000u32 {
            sink.append(None, &format!("agent|vm|INFO|bench|{i:08x}-01"), value);
        }
        let stats = guard.stats();
        println!(
            "PEAK {} DROPPED {} WRITTEN {}",
            peak_rss(),
            stats.dropped_queue_full,
            stats.written
        );
        return;
    }
    let (_dir, path) = empty_pool();
    let holder = LockHolder::hold(&path, "flock");
    let f = child_figures(
        "a_stalled_writer_keeps_memory_bounded",
        &[("KVP_TEST_POOL", path.display().to_string())],
    );
    holder.release();
    let (peak, dropped, written) = (f[0], f[1], f[2]);
    eprintln!(
        "peak RSS {} MiB, dropped {dropped}, written {written}",
        peak >> 20
    );
    assert!(peak < 64 << 20, "peak RSS {} MiB", peak >> 20);
    assert_eq!(written, 0, "nothing written while the lock is held");
    assert!(
        dropped > 990_000,
        "the overflow is dropped and counted: {dropped}"
    );
}

/// Memory is bounded by bytes, not only by entries: 8 threads send values
/// of 100 KB and of 1 MB while another process holds the pool, and a queue
/// asked for a million entries is clamped, so no case passes 64 MiB.
#[test]
fn large_values_and_a_huge_queue_keep_memory_bounded_by_bytes() {
    let test = "large_values_and_a_huge_queue_keep_memory_bounded_by_bytes";
    if child_role().is_some() {
        let path = std::env::var("KVP_TEST_POOL").unwrap();
        let size: usize = std::env::var("KVP_TEST_VALUE").unwrap().parse().unwrap();
        let (sink, guard, _) = WriterBuilder::new(&path)
            .capacity(1_000_000)
            .lock_timeout(Duration::from_millis(10))
            .shutdown_timeout(Duration::from_millis(100))
            .spawn()
            .unwrap();
        let value = "v".repeat(size);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (sink, value) = (sink.clone(), &value);
                s.spawn(move || {
                    for i in 0..2_000 {
                        sink.append(None, &format!("t{t}-{i}"), value);
                    }
                });
            }
        });
        println!(
            "PEAK {} DROPPED {}",
            peak_rss(),
            guard.stats().dropped_queue_full
        );
        return;
    }
    for size in [16usize, 100_000, 1_000_000] {
        let (_dir, path) = empty_pool();
        let holder = LockHolder::hold(&path, "flock");
        let f = child_figures(
            test,
            &[
                ("KVP_TEST_POOL", path.display().to_string()),
                ("KVP_TEST_VALUE", size.to_string()),
            ],
        );
        holder.release();
        let peak = f[0];
        eprintln!(
            "values of {size} B: peak RSS {} MiB, dropped {}",
            peak >> 20,
            f[1]
        );
        assert!(
            peak <= 64 << 20,
            "values of {size} B: peak RSS {} MiB",
            peak >> 20
        );
    }
}

/// The writer never holds the whole pool: with a 1 GiB pool from another
/// writer (over the cap, so the records are dropped and the cap's marker
/// upserted, which searches the file), memory stays flat.
#[test]
fn a_1_gib_pool_is_searched_in_flat_memory() {
    let test = "a_1_gib_pool_is_searched_in_flat_memory";
    if child_role().is_some() {
        let path = std::env::var("KVP_TEST_POOL").unwrap();
        let (sink, guard, _) = WriterBuilder::new(&path).spawn().unwrap();
        for i in 0..6 {
            sink.append(None, &format!("k{i}"), "v");
        }
        sink.upsert(None, "PROVISIONING_REPORT", "result=success");
        guard.flush(Duration::from_secs(60));
        let stats = guard.stats();
        println!(
            "PEAK {} CAP {} WRITTEN {}",
            peak_rss(),
            stats.dropped_cap,
            stats.written
        );
        return;
    }
    let (_dir, path) = pool_path();
    test_support::sparse_file(&path, 1 << 30);
    let f = child_figures(test, &[("KVP_TEST_POOL", path.display().to_string())]);
    let peak = f[0];
    eprintln!("1 GiB pool: peak RSS {} MiB, {f:?}", peak >> 20);
    assert!(peak <= 64 << 20, "peak RSS {} MiB", peak >> 20);
    assert_eq!(f[1], 7, "6 appends and a new upsert dropped by the cap");
}
