//! Spans from 8 threads at once all close with the right parent.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use tracing_kvp::{KvpLayer, parse_fields};
use tracing_subscriber::prelude::*;

#[test]
fn spans_from_eight_threads_keep_their_parents() {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .filter("info")
        // This test measures the write path, not the limiter.
        .rate_limit(None)
        .build(pool.sink.clone())
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    std::thread::scope(|s| {
        for t in 0..8 {
            let dispatch = dispatch.clone();
            s.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for round in 0..50 {
                        let parent = tracing::info_span!("parent", thread = t, round);
                        let _p = parent.enter();
                        for c in 0..3 {
                            let child = tracing::info_span!("child", thread = t, round, c);
                            let _c = child.enter();
                            let grandchild =
                                tracing::info_span!("grandchild", thread = t, round, c);
                            let _g = grandchild.enter();
                        }
                    }
                });
            });
        }
    });
    let records = pool.flush();
    assert_eq!(records.len(), 8 * 50 * 7);

    // id -> (name, fields)
    let mut spans: HashMap<String, (String, HashMap<String, String>)> = HashMap::new();
    for (key, value) in &records {
        let parts: Vec<&str> = key.split('|').collect();
        let fields: HashMap<String, String> = parse_fields(value).unwrap().into_iter().collect();
        spans.insert(parts[4].to_owned(), (parts[3].to_owned(), fields));
    }
    let mut checked = 0;
    for (name, fields) in spans.values() {
        let expected_parent = match name.as_str() {
            "parent" => {
                assert!(!fields.contains_key("parent"));
                continue;
            }
            "child" => "parent",
            "grandchild" => "child",
            other => panic!("unexpected span {other}"),
        };
        let (parent_name, parent_fields) = &spans[&fields["parent"]];
        assert_eq!(parent_name, expected_parent);
        for f in ["thread", "round"] {
            assert_eq!(
                parent_fields[f], fields[f],
                "same thread and round as its parent"
            );
        }
        if name == "grandchild" {
            assert_eq!(parent_fields["c"], fields["c"]);
        }
        checked += 1;
    }
    assert_eq!(checked, 8 * 50 * 6);
}
