//! `kvp export` against a real OpenTelemetry collector (rotel on loopback,
//! `test_support::collector`), for pools that each writer wrote: spans
//! with their parents and durations, the ERROR event in its span, the
//! report, metric series, the resource; ids the same on a second export;
//! many pools with a bad one among them; and the Chrome trace.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{fixture, kvp, pool};
use kvp_telemetry::Telemetry;
use test_support::collector::Collector;

/// One span or log record as the collector printed it: its `Name : value`
/// lines and the resource it came under.
#[derive(Debug, Clone)]
struct Printed {
    fields: HashMap<String, String>,
    attributes: Vec<String>,
    resource: Vec<String>,
}

impl Printed {
    fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }

    fn has_attribute(&self, text: &str) -> bool {
        self.attributes.iter().any(|a| a.contains(text))
    }
}

/// The spans (`Span #n`) and log records (`LogRecord #n`) in the
/// collector's output.
fn printed(out: &str, kind: &str) -> Vec<Printed> {
    let mut found = Vec::new();
    let mut resource = Vec::new();
    let mut in_resource = false;
    let mut current: Option<Printed> = None;
    for line in out.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("Resource attributes:") {
            resource.clear();
            in_resource = true;
            continue;
        }
        if trimmed.starts_with("Scope") || trimmed.starts_with("InstrumentationScope") {
            in_resource = false;
        }
        if trimmed.starts_with("Span #") || trimmed.starts_with("LogRecord #") {
            in_resource = false;
            if let Some(p) = current.take() {
                found.push(p);
            }
            if trimmed.starts_with(kind) {
                current = Some(Printed {
                    fields: HashMap::new(),
                    attributes: Vec::new(),
                    resource: resource.clone(),
                });
            }
            continue;
        }
        if (trimmed.starts_with("Resource") || trimmed.starts_with("Metric #"))
            && let Some(p) = current.take()
        {
            found.push(p);
        }
        if let Some(attr) = trimmed.strip_prefix("-> ") {
            if in_resource {
                resource.push(attr.to_owned());
            } else if let Some(p) = current.as_mut() {
                p.attributes.push(attr.to_owned());
            }
            continue;
        }
        if let (Some(p), Some((name, value))) = (current.as_mut(), trimmed.split_once(':')) {
            p.fields
                .entry(name.trim().to_owned())
                .or_insert_with(|| value.trim().to_owned());
        }
    }
    found.extend(current);
    found
}

/// A pool written by the facade as an agent writes it: a root span, a
/// child that fails after 30 ms with an ERROR, a counter, the report.
fn our_pool(dir: &Path) -> PathBuf {
    let path = dir.join(".kvp_pool_1");
    let (dispatch, guard) = Telemetry::builder("export-agent")
        .pool_path(&path)
        .vm_id("vm-export-1")
        .kvp_filter("info")
        .stderr(false)
        .env_overrides(false)
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let _root = tracing::info_span!("provision").entered();
        {
            let _ssh = tracing::info_span!("configure_ssh", step = 2).entered();
            std::thread::sleep(Duration::from_millis(30));
            tracing::info!(monotonic_counter.export_attempts = 3u64, "tried");
            tracing::error!(error = "exit status 255", "sshd config check failed");
        }
        tracing::info!(health_report = "result=error|agent=export-agent/1.0|reason=sshd");
    });
    drop(guard);
    path
}

fn export_to(collector: &Collector, files: &[&str]) -> std::process::Output {
    let url = format!("http://127.0.0.1:{}", collector.http);
    let mut args = vec!["export", "--otlp", url.as_str()];
    args.extend_from_slice(files);
    kvp(&args)
}

