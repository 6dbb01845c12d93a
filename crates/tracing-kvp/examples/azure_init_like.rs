//! An agent wired the way azure-init wires its logging (its `logging.rs`):
//! its own `EnvFilter` for KVP, a stderr layer, the subscriber boxed as
//! `Box<dyn Subscriber + Send + Sync>`, span keys named `module:function`,
//! and a tokio `main` that awaits the KVP writer's completion at the end.
//! The KVP part is three lines: `open`, the filter, `shutdown_async`.
//!
//! It checks what reached the pool and fails if anything is missing, so
//! that CI running it proves the wiring.
//!
//! `cargo run -p tracing-kvp --example azure_init_like`

use std::error::Error;
use std::path::Path;
use std::time::Duration;

use tracing::Subscriber;
use tracing_kvp::{KvpFilter, KvpGuard, KvpLayer, ProvisioningReport};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, fmt};

/// What azure-init's `setup_layers` returns: the subscriber, and what to
/// wait on at the end (here the KVP writer's guard).
type LoggingSetup = (Box<dyn Subscriber + Send + Sync + 'static>, KvpGuard);

fn setup_layers(pool: &Path, vm_id: &str) -> Result<LoggingSetup, Box<dyn Error>> {
    // The agent's own KVP filter: warnings, and its own crate's INFO.
    let kvp_filter = EnvFilter::builder().parse("WARN,azure_init_like=INFO")?;
    let (kvp_layer, kvp_guard) = KvpLayer::builder("azure-init")
        .vm_id(vm_id)
        .key_name(|meta| {
            meta.is_span().then(|| {
                let module = meta.module_path().unwrap_or_default();
                format!(
                    "{}:{}",
                    module.rsplit("::").next().unwrap_or(module),
                    meta.name()
                )
            })
        })
        .open_unfiltered(pool)?;
    let kvp_layer = kvp_layer.with_filter(KvpFilter::new(kvp_filter));
    let stderr_layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::new("error"));
    let subscriber = Registry::default().with(stderr_layer).with(kvp_layer);
    Ok((Box::new(subscriber), kvp_guard))
}

mod provision {
    #[tracing::instrument]
    pub(crate) async fn create_user(name: &str) {
        tracing::info!(user = name, "user created");
    }

    #[tracing::instrument]
    pub(crate) async fn configure_ssh() -> Result<(), String> {
        tokio::task::yield_now().await;
        tracing::error!(
            error = "sshd -t: exit status 255",
            "sshd config check failed"
        );
        Err("sshd config check failed".to_owned())
    }

    #[tracing::instrument]
    pub(crate) async fn provision() -> Result<(), String> {
        create_user("azureuser").await;
        configure_ssh().await
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("kvp-azure-init-like-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let pool = dir.join(".kvp_pool_1");
    let vm_id = "00000000-0000-0000-0000-000000000001";

    let (subscriber, kvp) = setup_layers(&pool, vm_id)?;
    tracing::subscriber::set_global_default(subscriber)?;

    let report = match provision::provision().await {
        Ok(()) => ProvisioningReport::success("azure-init/0.1.1"),
        Err(reason) => ProvisioningReport::failure("azure-init/0.1.1", &reason),
    };
    tracing::info!(health_report = %report, "provisioning finished");

    // azure-init cancels its token and awaits the writer's JoinHandle; here
    // the guard's shutdown is that handle: no runtime worker blocks on it.
    let stats = kvp.shutdown_async(Duration::from_secs(5)).await?;
    println!("{} records written to {}", stats.written, pool.display());

    let data = std::fs::read(&pool)?;
    let keys: Vec<String> = kvp_codec::decode(&data)
        .filter_map(Result::ok)
        .map(|r| r.key.to_owned())
        .collect();
    for key in &keys {
        println!("  {key}");
    }
    for wanted in [
        "|INFO|provision:provision|",
        "|INFO|provision:create_user|",
        "|INFO|provision:configure_ssh|",
        "|ERROR|azure_init_like::provision|",
    ] {
        if !keys.iter().any(|k| k.contains(wanted)) {
            return Err(format!("no record with a key holding {wanted:?}").into());
        }
    }
    if !keys.iter().any(|k| k == "PROVISIONING_REPORT") {
        return Err("no PROVISIONING_REPORT".into());
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
