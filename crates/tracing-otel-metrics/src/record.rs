//! The layer underneath [`crate::MetricsLayer`]: visits a metric event's
//! fields and records its measurements.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use opentelemetry::InstrumentationScope;
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::{Key, KeyValue, Value};
use smallvec::SmallVec;
use tracing::field::{Field, Visit};
use tracing::span::Attributes;
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

#[cfg(feature = "bound-instruments")]
use crate::bound::BoundCache;
use crate::callsite::{MetricField, Plan, Plans};
use crate::instrument::{Create, Describe, Num, Rejection, convert};
use crate::stats::StatsHandle;
use crate::strings::{Cache, with_cache};
use telemetry_redact::{DenyList, REDACTED};

/// Attributes of one event: inline up to 8, so numeric and boolean
/// attributes cost no heap allocation.
pub(crate) type Attrs = SmallVec<[KeyValue; 8]>;

/// State shared by the recorder and its filter.
pub(crate) struct Shared {
    pub(crate) plans: Plans,
    pub(crate) meter: Meter,
    pub(crate) describe: HashMap<&'static str, Describe>,
    pub(crate) message_attribute: bool,
    pub(crate) span_attributes: bool,
    /// Whether to record through bound instruments (`bound.rs`, with the
    /// `bound-instruments` feature).
    #[cfg_attr(not(feature = "bound-instruments"), allow(dead_code))]
    pub(crate) bind: bool,
    pub(crate) stats: StatsHandle,
    /// Keeps the meter provider alive as long as the layer.
    pub(crate) _provider: Box<dyn ProvideMeter>,
}

/// A meter provider of any type, kept for the life of the layer.
pub(crate) trait ProvideMeter: Send + Sync {
    fn meter(&self, scope: InstrumentationScope) -> Meter;
}

impl<P: MeterProvider + Send + Sync> ProvideMeter for P {
    fn meter(&self, scope: InstrumentationScope) -> Meter {
        self.meter_with_scope(scope)
    }
}

/// Turns `tracing` events with metric fields into OpenTelemetry
/// measurements; [`crate::MetricsLayer`] puts it under its filter.
pub(crate) struct Recorder {
    pub(crate) shared: Arc<Shared>,
}

/// Span fields kept as attributes (with `span_attributes(true)`).
struct SpanAttrs(Attrs);

/// Collects an event's metric values and attributes.
struct Collector<'a> {
    plan: &'a Plan,
    strings: &'a mut Cache,
    attrs: Attrs,
    values: SmallVec<[(usize, Num); 4]>,
    message_attribute: bool,
}

impl Collector<'_> {
    fn is_metric(&self, field: &Field) -> bool {
        self.plan.is_metric(field)
    }

    fn number(&mut self, field: &Field, value: Num, attr: impl FnOnce() -> Value) {
        if self.is_metric(field) {
            self.values.push((field.index(), value));
        } else {
            // A number carries no credential, whatever its name.
            self.attrs
                .push(KeyValue::new(Key::from_static_str(field.name()), attr()));
        }
    }

    /// A non-numeric attribute: `value` unless the name is denied.
    fn push(&mut self, field: &Field, value: impl FnOnce(&mut Cache) -> Value) {
        let value = if self.plan.is_denied(field) {
            Value::from(REDACTED)
        } else {
            value(&mut *self.strings)
        };
        self.attrs
            .push(KeyValue::new(Key::from_static_str(field.name()), value));
    }
}

