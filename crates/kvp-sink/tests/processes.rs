//! 4 processes x 4 threads x 2,500 records into one pool file: it decodes
//! completely, no record is torn or interleaved, and each process accounts
//! for every record it emitted.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;

use common::{child_role, intact_keys, pool_path, spawn_self, value_for};
use kvp_sink::WriterBuilder;

const PROCESSES: usize = 4;
const THREADS: usize = 4;
const PER_THREAD: usize = 2_500;

/// In a child: write this process's share and print its counters.
fn child(path: &str, process: &str) {
    let (sink, guard, _) = WriterBuilder::new(path)
        .record_cap(None)
        .capacity(4096)
        .spawn()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let sink = sink.clone();
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let key = format!("proc-{process}|thread-{t}|{i:05}-r");
                    sink.append(None, &key, &value_for(&key));
                }
            });
        }
    });
    assert!(guard.flush(Duration::from_secs(60)));
    let stats = guard.stats();
    println!("RESULT {process} {} {}", stats.written, stats.dropped());
}

#[test]
fn four_processes_four_threads_each() {
    if let Some(role) = child_role() {
        return child(&std::env::var("KVP_TEST_POOL").unwrap(), &role);
    }
    let (_dir, path) = pool_path();
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            spawn_self(
                "four_processes_four_threads_each",
                &p.to_string(),
                &[("KVP_TEST_POOL", path.display().to_string())],
            )
        })
        .collect();
    let mut reported: HashMap<String, (u64, u64)> = HashMap::new();
    for mut child in children {
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(child.wait().unwrap().success(), "child failed: {out}");
        // libtest prints "test <name> ... " before the child's own output.
        let line = out.split("RESULT ").nth(1).unwrap();
        let f: Vec<&str> = line.split_whitespace().collect();
        reported.insert(
            f[0].to_owned(),
            (f[1].parse().unwrap(), f[2].parse().unwrap()),
        );
    }

    let keys = intact_keys(&std::fs::read(&path).unwrap());
    let mut in_file: HashMap<String, u64> = HashMap::new();
    for key in &keys {
        let process = key.split('|').next().unwrap().trim_start_matches("proc-");
        *in_file.entry(process.to_owned()).or_default() += 1;
    }
    eprintln!(
        "{} records in the file; per process (written, dropped): {reported:?}",
        keys.len()
    );
    let unique: std::collections::HashSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "no record written twice");
    for p in 0..PROCESSES {
        let (written, dropped) = reported[&p.to_string()];
        assert_eq!(
            written + dropped,
            (THREADS * PER_THREAD) as u64,
            "process {p}"
        );
        assert_eq!(
            in_file.get(&p.to_string()).copied().unwrap_or(0),
            written,
            "process {p}"
        );
        assert!(written > 0, "process {p} wrote");
    }
}
