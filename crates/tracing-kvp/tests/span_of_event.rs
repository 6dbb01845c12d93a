//! Which span an event names (`span=<id>`): the innermost entered span this
//! layer records, an explicit parent, or none; with spans exited out of
//! order, spans the layer's filter leaves out, and two layers on one thread.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use tracing::Dispatch;
use tracing_kvp::{Ids, KvpLayer, parse_fields};
use tracing_subscriber::prelude::*;

fn dispatch(pool: &common::Pool, tag: u64) -> Dispatch {
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .env_var("TRACING_KVP_TEST_UNSET_VARIABLE")
        .filter("info")
        .rate_limit(None)
        .ids(Ids::with_tag(tag))
        .build(pool.sink.clone())
        .unwrap();
    Dispatch::new(tracing_subscriber::registry().with(layer))
}

/// `name` field of each event -> its `span` field, and span name -> id.
fn read(pool: &common::Pool) -> (HashMap<String, String>, HashMap<String, String>) {
    let (mut events, mut spans) = (HashMap::new(), HashMap::new());
    for (key, value) in pool.flush() {
        let parts: Vec<&str> = key.split('|').collect();
        let fields: HashMap<String, String> = parse_fields(&value).unwrap().into_iter().collect();
        if let Some(name) = fields.get("name") {
            let span = fields.get("span").cloned().unwrap_or_else(|| "-".into());
            events.insert(name.clone(), span);
        } else if fields.contains_key("start") {
            spans.insert(parts[3].to_owned(), parts[4].to_owned());
        }
    }
    (events, spans)
}

#[test]
fn events_name_the_right_span() {
    let pool = common::pool();
    let d = dispatch(&pool, 1);
    tracing::dispatcher::with_default(&d, || {
        tracing::info!(name = "outside");
        let outer = tracing::info_span!("outer");
        let inner = tracing::info_span!("inner");
        let hidden = tracing::debug_span!("hidden_by_filter");
        let other = tracing::info_span!("other");
        let o = outer.enter();
        tracing::info!(name = "in_outer");
        let i = inner.enter();
        let h = hidden.enter();
        tracing::info!(name = "in_inner_under_a_filtered_span");
        drop(h);
        tracing::info!(parent: &other, name = "explicit_parent");
        tracing::info!(parent: None, name = "explicit_root");
        // Exited out of order: `outer` first, while `inner` stays entered.
        drop(o);
        tracing::info!(name = "inner_after_outer_exit");
        drop(i);
        tracing::info!(name = "after_all_exits");
        other.in_scope(|| tracing::info!(name = "in_scope"));
        // Re-entering a span already entered.
        let a = outer.enter();
        let b = outer.enter();
        drop(b);
        tracing::info!(name = "outer_reentered");
        drop(a);
    });
    drop(d);
    let (events, spans) = read(&pool);
    let id = |s: &str| spans[s].clone();
    let expected = [
        ("outside", "-".to_owned()),
        ("in_outer", id("outer")),
        ("in_inner_under_a_filtered_span", id("inner")),
        ("explicit_parent", id("other")),
        ("explicit_root", "-".to_owned()),
        ("inner_after_outer_exit", id("inner")),
        ("after_all_exits", "-".to_owned()),
        ("in_scope", id("other")),
        ("outer_reentered", id("outer")),
    ];
    for (name, span) in expected {
        assert_eq!(events[name], span, "{name}: {events:?} {spans:?}");
    }
    assert!(!spans.contains_key("hidden_by_filter"));
}

#[test]
fn two_layers_on_one_thread_keep_their_own_spans() {
    let pool = common::pool();
    let (a, b) = (dispatch(&pool, 0xa), dispatch(&pool, 0xb));
    tracing::dispatcher::with_default(&a, || {
        let span_a = tracing::info_span!("span_a");
        let _ea = span_a.enter();
        tracing::dispatcher::with_default(&b, || {
            tracing::info!(name = "b_without_span");
            let span_b = tracing::info_span!("span_b");
            span_b.in_scope(|| tracing::info!(name = "b_in_span"));
        });
        tracing::info!(name = "a_in_span");
    });
    drop((a, b));
    let (events, spans) = read(&pool);
    assert_eq!(events["b_without_span"], "-");
    assert_eq!(events["b_in_span"], spans["span_b"]);
    assert_eq!(events["a_in_span"], spans["span_a"]);
}

/// A `Debug` impl that fails: the record keeps what it wrote, and nothing
/// panics (`io::Write::write_fmt` would).
struct Failing;

impl std::fmt::Debug for Failing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("partial")?;
        Err(std::fmt::Error)
    }
}

#[test]
fn a_failing_debug_impl_is_written_as_far_as_it_got() {
    let pool = common::pool();
    let d = dispatch(&pool, 2);
    tracing::dispatcher::with_default(&d, || tracing::info!(name = "failing", v = ?Failing));
    drop(d);
    let records = pool.flush();
    let (_, value) = records.iter().find(|(_, v)| v.contains("failing")).unwrap();
    assert!(value.ends_with("v=partial"), "{value}");
}

/// A value whose `Debug` logs an ERROR event, as a careless impl might.
struct Logs;

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        tracing::error!(name = "from_debug");
        f.write_str("logged")
    }
}