#[test]
fn our_pool_reaches_a_real_collector_as_spans_logs_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let path = our_pool(dir.path());
    let collector = Collector::start();
    let out = export_to(&collector, &[path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("sent 2 spans"), "{stderr}");
    let text = collector.wait_for(&["configure_ssh", "PROVISIONING_REPORT", "export_attempts"]);

    let spans = printed(&text, "Span #");
    let by_name = |name: &str| {
        spans
            .iter()
            .find(|s| s.get("Name") == name)
            .unwrap_or_else(|| panic!("no span {name}: {spans:#?}"))
    };
    let (root, ssh) = (by_name("provision"), by_name("configure_ssh"));
    assert_eq!(ssh.get("Parent ID"), root.get("ID"), "the child's parent");
    assert_eq!(root.get("Parent ID"), "", "the root has none");
    assert_eq!(ssh.get("Trace ID"), root.get("Trace ID"), "one trace");
    let duration = |s: &Printed| {
        let start: u64 = s.get("Start time").parse().unwrap();
        let end: u64 = s.get("End time").parse().unwrap();
        end - start
    };
    assert!(duration(ssh) >= 30_000_000, "{}", duration(ssh));
    assert!(duration(root) >= duration(ssh));
    assert!(ssh.get("Status code").contains("ERROR"), "{ssh:?}");
    assert!(ssh.has_attribute("step: Str(2)"), "{ssh:?}");
    assert!(
        root.resource
            .iter()
            .any(|r| r == "service.name: Str(export-agent)"),
        "{:?}",
        root.resource
    );
    assert!(
        root.resource
            .iter()
            .any(|r| r == "host.id: Str(vm-export-1)")
    );

    let logs = printed(&text, "LogRecord #");
    let error = logs
        .iter()
        .find(|l| l.get("Body").contains("sshd config check failed"))
        .unwrap_or_else(|| panic!("no ERROR record: {logs:#?}"));
    assert_eq!(error.get("SeverityText"), "ERROR");
    assert_eq!(error.get("Span ID"), ssh.get("ID"), "the event in its span");
    assert_eq!(error.get("Trace ID"), ssh.get("Trace ID"));
    let report = logs
        .iter()
        .find(|l| l.get("Body") == "Str(PROVISIONING_REPORT)")
        .unwrap();
    assert!(report.has_attribute("result: Str(error)"), "{report:?}");
    assert!(report.has_attribute("reason: Str(sshd)"), "{report:?}");

    // The same file again: the same ids, so a deduplicating backend keeps
    // one trace.
    let first: Vec<(String, String)> = spans
        .iter()
        .map(|s| (s.get("Trace ID").to_owned(), s.get("ID").to_owned()))
        .collect();
    let again = Collector::start();
    assert!(
        export_to(&again, &[path.to_str().unwrap()])
            .status
            .success()
    );
    let text = again.wait_for(&["configure_ssh"]);
    let second: Vec<(String, String)> = printed(&text, "Span #")
        .iter()
        .map(|s| (s.get("Trace ID").to_owned(), s.get("ID").to_owned()))
        .collect();
    assert_eq!(first, second);
}

#[test]
fn azure_init_and_cloud_init_pools_nest_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let t = |ms: u32| format!("2026-11-21T10:00:00.{ms:03}000Z");
    let mark = |kind: &str, name: &str, ms: u32, result: &str| {
        (
            format!("CLOUD_INIT|1795265110|{kind}|{name}|uuid-{ms}"),
            format!(
                "{{\"name\":\"{name}\",\"type\":\"{kind}\",\"ts\":\"{}\",\"result\":\"{result}\",\"msg\":\"{name} {kind}\"}}",
                t(ms)
            ),
        )
    };
    let cloud = pool(
        dir.path(),
        &[
            mark("start", "init-local", 0, ""),
            mark("start", "init-local/search-Azure", 10, ""),
            mark("finish", "init-local/search-Azure", 60, "FAIL"),
            mark("finish", "init-local", 90, "SUCCESS"),
        ],
    );
    let azure = fixture("azure-init/azure-init-0.1.1-sample.kvp");
    let collector = Collector::start();
    let out = export_to(&collector, &[&azure, cloud.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = collector.wait_for(&["create_user", "search-Azure", "PROVISIONING_REPORT"]);
    let spans = printed(&text, "Span #");
    let by_name = |name: &str| spans.iter().find(|s| s.get("Name") == name).unwrap();
    let duration = |s: &Printed| {
        s.get("End time").parse::<u64>().unwrap() - s.get("Start time").parse::<u64>().unwrap()
    };

    // azure-init's real sample: its two spans nested by time, each as long
    // as its record says (start and end in the same millisecond), its WARN
    // in the span it happened in, its report a log record.
    let (outer, inner) = (
        by_name("azure_init:provision"),
        by_name("provision::user:create_user"),
    );
    assert_eq!(inner.get("Parent ID"), outer.get("ID"));
    assert_eq!((duration(outer), duration(inner)), (0, 0));
    let azure_service = "service.name: Str(azure-init-0.1.1)";
    assert!(outer.resource.iter().any(|r| r == azure_service));
    let logs = printed(&text, "LogRecord #");
    let warn = logs
        .iter()
        .find(|l| l.get("SeverityText") == "WARN")
        .unwrap();
    assert!(warn.get("Body").contains("non-ascii"), "{warn:?}");
    assert_eq!(warn.get("Span ID"), inner.get("ID"));
    let report = logs
        .iter()
        .find(|l| l.get("Body") == "Str(PROVISIONING_REPORT)")
        .unwrap();
    assert!(report.resource.iter().any(|r| r == azure_service));
    assert!(report.has_attribute("result: Str(success)"), "{report:?}");

    let (outer, inner) = (by_name("init-local"), by_name("init-local/search-Azure"));
    assert_eq!(inner.get("Parent ID"), outer.get("ID"));
    assert!(inner.get("Status code").contains("ERROR"), "{inner:?}");
    assert_eq!(duration(inner), 50_000_000);
    assert_eq!(duration(outer), 90_000_000);
    assert!(
        outer
            .resource
            .iter()
            .any(|r| r == "service.name: Str(cloud-init)")
    );
}

/// The demo's pool and the real cloud-init fixture in one call: two
/// resources; the demo's spans linked to their parents, its ERROR in its
/// span, its report; cloud-init's events as log records.
#[test]
fn the_demo_pool_and_a_cloud_init_fixture() {
    let collector = Collector::start();
    let demo = fixture("kvp-demo.kvp");
    let cloud = fixture("cloud-init/cloud-init-22.4-small.kvp");
    let out = export_to(&collector, &[&demo, &cloud]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = collector.wait_for(&["configure_ssh", "peer event 49", "PROVISIONING_REPORT"]);
    let spans = printed(&text, "Span #");
    let by_name = |name: &str| spans.iter().find(|s| s.get("Name") == name).unwrap();
    let (root, ssh, user) = (
        by_name("provision"),
        by_name("configure_ssh"),
        by_name("create_user"),
    );
    assert_eq!(ssh.get("Parent ID"), root.get("ID"));
    assert_eq!(user.get("Parent ID"), root.get("ID"));
    let duration = |s: &Printed| {
        s.get("End time").parse::<u64>().unwrap() - s.get("Start time").parse::<u64>().unwrap()
    };
    // 0.533 ms, as the record's duration_ms says (its times are to the ms).
    assert_eq!(duration(root), 533_000);
    let logs = printed(&text, "LogRecord #");
    let error = logs
        .iter()
        .find(|l| l.get("SeverityText") == "ERROR" && l.get("Body").contains("sshd"))
        .unwrap();
    assert_eq!(error.get("Span ID"), ssh.get("ID"));
    assert!(
        logs.iter()
            .any(|l| l.get("Body") == "Str(PROVISIONING_REPORT)")
    );
    let services: std::collections::BTreeSet<String> = logs
        .iter()
        .flat_map(|l| l.resource.iter())
        .filter(|r| r.starts_with("service.name"))
        .cloned()
        .collect();
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        [
            "service.name: Str(cloud-init)",
            "service.name: Str(kvp-demo)"
        ]
    );
}

/// A fleet's pools in one call, three of them bad (missing, a directory,
/// corrupt: bytes in which no record decodes): each bad one is named and
/// costs only itself, the others arrive, and the exit status says so.
#[test]
fn many_pools_and_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = our_pool(&dir.path().join("vm1").tap_create());
    let missing = dir.path().join("vm2/.kvp_pool_1");
    let a_dir = dir.path().join("vm3");
    std::fs::create_dir(&a_dir).unwrap();
    let corrupt = dir.path().join("vm4.kvp");
    // Two records' worth of bytes that are not UTF-8 anywhere.
    std::fs::write(&corrupt, vec![0xffu8; 2 * 2560]).unwrap();
    let azure = fixture("azure-init/azure-init-0.1.1-sample.kvp");
    let collector = Collector::start();
    let out = export_to(
        &collector,
        &[
            good.to_str().unwrap(),
            missing.to_str().unwrap(),
            a_dir.to_str().unwrap(),
            corrupt.to_str().unwrap(),
            &azure,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: not exported", missing.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}: not exported", a_dir.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}: not exported: not a pool file",
            corrupt.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 of 5 pools could not be exported"),
        "{stderr}"
    );
    collector.wait_for(&["configure_ssh", "create_user"]);
}

