//! The stderr layer's fields, under the same redaction policy as every other
//! exit: a journal is read by more people than the agent's authors.

use std::fmt::{self, Write as _};

use telemetry_redact::{DenyList, REDACTED};
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// Formats fields as `tracing-subscriber`'s default does (the message
/// first and bare, then `name=value`), with a denied name's text value
/// written `<redacted>` and text scrubbed of the secrets inside it.
/// Numbers and bools are written as they are.
#[derive(Debug)]
pub(crate) struct RedactedFields {
    pub(crate) deny: DenyList,
}

impl<'w> FormatFields<'w> for RedactedFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Visitor {
            writer: &mut writer,
            deny: &self.deny,
            first: true,
            result: Ok(()),
            text: String::new(),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Visitor<'a, 'w> {
    writer: &'a mut Writer<'w>,
    deny: &'a DenyList,
    first: bool,
    result: fmt::Result,
    /// A text value, formatted before it is scrubbed.
    text: String,
}

impl Visitor<'_, '_> {
    fn separator(&mut self) -> fmt::Result {
        if self.first {
            self.first = false;
            Ok(())
        } else {
            self.writer.write_char(' ')
        }
    }

    /// A value that carries no credential.
    fn plain(&mut self, field: &Field, value: &dyn fmt::Display) {
        if self.result.is_ok() {
            self.result = self
                .separator()
                .and_then(|()| write!(self.writer, "{}={value}", field.name()));
        }
    }

    /// A text value: redacted by name, else scrubbed; the message bare.
    fn text(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        let message = field.name() == "message";
        if !message && self.deny.is_denied(field.name()) {
            self.result = self
                .separator()
                .and_then(|()| write!(self.writer, "{}={REDACTED}", field.name()));
            return;
        }
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let _ = text.write_fmt(value);
        let clean = self.deny.scrub(&text);
        self.result = self.separator().and_then(|()| {
            if message {
                self.writer.write_str(&clean)
            } else {
                write!(self.writer, "{}={clean}", field.name())
            }
        });
        drop(clean);
        // Kept for the next field's text.
        self.text = text;
    }
}

impl Visit for Visitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text(field, format_args!("{value}"));
        } else {
            self.text(field, format_args!("{value:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, format_args!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, format_args!("{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.plain(field, &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.plain(field, &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.plain(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.plain(field, &value);
    }
}
