//! The facade end to end: one call wires stderr, KVP and metrics; KVP can be
//! turned off completely; environment overrides are validated; the panic
//! hook flushes; metric series are upserted, not appended.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvp_codec::{KeyParts, Level};
use kvp_telemetry::{Error, Telemetry};
use test_support::pool_records as records;

/// Names of this process's threads.
fn threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).ok())
        .map(|s| s.trim().to_owned())
        .collect()
}

/// Runs test `name` of this binary in a child with `env`; returns
/// (success, stdout, stderr).
fn child(name: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    test_support::child::run_text(name, "facade", env)
}

fn is_child() -> bool {
    test_support::child::role().is_some()
}

#[test]
fn one_call_wires_kvp_and_metrics() {
    let test_start = SystemTime::now();
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let (dispatch, guard) = Telemetry::builder("agent")
        .pool_path(&pool)
        .vm_id("vm-1")
        .kvp_filter("info")
        .stderr(false)
        .panic_hook(false)
        .build()
        .unwrap();
    assert!(guard.kvp_enabled());
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("provision", user = "azureuser");
        let _e = span.enter();
        tracing::info!(
            monotonic_counter.users_created = 1u64,
            kind = "local",
            "created user"
        );
        tracing::info!(monotonic_counter.logins = 1u64, api_token = "s3cr3t-value");
        tracing::debug!("not in the pool: below the KVP filter");
        tracing::error!(error = "exit status 1", "useradd failed");
    });
    assert!(guard.flush(Duration::from_secs(10)));
    let recs = records(&pool);
    let kinds: Vec<(Level, String)> = recs
        .iter()
        .map(|(k, _)| {
            let p = KeyParts::parse(k).unwrap_or_else(|| panic!("{k}"));
            assert_eq!((p.prefix, p.vm_id), ("agent", "vm-1"));
            (p.level, p.name.to_owned())
        })
        .collect();
    assert!(kinds.contains(&(Level::Info, "facade".into())), "{kinds:?}");
    assert!(
        kinds.contains(&(Level::Error, "facade".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(Level::Info, "provision".into())),
        "{kinds:?}"
    );
    let metric = recs
        .iter()
        .find(|(k, _)| k.contains("|metric.users_created|"))
        .unwrap();
    // The run that wrote the series: this process, started within the test.
    let run = format!("run={}@", std::process::id());
    let (head, rest) = metric
        .1
        .split_once(&run)
        .unwrap_or_else(|| panic!("{metric:?}"));
    assert_eq!(head, "kind=sum value=1 ");
    let (started_ms, attrs) = rest.split_once(' ').unwrap();
    let started = UNIX_EPOCH + Duration::from_millis(started_ms.parse().unwrap());
    // The record has whole milliseconds: its start may be below test_start
    // by less than one.
    assert!(
        started + Duration::from_millis(1) > test_start && started <= SystemTime::now(),
        "{started_ms}"
    );
    assert_eq!(attrs, "a.kind=local");
    let run = format!("{run}{started_ms}");
    assert!(!recs.iter().any(|(_, v)| v.contains("below the KVP filter")));
    let logins = recs
        .iter()
        .find(|(k, _)| k.contains("|metric.logins|"))
        .unwrap_or_else(|| panic!("{recs:#?}"));
    assert_eq!(
        logins.1,
        format!("kind=sum value=1 {run} a.api_token=<redacted>")
    );
    assert!(!String::from_utf8_lossy(&std::fs::read(&pool).unwrap()).contains("s3cr3t"));

    // Periodic exports upsert: more exports, same number of records.
    let before = std::fs::metadata(&pool).unwrap().len();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(monotonic_counter.users_created = 1u64, kind = "local");
    });
    assert!(guard.flush(Duration::from_secs(10)));
    assert!(guard.flush(Duration::from_secs(10)));
    let recs = records(&pool);
    let metric = recs
        .iter()
        .find(|(k, _)| k.contains("|metric.users_created|"))
        .unwrap();
    assert_eq!(metric.1, format!("kind=sum value=2 {run} a.kind=local"));
    assert_eq!(
        std::fs::metadata(&pool).unwrap().len(),
        before + 2560,
        "only the new INFO event was appended; the series was replaced in place"
    );
}

