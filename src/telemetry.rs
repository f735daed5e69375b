//! Logs, traces and metrics for the process.
//!
//! - Logs: human-readable by default, JSON with `PULP_LOG_FORMAT=json`, filtered by `RUST_LOG`.
//! - Metrics: recorded through the `metrics` facade everywhere; rendered for Prometheus on
//!   `GET /metrics` (on by default, `PULP_METRICS_ENABLED=false` turns it off) and, with
//!   telemetry on, exported over OTLP as well.
//! - Traces: `tracing` spans (API and content requests, tasks) exported over OTLP
//!   http/protobuf when `PULP_OTEL_ENABLED=true`, configured by the standard
//!   `OTEL_EXPORTER_OTLP_*` variables. Export runs on the SDK's own threads, so a collector
//!   that is down never blocks a request; when telemetry is off no exporter exists at all.

use std::time::Duration;

use anyhow::bail;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::TracerProvider;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::settings::Settings;

/// Reads W3C trace context from request headers.
struct Headers<'a>(&'a warp::http::HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Continues the trace an incoming `traceparent` header names in `span`.
pub fn link_trace(span: &tracing::Span, headers: &warp::http::HeaderMap) {
    use opentelemetry::propagation::TextMapPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if headers.contains_key("traceparent") {
        let cx = opentelemetry_sdk::propagation::TraceContextPropagator::new()
            .extract(&Headers(headers));
        let _ = span.set_parent(cx);
    }
}

/// What must live as long as the process (and be flushed at exit).
pub struct Telemetry {
    /// Renders `/metrics` (None when metrics are off).
    pub prometheus: Option<PrometheusHandle>,
    /// Whether spans are exported (then incoming trace context is continued).
    pub tracing: bool,
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// Flushes and stops the exporters (at exit).
    pub fn shutdown(&self) {
        if let Some(t) = &self.tracer {
            let _ = t.shutdown();
        }
        if let Some(m) = &self.meter {
            let _ = m.shutdown();
        }
    }
}

/// The OTLP protocol from `OTEL_EXPORTER_OTLP_PROTOCOL` (and the per-signal variables): only
/// http/protobuf, what Pulp documents, is accepted.
fn check_protocol() -> anyhow::Result<()> {
    for var in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    ] {
        if let Ok(v) = std::env::var(var)
            && v != "http/protobuf"
        {
            bail!(
                "{var}={v:?} is not supported: Pith exports OTLP over http/protobuf only (unset it or set it to \"http/protobuf\")"
            );
        }
    }
    Ok(())
}

/// Sets up logging, metrics and (when enabled) OTLP export for a process of `kind`.
pub fn init(settings: &Settings, kind: &str) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,sea_orm=warn,ractor=warn,ractor_cluster=error")
    });
    let fmt = match settings.log_format.as_str() {
        "json" => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_target(false)
            .boxed(),
        "human" | "" => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .boxed(),
        other => bail!("PULP_LOG_FORMAT={other:?}: expected \"human\" or \"json\""),
    };
    let service = format!("pulp-{kind}");
    let (tracer, meter) = if settings.otel_enabled {
        check_protocol()?;
        let resource = Resource::builder()
            .with_service_name(service.clone())
            .build();
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()?;
        let tracer = SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(resource.clone())
            .build();
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()?;
        let interval = std::env::var("OTEL_METRIC_EXPORT_INTERVAL")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(Duration::from_secs(60), Duration::from_millis);
        let reader = PeriodicReader::builder(exporter)
            .with_interval(interval)
            .build();
        let meter = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        (Some(tracer), Some(meter))
    } else {
        (None, None)
    };
    // Spans go to OTLP whatever RUST_LOG says about log lines; the exporter's own HTTP stack
    // is left out (it would report on its own exports).
    let otel_layer = tracer.as_ref().map(|t| {
        // Only the fields we set: no code locations, thread names or busy/idle timings, which
        // cost a clock read at every poll of a request's future.
        tracing_opentelemetry::layer()
            .with_tracer(t.tracer("pith"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_level(false)
            .with_tracked_inactivity(false)
            .with_filter(EnvFilter::new(
                "info,sqlx=warn,sea_orm=warn,ractor=warn,ractor_cluster=error,hyper=off,hyper_util=off,h2=off,reqwest=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off",
            ))
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel_layer)
        .try_init()?;

    let prom = settings
        .metrics_enabled
        .then(|| PrometheusBuilder::new().build_recorder());
    let prometheus = prom.as_ref().map(|p| p.handle());
    let otel = meter
        .as_ref()
        .map(|m| metrics_exporter_opentelemetry::Recorder::with_meter(m.meter("pulp.metrics")));
    let installed = match (prom, otel) {
        (Some(p), Some(o)) => metrics::set_global_recorder(
            metrics_util::layers::FanoutBuilder::default()
                .add_recorder(p)
                .add_recorder(o)
                .build(),
        )
        .map_err(|e| e.to_string()),
        (Some(p), None) => metrics::set_global_recorder(p).map_err(|e| e.to_string()),
        (None, Some(o)) => metrics::set_global_recorder(o).map_err(|e| e.to_string()),
        (None, None) => Ok(()),
    };
    if let Err(e) = installed {
        bail!("could not install the metrics recorder: {e}");
    }
    Ok(Telemetry {
        prometheus,
        tracing: tracer.is_some(),
        tracer,
        meter,
    })
}