impl Visit for Collector<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field, Num::U64(value), || match i64::try_from(value) {
            Ok(v) => Value::I64(v),
            Err(_) => Value::String(value.to_string().into()),
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field, Num::I64(value), || Value::I64(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.number(field, Num::F64(value), || Value::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        // Only numbers are measurements; a prefixed boolean is an attribute,
        // as in tracing-opentelemetry. A bool carries no credential.
        self.attrs.push(KeyValue::new(
            Key::from_static_str(field.name()),
            Value::Bool(value),
        ));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if !Plan::is_text_attribute(field, self.message_attribute) {
            return;
        }
        self.push(field, |strings| strings.value(field.name(), value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !Plan::is_text_attribute(field, self.message_attribute) {
            return;
        }
        // A denied value is never formatted.
        self.push(field, |strings| {
            strings.formatted(field.name(), format_args!("{value:?}"))
        });
    }
}

/// Collects a span's fields as attributes: a denied name's value is
/// [`REDACTED`], text is scrubbed.
struct SpanCollector<'a> {
    attrs: Attrs,
    deny: &'a DenyList,
}

impl SpanCollector<'_> {
    /// A text attribute: `value` unless the name is denied.
    fn push(&mut self, field: &Field, value: impl FnOnce() -> Value) {
        let value = if self.deny.is_denied(field.name()) {
            Value::from(REDACTED)
        } else {
            value()
        };
        self.scalar(field, value);
    }

    /// A number or a bool: never redacted, it carries no credential.
    fn scalar(&mut self, field: &Field, value: Value) {
        self.attrs
            .push(KeyValue::new(Key::from_static_str(field.name()), value));
    }
}

impl Visit for SpanCollector<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.scalar(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.scalar(
            field,
            i64::try_from(value)
                .map_or_else(|_| Value::String(value.to_string().into()), Value::I64),
        );
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.scalar(field, Value::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.scalar(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let deny = self.deny;
        self.push(field, || Value::from(deny.scrub(value).into_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let deny = self.deny;
        self.push(field, || {
            Value::from(deny.scrub(&format!("{value:?}")).into_owned())
        });
    }
}

impl<S> tracing_subscriber::Layer<S> for Recorder
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &tracing::span::Id, ctx: Context<'_, S>) {
        if !self.shared.span_attributes {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut collector = SpanCollector {
            attrs: Attrs::new(),
            deny: self.shared.plans.deny(),
        };
        attrs.record(&mut collector);
        let mut ext = span.extensions_mut();
        if ext.get_mut::<SpanAttrs>().is_none() {
            ext.insert(SpanAttrs(collector.attrs));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let shared = &*self.shared;
        shared.plans.with(event.metadata(), |plan| {
            // Span attributes would have to join the key; such layers take
            // the unbound path.
            #[cfg(feature = "bound-instruments")]
            if shared.bind && !shared.span_attributes {
                let done =
                    crate::bound::with_cache(|cache| shared.record_bound(plan, event, cache));
                if done.is_some() {
                    return;
                }
            }
            shared.record_unbound(plan, event, &ctx);
        });
    }
}

impl Shared {
    /// The instrument-creation inputs of `metric`.
    fn create_with<'a>(
        &'a self,
        metric: &'a MetricField,
    ) -> Create<'a, impl FnOnce() -> Describe + 'a> {
        Create {
            meter: &self.meter,
            kind: metric.kind,
            name: metric.name,
            describe: move || self.describe.get(metric.name).cloned().unwrap_or_default(),
        }
    }

    fn reject(&self, why: Rejection) {
        let counter = match why {
            Rejection::Negative => &self.stats.inner.negative,
            Rejection::TooLarge => &self.stats.inner.too_large,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// The event's attributes, for the unbound path and for binding.
    fn attributes(&self, plan: &Plan, event: &Event<'_>) -> (Attrs, SmallVec<[(usize, Num); 4]>) {
        with_cache(|strings| {
            let mut c = Collector {
                plan,
                strings,
                attrs: Attrs::new(),
                values: SmallVec::new(),
                message_attribute: self.message_attribute,
            };
            event.record(&mut c);
            (c.attrs, c.values)
        })
    }

    #[cfg(feature = "bound-instruments")]
    fn record_bound(&self, plan: &Plan, event: &Event<'_>, cache: &mut BoundCache) {
        let values = cache.visit(plan, self.message_attribute, |v| event.record(v));
        // Built at most once per event, and only when a binding is missing.
        let mut attrs: Option<Attrs> = None;
        for (index, value) in values {
            let Some(Some(metric)) = plan.by_field.get(index) else {
                continue;
            };
            let (flavor, value) = match convert(metric.kind, value) {
                Ok(v) => v,
                Err(why) => {
                    self.reject(why);
                    continue;
                }
            };
            cache.record(metric.slots.id(), flavor, value, || {
                let attrs = attrs.get_or_insert_with(|| self.attributes(plan, event).0);
                metric.slots.bind(flavor, attrs, self.create_with(metric))
            });
        }
    }

    fn record_unbound<S>(&self, plan: &Plan, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let (mut attrs, values) = self.attributes(plan, event);
        if self.span_attributes
            && let Some(scope) = ctx.event_scope(event)
        {
            // OpenTelemetry wants each key once: the nearest scope wins,
            // the event's own fields, then the spans from the innermost.
            for span in scope {
                if let Some(SpanAttrs(a)) = span.extensions().get::<SpanAttrs>() {
                    for kv in a {
                        if !attrs.iter().any(|seen| seen.key == kv.key) {
                            attrs.push(kv.clone());
                        }
                    }
                }
            }
        }
        for (index, value) in values {
            let Some(Some(metric)) = plan.by_field.get(index) else {
                continue;
            };
            match convert(metric.kind, value) {
                Ok((flavor, value)) => {
                    metric
                        .slots
                        .record(flavor, value, &attrs, self.create_with(metric));
                }
                Err(why) => self.reject(why),
            }
        }
    }
}

/// A unit or description given to the builder.
pub(crate) fn cow(s: impl Into<Cow<'static, str>>) -> Cow<'static, str> {
    s.into()
}
