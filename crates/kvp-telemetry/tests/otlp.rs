//! OTLP export of traces, metrics and logs to a real OpenTelemetry collector on
//! loopback: `rotel-agent` from the `rotel` package on PyPI, which prints
//! what it receives. `cargo xtask ci` installs it under `target/tools/`; set
//! `ROTEL_AGENT` to use another. The test fails, not skips, without it.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kvp_telemetry::Telemetry;

fn rotel_agent() -> PathBuf {
    if let Some(p) = std::env::var_os("ROTEL_AGENT") {
        return p.into();
    }
    let tools = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/rotel-venv/lib");
    let found = std::fs::read_dir(&tools).ok().and_then(|dirs| {
        dirs.filter_map(Result::ok)
            .map(|d| d.path().join("site-packages/rotel/rotel-agent"))
            .find(|p| p.exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "rotel-agent not found under {}: run `cargo xtask ci` once (it installs it), or set ROTEL_AGENT",
            tools.display()
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running collector, stopped on drop.
struct Collector {
    child: Child,
    out: std::path::PathBuf,
    http: u16,
    _dir: tempfile::TempDir,
}

impl Collector {
    fn start() -> Collector {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("rotel.out");
        let (grpc, http) = (free_port(), free_port());
        let child = Command::new(rotel_agent())
            .args(["start", "--exporter", "blackhole"])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
            .args([
                "--debug-log",
                "traces",
                "--debug-log",
                "metrics",
                "--debug-log",
                "logs",
                "--debug-log-verbosity",
                "detailed",
            ])
            .env("NO_COLOR", "1")
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", http)).is_err() {
            assert!(
                Instant::now() < deadline,
                "rotel-agent did not listen on {http}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Collector {
            child,
            out,
            http,
            _dir: dir,
        }
    }

    fn output(&self) -> String {
        let mut s = String::new();
        std::fs::File::open(&self.out)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    fn wait_for(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = self.output();
            if needles.iter().all(|n| out.contains(n)) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "collector never printed {needles:?}:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn traces_metrics_and_logs_reach_a_real_collector() {
    let collector = Collector::start();
    let (dispatch, guard) = Telemetry::builder("otlp-test")
        .kvp(false)
        .stderr(false)
        .otlp(format!("http://127.0.0.1:{}", collector.http))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!(
            "kvp_otlp_test_span",
            user = "azureuser",
            apiKey = "OTLP-SPAN-hunter2"
        );
        let _e = span.enter();
        tracing::info!(
            monotonic_counter.kvp_otlp_test_counter = 3u64,
            route = "/x",
            token = "OTLP-METRIC-hunter2"
        );
        tracing::info!("login with password=OTLP-EVENT-hunter2");
    });
    // Outside any span, so that only a log record carries it (an event in
    // a span is also a span event).
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::warn!(
            attempt = 2,
            apiKey = "OTLP-LOG-hunter2",
            "kvp_otlp_test_log"
        );
    });
    assert!(
        guard.flush(Duration::from_secs(10)),
        "the collector accepted the export"
    );
    let out = collector.wait_for(&[
        "kvp_otlp_test_span",
        "kvp_otlp_test_counter",
        "kvp_otlp_test_log",
    ]);
    assert!(out.contains("azureuser") || out.contains("user"), "{out}");
    assert!(out.contains("<redacted>"), "{out}");
    assert!(
        !out.contains("hunter2"),
        "a secret reached the collector:\n{out}"
    );
    drop(guard);
}

#[test]
fn a_missing_collector_is_reported_by_flush() {
    let port = free_port(); // nothing listens there
    let (dispatch, guard) = Telemetry::builder("otlp-test")
        .kvp(false)
        .stderr(false)
        .otlp(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(monotonic_counter.kvp_otlp_lost = 1u64);
    });
    assert!(
        !guard.flush(Duration::from_secs(5)),
        "flush says the export failed"
    );
}

#[test]
fn a_malformed_endpoint_is_a_typed_error() {
    let err = Telemetry::builder("otlp-test")
        .kvp(false)
        .otlp("127.0.0.1:4318")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("must start with http://"), "{err}");
}

#[test]
fn https_without_tls_is_refused_with_a_clear_error() {
    let err = Telemetry::builder("otlp-test")
        .kvp(false)
        .otlp("https://collector.example:4318")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no TLS backend"), "{err}");
}

/// Runs test `name` of this binary as a child with `env`; (success,
/// stdout, stderr).
fn child(name: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    test_support::child::run_text(name, "otlp", env)
}

/// An unreachable collector is counted and said on stderr, once (the
/// report is rate-limited), not only seen as `flush` returning `false`.
#[test]
fn a_failed_export_is_counted_and_reported_once() {
    if test_support::child::role().is_some() {
        let port = std::env::var("TEST_PORT").unwrap();
        let (dispatch, guard) = Telemetry::builder("otlp-test")
            .kvp(false)
            .stderr(false)
            .otlp(format!("http://127.0.0.1:{port}"))
            .build()
            .unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info!(monotonic_counter.kvp_otlp_lost = 1u64);
        });
        assert!(!guard.flush(Duration::from_secs(5)));
        assert!(!guard.flush(Duration::from_secs(5)));
        let failures = guard.otlp_export_failures().unwrap();
        println!("FAILURES {failures}");
        return;
    }
    let port = free_port().to_string();
    let (ok, out, err) = child(
        "a_failed_export_is_counted_and_reported_once",
        &[("TEST_PORT", &port)],
    );
    assert!(ok, "{out}\n{err}");
    let failures: u64 = out
        .split("FAILURES ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(failures >= 2, "{out}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("OTLP metrics export"))
        .collect();
    assert_eq!(lines.len(), 1, "one line for all the failures: {err}");
    assert!(
        lines[0].contains(&format!("127.0.0.1:{port}")),
        "{}",
        lines[0]
    );
}

/// The standard variables: `OTEL_EXPORTER_OTLP_ENDPOINT` when the builder
/// names none, `OTEL_SERVICE_NAME` over the default `service.name` (the
/// agent's prefix), and `OTEL_SDK_DISABLED` turning OTLP off.
#[test]
fn the_standard_otel_variables_are_honoured() {
    if let Some(role) = test_support::child::role() {
        let (dispatch, guard) = Telemetry::builder("prefix-service")
            .kvp(false)
            .stderr(false)
            .build()
            .unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            let _s = tracing::info_span!("kvp_otlp_env_span").entered();
        });
        let delivered = guard.flush(Duration::from_secs(10));
        println!(
            "ROLE {role} DELIVERED {delivered} OTLP {:?}",
            guard.otlp_export_failures()
        );
        return;
    }
    let test = "the_standard_otel_variables_are_honoured";
    let collector = Collector::start();
    let endpoint = format!("http://127.0.0.1:{}", collector.http);
    let (ok, out, err) = child(test, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    assert!(ok && out.contains("DELIVERED true"), "{out}\n{err}");
    let seen = collector.wait_for(&["kvp_otlp_env_span", "prefix-service"]);
    assert!(seen.contains("service.name"), "{seen}");

    let renamed = Collector::start();
    let endpoint = format!("http://127.0.0.1:{}", renamed.http);
    let (ok, out, err) = child(
        test,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "named-by-env"),
        ],
    );
    assert!(ok && out.contains("DELIVERED true"), "{out}\n{err}");
    renamed.wait_for(&["kvp_otlp_env_span", "named-by-env"]);

    let (ok, out, _) = child(
        test,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SDK_DISABLED", "true"),
        ],
    );
    assert!(ok && out.contains("OTLP None"), "OTLP is off: {out}");
}
