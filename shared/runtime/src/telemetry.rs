//! Tracing with an env filter, text or JSON logs, and optional OTLP/HTTP trace export.
//! Trace context crosses the bus in the envelope (`traceparent`, `tracestate`) and in the
//! `traceparent` NATS header; only the bus layer reads and writes it, through this module.

use std::{collections::HashMap, sync::OnceLock};

use opentelemetry::{
    global,
    propagation::{Extractor, Injector},
    trace::TracerProvider as _,
};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::TelemetrySettings;

static PROVIDER: OnceLock<Option<SdkTracerProvider>> = OnceLock::new();

/// Installs the global subscriber once per process (later calls do nothing: `govshare up`
/// runs five services in one process and tests start many).
pub fn init(settings: &TelemetrySettings, service_name: &str) {
    PROVIDER.get_or_init(|| {
        // One TLS crypto provider for the process (ring, as async-nats, sqlx and lettre use):
        // reqwest, built without one of its own, needs it before the OTLP exporter's client.
        let _ = rustls::crypto::ring::default_provider().install_default();
        global::set_text_map_propagator(TraceContextPropagator::new());
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
        let fmt = if settings.json {
            tracing_subscriber::fmt::layer().json().boxed()
        } else {
            tracing_subscriber::fmt::layer().compact().boxed()
        };
        // A tracer provider always: spans get W3C ids (and calls pass them on in envelopes)
        // whether or not anything is exported; the exporter is added only with an endpoint.
        let mut builder = SdkTracerProvider::builder()
            .with_resource(opentelemetry_sdk::Resource::builder().with_service_name(service_name.to_owned()).build());
        if let Some(endpoint) = settings.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) {
            use opentelemetry_otlp::WithExportConfig;
            match opentelemetry_otlp::SpanExporter::builder().with_http().with_endpoint(endpoint).build() {
                Ok(exporter) => builder = builder.with_batch_exporter(exporter),
                Err(err) => eprintln!("OTLP export disabled: {err}"),
            }
        }
        let provider = Some(builder.build());
        if let Some(endpoint) = settings.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) {
            install_meter_provider(endpoint, service_name);
        }
        let otel =
            provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service_name.to_owned())));
        // A second init in the same process (tests) keeps the first subscriber.
        let _ = tracing_subscriber::registry().with(filter).with(fmt).with(otel).try_init();
        provider
    });
}

/// Metrics (e.g. `govshare.deadlines.alarm.lag`) go out the same way as traces: OTLP/HTTP to
/// `telemetry.otlp_endpoint` (a collector turns them into Prometheus series if wanted).
/// Without an endpoint the instruments record into nothing.
fn install_meter_provider(endpoint: &str, service_name: &str) {
    use opentelemetry_otlp::WithExportConfig;
    let metrics_endpoint = format!("{}/v1/metrics", endpoint.trim_end_matches('/').trim_end_matches("/v1/traces"));
    match opentelemetry_otlp::MetricExporter::builder().with_http().with_endpoint(metrics_endpoint).build() {
        Ok(exporter) => {
            let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
                .with_periodic_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder().with_service_name(service_name.to_owned()).build(),
                )
                .build();
            global::set_meter_provider(provider);
        }
        Err(err) => eprintln!("OTLP metrics disabled: {err}"),
    }
}

/// Flushes exported spans at shutdown.
pub fn shutdown() {
    if let Some(Some(provider)) = PROVIDER.get() {
        let _ = provider.shutdown();
    }
}

struct Map<'a>(&'a mut HashMap<String, String>);

impl Injector for Map<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct Read<'a>(&'a HashMap<String, String>);

impl Extractor for Read<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The W3C trace context of the current span, if it belongs to a trace.
pub fn current_trace_context() -> (Option<String>, Option<String>) {
    let cx = tracing::Span::current().context();
    let mut map = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut Map(&mut map)));
    (map.remove("traceparent"), map.remove("tracestate").filter(|s| !s.is_empty()))
}

/// Makes `span` a child of the remote span described by `traceparent`.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let mut map = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    if let Some(state) = tracestate {
        map.insert("tracestate".to_owned(), state.to_owned());
    }
    let cx = global::get_text_map_propagator(|p| p.extract(&Read(&map)));
    let _ = span.set_parent(cx);
}

/// Meta for an event caused by another event: same actor and correlation, the current trace
/// (or the cause's, when no span is exported).
pub fn caused_by(env: &crate::Envelope) -> crate::EventMeta {
    let (traceparent, tracestate) = current_trace_context();
    crate::EventMeta {
        acting_org: env.actingorg.clone(),
        correlation_id: env.correlationid.clone(),
        traceparent: traceparent.or_else(|| env.traceparent.clone()),
        tracestate: tracestate.or_else(|| env.tracestate.clone()),
    }
}
