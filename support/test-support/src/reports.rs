//! The `PROVISIONING_REPORT` values azure-init's own tool wrote, with the
//! command lines that wrote them (`crates/tracing-kvp/testdata/reports/`).

/// Each `# cmd:` line of the vector file with the value written after it.
///
/// # Panics
///
/// When the vector file is missing or malformed.
pub fn vectors() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/tracing-kvp/testdata/reports/azure-init-libazureinit-kvp.txt"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut lines = text.lines();
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        if let Some(cmd) = line.strip_prefix("# cmd: ") {
            let value = lines
                .next()
                .unwrap_or_else(|| panic!("{path}: no value after {cmd:?}"));
            out.push((cmd.to_owned(), value.to_owned()));
        }
    }
    out
}

/// `value` with its `timestamp=` field's value replaced by `T`, the one
/// part that differs between runs.
pub fn without_time(value: &str) -> String {
    value
        .split('|')
        .map(|f| {
            if f.starts_with("timestamp=") {
                "timestamp=T"
            } else {
                f
            }
        })
        .collect::<Vec<_>>()
        .join("|")
}
