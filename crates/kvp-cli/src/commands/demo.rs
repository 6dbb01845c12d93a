//! `kvp demo`: the sample workload a newcomer runs first.

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use kvp_telemetry::{ProvisioningReport, Telemetry};

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where to put the pool file (DIR/.kvp_pool_1); created if missing.
    #[arg(long, default_value = "./kvp-demo")]
    dir: PathBuf,
}

/// What a provisioning agent does, instrumented: nested spans, events with
/// fields, a failing step with an error, metrics, and a report.
fn workload() {
    let provision = tracing::info_span!("provision", agent = "kvp-demo/0.1", attempt = 1);
    let _p = provision.enter();
    tracing::info!(vm_size = "Standard_D2s_v5", "provisioning started");
    {
        let user = tracing::info_span!("create_user", user = "azureuser");
        let _u = user.enter();
        tracing::info!(
            monotonic_counter.users_created = 1u64,
            groups = "sudo,adm",
            "created user"
        );
        tracing::info!(histogram.step_ms = 42u64, step = "create_user");
    }
    {
        let ssh = tracing::info_span!("configure_ssh", keys = tracing::field::Empty);
        let _s = ssh.enter();
        ssh.record("keys", 2);
        tracing::warn!(
            path = "/home/azureuser/.ssh",
            "authorized_keys already existed; replaced"
        );
        tracing::error!(
            error = "sshd -t: exit status 255",
            unit = "ssh.service",
            "sshd config check failed"
        );
        tracing::info!(histogram.step_ms = 310u64, step = "configure_ssh");
    }
    tracing::info!(gauge.free_disk_mb = 20480u64, device = "/dev/sda1");
    let report =
        ProvisioningReport::failure("kvp-demo/0.1", "configure_ssh: sshd config check failed");
    tracing::info!(health_report = %report, "provisioning report");
}

pub(crate) fn run(a: &DemoArgs) -> Result<(), Box<dyn Error>> {
    let pool = a.dir.join(".kvp_pool_1");
    // A fresh pool each run, so the output shows this run only.
    if pool.exists() {
        std::fs::remove_file(&pool)?;
    }
    let (dispatch, guard) = Telemetry::builder("kvp-demo")
        .pool_path(&pool)
        .create_dir(true)
        .kvp_filter("info")
        .stderr(false)
        .metrics_interval(Duration::from_secs(3600))
        .build()?;
    tracing::dispatcher::with_default(&dispatch, workload);
    let flushed = guard.flush(Duration::from_secs(5));
    let stats = guard.kvp_stats();
    drop(guard); // exports metrics a last time, then flushes the pool
    drop(dispatch);

    println!(
        "kvp demo: a sample provisioning run through the full stack into {}",
        pool.display()
    );
    println!(
        "(stderr layer off; KVP filter `info`; metrics exported as one upserted record per series)\n"
    );
    crate::tree::tree(&crate::tree::TreeArgs::for_path(pool.clone()))?;
    if let Some(s) = stats {
        println!(
            "\n{} records written, {} dropped{}. Try: kvp dump {p}, kvp tree --errors {p}, kvp stats {p}",
            s.written,
            s.dropped(),
            if flushed { "" } else { " (flush timed out)" },
            p = pool.display()
        );
    }
    Ok(())
}
