//! Shared inputs for the criterion benches in `benches/benches/`.
//!
//! Run them with `cargo xtask bench` or `cargo bench -p kvp-benches`.

pub mod layers;
pub mod pause;

use kvp_codec::{Limits, RECORD_SIZE, encode};

/// A pool file of `n` typical records (key about 110 bytes, value about
/// 200), as the layer writes them.
pub fn sample_pool(n: usize) -> Vec<u8> {
    let mut file = vec![0u8; n * RECORD_SIZE];
    for (i, record) in file.chunks_exact_mut(RECORD_SIZE).enumerate() {
        let key = format!(
            "azure-init|6b1c32a4-8f0e-4d52-9c1e-0a3b5e7d9f11|INFO|provision::user|{i:08x}-0001"
        );
        let value = format!(
            "time=2026-11-21T13:15:47.947Z span=0000002a-0001 message=\"created user\" user=azureuser count={i}"
        );
        let record: &mut [u8; RECORD_SIZE] = record
            .try_into()
            .expect("chunks_exact_mut yields RECORD_SIZE slices");
        encode(&key, &value, &Limits::SAFE, record).expect("sample records fit the limits");
    }
    file
}

/// The criterion configuration every bench uses: defaults, plus a sampling
/// profiler that writes a flame graph when run with `--profile-time`
/// (`cargo xtask flamegraph`). It samples with `SIGPROF` (pprof), so it
/// needs no `perf` and no privileges.
pub fn criterion() -> criterion::Criterion {
    criterion::Criterion::default().with_profiler(FlameGraph::default())
}

/// Writes `<bench dir>/profile/flamegraph.svg` for each profiled bench.
#[derive(Default)]
pub struct FlameGraph {
    guard: Option<pprof::ProfilerGuard<'static>>,
}

impl criterion::profiler::Profiler for FlameGraph {
    fn start_profiling(&mut self, _id: &str, _dir: &std::path::Path) {
        match pprof::ProfilerGuardBuilder::default()
            .frequency(999)
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
        {
            Ok(guard) => self.guard = Some(guard),
            Err(e) => eprintln!("flamegraph: cannot start the profiler: {e}"),
        }
    }

    fn stop_profiling(&mut self, _id: &str, dir: &std::path::Path) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        let written = guard
            .report()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|report| {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
                let path = dir.join("flamegraph.svg");
                let file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
                report.flamegraph(file).map_err(|e| e.to_string())?;
                Ok(path)
            });
        match written {
            Ok(path) => eprintln!("flamegraph: wrote {}", path.display()),
            Err(e) => eprintln!("flamegraph: {e}"),
        }
    }
}
