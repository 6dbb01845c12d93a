//! No secret reaches the host: unique secrets put into events, span fields,
//! late-recorded fields, metric attributes and a provisioning report
//! through the whole facade are nowhere in the raw pool file, and traces
//! exported through `RedactSpans` carry none either.

#![allow(clippy::unwrap_used)]

use std::fmt;
use std::time::Duration;

use kvp_telemetry::{ProvisioningReport, RedactSpans, Telemetry};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

/// Each secret is unique, so a leak names its way out.
const SECRETS: [&str; 14] = [
    "S01-apiKey",
    "S02-connstr",
    "S03-pwd",
    "S04-pass",
    "S05-privateKey",
    "S06-AccountKey",
    "S07-message",
    "S08-sas-error",
    "S09-url",
    "S10-debug",
    "S11-late",
    "S12-metric",
    "S13-report",
    "S14-bearer-abcdefgh",
];

#[derive(Debug)]
#[allow(dead_code)]
struct Login {
    user: &'static str,
    password: &'static str,
}

#[derive(Debug)]
struct Upload;

impl fmt::Display for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PUT https://a.blob.core.windows.net/c?sv=2024-01-01&sig={} failed",
            SECRETS[7]
        )
    }
}

impl std::error::Error for Upload {}

fn workload() {
    let span = tracing::info_span!(
        "provision",
        apiKey = SECRETS[0],
        connection_string = SECRETS[1],
        later = tracing::field::Empty,
    );
    let _e = span.enter();
    tracing::info!(pwd = SECRETS[2], pass = SECRETS[3], "names");
    tracing::info!(privateKey = SECRETS[4], "x-api-key" = "x", "more names");
    tracing::warn!(
        conn = format!("AccountName=a;AccountKey={};", SECRETS[5]).as_str(),
        "conn"
    );
    tracing::info!("login with password={}", SECRETS[6]);
    tracing::error!(
        error = &Upload as &(dyn std::error::Error + 'static),
        "upload failed"
    );
    tracing::info!(
        url = format!("https://x/y?sv=1&sig={}", SECRETS[8]).as_str(),
        "fetch"
    );
    tracing::info!(login = ?Login { user: "azureuser", password: SECRETS[9] }, "debug");
    span.record("later", format!("token={}", SECRETS[10]).as_str());
    tracing::info!(monotonic_counter.logins = 1u64, apiKey = SECRETS[11]);
    let report = ProvisioningReport::failure(
        "agent/1.0",
        &format!("mount failed: password={}", SECRETS[12]),
    );
    tracing::info!(health_report = %report, "report");
    tracing::info!(
        header = format!("Authorization: Bearer {}", SECRETS[13]).as_str(),
        "auth"
    );
}

#[test]
fn no_secret_reaches_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let (dispatch, guard) = Telemetry::builder("agent")
        .pool_path(&pool)
        .vm_id("vm")
        .kvp_filter("info")
        .stderr(false)
        .panic_hook(false)
        .metrics_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, workload);
    drop(dispatch);
    drop(guard); // the last metric export, then the pool is flushed
    let raw = String::from_utf8_lossy(&std::fs::read(&pool).unwrap()).into_owned();
    for secret in SECRETS {
        assert!(!raw.contains(secret), "{secret} leaked");
    }
    // What is left says where the secret was.
    for kept in [
        "apiKey=<redacted>",
        "pwd=<redacted>",
        "password=<redacted>",
        "a.apiKey=<redacted>",
    ] {
        assert!(raw.contains(kept), "{kept}");
    }
}

#[test]
fn no_secret_reaches_an_exported_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(RedactSpans::new(exporter.clone()))
        .build();
    let (dispatch, guard) = Telemetry::builder("agent")
        .kvp(false)
        .stderr(false)
        .metrics(false)
        .panic_hook(false)
        .trace_filter("info")
        .tracer_provider(provider.clone())
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, workload);
    // Read before the guard shuts the provider down (which empties the
    // in-memory exporter).
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    drop(dispatch);
    drop(guard);
    assert!(!spans.is_empty());
    let all = format!("{spans:?}");
    for secret in SECRETS {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
    let provision = spans.iter().find(|s| s.name == "provision").unwrap();
    let api_key = provision
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "apiKey")
        .unwrap();
    assert_eq!(api_key.value.as_str(), "<redacted>");
}

/// One policy reaches every exit: stderr is redacted as the pool is, the
/// allow-list lets a team's known non-secret through both, and a bool or a
/// number is written whatever its name.
#[test]
fn one_policy_for_the_pool_and_stderr() {
    if test_support::child::role().is_some() {
        let dir = tempfile::tempdir().unwrap();
        let pool = dir.path().join(".kvp_pool_1");
        let (dispatch, guard) = Telemetry::builder("secrets")
            .pool_path(&pool)
            .vm_id("vm-1")
            .kvp_filter("info")
            .allow_fields(["password_provisioners"])
            .build()
            .unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::warn!(
                password = "P01-hunter2",
                password_provisioners = "passwd,ssh",
                configure_sshd_password_authentication = false,
                token_count = 3u64,
                "login as azureuser with token=P02-hunter2"
            );
        });
        assert!(guard.flush(Duration::from_secs(5)));
        for (_, value) in test_support::pool_records(&pool) {
            println!("POOL {value}");
        }
        return;
    }
    let (ok, out, err) = test_support::child::run_text(
        "one_policy_for_the_pool_and_stderr",
        "policy",
        &[("NO_COLOR", "1")],
    );
    assert!(ok, "{out}\n{err}");
    let pool = out
        .lines()
        .find_map(|l| l.split_once("POOL ").map(|(_, v)| v))
        .unwrap_or_else(|| panic!("no record: {out}\n{err}"));
    let stderr = err
        .lines()
        .find(|l| l.contains("login as azureuser"))
        .unwrap();
    for (exit, line) in [("pool", pool), ("stderr", stderr)] {
        assert!(!line.contains("hunter2"), "{exit}: {line}");
        assert!(line.contains("password=<redacted>"), "{exit}: {line}");
        assert!(line.contains("token=<redacted>"), "{exit}: {line}");
        assert!(
            line.contains("passwd,ssh"),
            "{exit}: the allow-list: {line}"
        );
        assert!(
            line.contains("configure_sshd_password_authentication=false")
                && line.contains("token_count=3"),
            "{exit}: typed values: {line}"
        );
    }
}