/// With nothing to say where, `export` is a usage error (2), not a guess.
#[test]
fn export_needs_a_destination() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvp"))
        .args(["export", &fixture("kvp-demo.kvp")])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--otlp URL"));
}

/// The Chrome trace of our demo's pool and azure-init's sample, two
/// processes in one file, as Perfetto reads it.
#[test]
fn the_chrome_trace_of_a_pool() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kvp-codec/testdata/pools");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvp"))
        .current_dir(&dir)
        .args([
            "export",
            "--chrome-trace",
            "kvp-demo.kvp",
            "azure-init/azure-init-0.1.1-sample.kvp",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_snapshot!(serde_json::to_string_pretty(&json).unwrap());
}

trait TapCreate {
    fn tap_create(self) -> Self;
}

impl TapCreate for PathBuf {
    fn tap_create(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

/// An `https://` collector with a private CA: trusted through
/// `OTEL_EXPORTER_OTLP_CERTIFICATE`, the pool arrives; without it the
/// handshake fails, and the pool is named as not exported.
#[test]
fn export_over_tls_honours_the_certificate_variable() {
    let collector = Collector::start();
    let front = test_support::tls_front::TlsFront::start(collector.http);
    let url = format!("https://127.0.0.1:{}", front.port);
    let demo = fixture("kvp-demo.kvp");
    let run = |ca: Option<&Path>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kvp"));
        cmd.args(["export", "--timeout", "5", "--otlp", &url, &demo]);
        match ca {
            Some(ca) => cmd.env("OTEL_EXPORTER_OTLP_CERTIFICATE", ca),
            None => cmd.env_remove("OTEL_EXPORTER_OTLP_CERTIFICATE"),
        };
        cmd.output().unwrap()
    };
    let out = run(Some(&front.ca_file));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    collector.wait_for(&["configure_ssh"]);
    let out = run(None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("not exported"), "{stderr}");
}
