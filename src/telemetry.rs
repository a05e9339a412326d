//! Logging: human-readable by default, one JSON object per line with `LOG_FORMAT=json`;
//! and the one middleware that observes every request, for the logs and the metrics.
//!
//! Each request runs in a `request` span carrying its id (a UUID, also returned in the
//! `X-Request-Id` header) and method, and ends with one `request finished` line that adds
//! the route pattern (known once the router has answered), the status and the duration; the
//! same route, method and duration feed the HTTP metrics. Headers, query strings and bodies
//! are never logged, so credentials, cookies and passwords cannot reach the logs.

use std::time::Instant;

use poem::http::{HeaderName, HeaderValue};
use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;
use uuid::Uuid;

use crate::config::{LogFormat, Settings};
use crate::metrics::route::{method_label, RouteLabels};
use crate::metrics::Metrics;

/// Installs the global subscriber; a second call (as in tests) is a no-op. With
/// `SENTRY_DSN`, ERROR lines are also reported (`error_reports`).
pub fn init(settings: &Settings) {
    use std::io::IsTerminal;

    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: in a pipe or a file (docker logs, journald) escape codes
    // are noise in every line, and bytes to format and write for every request. NO_COLOR
    // (https://no-color.org) turns them off on a terminal too.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_writer(crate::log_writer::background_stderr());
    let fmt = match settings.log_format {
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Pretty => fmt.boxed(),
    };
    let reports = settings
        .sentry_dsn
        .is_some()
        .then(crate::error_reports::layer);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(reports)
        .try_init();
}

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Gives every request an id and a span, logs its outcome and counts and times it; route,
/// method and duration are computed here once for both.
///
/// An incoming `X-Request-Id` that is a UUID (nginx's `$request_id` is one, without dashes)
/// is kept, so proxy and app lines share it; anything else is replaced by a fresh one, so
/// clients cannot inject text into the logs.
pub struct RequestTelemetry {
    /// Feeds `minitwit_http_requests_total` and `minitwit_http_request_duration_seconds`.
    metrics: Metrics,
    /// Turns the pattern the router matched into the `route` label and log field.
    labels: RouteLabels,
}

impl RequestTelemetry {
    pub fn new(metrics: Metrics, labels: RouteLabels) -> RequestTelemetry {
        RequestTelemetry { metrics, labels }
    }
}

impl<E: Endpoint> Middleware<E> for RequestTelemetry {
    type Output = RequestTelemetryEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestTelemetryEndpoint {
            inner,
            metrics: self.metrics.clone(),
            labels: self.labels.clone(),
        }
    }
}

pub struct RequestTelemetryEndpoint<E> {
    inner: E,
    metrics: Metrics,
    labels: RouteLabels,
}

/// A random (version 4) UUID from the thread's generator: `Uuid::new_v4` asks the kernel
/// for its bytes, a `getrandom` system call on every request (about 2.5% of the server's
/// time answering a cached page under wrk). A request id only needs to be unique.
fn fresh_request_id() -> Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

impl<E: Endpoint> Endpoint for RequestTelemetryEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let id = req
            .headers()
            .get(&REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
            .unwrap_or_else(fresh_request_id)
            .hyphenated()
            .to_string();
        let method = method_label(req.method());
        // The route is only known once the router has answered; recorded below.
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method,
            route = tracing::field::Empty
        );
        let started = Instant::now();
        let serve = async {
            // Errors become their response here, so a 404 or 500 is counted and logged
            // with its status.
            match self.inner.call(req).await {
                Ok(output) => output.into_response(),
                Err(err) => err.into_response(),
            }
        }
        .instrument(span.clone());
        let mut response = crate::error_reports::in_request_scope(&id, serve).await;
        let elapsed = started.elapsed();
        let route = self
            .labels
            .label(response.data::<PathPattern>().map(|p| &*p.0));
        let status = response.status();
        self.metrics
            .http_request_duration_seconds
            .with_label_values(&[method, &route])
            .observe(elapsed.as_secs_f64());
        self.metrics
            .http_requests_total
            .with_label_values(&[method, &route, status.as_str()])
            .inc();
        span.record("route", route.as_str());
        let status = status.as_u16();
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        span.in_scope(|| {
            if status >= 500 {
                tracing::error!(request_id = %id, status, duration_ms, "request finished");
            } else {
                tracing::info!(request_id = %id, status, duration_ms, "request finished");
            }
        });
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_request_ids_are_distinct_version_4_uuids() {
        let ids: std::collections::HashSet<Uuid> = (0..1000).map(|_| fresh_request_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            assert_eq!(id.get_version_num(), 4);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        }
    }
}
