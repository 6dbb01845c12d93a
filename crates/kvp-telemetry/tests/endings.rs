//! What reaches the pool in each way an agent's process ends: `exit()`
//! with no guard dropped, SIGTERM with the opt-in, a guard dropped at once
//! by `let _ =`; and the report, whatever the filter says. Each case runs
//! in a child process of its own (a global subscriber, hooks, a death).

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use kvp_telemetry::Telemetry;
use test_support::pool_records;

/// The pool the child writes, named by the parent.
fn child_pool() -> std::path::PathBuf {
    std::env::var_os("TEST_POOL").unwrap().into()
}

fn values(pool: &Path) -> Vec<String> {
    pool_records(pool).into_iter().map(|(_, v)| v).collect()
}

/// `std::process::exit` runs no destructor: records logged before it,
/// the span still open and the metric series reach the pool anyway,
/// through the exit hook `init` installs. Five runs, every one complete.
#[test]
fn exit_after_an_error_loses_nothing() {
    if test_support::child::role().is_some() {
        let guard = Telemetry::builder("endings")
            .pool_path(child_pool())
            .vm_id("vm-1")
            .stderr(false)
            .init()
            .unwrap();
        let span = tracing::warn_span!("provision", step = "ssh");
        let _entered = span.enter();
        tracing::warn!("retrying the metadata service");
        tracing::info!(monotonic_counter.ending_attempts = 1u64);
        tracing::error!(error = "exit status 255", "sshd config check failed");
        // As an agent does: no guard drop, no return from main.
        std::mem::forget(guard);
        std::process::exit(1);
    }
    for run in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let pool = dir.path().join(".kvp_pool_1");
        let out = test_support::child::run(
            "exit_after_an_error_loses_nothing",
            "exit",
            &[("TEST_POOL", &pool)],
        );
        assert_eq!(out.status.code(), Some(1), "run {run}");
        let values = values(&pool);
        let has = |needle: &str| values.iter().any(|v| v.contains(needle));
        assert!(
            has("retrying the metadata service"),
            "run {run}: {values:?}"
        );
        assert!(has("sshd config check failed"), "run {run}: {values:?}");
        assert!(
            has("ended_by=exit") && has("status=error"),
            "the open span, closed by the exit: run {run}: {values:?}"
        );
        assert!(
            has("kind=counter") || has("kind=sum"),
            "the metric series: run {run}: {values:?}"
        );
    }
}

/// SIGTERM (systemd's stop) a moment after 15 WARNs inside an open span:
/// with the opt-in, the pool gets the WARNs the rate limit admits, the
/// count of the rest, the span (`ended_by=SIGTERM`) and the metric series;
/// then the process dies by SIGTERM, as it would have.
#[test]
fn sigterm_with_the_opt_in_flushes_then_dies_by_the_signal() {
    if test_support::child::role().is_some() {
        let _guard = Telemetry::builder("endings")
            .pool_path(child_pool())
            .vm_id("vm-1")
            .stderr(false)
            .flush_on_signals(true)
            .init()
            .unwrap();
        let span = tracing::info_span!("provision");
        let _entered = span.enter();
        tracing::info!(monotonic_counter.ending_signals = 1u64);
        for i in 0..15 {
            tracing::warn!(attempt = i, "metadata service unreachable");
        }
        println!("READY");
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    for delay_ms in [0u64, 50, 200, 500] {
        let dir = tempfile::tempdir().unwrap();
        let pool = dir.path().join(".kvp_pool_1");
        let mut child = test_support::child::spawn(
            "sigterm_with_the_opt_in_flushes_then_dies_by_the_signal",
            "sigterm",
            &[("TEST_POOL", &pool)],
            Stdio::inherit(),
        );
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert!(
            lines.any(|l| l.is_ok_and(|l| l.contains("READY"))),
            "the child got ready"
        );
        std::thread::sleep(Duration::from_millis(delay_ms));
        // SAFETY: kill takes a pid and a signal number; no memory of ours.
        let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(sent, 0);
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGTERM),
            "after {delay_ms} ms: {status:?}"
        );
        let values = values(&pool);
        let count = |needle: &str| values.iter().filter(|v| v.contains(needle)).count();
        assert_eq!(
            count("metadata service unreachable"),
            10,
            "the rate limit's burst, after {delay_ms} ms: {values:?}"
        );
        assert_eq!(
            count("suppressed=5"),
            1,
            "the rest counted, after {delay_ms} ms: {values:?}"
        );
        assert_eq!(
            count("ended_by=SIGTERM"),
            1,
            "the open span, after {delay_ms} ms: {values:?}"
        );
        assert!(
            count("ending_signals") >= 1,
            "the metric series, after {delay_ms} ms: {values:?}"
        );
    }
}

