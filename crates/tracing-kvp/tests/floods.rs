//! A hot loop cannot fill the pool: per-callsite rate limiting, with the
//! suppressed records counted and reported.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use tracing_kvp::{KvpLayer, RateLimit, parse_fields};
use tracing_subscriber::prelude::*;

fn field(value: &str, name: &str) -> Option<String> {
    parse_fields(value)
        .unwrap()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

#[test]
fn a_hot_loop_writes_at_most_burst_plus_elapsed_seconds_plus_one() {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .build(pool.sink.clone())
        .unwrap();
    let handle = layer.inner().handle();
    let started = Instant::now();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..100_000u32 {
            tracing::warn!(i, "disk is slow");
        }
    });
    let elapsed = started.elapsed().as_secs_f64().ceil() as usize;
    assert_eq!(
        handle.flush_suppressed(),
        1,
        "one callsite with a pending count"
    );
    let records = pool.flush();
    let events = records.len() - 1;
    assert!(
        events <= 10 + elapsed,
        "{events} event records in {elapsed} s"
    );

    // Every event is accounted for: written, or counted as suppressed.
    let summary = records.last().unwrap();
    assert_eq!(field(&summary.1, "reason").as_deref(), Some("rate-limit"));
    assert!(
        field(&summary.1, "callsite")
            .unwrap()
            .contains("floods.rs:"),
        "{}",
        summary.1
    );
    let suppressed: u64 = records
        .iter()
        .filter_map(|(_, v)| field(v, "suppressed"))
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(events as u64 + suppressed, 100_000);
}

#[test]
fn the_next_record_carries_the_count() {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .rate_limit(Some(RateLimit {
            burst: 2,
            per_second: 50.0,
        }))
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let emit = |i: u32| tracing::warn!(i, "tick");
        for i in 0..5 {
            emit(i); // 2 written, 3 suppressed
        }
        std::thread::sleep(Duration::from_millis(100)); // refills
        emit(5);
    });
    let records = pool.flush();
    let is: Vec<(String, Option<String>)> = records
        .iter()
        .map(|(_, v)| (field(v, "i").unwrap(), field(v, "suppressed")))
        .collect();
    assert_eq!(
        is,
        [
            ("0".into(), None),
            ("1".into(), None),
            ("5".into(), Some("3".into()))
        ]
    );
}

#[test]
fn callsites_are_limited_separately_and_the_limit_can_be_off() {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for _ in 0..50 {
            tracing::warn!("a");
            tracing::warn!("b");
        }
    });
    assert_eq!(pool.flush().len(), 20, "10 from each callsite");

    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .rate_limit(None)
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for _ in 0..50 {
            tracing::warn!("a");
        }
    });
    assert_eq!(pool.flush().len(), 50);
}

/// Two layers on one thread, one callsite: each keeps its own bucket (the
/// per-thread cache of limiters must not hand one layer the other's).
#[test]
fn two_layers_keep_their_own_buckets() {
    let (a, b) = (common::pool(), common::pool());
    let limited = |burst| {
        KvpLayer::builder("agent")
            .vm_id("vm")
            .rate_limit(Some(RateLimit {
                burst,
                per_second: 1e-6,
            }))
    };
    let subscriber = tracing_subscriber::registry()
        .with(limited(2).build(a.sink.clone()).unwrap())
        .with(limited(5).build(b.sink.clone()).unwrap());
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..20 {
            tracing::warn!("same callsite");
        }
    });
    assert_eq!((a.flush().len(), b.flush().len()), (2, 5));
}

#[test]
fn rates_parse_and_refuse_nonsense() {
    assert_eq!(
        "10/1".parse::<RateLimit>(),
        Ok(RateLimit {
            burst: 10,
            per_second: 1.0
        })
    );
    assert_eq!(
        "5/0.5".parse::<RateLimit>(),
        Ok(RateLimit {
            burst: 5,
            per_second: 0.5
        })
    );
    for bad in ["", "10", "0/1", "10/0", "10/-1", "x/1", "10/inf"] {
        assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
    }
}

/// A huge field is cut when it is captured, to what the writer could ever
/// write of one value, so it costs the queue no more than that; the record
/// that reaches the pool is cut with the truncation marker.
#[test]
fn a_huge_field_is_cut_at_capture_and_marked() {
    let pool = common::pool();
    let layer = tracing_kvp::KvpLayer::builder("agent")
        .vm_id("vm")
        .filter("info")
        .build(pool.sink.clone())
        .unwrap();
    let huge = "é".repeat(1 << 20);
    let debug_huge = vec![7u8; 1 << 20];
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(blob = huge.as_str(), "text");
        tracing::info!(bytes = ?debug_huge, "debug");
    });
    let records = pool.flush();
    let values: Vec<&String> = records.iter().map(|(_, v)| v).collect();
    assert_eq!(
        values.len(),
        2,
        "{:?}",
        records.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    for v in values {
        assert!(
            v.ends_with(kvp_sink::TRUNCATED_MARKER),
            "{}",
            &v[v.len() - 40..]
        );
        assert!(v.len() <= 16 * 2047, "{}", v.len());
    }
    assert_eq!(pool.guard.stats().truncated_values, 2);
}
