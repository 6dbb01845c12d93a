//! The name part of keys shaped by a hook (azure-init's `module:function`
//! span names), and the switch that leaves out events in no span.

#![allow(clippy::unwrap_used)]

mod common;

use tracing_kvp::KvpLayer;
use tracing_subscriber::prelude::*;

#[test]
fn a_hook_names_span_keys_module_colon_function() {
    let pool = common::pool();
    let layer = KvpLayer::builder("azure-init")
        .vm_id("vm")
        .ignore_env()
        .filter("info")
        .key_name(|meta| {
            meta.is_span()
                .then(|| format!("{}:{}", meta.module_path().unwrap_or_default(), meta.name()))
        })
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _span = tracing::info_span!("provision").entered();
        tracing::warn!("inside");
    });
    let keys: Vec<String> = pool.flush().into_iter().map(|(k, _)| k).collect();
    let names: Vec<&str> = keys.iter().map(|k| k.split('|').nth(3).unwrap()).collect();
    assert!(names.contains(&"key_shape:provision"), "{keys:?}");
    assert!(
        names.contains(&"key_shape"),
        "events keep the default, their target: {keys:?}"
    );
}

#[test]
fn events_outside_spans_can_be_left_out_but_never_the_report() {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .ignore_env()
        .filter("warn")
        .events_outside_spans(false)
        .build(pool.sink.clone())
        .unwrap();
    struct Everything;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Everything {}
    let subscriber = tracing_subscriber::registry().with(layer).with(Everything);
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!("outside every span");
        tracing::info!(health_report = "result=success|agent=a/1");
        {
            let _recorded = tracing::warn_span!("recorded").entered();
            tracing::warn!("in a recorded span");
        }
        let _filtered = tracing::info_span!("filtered_out").entered();
        tracing::warn!("in a span the filter leaves out");
    });
    let values: Vec<String> = pool.flush().into_iter().map(|(_, v)| v).collect();
    let has = |needle: &str| values.iter().any(|v| v.contains(needle));
    assert!(!has("outside every span"), "{values:?}");
    assert!(has("result=success"), "{values:?}");
    assert!(has("in a recorded span"), "{values:?}");
    assert!(has("in=filtered_out"), "{values:?}");
}

/// Two layers on one writer, each with its own key layout and hook: the
/// writer renders each layer's records with that layer's context (the
/// contexts are the writer's, one per layer, set up before the first
/// record), even after the first layer is dropped.
#[test]
fn two_layers_on_one_writer_keep_their_own_layouts() {
    let pool = common::pool();
    let layer = |prefix: &str, shaped: bool| {
        let builder = KvpLayer::builder(prefix)
            .vm_id("vm")
            .ignore_env()
            .filter("warn");
        let builder = if shaped {
            builder.key_name(|_| Some("shaped".to_owned()))
        } else {
            builder
        };
        builder.build(pool.sink.clone()).unwrap()
    };
    let alpha = layer("alpha", false);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(alpha), || {
        tracing::warn!("from alpha");
    });
    let beta = layer("beta", true);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(beta), || {
        tracing::warn!("from beta");
    });
    let records = pool.flush();
    let key_of = |needle: &str| {
        records
            .iter()
            .find(|(_, v)| v.contains(needle))
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| panic!("no {needle}: {records:?}"))
    };
    assert!(key_of("from alpha").starts_with("alpha|vm|WARN|key_shape|"));
    assert!(key_of("from beta").starts_with("beta|vm|WARN|shaped|"));
}
