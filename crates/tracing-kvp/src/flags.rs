//! What the layer must know about a callsite's fields (which are redacted,
//! which mark an error, whether it carries a provisioning report), worked
//! out once per thread and callsite instead of once per field per record.

use tracing::Metadata;

use crate::provisioning_report::HEALTH_REPORT_FIELD;
use crate::redact::Redactor;
use crate::slots::{self, Item, Table};

/// One bit per field index (tracing allows at most 32 fields a callsite).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldFlags {
    /// Fields whose value must not be written.
    pub(crate) denied: u32,
    /// Fields named `error`: a span that records one closes with
    /// `status=error`.
    pub(crate) error: u32,
    /// The callsite has a `health_report` field.
    pub(crate) report: bool,
}

impl FieldFlags {
    fn of(meta: &Metadata<'_>, redactor: &Redactor) -> Self {
        let mut flags = FieldFlags::default();
        for field in meta.fields() {
            let bit = FieldFlags::bit(field.index()).unwrap_or(0);
            let name = field.name();
            if redactor.is_denied(name) {
                flags.denied |= bit;
            }
            if name == "error" {
                flags.error |= bit;
            }
            flags.report |= name == HEALTH_REPORT_FIELD;
        }
        flags
    }

    /// The flags of `meta`'s fields under `redactor`'s deny list.
    // Inline: a cache hit is a few loads, cheaper than the call into another
    // codegen unit (through the global offset table) that it would be.
    #[inline]
    pub(crate) fn get(meta: &'static Metadata<'static>, redactor: &Redactor) -> Self {
        slots::get(&CACHE, Item::of(meta), redactor.id(), || {
            FieldFlags::of(meta, redactor)
        })
    }

    /// Field `index`'s bit in the flags; `None` past 32 fields, which
    /// tracing does not allow.
    #[inline]
    pub(crate) fn bit(index: usize) -> Option<u32> {
        1u32.checked_shl(u32::try_from(index).ok()?)
    }
}

thread_local! {
    /// Recent callsites' flags, keyed by the metadata and the deny list's
    /// id.
    static CACHE: Table<FieldFlags> = const { slots::empty() };
}