/// The event logged while a span's late field is captured looks the span
/// up (its id, and its error status): the layer must not hold the span's
/// entry in its map locked then, or the lookup would deadlock.
#[test]
fn a_debug_impl_that_logs_while_a_span_records_a_field() {
    let pool = common::pool();
    let d = dispatch(&pool, 3);
    // On a thread, so that a deadlock fails the test instead of hanging it.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let scenario = d.clone();
    std::thread::spawn(move || {
        tracing::dispatcher::with_default(&scenario, || {
            let span = tracing::info_span!("recording", late = tracing::field::Empty);
            let _entered = span.enter();
            span.record("late", tracing::field::debug(Logs));
            tracing::info_span!("at_open", v = ?Logs).in_scope(|| {});
        });
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the scenario finishes: no deadlock");
    drop(d);
    let (events, spans) = read(&pool);
    let records = pool.flush();
    assert_eq!(events["from_debug"], spans["recording"], "{records:?}");
    let (_, close) = records
        .iter()
        .find(|(k, v)| k.contains("|recording|") && v.contains("end="))
        .unwrap();
    assert!(close.contains("late=logged"), "{close}");
    assert!(close.contains("status=error"), "{close}");
}

/// Spans the layer's filter leaves out are still named: an event in no
/// recorded span says where it happened with `in=<outer>/<inner>`; an
/// event in a recorded span names that span only.
#[test]
fn an_event_in_filtered_out_spans_names_them() {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .env_var("TRACING_KVP_TEST_UNSET_VARIABLE")
        .filter("warn")
        .rate_limit(None)
        .build(pool.sink.clone())
        .unwrap();
    // Another layer that wants everything (stderr at info, in an agent):
    // without one, no layer wants the INFO spans and they do not exist.
    struct Everything;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Everything {}
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer).with(Everything));
    tracing::dispatcher::with_default(&dispatch, || {
        let provision = tracing::info_span!("provision");
        let _p = provision.enter();
        let ssh = tracing::info_span!("configure_ssh");
        let _s = ssh.enter();
        tracing::warn!(name = "deep", "sshd config replaced");
        let recorded = tracing::warn_span!("recorded");
        let _r = recorded.enter();
        tracing::error!(name = "in_recorded", "failed");
    });
    let records = pool.flush();
    let by_name = |n: &str| -> HashMap<String, String> {
        records
            .iter()
            .map(|(_, v)| {
                parse_fields(v)
                    .unwrap()
                    .into_iter()
                    .collect::<HashMap<_, _>>()
            })
            .find(|f| f.get("name").is_some_and(|x| x == n))
            .unwrap_or_else(|| panic!("{n} in {records:#?}"))
    };
    let deep = by_name("deep");
    assert_eq!(
        deep.get("in").map(String::as_str),
        Some("provision/configure_ssh")
    );
    assert!(!deep.contains_key("span"));
    let recorded = by_name("in_recorded");
    assert!(
        recorded.contains_key("span") && !recorded.contains_key("in"),
        "{recorded:?}"
    );
}

/// The `in=` path of spans the filter leaves out, under each way an agent
/// composes its subscriber: a plain `Registry`, a `Box<dyn Subscriber>`
/// (azure-init's `LoggingSetup`), and layers in a `Vec` (the facade's
/// `layer()`), installed as the global default as an agent installs it.
/// tracing-core tells a layer which dispatcher it is part of in none of the
/// last two, so the layer finds the registry through the global default.
/// Each case runs in a child process of its own.
#[test]
fn the_span_path_holds_in_every_composition() {
    struct Everything;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Everything {}
    type Boxed = Box<dyn tracing::Subscriber + Send + Sync>;
    if test_support::child::role().is_some() {
        let pool = common::pool();
        let kvp_layer = KvpLayer::builder("agent")
            .vm_id("vm")
            .ignore_env()
            .filter("warn")
            .rate_limit(None)
            .build(pool.sink.clone())
            .unwrap();
        let dispatch = match std::env::var("COMPOSITION").unwrap().as_str() {
            "registry" => Dispatch::new(
                tracing_subscriber::registry()
                    .with(kvp_layer)
                    .with(Everything),
            ),
            "boxed" => {
                let boxed: Boxed = Box::new(
                    tracing_subscriber::registry()
                        .with(kvp_layer)
                        .with(Everything),
                );
                Dispatch::new(boxed)
            }
            "vec" => {
                let layers: Vec<Box<dyn tracing_subscriber::Layer<_> + Send + Sync>> =
                    vec![kvp_layer.boxed(), Everything.boxed()];
                Dispatch::new(tracing_subscriber::registry().with(layers))
            }
            other => panic!("no composition {other}"),
        };
        tracing::dispatcher::set_global_default(dispatch).unwrap();
        {
            let _p = tracing::info_span!("provision").entered();
            let _s = tracing::info_span!("configure_ssh").entered();
            tracing::warn!("sshd config replaced");
        }
        let records = pool.flush();
        let fields: HashMap<String, String> =
            parse_fields(&records[0].1).unwrap().into_iter().collect();
        println!("IN {:?}", fields.get("in"));
        return;
    }
    for composition in ["registry", "boxed", "vec"] {
        let (ok, out, err) = test_support::child::run_text(
            "the_span_path_holds_in_every_composition",
            "composition",
            &[("COMPOSITION", composition)],
        );
        assert!(ok, "{composition}: {out}\n{err}");
        assert!(
            out.contains("IN Some(\"provision/configure_ssh\")"),
            "{composition}: {out}"
        );
    }
}