/// In a child process, so that no other test's writer thread is around.
#[test]
fn kvp_off_opens_nothing_and_starts_no_thread() {
    if is_child() {
        let pool = Path::new(&std::env::var("TEST_POOL").unwrap()).to_owned();
        let (dispatch, guard) = Telemetry::builder("agent")
            .pool_path(&pool)
            .kvp(false)
            .stderr(false)
            .build()
            .unwrap();
        tracing::dispatcher::with_default(&dispatch, || tracing::error!("not written anywhere"));
        assert!(!guard.kvp_enabled());
        assert_eq!(guard.kvp_stats(), None);
        assert!(!pool.parent().unwrap().exists(), "no directory, no file");
        assert!(
            !threads().iter().any(|t| t == "kvp-writer"),
            "{:?}",
            threads()
        );
        // The check can fail: with KVP on, the thread is there.
        let (_d, on) = Telemetry::builder("agent")
            .pool_path(pool.with_file_name("x"))
            .create_dir(true)
            .stderr(false)
            .panic_hook(false)
            .build()
            .unwrap();
        // A thread names itself once it runs; a flush proves the writer ran.
        assert!(on.flush(Duration::from_secs(5)));
        assert!(
            on.kvp_enabled() && threads().iter().any(|t| t == "kvp-writer"),
            "{:?}",
            threads()
        );
        println!("CHILD OK");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join("missing-dir").join(".kvp_pool_1");
    let (ok, out, err) = child(
        "kvp_off_opens_nothing_and_starts_no_thread",
        &[("TEST_POOL", pool.to_str().unwrap())],
    );
    assert!(ok && out.contains("CHILD OK"), "{out}\n{err}");
}

#[test]
fn kvp_off_from_the_environment() {
    if is_child() {
        let pool = std::env::var("TEST_POOL").unwrap();
        let (_, guard) = Telemetry::builder("agent")
            .pool_path(&pool)
            .stderr(false)
            .build()
            .unwrap();
        assert!(!guard.kvp_enabled());
        assert!(!Path::new(&pool).exists());
        assert!(!threads().iter().any(|t| t == "kvp-writer"));
        println!("CHILD OK");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let (ok, out, err) = child(
        "kvp_off_from_the_environment",
        &[
            ("KVP_TELEMETRY_KVP", "off"),
            ("TEST_POOL", pool.to_str().unwrap()),
        ],
    );
    assert!(ok && out.contains("CHILD OK"), "{out}\n{err}");
    assert!(!pool.exists());
}

#[test]
fn invalid_environment_overrides_name_the_variable() {
    if is_child() {
        let err = Telemetry::builder("agent")
            .stderr(false)
            .build()
            .unwrap_err();
        println!("ERROR {err}");
        assert!(matches!(err, Error::InvalidEnv { .. }));
        return;
    }
    for (var, value, expected) in [
        (
            "KVP_TELEMETRY_QUEUE",
            "lots",
            "a whole number from 1 to 65536",
        ),
        ("KVP_TELEMETRY_QUEUE", "0", "a whole number from 1 to 65536"),
        (
            "KVP_TELEMETRY_QUEUE",
            "1000000",
            "a whole number from 1 to 65536",
        ),
        (
            "KVP_TELEMETRY_CAP",
            "-5",
            "a whole number from 1 to 1000000, or none",
        ),
        ("KVP_TELEMETRY_KVP", "maybe", "on or off"),
        (
            "KVP_TELEMETRY_VM_ID",
            "a|b",
            "text without `|` or control characters",
        ),
        (
            "KVP_TELEMETRY_RATE",
            "fast",
            "<burst>/<records per second> such as 10/1, or off",
        ),
        (
            "KVP_TELEMETRY_RATE",
            "10/0",
            "<burst>/<records per second> such as 10/1, or off",
        ),
    ] {
        let (ok, out, err) = child(
            "invalid_environment_overrides_name_the_variable",
            &[(var, value)],
        );
        assert!(ok, "{out}\n{err}");
        assert!(
            out.contains(&format!(
                "environment variable {var}={value:?} is invalid: expected {expected}"
            )),
            "{out}"
        );
    }
}

#[test]
fn environment_overrides_apply() {
    if is_child() {
        let (dispatch, guard) = Telemetry::builder("agent")
            .stderr(false)
            .panic_hook(false)
            .build()
            .unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..10 {
                tracing::info!(i, "info passes the KVP_LOG override");
            }
        });
        guard.flush(Duration::from_secs(5));
        println!("STATS {:?}", guard.kvp_stats().unwrap());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join("pool");
    let (ok, out, err) = child(
        "environment_overrides_apply",
        &[
            ("KVP_TELEMETRY_POOL", pool.to_str().unwrap()),
            ("KVP_TELEMETRY_VM_ID", "from-env"),
            ("KVP_TELEMETRY_CAP", "5"),
            ("KVP_TELEMETRY_KVP_LOG", "info"),
        ],
    );
    assert!(ok, "{out}\n{err}");
    let recs = records(&pool);
    assert_eq!(recs.len(), 5, "cap 5: 4 records and the drop marker");
    assert!(
        recs[0].0.starts_with("agent|from-env|INFO|"),
        "{}",
        recs[0].0
    );
    assert!(
        recs[4].0.starts_with("agent|from-env|WARN|kvp-sink|"),
        "{}",
        recs[4].0
    );
    assert!(
        recs[4].1.starts_with("dropped=6 reason=cap"),
        "{}",
        recs[4].1
    );
}

#[test]
fn a_panic_is_recorded_and_flushed_before_the_process_dies() {
    if is_child() {
        let pool = std::env::var("TEST_POOL").unwrap();
        let _guard = Telemetry::builder("agent")
            .pool_path(&pool)
            .vm_id("vm")
            .stderr(false)
            .init()
            .unwrap();
        tracing::warn!("about to fail");
        // Exit without unwinding into the guard's drop: only the hook can
        // have flushed what follows.
        test_support::child::abort_on_panic();
        panic!("disk on fire: password=PANIC-hunter2");
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let (ok, _, err) = child(
        "a_panic_is_recorded_and_flushed_before_the_process_dies",
        &[("TEST_POOL", pool.to_str().unwrap())],
    );
    assert!(!ok, "the child aborts");
    let recs = records(&pool);
    let panic = recs
        .iter()
        .find(|(k, _)| k.starts_with("agent|vm|ERROR|panic|"))
        .unwrap_or_else(|| panic!("{recs:?}\n{err}"));
    assert!(
        panic
            .1
            .contains("error=\"disk on fire: password=<redacted>\""),
        "the message is scrubbed: {}",
        panic.1
    );
    assert!(!String::from_utf8_lossy(&std::fs::read(&pool).unwrap()).contains("hunter2"));
    assert!(panic.1.contains("facade.rs"), "{}", panic.1);
    assert!(recs.iter().any(|(_, v)| v.contains("about to fail")));
}

/// A noisy INFO phase cannot starve the records that matter: with a cap of
/// 100, 1,000 INFO events, then 5 ERROR events and a provisioning report,
/// all 5 ERRORs and the report are in the file. Every key, the drop
/// marker's included, follows one layout: a `|` in the vm_id is `_` in
/// all of them.
#[test]
fn errors_and_the_report_survive_a_full_pool() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let (dispatch, guard) = Telemetry::builder("agent")
        .pool_path(&pool)
        .vm_id("vm|x")
        .record_cap(Some(100))
        .kvp_filter("info")
        .rate_limit(None)
        .metrics(false)
        .stderr(false)
        .panic_hook(false)
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..1000 {
            tracing::info!(i, "noise");
        }
        for i in 0..5 {
            tracing::error!(i, error = "disk full", "provisioning step failed");
        }
        let report = kvp_telemetry::ProvisioningReport::failure("agent/1.0", "disk full");
        tracing::info!(health_report = %report);
    });
    guard.flush(Duration::from_secs(10));
    let recs = records(&pool);
    assert_eq!(
        recs.len(),
        96,
        "89 INFO, 5 ERROR, the report, the drop marker"
    );
    let errors = recs
        .iter()
        .filter(|(k, _)| k.starts_with("agent|vm_x|ERROR|"))
        .count();
    assert_eq!(errors, 5);
    assert!(
        recs.iter()
            .any(|(k, v)| k == "PROVISIONING_REPORT"
                && v.starts_with("result=error|reason=disk full"))
    );
    let marker = recs
        .iter()
        .find(|(k, _)| k.contains("|kvp-sink|dropped-m"))
        .unwrap();
    assert_eq!(
        marker.1,
        "dropped=911 reason=cap cap=100 reserved=10 INFO=911"
    );
    for (key, _) in recs.iter().filter(|(k, _)| k != "PROVISIONING_REPORT") {
        let parts = KeyParts::parse(key).unwrap_or_else(|| panic!("{key}"));
        assert_eq!((parts.prefix, parts.vm_id), ("agent", "vm_x"), "{key}");
    }
    assert_eq!(marker.0, "agent|vm_x|WARN|kvp-sink|dropped-m");
}

