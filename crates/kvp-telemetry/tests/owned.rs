//! The facade for an agent that owns its filters and its environment:
//! a ready filter object is used as it is, environment overrides can be
//! turned off, and no app target is guessed from a prefix that names no
//! crate. Each case runs in a child process with its own environment.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use kvp_telemetry::{EnvFilter, Telemetry};
use test_support::pool_records;

/// Builds the facade as the `CASE` variable says, logs an INFO and a WARN
/// event from the `azure_init` target, and prints the pool's values.
#[test]
fn child_logs_through_the_facade() {
    if test_support::child::role().is_none() {
        // An ordinary run checks the default case itself.
        let (ok, out, err) = run("default", &[]);
        assert!(ok, "{out}\n{err}");
        assert!(out.contains("KVP true"), "{out}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let builder = Telemetry::builder(std::env::var("PREFIX").unwrap_or("azure-init".into()))
        .pool_path(&pool)
        .vm_id("vm-1")
        .stderr(false);
    let builder = match std::env::var("CASE").unwrap().as_str() {
        "default" => builder,
        "no-env" => builder.env_overrides(false),
        "filter-object" => builder.kvp_env_filter(EnvFilter::new("warn,azure_init=info")),
        other => panic!("no case {other}"),
    };
    let (dispatch, guard) = builder.build().unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(target: "azure_init", "kvp_owned_info");
        tracing::warn!(target: "azure_init", "kvp_owned_warn");
    });
    guard.flush(Duration::from_secs(5));
    println!("KVP {}", guard.kvp_enabled());
    if pool.exists() {
        for (_, value) in pool_records(&pool) {
            println!("VALUE {value}");
        }
    }
}

