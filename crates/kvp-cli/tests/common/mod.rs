//! Running the built `kvp` binary, shared by the CLI's test files.

#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kvp_codec::{Limits, RECORD_SIZE, encode};
use serde_json::Value;

pub(crate) fn kvp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kvp"))
        .args(args)
        .output()
        .unwrap()
}

pub(crate) fn ok(args: &[&str]) -> String {
    let out = kvp(args);
    assert!(
        out.status.success(),
        "kvp {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../kvp-codec/testdata/pools")
        .join(name)
        .display()
        .to_string()
}

pub(crate) fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Writes `records` as a pool file in `dir` and returns its path.
pub(crate) fn pool(dir: &Path, records: &[(impl AsRef<str>, impl AsRef<str>)]) -> PathBuf {
    let mut bytes = Vec::new();
    for (key, value) in records {
        let (key, value) = (key.as_ref(), value.as_ref());
        let mut record = [0u8; RECORD_SIZE];
        encode(key, value, &Limits::SAFE, &mut record).unwrap();
        bytes.extend_from_slice(&record);
    }
    let path = dir.join(".kvp_pool_1");
    std::fs::write(&path, bytes).unwrap();
    path
}