/// With the default rate limit, the guard writes the pending suppression
/// counts when it flushes.
#[test]
fn the_guard_reports_suppressed_records() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let (dispatch, guard) = Telemetry::builder("agent")
        .pool_path(&pool)
        .vm_id("vm")
        .metrics(false)
        .stderr(false)
        .panic_hook(false)
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..100 {
            tracing::warn!(i, "hot loop");
        }
    });
    guard.flush(Duration::from_secs(10));
    let recs = records(&pool);
    assert_eq!(recs.len(), 11, "the burst of 10 and one suppression record");
    assert!(
        recs[10].1.contains("suppressed=90 reason=rate-limit"),
        "{}",
        recs[10].1
    );
}

/// Each layer has its own filter, the OpenTelemetry trace layer included:
/// with `trace_filter("warn")` an INFO span is not exported and a WARN one
/// is, while the KVP layer (filter `info`) records both.
#[test]
fn the_trace_layer_has_its_own_filter() {
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let (dispatch, guard) = Telemetry::builder("agent")
        .pool_path(&pool)
        .vm_id("vm")
        .kvp_filter("info")
        .trace_filter("warn")
        .tracer_provider(provider)
        .metrics(false)
        .stderr(false)
        .panic_hook(false)
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        drop(tracing::info_span!("quiet_step"));
        drop(tracing::warn_span!("loud_step"));
    });
    assert!(guard.flush(Duration::from_secs(10)));
    let exported: Vec<String> = exporter
        .get_finished_spans()
        .unwrap()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(exported, ["loud_step"]);
    let kvp: Vec<String> = records(&pool).into_iter().map(|(k, _)| k).collect();
    assert!(kvp.iter().any(|k| k.contains("|quiet_step|")), "{kvp:?}");
    assert!(kvp.iter().any(|k| k.contains("|loud_step|")), "{kvp:?}");
}

