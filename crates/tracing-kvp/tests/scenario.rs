//! A fixed scenario through the real layer and sink, with an injected clock
//! and id source, snapshotted as the records the pool file holds.

#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write;

use tracing_kvp::{Ids, KvpLayer, ProvisioningReport, parse_fields};
use tracing_subscriber::prelude::*;

#[test]
fn nested_spans_late_fields_errors_chunks_and_a_report() {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("6b1c32a4-8f0e-4d52-9c1e-0a3b5e7d9f11")
        .env_var("TRACING_KVP_TEST_UNSET_VARIABLE")
        .filter("trace")
        .clock(common::stepping_clock())
        .ids(Ids::with_tag(0xa9e7))
        .build(pool.sink.clone())
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(target: "agent::boot", "event outside any span");
        let provision = tracing::info_span!(
            "provision",
            user = "azureuser",
            attempts = tracing::field::Empty
        );
        let _p = provision.enter();
        tracing::info!(greeting = "héllo wörld ✓ 日本語", "non-ASCII text");
        {
            let create = tracing::info_span!("create_user", uid = 1000);
            let _c = create.enter();
            tracing::error!(
                error = "exit status 1",
                command = "useradd -m azureuser",
                "useradd failed"
            );
        }
        provision.record("attempts", 2);
        tracing::info!(payload = %"x".repeat(2500), "a value needing 3 chunks");
        tracing::info!(health_report = %ProvisioningReport::success("agent/1.0").at(std::time::UNIX_EPOCH), "report");
    });

    let records = pool.flush();
    let mut dump = String::new();
    for (key, value) in &records {
        let value = value.replace(&"x".repeat(2500), "<2500 x>");
        writeln!(dump, "{key}\n    {value}").unwrap();
    }
    insta::assert_snapshot!(dump);

    // Every value parses back (the report excepted: it is the agents' format).
    for (key, value) in &records {
        if key != "PROVISIONING_REPORT" {
            parse_fields(value).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
    }
    // The long value took 3 chunks.
    let raw = std::fs::read(&pool.path).unwrap();
    let chunk_keys = kvp_codec::decode(&raw)
        .filter_map(Result::ok)
        .filter(|r| kvp_codec::split_chunk_suffix(r.key).1.is_some())
        .count();
    assert_eq!(chunk_keys, 3);
}

/// With span-open records on, a span that never closes (the process dies
/// inside it) still leaves a record.
#[test]
fn span_open_records_survive_spans_that_never_close() {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .filter("info")
        .span_open_records(true)
        .clock(common::stepping_clock())
        .ids(Ids::with_tag(1))
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let outer = tracing::info_span!("outer");
        let _o = outer.enter();
        let never_closed = tracing::info_span!("stuck", step = "mount");
        std::mem::forget(never_closed);
    });
    let records = pool.flush();
    let keys: Vec<&str> = records.iter().map(|(k, _)| k.as_str()).collect();
    // `outer` never closes either: the registry keeps a parent alive while
    // a child lives. Only the open records tell what was running.
    assert_eq!(
        keys,
        [
            "agent|vm|INFO|outer|000000000001-0-open",
            "agent|vm|INFO|stuck|000000000001-1-open",
        ]
    );
    assert_eq!(
        records[1].1,
        "start=2026-11-21T12:00:00.001Z status=open parent=000000000001-0 step=mount"
    );
}
