//! Running the built `kvp` binary, shared by the CLI's test files.

#![allow(clippy::unwrap_used, dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

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