/// On a machine without the KVP daemon (here: a pool in a directory that
/// does not exist), `init` succeeds, says so in one stderr line, and the
/// guard tells why; logging goes on. With `require_kvp(true)` it is an
/// error and nothing is installed.
#[test]
fn kvp_is_best_effort_unless_required() {
    if is_child() {
        let pool = std::env::var("TEST_POOL").unwrap();
        let guard = Telemetry::builder("agent")
            .pool_path(&pool)
            .stderr(false)
            .panic_hook(false)
            .init()
            .unwrap();
        assert!(!guard.kvp_enabled());
        let why = guard.kvp_unavailable().unwrap();
        assert!(
            matches!(why, kvp_sink::Error::MissingDirectory { .. }),
            "{why:?}"
        );
        tracing::error!("still logging");
        println!("CHILD OK");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join("no-hyperv/.kvp_pool_1");
    let (ok, out, err) = child(
        "kvp_is_best_effort_unless_required",
        &[("TEST_POOL", pool.to_str().unwrap())],
    );
    assert!(ok && out.contains("CHILD OK"), "{out}\n{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("kvp-telemetry:"))
        .collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(
        lines[0].contains("KVP is unavailable") && lines[0].contains("no-hyperv"),
        "{}",
        lines[0]
    );
    assert!(!pool.exists() && !pool.parent().unwrap().exists());

    let required = Telemetry::builder("agent")
        .pool_path(&pool)
        .require_kvp(true)
        .stderr(false)
        .panic_hook(false)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            required,
            Error::Pool(kvp_sink::Error::MissingDirectory { .. })
        ),
        "{required:?}"
    );
}

