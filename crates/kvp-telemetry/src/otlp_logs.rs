//! Events as OpenTelemetry log records, for OTLP export (feature `otlp`).
//!
//! A small bridge of this crate's own rather than a general appender: the
//! record's attributes are the event's fields, and they must pass the same
//! secret rules as everything else that leaves the process
//! ([`telemetry_redact`]) before the SDK has them, since an SDK log record's
//! attributes cannot be changed once added. The message is the body; the
//! target, level and time are the record's own.

use std::fmt;
use std::time::SystemTime;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use telemetry_redact::{DenyList, REDACTED};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;

/// Turns events into log records of `provider`'s logger.
pub(crate) struct LogsLayer {
    logger: SdkLogger,
    deny: DenyList,
}

impl LogsLayer {
    pub(crate) fn new(provider: &SdkLoggerProvider, scope: &str, deny: DenyList) -> Self {
        LogsLayer {
            logger: provider.logger(scope.to_owned()),
            deny,
        }
    }
}

fn severity(level: &tracing::Level) -> (Severity, &'static str) {
    match *level {
        tracing::Level::TRACE => (Severity::Trace, "TRACE"),
        tracing::Level::DEBUG => (Severity::Debug, "DEBUG"),
        tracing::Level::INFO => (Severity::Info, "INFO"),
        tracing::Level::WARN => (Severity::Warn, "WARN"),
        tracing::Level::ERROR => (Severity::Error, "ERROR"),
    }
}

/// Adds an event's fields to a record: a denied name's value is
/// `<redacted>` (never formatted), text is scrubbed, `message` is the body.
struct Fields<'a, R> {
    record: &'a mut R,
    deny: &'a DenyList,
}

impl<R: opentelemetry::logs::LogRecord> Fields<'_, R> {
    fn add(&mut self, field: &Field, value: impl FnOnce() -> AnyValue) {
        let value = if self.deny.is_denied(field.name()) {
            AnyValue::from(REDACTED)
        } else {
            value()
        };
        if field.name() == "message" {
            self.record.set_body(value);
        } else {
            self.record.add_attribute(field.name(), value);
        }
    }

    /// A number or a bool: never redacted, it carries no credential.
    fn scalar(&mut self, field: &Field, value: AnyValue) {
        if field.name() == "message" {
            self.record.set_body(value);
        } else {
            self.record.add_attribute(field.name(), value);
        }
    }

    fn text(&self, text: &str) -> AnyValue {
        AnyValue::from(self.deny.scrub(text).into_owned())
    }
}

impl<R: opentelemetry::logs::LogRecord> Visit for Fields<'_, R> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let text = self.text(value);
        self.add(field, || text);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.deny.is_denied(field.name()) {
            self.add(field, || AnyValue::from(REDACTED));
            return;
        }
        let text = self.text(&format!("{value:?}"));
        self.add(field, || text);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.scalar(field, AnyValue::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.scalar(
            field,
            i64::try_from(value).map_or_else(|_| AnyValue::from(value.to_string()), AnyValue::Int),
        );
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.scalar(field, AnyValue::Double(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.scalar(field, AnyValue::Boolean(value));
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for LogsLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        let mut record = self.logger.create_log_record();
        let (number, text) = severity(meta.level());
        record.set_severity_number(number);
        record.set_severity_text(text);
        record.set_target(meta.target().to_owned());
        record.set_timestamp(SystemTime::now());
        event.record(&mut Fields {
            record: &mut record,
            deny: &self.deny,
        });
        self.logger.emit(record);
    }
}
