//! A record's time, as the caller's thread takes it: seconds and
//! nanoseconds since 1970, read once and used both in the capture and by
//! the rate limit.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Where the time comes from (injectable for reproducible tests).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Where a layer's time comes from.
#[derive(Clone)]
pub(crate) enum TimeSource {
    /// The system's real-time clock, read straight into a [`Stamp`]:
    /// `SystemTime::now` and the conversion to a `Duration` since 1970
    /// cost three times the read itself (~100 instructions a record).
    System,
    /// A clock the user injected (tests, snapshots).
    Injected(Clock),
}

impl TimeSource {
    /// The time now.
    #[inline]
    pub(crate) fn now(&self) -> Stamp {
        match self {
            TimeSource::System => Stamp::now(),
            TimeSource::Injected(clock) => Stamp::of(clock()),
        }
    }

    /// The time now, as a `SystemTime`.
    pub(crate) fn system_time(&self) -> SystemTime {
        match self {
            TimeSource::System => SystemTime::now(),
            TimeSource::Injected(clock) => clock(),
        }
    }
}

/// Seconds (negative before 1970) and nanoseconds since 1970.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp {
    secs: i64,
    /// Below 1,000,000,000, so that the derived order is the time order.
    nanos: u32,
}

impl Stamp {
    /// The system's real-time clock (`CLOCK_REALTIME`, which the C library
    /// reads through the vDSO). Linux gives a time before 1970 as negative
    /// seconds and nanoseconds forward from them, which is this type's
    /// form. (Not through rustix: its own vDSO lookup crashes programs run
    /// under valgrind, rustix issue 1559.)
    #[inline]
    pub(crate) fn now() -> Stamp {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid, writable timespec for the call's duration,
        // and CLOCK_REALTIME is a clock every kernel has; on the error that
        // cannot happen, `t` stays the epoch.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut t) };
        // `time_t` is 32 bits on some targets.
        #[allow(clippy::useless_conversion)]
        Stamp {
            secs: i64::from(t.tv_sec),
            // The kernel keeps tv_nsec in 0..1_000_000_000.
            nanos: t.tv_nsec as u32,
        }
    }

    pub(crate) fn of(t: SystemTime) -> Stamp {
        match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => Stamp {
                secs: d.as_secs() as i64,
                nanos: d.subsec_nanos(),
            },
            // Before 1970: whole seconds back, then forward by the nanoseconds.
            Err(e) => {
                let d = e.duration();
                let carry = d.subsec_nanos() > 0;
                Stamp {
                    secs: -(d.as_secs() as i64) - i64::from(carry),
                    nanos: if carry {
                        1_000_000_000 - d.subsec_nanos()
                    } else {
                        0
                    },
                }
            }
        }
    }

    /// The time, when `SystemTime` can hold it.
    pub(crate) fn system_time(self) -> Option<SystemTime> {
        let whole = Duration::from_secs(self.secs.unsigned_abs());
        let base = if self.secs >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(whole)?
        } else {
            SystemTime::UNIX_EPOCH.checked_sub(whole)?
        };
        base.checked_add(Duration::from_nanos(u64::from(self.nanos)))
    }

    /// The time from `earlier` to this stamp; zero when this is not later.
    pub(crate) fn since(self, earlier: Stamp) -> Duration {
        let nanos = (i128::from(self.secs) - i128::from(earlier.secs)) * 1_000_000_000
            + (i128::from(self.nanos) - i128::from(earlier.nanos));
        Duration::from_nanos(u64::try_from(nanos.max(0)).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_before_and_after_1970_and_orders_by_time() {
        let times = [
            SystemTime::UNIX_EPOCH - Duration::new(5, 250_000_000),
            SystemTime::UNIX_EPOCH - Duration::from_secs(5),
            SystemTime::UNIX_EPOCH,
            SystemTime::UNIX_EPOCH + Duration::new(1_795_000_000, 999_999_999),
        ];
        let stamps: Vec<Stamp> = times.iter().map(|t| Stamp::of(*t)).collect();
        for (t, s) in times.iter().zip(&stamps) {
            assert_eq!(s.system_time(), Some(*t));
        }
        assert!(stamps.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            stamps[3].since(stamps[2]),
            Duration::new(1_795_000_000, 999_999_999)
        );
        assert_eq!(stamps[0].since(stamps[1]), Duration::ZERO);
        assert_eq!(stamps[1].since(stamps[0]), Duration::from_millis(250));
    }

    #[test]
    fn the_clock_read_directly_agrees_with_system_time() {
        let before = Stamp::of(SystemTime::now());
        let now = Stamp::now();
        let after = Stamp::of(SystemTime::now());
        assert!(
            before <= now && now <= after,
            "{before:?} {now:?} {after:?}"
        );
        assert!(now.nanos < 1_000_000_000);
    }
}