/// The stderr layer colours only a terminal, and never with `NO_COLOR`:
/// piped (as into journald) it writes plain text.
#[test]
fn stderr_is_plain_unless_it_is_a_terminal() {
    if is_child() {
        let _guard = Telemetry::builder("agent")
            .kvp(false)
            .metrics(false)
            .panic_hook(false)
            .init()
            .unwrap();
        tracing::warn!("a warning for stderr");
        return;
    }
    let test = "stderr_is_plain_unless_it_is_a_terminal";
    let (ok, _, piped) = child(test, &[]);
    assert!(ok && piped.contains("a warning for stderr"), "{piped}");
    assert!(
        !piped.contains('\x1b'),
        "piped stderr has no colour: {piped:?}"
    );

    // Under a pseudo-terminal (util-linux `script`), as a person sees it.
    let exe = std::env::current_exe().unwrap();
    let on_a_terminal = |no_color: bool| {
        let command = format!(
            "{} {test} --exact --nocapture --test-threads=1",
            exe.display()
        );
        let mut script = std::process::Command::new("script");
        script
            .args(["-qec", &command, "/dev/null"])
            .env(test_support::child::ROLE_VAR, "facade");
        if no_color {
            script.env("NO_COLOR", "1");
        } else {
            script.env_remove("NO_COLOR");
        }
        let out = script.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_a_terminal(false);
    assert!(
        coloured.contains("a warning for stderr") && coloured.contains('\x1b'),
        "{coloured:?}"
    );
    let plain = on_a_terminal(true);
    assert!(
        plain.contains("a warning for stderr") && !plain.contains('\x1b'),
        "{plain:?}"
    );
}

/// The application's own layer beside the stack: both see every event,
/// whichever is added first, and the pool gets its records.
#[test]
fn the_stack_composes_with_the_applications_layers() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tracing_subscriber::prelude::*;

    /// The application's layer: counts the events it sees.
    struct Mine(Arc<AtomicUsize>);
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Mine {
        fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    for mine_first in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let pool = dir.path().join(".kvp_pool_1");
        let seen = Arc::new(AtomicUsize::new(0));
        let builder = Telemetry::builder("agent")
            .pool_path(&pool)
            .vm_id("vm")
            .stderr(false)
            .panic_hook(false);
        let emit = || {
            tracing::warn!(monotonic_counter.warnings = 1u64, "one");
            tracing::error!("two");
        };
        let guard = if mine_first {
            let (telemetry, guard) = builder.layer().unwrap();
            let subscriber = tracing_subscriber::registry()
                .with(Mine(Arc::clone(&seen)))
                .with(telemetry);
            tracing::subscriber::with_default(subscriber, emit);
            guard
        } else {
            let (telemetry, guard) = builder.layer().unwrap();
            let subscriber = tracing_subscriber::registry()
                .with(telemetry)
                .with(Mine(Arc::clone(&seen)));
            tracing::subscriber::with_default(subscriber, emit);
            guard
        };
        assert_eq!(seen.load(Ordering::Relaxed), 2, "mine_first={mine_first}");
        drop(guard); // the last metric export, then the pool is flushed
        let recs = records(&pool);
        let levels: Vec<&str> = recs
            .iter()
            .filter_map(|(k, _)| KeyParts::parse(k).map(|p| p.level.as_str()))
            .collect();
        assert!(
            levels.contains(&"WARN") && levels.contains(&"ERROR"),
            "mine_first={mine_first}: {recs:?}"
        );
        assert!(
            recs.iter().any(|(k, _)| k.contains("|metric.warnings|")),
            "mine_first={mine_first}: {recs:?}"
        );
    }
}

