//! Timestamps as the three writers put them in a pool: RFC 3339 in UTC or
//! with an offset, with milliseconds (ours, azure-init) or microseconds
//! (cloud-init).

use std::cmp::Ordering;

/// A point in time read from a record, kept with the text it came from.
#[derive(Clone, Debug)]
pub(crate) struct Time {
    /// Microseconds since the Unix epoch.
    pub(crate) micros: i64,
    pub(crate) text: String,
}

impl PartialEq for Time {
    fn eq(&self, other: &Self) -> bool {
        self.micros == other.micros
    }
}

impl Eq for Time {}

impl PartialOrd for Time {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Time {
    fn cmp(&self, other: &Self) -> Ordering {
        self.micros.cmp(&other.micros)
    }
}

impl Time {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`; `None` for
    /// anything else.
    pub(crate) fn parse(text: &str) -> Option<Time> {
        let text = text.trim();
        let b = text.as_bytes();
        let num = |from: usize, len: usize| -> Option<i64> {
            let s = text.get(from..from + len)?;
            if !s.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let sep = |at: usize, c: u8| b.get(at) == Some(&c);
        if !(sep(4, b'-') && sep(7, b'-') && (sep(10, b'T') || sep(10, b' '))) {
            return None;
        }
        if !(sep(13, b':') && sep(16, b':')) {
            return None;
        }
        let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
            return None;
        }
        // A leap second (60) is read as the next second's start.
        if second > 60 {
            return None;
        }
        let mut at = 19;
        let mut micros_part = 0i64;
        if sep(at, b'.') {
            at += 1;
            let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            // Only the first six digits count: microseconds are enough to
            // order what these writers write.
            let kept = &text[at..at + digits.min(6)];
            micros_part = kept.parse::<i64>().ok()? * 10i64.pow(6 - kept.len() as u32);
            at += digits;
        }
        let offset_minutes = match b.get(at) {
            Some(b'Z' | b'z') if at + 1 == b.len() => 0,
            Some(&c @ (b'+' | b'-')) if at + 6 == b.len() && sep(at + 3, b':') => {
                let m = num(at + 1, 2)? * 60 + num(at + 4, 2)?;
                if c == b'+' { m } else { -m }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
        Some(Time {
            micros: seconds * 1_000_000 + micros_part,
            text: text.to_owned(),
        })
    }

    /// The time of day as written, to the millisecond: `HH:MM:SS.mmm`.
    pub(crate) fn time_of_day(&self) -> &str {
        let rest = self.text.get(11..).unwrap_or("");
        let end = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        &rest[..end.min(12)]
    }

    /// Milliseconds from `self` to `later`.
    pub(crate) fn ms_until(&self, later: &Time) -> f64 {
        (later.micros - self.micros) as f64 / 1_000.0
    }
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(s: &str) -> i64 {
        Time::parse(s).map(|t| t.micros).unwrap_or(i64::MIN)
    }

    #[test]
    fn each_writers_form() {
        assert_eq!(micros("1970-01-01T00:00:00Z"), 0);
        assert_eq!(micros("1970-01-02T00:00:00.5Z"), 86_400_500_000);
        // 2026-11-21 is day 20,778 after the epoch.
        let day = 20_778 * 86_400_000_000i64;
        assert_eq!(micros("2026-11-21T00:00:00.947Z"), day + 947_000);
        assert_eq!(micros("2026-11-21T00:00:00.920613Z"), day + 920_613);
        assert_eq!(micros("2026-11-21T01:00:00.000001+01:00"), day + 1);
        assert_eq!(micros("2026-11-20T23:00:00-01:00"), day);
    }

    #[test]
    fn anything_else_is_not_a_time() {
        for bad in [
            "",
            "2026-11-21",
            "2026-11-21T13:15:47",
            "2026-13-21T13:15:47Z",
            "2026-11-21T13:15:47.Z",
            "2026-11-21T13:15:47Zjunk",
            "2026-11-21T13:15:47+0100",
            "२०२६-11-21T13:15:47Z",
        ] {
            assert!(Time::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn time_of_day_is_cut_to_milliseconds() {
        let t = |s: &str| Time::parse(s).map(|t| t.time_of_day().to_owned());
        assert_eq!(
            t("2026-11-21T13:15:47.947Z").as_deref(),
            Some("13:15:47.947")
        );
        assert_eq!(
            t("2026-11-21T12:49:04.920613Z").as_deref(),
            Some("12:49:04.920")
        );
        assert_eq!(
            t("2026-11-21T12:49:19.313178+00:00").as_deref(),
            Some("12:49:19.313")
        );
        assert_eq!(t("2026-11-21T12:49:19Z").as_deref(), Some("12:49:19"));
    }
}
