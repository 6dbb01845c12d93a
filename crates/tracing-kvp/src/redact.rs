//! Keeping secrets off the host channel.
//!
//! A field whose **name** matches the deny list is written as
//! `name=<redacted>`; its value is never formatted, so it never reaches the
//! queue, the file or the host. Matching is a case-insensitive substring
//! test on the field name, and applies to events, span fields and fields
//! recorded later, whatever the value's type (`?x`, `%x`, strings, numbers).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::slots::{self, Table};

/// The default deny list: field names containing any of these,
/// case-insensitively, are redacted.
pub const DEFAULT_DENY_LIST: [&str; 8] = [
    "password",
    "passwd",
    "secret",
    "token",
    "credential",
    "private_key",
    "api_key",
    "authorization",
];

/// Whether `name` matches [`DEFAULT_DENY_LIST`] (case-insensitive
/// substring), for writers other than the layer, such as the facade's
/// metric exporter.
///
/// ```
/// assert!(tracing_kvp::denied_by_default("Client_Secret"));
/// assert!(!tracing_kvp::denied_by_default("route"));
/// ```
pub fn denied_by_default(name: &str) -> bool {
    DEFAULT_DENY_LIST
        .iter()
        .any(|f| contains_ignore_ascii_case(name, f))
}

/// Whether `haystack` contains `needle` (lower case), ignoring ASCII case.
fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// What a redacted field's value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// A deny list of field-name fragments.
#[derive(Debug)]
pub(crate) struct Redactor {
    fragments: Vec<String>,
    /// Tells this list's cache entries from another layer's.
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Per-thread answers for recent field names, keyed by the name's
    /// address (field names are `&'static str` from the callsite) and the
    /// list's id.
    static CACHE: Table<bool> = const { slots::empty() };
}

impl Redactor {
    pub(crate) fn new<S: AsRef<str>>(fragments: impl IntoIterator<Item = S>) -> Self {
        Redactor {
            fragments: fragments
                .into_iter()
                .map(|f| f.as_ref().to_ascii_lowercase())
                .filter(|f| !f.is_empty())
                .collect(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Case-insensitive substring match, in place: a cache miss must not
    /// allocate either (two field names sharing a cache slot miss on every
    /// event).
    fn matches(&self, name: &str) -> bool {
        self.fragments
            .iter()
            .any(|f| contains_ignore_ascii_case(name, f))
    }

    /// Tells this list from other layers' lists in per-thread caches.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Whether field `name` must be redacted.
    pub(crate) fn is_denied(&self, name: &'static str) -> bool {
        if self.fragments.is_empty() {
            return false;
        }
        slots::get(&CACHE, name.as_ptr() as usize, self.id, || {
            self.matches(name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_matches_case_insensitively() {
        let r = Redactor::new(DEFAULT_DENY_LIST);
        for name in [
            "password",
            "db_PASSWORD",
            "passwd",
            "client_secret",
            "AccessToken",
            "credentials",
            "ssh_private_key",
            "api_key",
            "Authorization",
        ] {
            assert!(
                r.is_denied(Box::leak(name.to_owned().into_boxed_str())),
                "{name}"
            );
        }
        for name in ["user", "path", "pass", "key", "auth"] {
            assert!(
                !r.is_denied(Box::leak(name.to_owned().into_boxed_str())),
                "{name}"
            );
        }
        let empty = Redactor::new(Vec::<String>::new());
        assert!(!empty.is_denied("password"));
    }
}