fn run(case: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd =
        test_support::child::command("child_logs_through_the_facade", "owned", &[("CASE", case)]);
    for var in ["KVP_TELEMETRY_KVP", "KVP_TELEMETRY_KVP_LOG", "PREFIX"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn environment_overrides_can_be_turned_off() {
    let (ok, out, err) = run("default", &[("KVP_TELEMETRY_KVP", "off")]);
    assert!(
        ok && out.contains("KVP false"),
        "the switch works: {out}\n{err}"
    );
    let (ok, out, err) = run("no-env", &[("KVP_TELEMETRY_KVP", "off")]);
    assert!(
        ok && out.contains("KVP true"),
        "and is ignored: {out}\n{err}"
    );
    assert!(out.contains("kvp_owned_warn"), "{out}");
}

#[test]
fn a_filter_object_is_used_as_it_is() {
    let (ok, out, err) = run("filter-object", &[("KVP_TELEMETRY_KVP_LOG", "error")]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("kvp_owned_info") && out.contains("kvp_owned_warn"),
        "the variable does not override the object: {out}"
    );
}

/// `azure-init-0.1.1` names no crate: the default filter records WARN and
/// above, and stderr says so once, with what to do.
#[test]
fn no_app_target_is_guessed_from_a_prefix_that_names_no_crate() {
    let (ok, out, err) = run("default", &[("PREFIX", "azure-init-0.1.1")]);
    assert!(ok, "{out}\n{err}");
    assert!(!out.contains("kvp_owned_info"), "{out}");
    assert!(out.contains("kvp_owned_warn"), "{out}");
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("not a crate name"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(said[0].contains("app_targets"), "{}", said[0]);

    let (ok, out, err) = run("default", &[("PREFIX", "azure-init")]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("kvp_owned_info"),
        "a crate-like prefix is its crate: {out}"
    );
    assert!(!err.contains("not a crate name"), "{err}");
}

/// An error keeps its causes as its source chain, and no message appears
/// twice when the chain is printed.
#[test]
fn errors_keep_their_source_chain_without_repeating_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = Telemetry::builder("owned")
        .pool_path(dir.path().join("no-such-dir/.kvp_pool_1"))
        .require_kvp(true)
        .stderr(false)
        .build()
        .unwrap_err();
    let mut chain = vec![err.to_string()];
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        chain.push(c.to_string());
        cause = c.source();
    }
    assert_eq!(chain.len(), 2, "{chain:?}");
    assert!(chain[1].contains("no-such-dir"), "{chain:?}");
    assert!(!chain[0].contains("no-such-dir"), "said once: {chain:?}");
}

/// The facade's `layer()` is a `Vec` of layers inside the application's
/// subscriber, where tracing-core never tells a layer its dispatcher: an
/// event in spans the KVP filter leaves out (and the application's own
/// log layer records) still names them with `in=`.
#[test]
fn the_span_path_holds_under_the_facades_layer() {
    use tracing_subscriber::prelude::*;
    if test_support::child::role().is_some() {
        let dir = tempfile::tempdir().unwrap();
        let pool = dir.path().join(".kvp_pool_1");
        let (telemetry, guard) = Telemetry::builder("agent")
            .pool_path(&pool)
            .vm_id("vm-1")
            .stderr(false)
            .env_overrides(false)
            .kvp_filter("warn")
            .layer()
            .unwrap();
        let own_log = tracing_subscriber::fmt::layer().with_writer(std::io::sink);
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(telemetry).with(own_log),
        )
        .unwrap();
        {
            let _p = tracing::info_span!("provision").entered();
            let _s = tracing::info_span!("configure_ssh").entered();
            tracing::warn!("sshd config replaced");
        }
        guard.flush(Duration::from_secs(5));
        for (_, value) in pool_records(&pool) {
            println!("VALUE {value}");
        }
        return;
    }
    let (ok, out, err) = test_support::child::run_text(
        "the_span_path_holds_under_the_facades_layer",
        "layer",
        &[] as &[(&str, &str)],
    );
    assert!(ok, "{out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.contains("sshd config replaced"))
        .unwrap_or_else(|| panic!("no event in the pool: {out}"));
    assert!(line.contains("in=provision/configure_ssh"), "{line}");
}

/// `build()` and `layer()` leave the process as they found it: no panic
/// hook (a panic writes nothing to the pool, and the application's own
/// hook still runs), no `log` logger (the application can install its
/// own afterwards), and no exit hook (a span still open at `exit` is not
/// closed into the pool). `init()` is the call that installs them.
#[test]
fn build_and_layer_install_no_process_wide_hook() {
    use tracing_subscriber::prelude::*;
    if test_support::child::role().is_some() {
        std::panic::set_hook(Box::new(|_| println!("HOOK mine")));
        let pool = std::path::PathBuf::from(std::env::var_os("TEST_POOL").unwrap());
        let builder = Telemetry::builder("agent")
            .pool_path(&pool)
            .vm_id("vm-1")
            .stderr(false)
            .env_overrides(false);
        let (dispatch, guard) = match std::env::var("CALL").unwrap().as_str() {
            "build" => builder.build().unwrap(),
            "layer" => {
                let (telemetry, guard) = builder.layer().unwrap();
                (
                    tracing::Dispatch::new(tracing_subscriber::registry().with(telemetry)),
                    guard,
                )
            }
            other => panic!("no call {other}"),
        };
        tracing::dispatcher::set_global_default(dispatch).unwrap();
        println!("LOGGER free {}", tracing_log::LogTracer::init().is_ok());
        let caught = std::panic::catch_unwind(|| panic!("a bug in the agent"));
        println!("CAUGHT {}", caught.is_err());
        let span = tracing::warn_span!("provision");
        let _entered = span.enter();
        tracing::warn!("inside the open span");
        guard.flush(Duration::from_secs(5));
        std::mem::forget(guard);
        std::process::exit(0);
    }
    for call in ["build", "layer"] {
        let dir = tempfile::tempdir().unwrap();
        let pool = dir.path().join(".kvp_pool_1");
        let pool_var = pool.to_str().unwrap();
        let (ok, out, err) = test_support::child::run_text(
            "build_and_layer_install_no_process_wide_hook",
            "hooks",
            &[("CALL", call), ("TEST_POOL", pool_var)],
        );
        assert!(ok, "{call}: {out}\n{err}");
        assert!(
            out.contains("HOOK mine") && out.contains("CAUGHT true"),
            "{call}: {out}"
        );
        assert!(out.contains("LOGGER free true"), "{call}: {out}");
        let values: Vec<String> = pool_records(&pool).into_iter().map(|(_, v)| v).collect();
        let has = |needle: &str| values.iter().any(|v| v.contains(needle));
        assert!(has("inside the open span"), "{call}: {values:?}");
        assert!(!has("panicked"), "{call}: no panic record: {values:?}");
        assert!(
            !has("ended_by="),
            "{call}: no span closed at exit: {values:?}"
        );
    }
}