/// Records of the `log` crate (which many dependencies use) reach the pool
/// through the bridge `init` installs, under the same KVP filter.
#[test]
fn log_records_are_bridged() {
    if is_child() {
        let pool = std::env::var("TEST_POOL").unwrap();
        let guard = Telemetry::builder("agent")
            .pool_path(&pool)
            .vm_id("vm")
            .stderr(false)
            .panic_hook(false)
            .init()
            .unwrap();
        log::warn!(target: "some_dependency", "from the log crate");
        log::info!(target: "some_dependency", "below the KVP filter");
        assert!(guard.flush(Duration::from_secs(10)));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let (ok, _, err) = child(
        "log_records_are_bridged",
        &[("TEST_POOL", pool.to_str().unwrap())],
    );
    assert!(ok, "{err}");
    let recs = records(&pool);
    let bridged: Vec<&(String, String)> = recs
        .iter()
        .filter(|(_, v)| v.contains("from the log crate"))
        .collect();
    assert_eq!(bridged.len(), 1, "{recs:?}");
    let parts = KeyParts::parse(&bridged[0].0).unwrap();
    assert_eq!((parts.level, parts.name), (Level::Warn, "some_dependency"));
    assert!(
        !bridged[0].1.contains("log."),
        "the bridge's own log.* fields are left out: {}",
        bridged[0].1
    );
    assert!(!recs.iter().any(|(_, v)| v.contains("below the KVP filter")));
}

/// With `env_prefix("AZURE_INIT")` the agent reads `AZURE_INIT_*`, not
/// `KVP_TELEMETRY_*`; a value that is not UTF-8 is an error naming its
/// variable, not a silent "unset".
#[test]
fn the_environment_prefix_is_the_agents() {
    if is_child() {
        let dir = tempfile::tempdir().unwrap();
        let result = Telemetry::builder("azure-init")
            .env_prefix("AZURE_INIT")
            .pool_path(dir.path().join(".kvp_pool_1"))
            .stderr(false)
            .panic_hook(false)
            .build();
        match result {
            Ok((_, guard)) => println!("KVP {}", guard.kvp_enabled()),
            Err(e) => println!("ERROR {e}"),
        }
        return;
    }
    let test = "the_environment_prefix_is_the_agents";
    let run = |env: &[(&str, &std::ffi::OsStr)]| {
        let out = test_support::child::run(test, "facade", env);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let off = std::ffi::OsStr::new("off");
    assert!(run(&[("AZURE_INIT_KVP", off)]).contains("KVP false"));
    assert!(
        run(&[("KVP_TELEMETRY_KVP", off)]).contains("KVP true"),
        "the default prefix is not read"
    );
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"o\xffff");
    let out = run(&[("AZURE_INIT_KVP", bad)]);
    assert!(
        out.contains("ERROR environment variable AZURE_INIT_KVP=") && out.contains("UTF-8"),
        "{out}"
    );
}

/// By default the KVP filter records the agent's own crates at INFO (from
/// its prefix, `my-agent` -> `my_agent`) and other crates at WARN; an
/// event whose spans are left out names them.
#[test]
fn the_default_kvp_filter_keeps_the_agents_info() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let (dispatch, guard) = Telemetry::builder("my-agent")
        .pool_path(&pool)
        .vm_id("vm")
        .stderr(false)
        .metrics(false)
        .panic_hook(false)
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let _span = tracing::info_span!(target: "my_agent::provision", "provision").entered();
        tracing::info!(target: "my_agent::provision", "the agent's own info");
        tracing::info!(target: "some_dependency", "a dependency's info");
        let _dep = tracing::info_span!(target: "some_dependency", "connect").entered();
        tracing::warn!(target: "some_dependency", "a dependency's warning");
    });
    assert!(guard.flush(Duration::from_secs(10)));
    let recs = records(&pool);
    let text: Vec<&str> = recs.iter().map(|(_, v)| v.as_str()).collect();
    assert!(
        text.iter().any(|v| v.contains("the agent's own info")),
        "{text:#?}"
    );
    assert!(
        !text.iter().any(|v| v.contains("a dependency's info")),
        "{text:#?}"
    );
    let warning = text
        .iter()
        .find(|v| v.contains("a dependency's warning"))
        .unwrap();
    assert!(
        warning.contains("span=") && !warning.contains("in="),
        "the agent's span is recorded, so the event names it by id: {warning}"
    );
    assert!(
        recs.iter().any(|(k, _)| k.contains("|INFO|provision|")),
        "the agent's INFO span is recorded: {recs:?}"
    );
}

