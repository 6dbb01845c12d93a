//! The record cap: how much room a batch may take, and the marker record
//! that counts what the cap dropped.

use kvp_codec::{EncodeError, Level, Limits, RECORD_SIZE, encode};

use crate::error::Error;
use crate::pool::Locked;

/// Default key of the record that counts what the record cap dropped.
pub const DEFAULT_MARKER_KEY: &str = "KVP_SINK_DROPPED";

/// The cap as configured.
#[derive(Clone, Debug)]
pub(super) struct Cap {
    /// The most records the file may hold; `None` for no cap.
    pub(super) cap: Option<u64>,
    /// The part of the cap only ERROR records and upserts may use.
    pub(super) reserve_percent: u8,
    pub(super) marker_key: String,
}

impl Cap {
    fn reserve(&self, cap: u64) -> u64 {
        cap * u64::from(self.reserve_percent) / 100
    }

    /// Whether `wanted` more records on `records` come near enough to the
    /// cap that [`Cap::budget`] will look for the marker.
    pub(super) fn near(&self, records: u64, wanted: usize) -> bool {
        self.cap.is_some_and(|cap| {
            let normal = (cap - 1).saturating_sub(self.reserve(cap));
            records + wanted as u64 > normal
        })
    }

    /// The room the cap leaves for `wanted` new records. The marker record
    /// (if present) does not count; the last slot under the cap is kept for
    /// it, and the reserve is kept for ERROR records and upserts.
    pub(super) fn budget(&self, locked: &Locked<'_>, wanted: usize) -> Result<CapAllowance, Error> {
        let Some(cap) = self.cap else {
            return Ok(CapAllowance::unlimited());
        };
        let priority = cap - 1;
        let normal = priority.saturating_sub(self.reserve(cap));
        let records = locked.records()?;
        let used = if !self.near(records, wanted) {
            // Far from the cap: no need to look for the marker.
            records
        } else {
            records - u64::from(locked.find(self.marker_key.as_bytes())?.is_some())
        };
        Ok(CapAllowance {
            used,
            normal,
            priority,
        })
    }

    /// Upserts the marker with the counts in `dropped` (everything the cap
    /// dropped since the writer started). `Ok(Some(_))` when the marker
    /// itself cannot be encoded (a marker key the limits refuse): the file
    /// is unchanged and the caller reports it.
    pub(super) fn write_marker(
        &self,
        locked: &mut Locked<'_>,
        dropped: &CapDrops,
        limits: &Limits,
    ) -> Result<Option<EncodeError>, Error> {
        let cap = self.cap.unwrap_or_default();
        let value = format!(
            "dropped={} reason=cap cap={cap} reserved={}{}",
            dropped.total(),
            self.reserve(cap),
            dropped.by_kind(),
        );
        let mut record = [0u8; RECORD_SIZE];
        match encode(&self.marker_key, &value, limits, &mut record) {
            Ok(()) => {
                locked.upsert(&record)?;
                Ok(None)
            }
            Err(e) => Ok(Some(e)),
        }
    }
}

/// What the cap allows during one batch: new records, and the reserve's share.
pub(super) struct CapAllowance {
    used: u64,
    /// Limit for ordinary records: the cap less the marker slot and the reserve.
    normal: u64,
    /// Limit for ERROR records and upserts: the cap less the marker slot.
    priority: u64,
}

impl CapAllowance {
    fn unlimited() -> Self {
        CapAllowance {
            used: 0,
            normal: u64::MAX,
            priority: u64::MAX,
        }
    }

    /// Takes one slot if the record's class may have it.
    pub(super) fn take(&mut self, priority: bool) -> bool {
        let limit = if priority { self.priority } else { self.normal };
        let ok = self.used < limit;
        self.used += u64::from(ok);
        ok
    }
}

/// Records the cap dropped, by level, for the marker record.
#[derive(Debug, Default)]
pub(super) struct CapDrops {
    /// By [`Level::as_u8`], then records without a level.
    by_level: [u64; 6],
    pub(super) upserts: u64,
}

impl CapDrops {
    pub(super) fn add(&mut self, level: Option<Level>) {
        self.by_level[level.map_or(5, |l| usize::from(l.as_u8()))] += 1;
    }

    pub(super) fn merge(&mut self, other: &CapDrops) {
        for (a, b) in self.by_level.iter_mut().zip(other.by_level) {
            *a += b;
        }
        self.upserts += other.upserts;
    }

    pub(super) fn total(&self) -> u64 {
        self.by_level.iter().sum::<u64>() + self.upserts
    }

    /// ` INFO=900 WARN=3 upsert=1`: the non-zero counts.
    fn by_kind(&self) -> String {
        let names = Level::ALL.map(Level::as_str);
        let mut out = String::new();
        for (i, n) in self.by_level.iter().enumerate().filter(|(_, n)| **n > 0) {
            let name = names.get(i).copied().unwrap_or("unlevelled");
            out.push_str(&format!(" {name}={n}"));
        }
        if self.upserts > 0 {
            out.push_str(&format!(" upsert={}", self.upserts));
        }
        out
    }
}
