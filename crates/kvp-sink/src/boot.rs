//! The boot time, to tell data of this boot from data of an earlier one.

use std::io;

/// Seconds since the epoch at which the system booted: `/proc/stat`'s
/// `btime` line, as cloud-init and azure-init read it.
pub(crate) fn boot_time() -> io::Result<i64> {
    parse_btime(&std::fs::read_to_string("/proc/stat")?)
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
