//! What each callsite measures, worked out once when it registers.
//!
//! A callsite's plan lists its metric fields, each with its instrument
//! slots. Plans live in a map from callsite to plan that readers load
//! without a lock ([`arc_swap`]); it is copied and swapped only when a new
//! callsite registers, which happens once per callsite.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustc_hash::FxHasher;
use telemetry_redact::DenyList;
use tracing::Metadata;
use tracing::callsite::Identifier;

use crate::instrument::{Kind, Slots};

/// One metric field of a callsite.
#[derive(Debug)]
pub(crate) struct MetricField {
    pub(crate) kind: Kind,
    pub(crate) name: &'static str,
    pub(crate) slots: Slots,
}

/// The metric fields of one callsite, indexed by field position.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// `by_field[i]` is the metric for field `i`, if it is one.
    pub(crate) by_field: Vec<Option<MetricField>>,
    /// `denied[i]`: field `i` names a secret; as an attribute its value is
    /// [`REDACTED`](telemetry_redact::REDACTED), whatever it is.
    denied: Vec<bool>,
}

impl Plan {
    pub(crate) fn of(meta: &Metadata<'_>, deny: &DenyList) -> Plan {
        Plan {
            by_field: meta
                .fields()
                .iter()
                .map(|f| {
                    Kind::of_field(f.name()).map(|(kind, name)| MetricField {
                        kind,
                        name,
                        slots: Slots::default(),
                    })
                })
                .collect(),
            denied: meta
                .fields()
                .iter()
                .map(|f| deny.is_denied(f.name()))
                .collect(),
        }
    }

    /// Whether `field`'s value must not leave the process.
    pub(crate) fn is_denied(&self, field: &tracing::field::Field) -> bool {
        self.denied.get(field.index()).copied().unwrap_or(false)
    }

    /// Whether `field` is one of this callsite's metric fields.
    pub(crate) fn is_metric(&self, field: &tracing::field::Field) -> bool {
        matches!(self.by_field.get(field.index()), Some(Some(_)))
    }

    /// Whether a text field (`&str`, `Debug`, `Display`) of this callsite
    /// is an attribute: any but `message`, unless asked. Only numbers are
    /// measurements, so a text field with a metric prefix is an attribute
    /// under its whole name, as in tracing-opentelemetry.
    pub(crate) fn is_text_attribute(
        field: &tracing::field::Field,
        message_attribute: bool,
    ) -> bool {
        message_attribute || field.name() != "message"
    }

    pub(crate) fn has_metrics(&self) -> bool {
        self.by_field.iter().any(Option::is_some)
    }
}

type Map = HashMap<Identifier, Arc<Plan>, BuildHasherDefault<FxHasher>>;

/// The plans of every metric callsite seen.
#[derive(Debug)]
pub(crate) struct Plans {
    map: ArcSwap<Map>,
    /// Serialises writers; readers never take it.
    write: Mutex<()>,
    /// Which attribute names are secrets.
    deny: DenyList,
}

impl Plans {
    pub(crate) fn new(deny: DenyList) -> Plans {
        Plans {
            map: ArcSwap::default(),
            write: Mutex::new(()),
            deny,
        }
    }

    /// The deny list the plans were made with.
    pub(crate) fn deny(&self) -> &DenyList {
        &self.deny
    }

    /// The plan of `meta`'s callsite, made and stored on first sight.
    /// Callsites without metric fields are not stored.
    pub(crate) fn get_or_insert(&self, meta: &'static Metadata<'static>) -> Option<Arc<Plan>> {
        let id = meta.callsite();
        if let Some(plan) = self.map.load().get(&id) {
            return Some(Arc::clone(plan));
        }
        let plan = Plan::of(meta, &self.deny);
        if !plan.has_metrics() {
            return None;
        }
        // A poisoned lock only means another registration panicked; the
        // map itself is always whole (it is swapped, never edited).
        let _guard = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.map.load();
        if let Some(plan) = current.get(&id) {
            return Some(Arc::clone(plan));
        }
        let plan = Arc::new(plan);
        let mut next = Map::clone(&current);
        next.insert(id, Arc::clone(&plan));
        self.map.store(Arc::new(next));
        Some(plan)
    }

    /// Runs `f` with the plan of `meta`'s callsite, without a lock or a
    /// reference count in the common case.
    pub(crate) fn with<R>(
        &self,
        meta: &'static Metadata<'static>,
        f: impl FnOnce(&Plan) -> R,
    ) -> Option<R> {
        let map = self.map.load();
        match map.get(&meta.callsite()) {
            Some(plan) => Some(f(plan)),
            None => {
                drop(map);
                self.get_or_insert(meta).map(|plan| f(&plan))
            }
        }
    }
}