/// A failing `init` has no side effect: with a subscriber already set, it
/// creates no pool file and installs no panic hook, so one panic after
/// three failed calls is one record, not four.
#[test]
fn a_failing_init_leaves_nothing_behind() {
    if is_child() {
        let pool = std::path::PathBuf::from(std::env::var("TEST_POOL").unwrap());
        let _guard = Telemetry::builder("agent")
            .pool_path(&pool)
            .vm_id("vm")
            .stderr(false)
            .init()
            .unwrap();
        for i in 0..3 {
            let other = pool.with_file_name(format!("other-{i}"));
            let err = Telemetry::builder("agent")
                .pool_path(&other)
                .stderr(false)
                .init()
                .unwrap_err();
            assert!(matches!(err, Error::AlreadyInstalled), "{err:?}");
            assert!(!other.exists(), "no pool file for a failed call");
        }
        test_support::child::abort_on_panic();
        panic!("once");
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let (ok, _, err) = child(
        "a_failing_init_leaves_nothing_behind",
        &[("TEST_POOL", pool.to_str().unwrap())],
    );
    assert!(!ok, "the child aborts: {err}");
    let panics = records(&pool)
        .into_iter()
        .filter(|(k, _)| k.contains("|ERROR|panic|"))
        .count();
    assert_eq!(panics, 1, "{err}");
    let others: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("other-"))
        .collect();
    assert!(others.is_empty(), "{others:?}");
}

/// Every variable's bad value is named: a vm_id too long for the keys is
/// an error naming its variable before the pool is created; an invalid or
/// non-UTF-8 filter falls back to the default with a warning naming the
/// variable.
#[test]
fn bad_values_name_their_variable() {
    use std::os::unix::ffi::OsStrExt;
    let test = "bad_values_name_their_variable";
    if is_child() {
        let pool = std::path::PathBuf::from(std::env::var("TEST_POOL").unwrap());
        match Telemetry::builder("agent")
            .pool_path(&pool)
            .panic_hook(false)
            .build()
        {
            Ok(_) => println!("OK"),
            Err(e) => println!("ERROR {e}"),
        }
        println!("POOL {}", pool.exists());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let run = |var: &str, value: &std::ffi::OsStr| {
        let pool_env = std::ffi::OsStr::new(pool.to_str().unwrap());
        let out =
            test_support::child::run(test, "facade", &[(var, value), ("TEST_POOL", pool_env)]);
        assert!(out.status.success(), "{out:?}");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let long = "v".repeat(300);
    let (out, _) = run("KVP_TELEMETRY_VM_ID", std::ffi::OsStr::new(&long));
    assert!(
        out.contains("ERROR environment variable KVP_TELEMETRY_VM_ID=")
            && out.contains("short enough"),
        "{out}"
    );
    assert!(
        out.contains("POOL false"),
        "no pool file for a refused call: {out}"
    );

    let (out, err) = run("KVP_TELEMETRY_LOG", std::ffi::OsStr::new("info,[[["));
    assert!(out.contains("OK"), "{out}");
    assert!(
        err.contains("invalid stderr filter from KVP_TELEMETRY_LOG"),
        "{err}"
    );
    std::fs::remove_file(&pool).unwrap();

    let (out, err) = run(
        "KVP_TELEMETRY_KVP_LOG",
        std::ffi::OsStr::from_bytes(b"\xffwarn"),
    );
    assert!(out.contains("OK"), "{out}");
    assert!(err.contains("KVP_TELEMETRY_KVP_LOG is not UTF-8"), "{err}");
}
