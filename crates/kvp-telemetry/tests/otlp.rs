//! OTLP export of traces, metrics and logs to a real OpenTelemetry collector on
//! loopback (`test_support::collector`: `rotel-agent` from PyPI, which
//! `cargo xtask ci` installs; the tests fail, not skip, without it), over
//! plain HTTP and over TLS, and to collectors that are down, hung or speak
//! no TLS.

#![allow(clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use kvp_telemetry::Telemetry;
use test_support::collector::{Collector, free_port};
use test_support::tls_front::TlsFront;

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

/// `Guard::shutdown` says what was lost, as a `Result`: with the collector
/// refusing, the pool still gets the record and the error names every
/// OpenTelemetry signal that was not exported (traces and logs too, whose
/// batch processors answer a shutdown with `Ok` whatever their export
/// did), with the KVP counters.
#[test]
fn shutdown_names_what_a_refusing_collector_lost() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let port = free_port(); // nothing listens there
    let (dispatch, guard) = Telemetry::builder("otlp-test")
        .pool_path(&pool)
        .stderr(false)
        .otlp(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let _span = tracing::info_span!("kvp_otlp_shutdown_span").entered();
        tracing::warn!(monotonic_counter.kvp_otlp_shutdown = 1u64, "lost to OTLP");
    });
    let started = Instant::now();
    let err = guard
        .shutdown(Duration::from_secs(5))
        .expect_err("nothing reached the collector");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    assert!(err.otel.signals.contains(&"metrics"), "{err:?}");
    assert!(err.otel.signals.contains(&"traces"), "{err:?}");
    assert!(err.otel.signals.contains(&"logs"), "{err:?}");
    let kvp = err.kvp.expect("KVP was on");
    assert!(
        kvp.written >= 2,
        "the event and the span reached the pool: {kvp:?}"
    );
    assert_eq!(kvp.dropped(), 0, "{kvp:?}");
    assert!(!err.kvp_timed_out);
    assert!(err.to_string().contains("not exported"), "{err}");
    let records = test_support::pool_records(&pool);
    assert!(
        records.iter().any(|(_, v)| v.contains("lost to OTLP")),
        "{records:?}"
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

/// An `https://` collector with a certificate from a CA of its own: with
/// the CA named by `OTEL_EXPORTER_OTLP_CERTIFICATE`, traces, metrics and
/// logs arrive over TLS; without it, the handshake fails and the loss is
/// counted (the certificate is really checked).
#[test]
fn an_https_collector_receives_everything_with_its_ca_from_the_standard_variable() {
    if test_support::child::role().is_some() {
        let (dispatch, guard) = Telemetry::builder("otlp-tls")
            .kvp(false)
            .stderr(false)
            .flush_timeout(Duration::from_secs(2))
            .otlp(std::env::var("TEST_ENDPOINT").unwrap())
            .build()
            .unwrap();
        assert!(guard.otlp_unavailable().is_none());
        tracing::dispatcher::with_default(&dispatch, || {
            let _span = tracing::info_span!("kvp_tls_span").entered();
            tracing::info!(monotonic_counter.kvp_tls_counter = 1u64);
        });
        tracing::dispatcher::with_default(&dispatch, || tracing::warn!("kvp_tls_log"));
        let delivered = guard.flush(Duration::from_secs(10));
        println!("DELIVERED {delivered}");
        println!("FAILURES {}", guard.otlp_export_failures().unwrap());
        return;
    }
    let collector = Collector::start();
    let front = TlsFront::start(collector.http);
    let endpoint = format!("https://127.0.0.1:{}", front.port);
    let ca = front.ca_file.to_str().unwrap();

    let (ok, out, err) = child(
        "an_https_collector_receives_everything_with_its_ca_from_the_standard_variable",
        &[
            ("TEST_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca),
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("DELIVERED true"), "{out}\n{err}");
    assert!(out.contains("FAILURES 0"), "{out}\n{err}");
    collector.wait_for(&["kvp_tls_span", "kvp_tls_counter", "kvp_tls_log"]);

    let (ok, out, err) = child(
        "an_https_collector_receives_everything_with_its_ca_from_the_standard_variable",
        &[("TEST_ENDPOINT", &endpoint)],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("DELIVERED false"), "{out}\n{err}");
    assert!(!out.contains("FAILURES 0"), "{out}\n{err}");
    assert!(err.contains("OTLP "), "said on stderr: {err}");
}

/// A CA file that cannot be used turns OTLP off, best-effort: `build`
/// succeeds, KVP and stderr run on, and the guard and one stderr line name
/// the variable and the file.
#[test]
fn an_unusable_ca_file_costs_only_otlp() {
    if test_support::child::role().is_some() {
        let dir = tempfile::tempdir().unwrap();
        let pool = dir.path().join(".kvp_pool_1");
        let (dispatch, guard) = Telemetry::builder("otlp-tls")
            .pool_path(&pool)
            .stderr(false)
            .otlp("https://127.0.0.1:9")
            .build()
            .unwrap();
        tracing::dispatcher::with_default(&dispatch, || tracing::warn!("kept by KVP"));
        guard.flush(Duration::from_secs(5));
        println!(
            "UNAVAILABLE {:?}",
            guard.otlp_unavailable().map(|e| e.to_string())
        );
        println!("RECORDS {}", test_support::pool_records(&pool).len());
        return;
    }
    let (ok, out, err) = child(
        "an_unusable_ca_file_costs_only_otlp",
        &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")],
    );
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("OTEL_EXPORTER_OTLP_CERTIFICATE") && out.contains("/nonexistent/ca.pem"),
        "{out}"
    );
    assert!(out.contains("RECORDS 1"), "{out}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("ca.pem")).collect();
    assert_eq!(lines.len(), 1, "{err}");
}

/// An unreachable collector is counted and said on stderr, once (the
/// report is rate-limited), not only seen as `flush` returning `false`:
/// for each signal alone (metrics, traces, logs) against a refused port,
/// whose failure is the one the stderr line names.
#[test]
fn failed_exports_of_every_signal_are_counted_and_said_once() {
    if test_support::child::role().is_some() {
        let port = std::env::var("TEST_PORT").unwrap();
        let (dispatch, guard) = Telemetry::builder("otlp-test")
            .kvp(false)
            .stderr(false)
            .otlp(format!("http://127.0.0.1:{port}"))
            .build()
            .unwrap();
        for _ in 0..2 {
            tracing::dispatcher::with_default(&dispatch, || {
                match std::env::var("SIGNAL").unwrap().as_str() {
                    // A span with no event in it: traces only.
                    "traces" => drop(tracing::info_span!("kvp_lost_span").entered()),
                    // An event in no span and with no metric: logs only.
                    "logs" => tracing::warn!("kvp_lost_log"),
                    "metrics" => tracing::info!(monotonic_counter.kvp_otlp_lost = 1u64),
                    other => panic!("no signal {other}"),
                }
            });
            assert!(!guard.flush(Duration::from_secs(5)));
        }
        println!("FAILURES {}", guard.otlp_export_failures().unwrap());
        return;
    }
    for signal in ["metrics", "traces", "logs"] {
        let port = free_port().to_string();
        let (ok, out, err) = child(
            "failed_exports_of_every_signal_are_counted_and_said_once",
            &[("TEST_PORT", &port), ("SIGNAL", signal)],
        );
        assert!(ok, "{signal}: {out}\n{err}");
        let failures: u64 = out
            .split("FAILURES ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap();
        // Two of this signal; an empty metrics export fails as well.
        assert!(failures >= 2, "{signal}: {out}\n{err}");
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.contains(&format!("OTLP {signal} export")))
            .collect();
        assert_eq!(lines.len(), 1, "{signal}: one line for both: {err}");
        assert!(
            lines[0].contains(&format!("127.0.0.1:{port}")),
            "{}",
            lines[0]
        );
    }
}
