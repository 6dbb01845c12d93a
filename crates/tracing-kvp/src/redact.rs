//! Keeping secrets off the host channel, by the rules of
//! [`telemetry_redact`] (shared with the metrics bridge and the facade).
//!
//! - A field whose **name** the deny list covers is written as
//!   `name=<redacted>`; its value is never formatted, so it never reaches
//!   the queue, the file or the host. This holds for events, span fields and
//!   fields recorded later, whatever the value's type.
//! - The **text** of every other string, `Debug`, `Display` and error value
//!   (messages included) is scrubbed on the writer thread: `name=value`
//!   pairs with a denied name, credentials, SAS signatures,
//!   connection-string keys, PEM private keys and JWTs lose their values.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use telemetry_redact::DenyList;

use crate::slots::{self, Item, Table};

/// The default deny list (the families of [`telemetry_redact::DENY_LIST`]):
/// field names that match an entry, after normalising case, separators and
/// camelCase, are redacted.
pub const DEFAULT_DENY_LIST: &[&str] = telemetry_redact::DENY_LIST;

/// Whether `name` is covered by [`DEFAULT_DENY_LIST`], for writers other
/// than the layer.
///
/// ```
/// assert!(tracing_kvp::denied_by_default("Client_Secret"));
/// assert!(tracing_kvp::denied_by_default("apiKey"));
/// assert!(!tracing_kvp::denied_by_default("route"));
/// ```
pub fn denied_by_default(name: &str) -> bool {
    telemetry_redact::is_secret_name(name)
}

/// What a redacted value is replaced with.
pub const REDACTED: &str = telemetry_redact::REDACTED;

/// A layer's deny list, with a per-thread cache of its answers.
#[derive(Debug)]
pub(crate) struct Redactor {
    list: DenyList,
    /// Tells this list's cache entries from another layer's.
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Per-thread answers for recent field names, keyed by the name (its
    /// address and length: field names are `&'static str` from the
    /// callsite) and the list's id.
    static CACHE: Table<bool> = const { slots::empty() };
}

impl Redactor {
    pub(crate) fn new(list: DenyList) -> Self {
        Redactor {
            list,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Tells this list from other layers' lists in per-thread caches.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The list, for the writer thread's scrubbing.
    pub(crate) fn list(&self) -> &DenyList {
        &self.list
    }

    /// Whether field `name` must be redacted.
    pub(crate) fn is_denied(&self, name: &'static str) -> bool {
        if self.list.is_empty() {
            return false;
        }
        slots::get(&CACHE, Item::text(name), self.id, || {
            self.list.is_denied(name)
        })
    }

    /// `text` with the secrets inside it replaced; see
    /// [`DenyList::scrub`].
    pub(crate) fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.list.scrub(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leak(name: &str) -> &'static str {
        Box::leak(name.to_owned().into_boxed_str())
    }

    #[test]
    fn default_list_matches_normalised_names() {
        let r = Redactor::new(DenyList::new(DEFAULT_DENY_LIST));
        for name in [
            "password",
            "db_PASSWORD",
            "pass",
            "client_secret",
            "AccessToken",
            "credentials",
            "ssh_private_key",
            "apiKey",
            "x-api-key",
            "Authorization",
            "connection_string",
        ] {
            assert!(r.is_denied(leak(name)), "{name}");
        }
        for name in ["user", "path", "passenger", "key", "author"] {
            assert!(!r.is_denied(leak(name)), "{name}");
        }
        let empty = Redactor::new(DenyList::new(Vec::<String>::new()));
        assert!(!empty.is_denied("password"));
    }

    /// `"pass"` as the first four bytes of `"password"`: the same address,
    /// another name. Each gets its own answer, in either order.
    #[test]
    fn names_sharing_an_address_do_not_share_an_answer() {
        let only_password = Redactor::new(DenyList::new(["password"]));
        let password = leak("password");
        let pass: &'static str = &password[..4];
        assert_eq!(pass.as_ptr(), password.as_ptr());
        assert!(!only_password.is_denied(pass));
        assert!(only_password.is_denied(password));
        assert!(!only_password.is_denied(pass));
        let only_pass = Redactor::new(DenyList::new(["pass"]));
        let passport = leak("passport");
        assert!(only_pass.is_denied(&passport[..4]));
        assert!(!only_pass.is_denied(passport));
    }
}

#[cfg(test)]
mod schema_agrees {
    /// The marker the value grammar writes and the one redaction uses are
    /// one text.
    #[test]
    fn the_redaction_marker_is_the_schemas() {
        assert_eq!(super::REDACTED, kvp_codec::schema::REDACTED);
    }
}
