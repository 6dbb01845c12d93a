//! A pool to an OpenTelemetry collector over OTLP/HTTP (feature `otlp`),
//! through the facade's exporters ([`kvp_telemetry::OtlpExporters`]): the
//! same endpoint rules, `OTEL_EXPORTER_OTLP_*` variables and TLS.
//!
//! Spans are exported as they are made, with the pool's ids and times, in
//! batches of [`BATCH`]; events and the report go through a log provider
//! as log records in their span; metric series through a meter provider,
//! their value as of the export (a series' record holds no time). Each pool
//! is one resource with providers of its own.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvp_codec::schema::PROVISIONING_REPORT;
use kvp_codec::schema::metric::MetricKind;
use kvp_telemetry::OtlpExporters;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    SpanContext, SpanKind, TraceFlags, TraceState, {self},
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource as OtelResource;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};

use super::out::{EventOut, MetricOut, Output, Resource, SpanOut};
use crate::exit::Result;
use crate::model::Status;
use crate::time::Time;

/// Spans sent in one request, and log records emitted between flushes: a
/// pool of any size holds at most this many in memory.
const BATCH: usize = 512;

/// The OTLP sender for every pool of one `kvp export`.
pub(crate) struct Otlp {
    exporters: OtlpExporters,
    scope: InstrumentationScope,
    pool: Option<Pool>,
}

/// One pool's providers and pending spans.
struct Pool {
    spans: Box<dyn FnMut(Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult>,
    pending: Vec<SpanData>,
    logs: SdkLoggerProvider,
    logger: SdkLogger,
    emitted: usize,
    meters: SdkMeterProvider,
    meter: opentelemetry::metrics::Meter,
    failures_before: u64,
}

impl Otlp {
    /// A sender to `endpoint`; `source` names where the endpoint came
    /// from, for errors.
    pub(crate) fn new(endpoint: &str, source: &str, timeout: Duration) -> Result<Otlp> {
        Ok(Otlp {
            exporters: OtlpExporters::new(endpoint, source, timeout)?,
            scope: InstrumentationScope::builder("kvp-export")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            pool: None,
        })
    }

    fn pool(&mut self) -> Result<&mut Pool> {
        self.pool
            .as_mut()
            .ok_or_else(|| "OTLP output used before a pool began".into())
    }

