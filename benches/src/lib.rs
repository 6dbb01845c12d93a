//! Shared inputs for the criterion benches in `benches/benches/`.
//!
//! Run them with `cargo xtask bench` or `cargo bench -p kvp-benches`.

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
