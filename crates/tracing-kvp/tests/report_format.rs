//! `ProvisioningReport` encodes byte for byte as azure-init's own tool
//! does, but for the timestamp: the vectors in `testdata/reports/` were
//! written by azure-init's `libazureinit-kvp`.

#![allow(clippy::unwrap_used)]

mod common;

use tracing_kvp::{KvpLayer, ProvisioningReport};
use tracing_subscriber::prelude::*;

const VM: &str = "6b1c32a4-8f0e-4d52-9c1e-0a3b5e7d9f11";
const AGENT: &str = "Azure-Init/0.1.1";

use test_support::reports::without_time;

/// The values azure-init wrote, in file order, without their timestamps.
fn vectors() -> Vec<String> {
    test_support::reports::vectors()
        .into_iter()
        .map(|(_, value)| without_time(&value))
        .collect()
}

#[test]
fn each_of_azure_inits_vectors() {
    // The same reports as the `# cmd:` lines of the vector file, in order.
    let ours = [
        ProvisioningReport::success(AGENT).vm_id(VM),
        ProvisioningReport::success(AGENT)
            .vm_id(VM)
            .field("k1", "v1")
            .field("k2", "v2"),
        ProvisioningReport::failure(AGENT, "useradd failed: exit 1")
            .vm_id(VM)
            .documentation_url(None),
        ProvisioningReport::failure(AGENT, "ssh|config \"bad\" = x, é")
            .vm_id(VM)
            .field("step", "ssh")
            .field("detail", "a,b|c"),
        ProvisioningReport::failure(AGENT, "it's broken")
            .vm_id(VM)
            .field("note", "say \"hi\"")
            .documentation_url(None),
    ];
    let theirs = vectors();
    assert_eq!(theirs.len(), ours.len(), "{theirs:#?}");
    for (ours, theirs) in ours.iter().zip(&theirs) {
        assert_eq!(&without_time(&ours.to_string()), theirs);
    }
}

#[test]
fn the_timestamp_has_nanoseconds_and_an_offset() {
    let at = std::time::UNIX_EPOCH + std::time::Duration::new(1_795_000_000, 380_833_995);
    let report = ProvisioningReport::success(AGENT)
        .vm_id(VM)
        .at(at)
        .to_string();
    assert!(
        report.contains("|timestamp=2026-11-18T11:06:40.380833995+00:00"),
        "{report}"
    );
}

#[test]
fn a_report_without_a_vm_id_says_so_and_the_layer_fills_it_in() {
    let report = ProvisioningReport::success(AGENT);
    assert!(
        report
            .to_string()
            .contains("|vm_id=00000000-0000-0000-0000-000000000000|"),
        "{report}"
    );
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id(VM)
        .filter("info")
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(health_report = %report, "report");
    });
    let records = pool.flush();
    let (_, value) = records
        .iter()
        .find(|(k, _)| k == "PROVISIONING_REPORT")
        .unwrap();
    assert!(value.contains(&format!("|vm_id={VM}|")), "{value}");
}