/// `let _ = Telemetry::builder(..).init()?` drops the guard at once: the
/// first event after it says so on stderr, once, with the fix.
#[test]
fn a_guard_dropped_at_once_is_said_on_stderr() {
    if test_support::child::role().is_some() {
        let _ = Telemetry::builder("endings")
            .pool_path(child_pool())
            .vm_id("vm-1")
            .stderr(false)
            .init()
            .unwrap();
        for _ in 0..3 {
            tracing::error!("lost: the writer is gone");
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let (ok, out, err) = test_support::child::run_text(
        "a_guard_dropped_at_once_is_said_on_stderr",
        "dropped",
        &[("TEST_POOL", &pool)],
    );
    assert!(ok, "{out}\n{err}");
    let said: Vec<&str> = err.lines().filter(|l| l.contains("guard")).collect();
    assert_eq!(said.len(), 1, "one line for three lost records: {err}");
    assert!(
        said[0].contains("let _guard"),
        "the line says the fix: {}",
        said[0]
    );
}

/// The report reaches the pool whatever the KVP filter: `<PREFIX>_KVP_LOG`
/// at `error` (the docs' "fewer records" recipe), or a value that does not
/// parse, which falls back to the builder's directives with one line
/// naming the variable.
#[test]
fn the_report_passes_every_kvp_filter() {
    if test_support::child::role().is_some() {
        let guard = Telemetry::builder("my-agent")
            .env_prefix("MYAGENT")
            .pool_path(child_pool())
            .vm_id("vm-1")
            .stderr(false)
            .build()
            .unwrap();
        let (dispatch, guard) = guard;
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info!(target: "my_agent", "an INFO record");
            let report = kvp_telemetry::ProvisioningReport::success("my-agent/1.0");
            tracing::info!(health_report = %report, "provisioning succeeded");
        });
        assert!(guard.flush(Duration::from_secs(5)));
        return;
    }
    for (value, info_kept) in [("error", false), ("[=bad", true)] {
        let dir = tempfile::tempdir().unwrap();
        let pool = dir.path().join(".kvp_pool_1");
        let (ok, out, err) = test_support::child::run_text(
            "the_report_passes_every_kvp_filter",
            "report",
            &[
                ("TEST_POOL", pool.as_os_str()),
                ("MYAGENT_KVP_LOG", value.as_ref()),
            ],
        );
        assert!(ok, "{out}\n{err}");
        let records = pool_records(&pool);
        assert!(
            records
                .iter()
                .any(|(k, v)| k == "PROVISIONING_REPORT" && v.starts_with("result=success")),
            "MYAGENT_KVP_LOG={value}: {records:?}"
        );
        assert_eq!(
            records.iter().any(|(_, v)| v.contains("an INFO record")),
            info_kept,
            "MYAGENT_KVP_LOG={value}: the builder's default keeps the app's INFO: {records:?}"
        );
        let said: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("invalid filter"))
            .collect();
        if info_kept {
            assert_eq!(said.len(), 1, "{err}");
            assert!(said[0].contains("MYAGENT_KVP_LOG"), "{}", said[0]);
        } else {
            assert!(said.is_empty(), "{err}");
        }
    }
}

/// `RUST_LOG` sets the stderr filter when the product's own variable is
/// unset; the product's own variable wins.
#[test]
fn rust_log_sets_stderr_below_the_products_own_variable() {
    if test_support::child::role().is_some() {
        let (dispatch, _guard) = Telemetry::builder("endings").kvp(false).build().unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::debug!("kvp_rust_log_debug_event");
        });
        return;
    }
    let run = |env: &[(&str, &str)]| {
        let mut cmd = test_support::child::command(
            "rust_log_sets_stderr_below_the_products_own_variable",
            "rust-log",
            env,
        );
        cmd.env_remove("RUST_LOG").env_remove("KVP_TELEMETRY_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).contains("kvp_rust_log_debug_event")
    };
    assert!(!run(&[]), "the default is info");
    assert!(run(&[("RUST_LOG", "debug")]), "RUST_LOG is honoured");
    assert!(
        !run(&[("RUST_LOG", "debug"), ("KVP_TELEMETRY_LOG", "info")]),
        "the product's own variable wins"
    );
}
