//! Per-callsite rate limiting, so a hot loop cannot fill the small pool.
//!
//! Each callsite (an event macro, or a span's) has a token bucket: a burst
//! of records, then a steady rate. A record that finds the bucket empty is
//! suppressed and counted; the callsite's next record carries
//! `suppressed=<n>`, and [`crate::KvpHandle::flush_suppressed`] writes one
//! record per callsite still holding a count (the facade calls it on flush
//! and at exit).
//!
//! The buckets run on the time the record is stamped with (the layer's
//! clock), which saves a second clock read per record. That clock is the
//! wall clock: stepped back, it refills nothing until it catches up;
//! stepped forward, it refills at most a burst.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHasher;
use tracing::Metadata;
use tracing::callsite::Identifier;

use crate::slots::{self, SLOTS};
use crate::stamp::Stamp;

/// A burst, then a steady rate, per callsite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Records a callsite may write at once.
    pub burst: u32,
    /// Records per second after the burst.
    pub per_second: f64,
}

impl RateLimit {
    /// 10 records at once, then 1 per second.
    pub const DEFAULT: RateLimit = RateLimit {
        burst: 10,
        per_second: 1.0,
    };
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::DEFAULT
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Stamp,
    suppressed: u64,
}

/// One callsite's bucket.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) meta: &'static Metadata<'static>,
    bucket: Mutex<Bucket>,
}

/// What the limiter decided for one record.
pub(crate) enum Admit {
    /// Write it; `suppressed` records were held back before it.
    Yes { suppressed: u64 },
    /// Suppressed (and counted).
    No,
}

impl Limiter {
    fn admit(&self, limit: &RateLimit, now: Stamp) -> Admit {
        let mut b = self.bucket.lock();
        let elapsed = now.since(b.last).as_secs_f64();
        b.last = b.last.max(now);
        b.tokens = (b.tokens + elapsed * limit.per_second).min(f64::from(limit.burst));
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Admit::Yes {
                suppressed: std::mem::take(&mut b.suppressed),
            }
        } else {
            b.suppressed += 1;
            Admit::No
        }
    }

    /// Takes the count of records suppressed since the last one written.
    pub(crate) fn take_suppressed(&self) -> u64 {
        std::mem::take(&mut self.bucket.lock().suppressed)
    }
}

type Map = HashMap<Identifier, Arc<Limiter>, BuildHasherDefault<FxHasher>>;

/// Every callsite's limiter. A thread finds the ones it used last in
/// [`RECENT`] without touching the map; the map's read lock is taken only
/// on a miss, and its write lock when a callsite writes its first record.
/// (A map copied and swapped at each new callsite made the n-th callsite
/// cost O(n), so many callsites cost quadratic time.)
#[derive(Debug)]
pub(crate) struct Limiters {
    pub(crate) limit: Option<RateLimit>,
    map: RwLock<Map>,
    /// Tells this set's limiters from another layer's in [`RECENT`].
    id: u64,
}

/// A limiter this thread used: its callsite's address, its set's id.
type Recent = Option<(usize, u64, Arc<Limiter>)>;

thread_local! {
    /// The limiters this thread used last, by callsite address and the
    /// [`Limiters`] they belong to: a hit costs a compare, against about
    /// 100 instructions for the shared map's load.
    static RECENT: RefCell<[Recent; SLOTS]> = const { RefCell::new([const { None }; SLOTS]) };
}

impl Limiters {
    pub(crate) fn new(limit: Option<RateLimit>) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Limiters {
            limit,
            map: RwLock::default(),
            id: NEXT_ID.fetch_add(1, Relaxed),
        }
    }

    /// Whether `meta`'s callsite may write a record stamped `now`.
    // Inline: without a limit this is one test, which should not cost the
    // event path a call.
    #[inline]
    pub(crate) fn admit(&self, meta: &'static Metadata<'static>, now: Stamp) -> Admit {
        match &self.limit {
            None => Admit::Yes { suppressed: 0 },
            Some(limit) => self.admit_limited(limit, meta, now),
        }
    }

    fn admit_limited(
        &self,
        limit: &RateLimit,
        meta: &'static Metadata<'static>,
        now: Stamp,
    ) -> Admit {
        let addr = std::ptr::from_ref(meta) as usize;
        // Like `slots::get`, but a hit borrows the limiter instead of
        // cloning the `Arc`.
        let slot = slots::slot(addr);
        let recent = RECENT.try_with(|r| {
            let r = r.try_borrow().ok()?;
            match &r[slot] {
                Some((a, id, l)) if *a == addr && *id == self.id => Some(l.admit(limit, now)),
                _ => None,
            }
        });
        if let Ok(Some(admit)) = recent {
            return admit;
        }
        let limiter = self.limiter(meta, limit, now);
        let admit = limiter.admit(limit, now);
        let _ = RECENT.try_with(|r| {
            if let Ok(mut r) = r.try_borrow_mut() {
                r[slot] = Some((addr, self.id, limiter));
            }
        });
        admit
    }

    /// `meta`'s callsite's limiter, made at its first record.
    fn limiter(
        &self,
        meta: &'static Metadata<'static>,
        limit: &RateLimit,
        now: Stamp,
    ) -> Arc<Limiter> {
        if let Some(l) = self.map.read().get(&meta.callsite()) {
            return Arc::clone(l);
        }
        let mut map = self.map.write();
        let l = map.entry(meta.callsite()).or_insert_with(|| {
            Arc::new(Limiter {
                meta,
                bucket: Mutex::new(Bucket {
                    tokens: f64::from(limit.burst),
                    last: now,
                    suppressed: 0,
                }),
            })
        });
        Arc::clone(l)
    }

    /// Every limiter, for the flush of suppressed counts.
    pub(crate) fn all(&self) -> Vec<Arc<Limiter>> {
        self.map.read().values().cloned().collect()
    }
}

impl std::str::FromStr for RateLimit {
    type Err = &'static str;

    /// `<burst>/<records per second>`, such as `10/1` or `5/0.5`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s.trim().split_once('/').and_then(|(burst, rate)| {
            let burst: u32 = burst.trim().parse().ok().filter(|b| *b >= 1)?;
            let per_second: f64 = rate
                .trim()
                .parse()
                .ok()
                .filter(|r: &f64| r.is_finite() && *r > 0.0)?;
            Some(RateLimit { burst, per_second })
        });
        parsed.ok_or("a rate `<burst>/<records per second>` such as 10/1")
    }
}
