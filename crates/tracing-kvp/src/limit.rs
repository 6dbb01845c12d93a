//! Per-callsite rate limiting, so a hot loop cannot fill the small pool.
//!
//! Each callsite (an event macro, or a span's) has a token bucket: a burst
//! of records, then a steady rate. A record that finds the bucket empty is
//! suppressed and counted; the callsite's next record carries
//! `suppressed=<n>`, and [`crate::KvpHandle::flush_suppressed`] writes one
//! record per callsite still holding a count (the facade calls it on flush
//! and at exit).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use rustc_hash::FxHasher;
use tracing::Metadata;
use tracing::callsite::Identifier;

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
    last: Instant,
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
    fn admit(&self, limit: &RateLimit, now: Instant) -> Admit {
        let mut b = self.bucket.lock();
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.last = now;
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

/// Every callsite's limiter, read without a lock; the map is copied and
/// swapped only when a callsite writes its first record.
#[derive(Debug)]
pub(crate) struct Limiters {
    pub(crate) limit: Option<RateLimit>,
    map: ArcSwap<Map>,
    write: Mutex<()>,
}

impl Limiters {
    pub(crate) fn new(limit: Option<RateLimit>) -> Self {
        Limiters {
            limit,
            map: ArcSwap::default(),
            write: Mutex::new(()),
        }
    }

    /// Whether `meta`'s callsite may write a record now.
    pub(crate) fn admit(&self, meta: &'static Metadata<'static>) -> Admit {
        let Some(limit) = &self.limit else {
            return Admit::Yes { suppressed: 0 };
        };
        let now = Instant::now();
        if let Some(l) = self.map.load().get(&meta.callsite()) {
            return l.admit(limit, now);
        }
        let limiter = {
            let _w = self.write.lock();
            let current = self.map.load();
            match current.get(&meta.callsite()) {
                Some(l) => Arc::clone(l),
                None => {
                    let l = Arc::new(Limiter {
                        meta,
                        bucket: Mutex::new(Bucket {
                            tokens: f64::from(limit.burst),
                            last: now,
                            suppressed: 0,
                        }),
                    });
                    let mut next = Map::clone(&current);
                    next.insert(meta.callsite(), Arc::clone(&l));
                    self.map.store(Arc::new(next));
                    l
                }
            }
        };
        limiter.admit(limit, now)
    }

    /// Every limiter, for the flush of suppressed counts.
    pub(crate) fn all(&self) -> Vec<Arc<Limiter>> {
        self.map.load().values().cloned().collect()
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
