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

/// An OTLP setting that cannot work, from the builder or from
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, costs neither stderr nor KVP: `build`
/// succeeds, the pool gets its records, the guard says why OTLP is off,
/// and stderr says it once.
#[test]
fn an_endpoint_that_cannot_work_leaves_stderr_and_kvp_running() {
    if test_support::child::role().is_some() {
        let dir = tempfile::tempdir().unwrap();
        let pool = dir.path().join(".kvp_pool_1");
        let mut builder = Telemetry::builder("otlp-test")
            .pool_path(&pool)
            .stderr_filter("warn");
        if let Ok(endpoint) = std::env::var("TEST_BUILDER_ENDPOINT") {
            builder = builder.otlp(endpoint);
        }
        let (dispatch, guard) = builder.build().unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::error!("kvp_otlp_bad_endpoint_event");
        });
        assert!(guard.flush(Duration::from_secs(5)));
        let why = guard.otlp_unavailable().map(ToString::to_string);
        println!(
            "UNAVAILABLE {why:?} RECORDS {}",
            test_support::pool_records(&pool).len()
        );
        return;
    }
    let cases: &[(&str, &str, &str)] = &[
        (
            "TEST_BUILDER_ENDPOINT",
            "collector:4318",
            "must start with http:// or https://",
        ),
        ("TEST_BUILDER_ENDPOINT", "http://:4318", "names no host"),
        ("TEST_BUILDER_ENDPOINT", "http://collector:99999", "port"),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "ftp://collector",
            "must start with",
        ),
    ];
    for (var, endpoint, reason) in cases {
        let (ok, out, err) = child(
            "an_endpoint_that_cannot_work_leaves_stderr_and_kvp_running",
            &[(var, endpoint)],
        );
        assert!(ok, "{endpoint}: {out}\n{err}");
        assert!(out.contains("RECORDS 1"), "KVP still works: {out}");
        assert!(out.contains(reason), "the guard says why: {out}");
        assert!(
            err.contains("kvp_otlp_bad_endpoint_event"),
            "stderr still works: {err}"
        );
        let said: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("OTLP export is off"))
            .collect();
        assert_eq!(said.len(), 1, "{err}");
        assert!(
            said[0].contains(endpoint) && said[0].contains(reason),
            "{}",
            said[0]
        );
        if *var == "OTEL_EXPORTER_OTLP_ENDPOINT" {
            assert!(
                said[0].contains(var),
                "the line names the variable: {}",
                said[0]
            );
        }
    }
}

/// A listener on loopback that accepts connections and never answers
/// (kept open until it is dropped).
struct Silent {
    port: u16,
    _conns: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&conns);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                kept.lock().unwrap().push(stream);
            }
        });
        Silent {
            port,
            _conns: conns,
        }
    }
}

/// An `https://` endpoint is served (rustls, no system OpenSSL): the
/// export is attempted, fails against a listener that speaks no TLS, and
/// is counted, while `build` succeeds.
#[test]
fn an_https_endpoint_is_served_with_tls() {
    let silent = Silent::start();
    let (dispatch, guard) = Telemetry::builder("otlp-test")
        .kvp(false)
        .stderr(false)
        .flush_timeout(Duration::from_millis(500))
        .otlp(format!("https://127.0.0.1:{}", silent.port))
        .build()
        .unwrap();
    assert!(guard.otlp_unavailable().is_none(), "https is not refused");
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(monotonic_counter.kvp_otlp_tls = 1u64);
    });
    assert!(
        !guard.flush(Duration::from_secs(2)),
        "nothing was delivered"
    );
    assert!(guard.otlp_export_failures().unwrap() >= 1);
}

/// A collector that accepts and never answers: `flush` and the guard's
/// drop each stay within their timeout, and the failures are counted.
#[test]
fn a_hung_collector_costs_no_more_than_the_timeouts() {
    let silent = Silent::start();
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = Telemetry::builder("otlp-test")
        .pool_path(dir.path().join(".kvp_pool_1"))
        .stderr(false)
        .flush_timeout(Duration::from_secs(1))
        .otlp(format!("http://127.0.0.1:{}", silent.port))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let _span = tracing::info_span!("kvp_otlp_hung").entered();
        tracing::error!(
            monotonic_counter.kvp_otlp_hung = 1u64,
            "lost to OTLP, kept by KVP"
        );
    });
    let start = Instant::now();
    assert!(!guard.flush(Duration::from_secs(2)));
    let flush = start.elapsed();
    assert!(flush < Duration::from_millis(2500), "flush took {flush:?}");
    assert!(
        guard.otlp_export_failures().unwrap() >= 1,
        "the loss is counted"
    );
    let start = Instant::now();
    drop(guard);
    let dropped = start.elapsed();
    assert!(
        dropped < Duration::from_millis(1500),
        "the drop took {dropped:?}"
    );
    let records = test_support::pool_records(&dir.path().join(".kvp_pool_1"));
    assert!(
        records.iter().any(|(_, v)| v.contains("lost to OTLP")),
        "KVP got its records: {records:?}"
    );
}

/// A refused port at exit (the collector is down): the drop stays within
/// the flush timeout.
#[test]
fn a_collector_down_at_exit_costs_no_more_than_the_flush_timeout() {
    let port = free_port();
    let (dispatch, guard) = Telemetry::builder("otlp-test")
        .kvp(false)
        .stderr(false)
        .flush_timeout(Duration::from_secs(1))
        .otlp(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let _span = tracing::info_span!("kvp_otlp_down").entered();
        tracing::info!(monotonic_counter.kvp_otlp_down = 1u64);
    });
    let start = Instant::now();
    drop(guard);
    let dropped = start.elapsed();
    assert!(
        dropped < Duration::from_millis(1500),
        "the drop took {dropped:?}"
    );
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
