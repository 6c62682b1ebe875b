//! OpenTelemetry: traces of probes (a span per probe, a child span per phase) and of API
//! requests, and metrics, exported over OTLP/HTTP (JSON) when `[telemetry] otlp_endpoint`
//! is set. Without it nothing is built and nothing is sent.
//!
//! Spans are made after the fact, with the probe's own start and phase durations, so a
//! trace viewer shows each probe's waterfall as probity measured it.

use crate::probe::ProbeOutput;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use probity_ground::config::{Target, TelemetryConfig};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The exporters and the instruments probity records with.
pub struct Telemetry {
    traces: SdkTracerProvider,
    metrics: SdkMeterProvider,
    tracer: opentelemetry_sdk::trace::SdkTracer,
    probes: Counter<u64>,
    probe_duration: Histogram<f64>,
    requests: Histogram<f64>,
}

fn at(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

impl Telemetry {
    /// Builds the exporters for `cfg`; `None` when no endpoint is set.
    pub fn start(cfg: &TelemetryConfig) -> anyhow::Result<Option<Telemetry>> {
        let Some(endpoint) = &cfg.otlp_endpoint else {
            return Ok(None);
        };
        let base = endpoint.trim_end_matches('/');
        let resource = opentelemetry_sdk::Resource::builder_empty()
            .with_service_name(cfg.service_name.clone())
            .with_attributes([KeyValue::new("service.version", env!("CARGO_PKG_VERSION"))])
            .build();
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(format!("{base}/v1/traces"))
            .with_timeout(Duration::from_secs(10))
            .build()?;
        let traces = SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(resource.clone())
            .build();
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(format!("{base}/v1/metrics"))
            .with_timeout(Duration::from_secs(10))
            .build()?;
        let reader = PeriodicReader::builder(exporter)
            .with_interval(cfg.metrics_interval.as_std())
            .build();
        let metrics = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        let meter = metrics.meter("probity");
        let tracer = traces.tracer("probity");
        Ok(Some(Telemetry {
            probes: meter
                .u64_counter("probity.probes")
                .with_description("Probes, by target and result.")
                .build(),
            probe_duration: meter
                .f64_histogram("probity.probe.duration")
                .with_unit("s")
                .with_description("How long each probe took, all phases together.")
                .build(),
            requests: meter
                .f64_histogram("http.server.request.duration")
                .with_unit("s")
                .with_description("API requests, by route and status.")
                .build(),
            traces,
            metrics,
            tracer,
        }))
    }

    /// Records one probe: a span from its start with a child per phase, and its metrics.
    pub fn probe(&self, target: &Target, vantage: &str, out: &ProbeOutput) {
        let total = out.phases.total_ms.unwrap_or(0.0);
        let start = at(out.at_ms);
        let end = start + Duration::from_secs_f64(total.max(0.0) / 1000.0);
        let mut attrs = vec![
            KeyValue::new("probity.target", target.name.clone()),
            KeyValue::new("probity.kind", target.kind.clone()),
            KeyValue::new("probity.vantage", vantage.to_string()),
            KeyValue::new("probity.health", out.health.as_str()),
        ];
        if let Some(c) = &out.cause {
            attrs.push(KeyValue::new("error.type", c.class.as_str()));
        }
        let mut span = self
            .tracer
            .span_builder(format!("probe {}", target.name))
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(attrs)
            .start(&self.tracer);
        if let Some(c) = &out.cause {
            span.set_status(Status::error(c.to_string()));
        }
        // Phases in the order they happen, each starting where the one before ended.
        let cx = opentelemetry::Context::current_with_span(span);
        let mut t = start;
        let p = &out.phases;
        for (name, ms) in [
            ("dns", p.dns_ms),
            ("connect", p.connect_ms),
            ("tls", p.tls_ms),
            ("ttfb", p.ttfb_ms),
        ] {
            if let Some(ms) = ms {
                let d = Duration::from_secs_f64(ms.max(0.0) / 1000.0);
                let mut child = self
                    .tracer
                    .span_builder(name)
                    .with_start_time(t)
                    .start_with_context(&self.tracer, &cx);
                child.end_with_timestamp(t + d);
                t += d;
            }
        }
        cx.span().end_with_timestamp(end);
        let labels = [
            KeyValue::new("probity.target", target.name.clone()),
            KeyValue::new("probity.result", out.health.as_str()),
        ];
        self.probes.add(1, &labels);
        if out.phases.total_ms.is_some() {
            self.probe_duration.record(
                total / 1000.0,
                &[KeyValue::new("probity.target", target.name.clone())],
            );
        }
    }

    /// Records one API request.
    pub fn request(
        &self,
        method: &str,
        route: &str,
        status: u16,
        start: SystemTime,
        took: Duration,
    ) {
        let mut span = self
            .tracer
            .span_builder(format!("{method} {route}"))
            .with_kind(SpanKind::Server)
            .with_start_time(start)
            .with_attributes([
                KeyValue::new("http.request.method", method.to_string()),
                KeyValue::new("http.route", route.to_string()),
                KeyValue::new("http.response.status_code", i64::from(status)),
            ])
            .start(&self.tracer);
        if status >= 500 {
            span.set_status(Status::error(format!("HTTP {status}")));
        }
        span.end_with_timestamp(start + took);
        self.requests.record(
            took.as_secs_f64(),
            &[
                KeyValue::new("http.request.method", method.to_string()),
                KeyValue::new("http.route", route.to_string()),
                KeyValue::new("http.response.status_code", i64::from(status)),
            ],
        );
    }

    /// Sends what is buffered and stops the exporters (blocking: call off the runtime).
    pub fn shutdown(&self) {
        if let Err(e) = self.traces.shutdown() {
            tracing::warn!(error = %e, "OpenTelemetry traces: could not flush");
        }
        if let Err(e) = self.metrics.shutdown() {
            tracing::warn!(error = %e, "OpenTelemetry metrics: could not flush");
        }
    }
}

/// An axum middleware that records each request through `telemetry`.
pub async fn record_request(
    axum::extract::State(telemetry): axum::extract::State<std::sync::Arc<Telemetry>>,
    matched: Option<axum::extract::MatchedPath>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().to_string();
    let route = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let start = SystemTime::now();
    let began = std::time::Instant::now();
    let resp = next.run(req).await;
    telemetry.request(
        &method,
        &route,
        resp.status().as_u16(),
        start,
        began.elapsed(),
    );
    resp
}
