//! The boot time, to tell data of this boot from data of an earlier one.

use std::io;
use std::os::unix::fs::MetadataExt as _;

/// Seconds since the epoch at which the system booted: `/proc/stat`'s
/// `btime` line, as cloud-init and azure-init read it.
pub(crate) fn boot_time() -> io::Result<i64> {
    parse_btime(&std::fs::read_to_string("/proc/stat")?)
}

/// Whether a pool file with this metadata holds data of an earlier boot by
/// azure-init's rule: last written before this boot or in its very second
/// (`mtime <= btime`). An empty file is judged by its time like any other.
///
/// ```no_run
/// let meta = std::fs::metadata("/var/lib/hyperv/.kvp_pool_1")?;
/// if kvp_sink::is_stale(&meta)? {
///     println!("the pool still holds an earlier boot's records");
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn is_stale(meta: &std::fs::Metadata) -> io::Result<bool> {
    Ok(meta.mtime() <= boot_time()?)
}

fn parse_btime(stat: &str) -> io::Result<i64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no btime line in /proc/stat"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_btime() {
        assert_eq!(
            parse_btime("cpu 1 2\nbtime 1795265110\nprocesses 9\n").unwrap(),
            1795265110
        );
        assert!(parse_btime("cpu 1 2\n").is_err());
        assert!(boot_time().unwrap() > 1_000_000_000);
    }
}