    fn send_spans(&mut self) -> Result {
        let pool = self.pool()?;
        let batch = std::mem::take(&mut pool.pending);
        if batch.is_empty() {
            return Ok(());
        }
        (pool.spans)(batch).map_err(|e| format!("the collector refused spans: {e}"))?;
        Ok(())
    }
}

fn system_time(us: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

fn severity(level: &str) -> (Severity, &'static str) {
    match level {
        "ERROR" => (Severity::Error, "ERROR"),
        "WARN" => (Severity::Warn, "WARN"),
        "DEBUG" => (Severity::Debug, "DEBUG"),
        "TRACE" => (Severity::Trace, "TRACE"),
        _ => (Severity::Info, "INFO"),
    }
}

fn attributes(fields: Vec<(String, String)>) -> impl Iterator<Item = KeyValue> {
    fields.into_iter().map(|(k, v)| KeyValue::new(k, v))
}

impl Output for Otlp {
    fn begin(&mut self, resource: &Resource) -> Result {
        let mut attrs = vec![KeyValue::new("kvp.pool.file", resource.file.clone())];
        if let Some(vm) = &resource.vm_id {
            attrs.push(KeyValue::new("host.id", vm.clone()));
        }
        let otel_resource = OtelResource::builder_empty()
            .with_service_name(resource.service.clone())
            .with_attributes(attrs)
            .build();
        let mut span_exporter = self.exporters.spans()?;
        span_exporter.set_resource(&otel_resource);
        let spans = Box::new(move |batch| futures_executor::block_on(span_exporter.export(batch)));
        let logs = SdkLoggerProvider::builder()
            .with_resource(otel_resource.clone())
            .with_batch_exporter(self.exporters.logs()?)
            .build();
        let logger = logs.logger_with_scope(self.scope.clone());
        // The series are read from the pool, not measured: one export at
        // the end, by `force_flush`, is all the reader does.
        let reader = PeriodicReader::builder(self.exporters.metrics()?)
            .with_interval(Duration::from_secs(3600))
            .build();
        let meters = SdkMeterProvider::builder()
            .with_resource(otel_resource)
            .with_reader(reader)
            .build();
        let meter = meters.meter_with_scope(self.scope.clone());
        self.pool = Some(Pool {
            spans,
            pending: Vec::new(),
            logs,
            logger,
            emitted: 0,
            meters,
            meter,
            failures_before: self.exporters.failures(),
        });
        Ok(())
    }

    fn span(&mut self, span: SpanOut) -> Result {
        let scope = self.scope.clone();
        let data = SpanData {
            span_context: SpanContext::new(
                trace::TraceId::from_bytes(span.trace.0),
                trace::SpanId::from_bytes(span.id.0),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: span
                .parent
                .map_or(trace::SpanId::INVALID, |p| trace::SpanId::from_bytes(p.0)),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Owned(span.name),
            start_time: system_time(span.start_us),
            end_time: system_time(span.end_us),
            attributes: {
                let mut a: Vec<KeyValue> = attributes(span.fields).collect();
                if let Some(level) = span.level {
                    a.push(KeyValue::new("level", level));
                }
                if span.status == Status::Open {
                    a.push(KeyValue::new("kvp.span.open", true));
                }
                a
            },
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: match span.status {
                Status::Ok => trace::Status::Ok,
                Status::Error => trace::Status::error("the span ended in error"),
                _ => trace::Status::Unset,
            },
            instrumentation_scope: scope,
        };
        let pool = self.pool()?;
        pool.pending.push(data);
        if pool.pending.len() >= BATCH {
            self.send_spans()?;
        }
        Ok(())
    }

    fn event(&mut self, event: EventOut) -> Result<bool> {
        let pool = self.pool()?;
        let mut record = pool.logger.create_log_record();
        if let Some(us) = event.time_us {
            record.set_timestamp(system_time(us));
        }
        record.set_observed_timestamp(SystemTime::now());
        let (number, text) = severity(&event.level);
        record.set_severity_number(number);
        record.set_severity_text(text);
        record.set_body(AnyValue::from(
            event.message.unwrap_or_else(|| event.name.clone()),
        ));
        record.add_attribute("kvp.name", event.name);
        record.add_attributes(event.fields);
        if let Some((trace_id, span_id)) = event.context {
            record.set_trace_context(
                trace::TraceId::from_bytes(trace_id.0),
                trace::SpanId::from_bytes(span_id.0),
                Some(TraceFlags::SAMPLED),
            );
        }
        pool.logger.emit(record);
        pool.emitted += 1;
        if pool.emitted % BATCH == 0 {
            // The batch processor drops what its queue cannot hold: flush
            // before it fills.
            pool.logs
                .force_flush()
                .map_err(|e| format!("the collector refused log records: {e}"))?;
        }
        Ok(true)
    }

    fn report(&mut self, fields: Vec<(String, String)>) -> Result<bool> {
        let time = fields
            .iter()
            .find(|(k, _)| k == "timestamp")
            .and_then(|(_, t)| Time::parse(t));
        let failed = fields
            .iter()
            .any(|(k, v)| k == "result" && !v.eq_ignore_ascii_case("success"));
        self.event(EventOut {
            context: None,
            time_us: time.map(|t| t.micros),
            level: if failed { "ERROR" } else { "INFO" }.to_owned(),
            name: PROVISIONING_REPORT.to_owned(),
            message: Some(PROVISIONING_REPORT.to_owned()),
            fields,
        })
    }

    fn metric(&mut self, metric: MetricOut) -> Result<bool> {
        let Some(value) = metric.value else {
            return Ok(false);
        };
        let pool = self.pool()?;
        let attrs: Vec<KeyValue> = attributes(metric.attributes).collect();
        let unit = metric.unit.unwrap_or_default();
        match metric.kind {
            Some(MetricKind::Sum) => pool
                .meter
                .f64_counter(metric.name)
                .with_unit(unit)
                .build()
                .add(value, &attrs),
            Some(MetricKind::UpDown) => pool
                .meter
                .f64_up_down_counter(metric.name)
                .with_unit(unit)
                .build()
                .add(value, &attrs),
            Some(MetricKind::Gauge) => pool
                .meter
                .f64_gauge(metric.name)
                .with_unit(unit)
                .build()
                .record(value, &attrs),
            // A histogram's record holds its count, sum, min and max, not
            // its buckets: it cannot be replayed as the histogram it was.
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn end(&mut self) -> Result {
        self.send_spans()?;
        let Some(pool) = self.pool.take() else {
            return Ok(());
        };
        let logs = pool.logs.force_flush();
        let metrics = pool.meters.force_flush();
        let _ = pool.logs.shutdown();
        let _ = pool.meters.shutdown();
        logs.map_err(|e| format!("the collector refused log records: {e}"))?;
        metrics.map_err(|e| format!("the collector refused metrics: {e}"))?;
        let failed = self.exporters.failures() - pool.failures_before;
        if failed > 0 {
            return Err(format!("{failed} exports to the collector failed").into());
        }
        Ok(())
    }
}
