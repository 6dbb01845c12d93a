//! Secrets kept out of exported traces.
//!
//! tracing-opentelemetry turns span fields and event fields into span and
//! event attributes as they are, so the rules of [`telemetry_redact`] are
//! applied to finished spans on their way to the exporter: an attribute
//! whose name is denied gets the value `<redacted>`, and text (string
//! attributes, event names, which hold an event's message, and error
//! descriptions) is scrubbed.

use std::borrow::Cow;
use std::time::Duration;

use opentelemetry::trace::Status;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::resource::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use telemetry_redact::{DenyList, REDACTED};

/// A [`SpanExporter`] that redacts each span before `E` exports it. The
/// facade puts its OTLP exporter behind one; wrap the exporter of a tracer
/// provider you build yourself the same way.
///
/// ```
/// use kvp_telemetry::RedactSpans;
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
///
/// let exporter = InMemorySpanExporter::default();
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(RedactSpans::new(exporter.clone()))
///     .build();
/// # drop(provider);
/// ```
#[derive(Debug)]
pub struct RedactSpans<E> {
    inner: E,
    deny: DenyList,
}

impl<E> RedactSpans<E> {
    /// `inner`, behind the built-in deny list.
    pub fn new(inner: E) -> Self {
        RedactSpans {
            inner,
            deny: DenyList::default(),
        }
    }

    /// `inner`, behind `deny`.
    pub fn with_deny_list(inner: E, deny: DenyList) -> Self {
        RedactSpans { inner, deny }
    }

    fn attributes(&self, attrs: &mut [KeyValue]) {
        for kv in attrs {
            // A number or a bool carries no credential, whatever its name.
            let text = matches!(kv.value, Value::String(_) | Value::Array(_));
            if text && self.deny.is_denied(kv.key.as_str()) {
                kv.value = Value::from(REDACTED);
            } else if let Value::String(s) = &kv.value
                && let Cow::Owned(clean) = self.deny.scrub(s.as_str())
            {
                kv.value = Value::from(clean);
            }
        }
    }

    fn text(&self, text: &mut Cow<'static, str>) {
        if let Cow::Owned(clean) = self.deny.scrub(text) {
            *text = Cow::Owned(clean);
        }
    }

    fn span(&self, span: &mut SpanData) {
        self.attributes(&mut span.attributes);
        for event in &mut span.events.events {
            self.text(&mut event.name);
            self.attributes(&mut event.attributes);
        }
        for link in &mut span.links.links {
            self.attributes(&mut link.attributes);
        }
        if let Status::Error { description } = &mut span.status {
            self.text(description);
        }
    }
}

impl<E: SpanExporter> SpanExporter for RedactSpans<E> {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        for span in &mut batch {
            self.span(span);
        }
        self.inner.export(batch).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
