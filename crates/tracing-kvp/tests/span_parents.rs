//! Which parent a span's record names (`parent=<id>`): the current span, an
//! explicit parent, none for an explicit root, and past spans the layer's
//! filter leaves out, the nearest ancestor it records. The layer works this
//! out without looking the new span up in the registry; the registry's own
//! answer (through `SpanRef::parent`) is the reference.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use tracing_kvp::{Ids, KvpLayer, parse_fields};
use tracing_subscriber::prelude::*;

/// Span name -> (its id, its `parent` field or `-`).
fn spans(pool: &common::Pool) -> HashMap<String, (String, String)> {
    let mut spans = HashMap::new();
    for (key, value) in pool.flush() {
        let parts: Vec<&str> = key.split('|').collect();
        let fields: HashMap<String, String> = parse_fields(&value).unwrap().into_iter().collect();
        if fields.contains_key("end") {
            let parent = fields.get("parent").cloned().unwrap_or_else(|| "-".into());
            spans.insert(parts[3].to_owned(), (parts[4].to_owned(), parent));
        }
    }
    spans
}

fn layer(pool: &common::Pool) -> impl tracing_subscriber::Layer<tracing_subscriber::Registry> {
    KvpLayer::builder("agent")
        .vm_id("vm")
        .env_var("TRACING_KVP_TEST_UNSET_VARIABLE")
        .filter("info")
        .rate_limit(None)
        .ids(Ids::with_tag(7))
        .build(pool.sink.clone())
        .unwrap()
}

/// Spans under spans the layer's filter leaves out, directly and
/// explicitly, one and two levels down, and under a root left out.
fn scenario() {
    let root = tracing::info_span!("root");
    let _r = root.enter();
    tracing::info_span!("contextual").in_scope(|| {});
    let other = tracing::info_span!("other");
    tracing::info_span!(parent: &other, "explicit").in_scope(|| {});
    tracing::info_span!(parent: None, "explicit_root").in_scope(|| {});
    let hidden = tracing::debug_span!("hidden");
    hidden.in_scope(|| tracing::info_span!("under_hidden").in_scope(|| {}));
    tracing::info_span!(parent: &hidden, "explicit_under_hidden").in_scope(|| {});
    let hidden_a = tracing::debug_span!(parent: &other, "hidden_a");
    let hidden_b = tracing::debug_span!(parent: &hidden_a, "hidden_b");
    tracing::info_span!(parent: &hidden_b, "two_levels_down").in_scope(|| {});
    let hidden_root = tracing::debug_span!(parent: None, "hidden_root");
    tracing::info_span!(parent: &hidden_root, "under_hidden_root").in_scope(|| {});
}

fn check(pool: &common::Pool, left_out: [(&str, &str); 4]) {
    let spans = spans(pool);
    let id = |name: &str| spans.get(name).map_or("-".to_owned(), |s| s.0.clone());
    let common = [
        ("root", "-"),
        ("contextual", "root"),
        ("other", "root"),
        ("explicit", "other"),
        ("explicit_root", "-"),
    ];
    for (name, parent) in common.into_iter().chain(left_out) {
        assert_eq!(spans[name].1, id(parent), "{name}: {spans:?}");
    }
    assert!(!spans.contains_key("hidden"));
}

/// Both cases in one test, one after the other: `tracing` combines a
/// callsite's interest over every live dispatcher, so the second case's
/// all-enabling layer, alive on another test thread, would create the
/// first case's filtered spans.
#[test]
fn spans_name_the_nearest_ancestor_this_layer_records() {
    // With no other layer, a span every layer leaves out is never created:
    // `parent: &hidden` is no parent at all, as `tracing` defines it.
    let pool = common::pool();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer(&pool)), scenario);
    check(
        &pool,
        [
            ("under_hidden", "root"),
            ("explicit_under_hidden", "-"),
            ("two_levels_down", "-"),
            ("under_hidden_root", "-"),
        ],
    );

    // With a layer that takes everything, the spans this layer's filter
    // leaves out exist in the registry: each span names its nearest
    // ancestor this layer records.
    let pool = common::pool();
    let subscriber = tracing_subscriber::registry()
        .with(layer(&pool))
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing::subscriber::with_default(subscriber, scenario);
    check(
        &pool,
        [
            ("under_hidden", "root"),
            ("explicit_under_hidden", "root"),
            ("two_levels_down", "other"),
            ("under_hidden_root", "-"),
        ],
    );
}
