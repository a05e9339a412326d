//! Counts and times every request by method, route pattern and status.

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use super::route::{method_label, route_pattern};
use super::Metrics;

/// Feeds `minitwit_http_requests_total` and `minitwit_http_request_duration_seconds`.
pub struct TrackRequests {
    metrics: Metrics,
}

impl TrackRequests {
    pub fn new(metrics: Metrics) -> TrackRequests {
        TrackRequests { metrics }
    }
}

impl<E: Endpoint> Middleware<E> for TrackRequests {
    type Output = TrackRequestsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        TrackRequestsEndpoint {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

pub struct TrackRequestsEndpoint<E> {
    inner: E,
    metrics: Metrics,
}

impl<E: Endpoint> Endpoint for TrackRequestsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let route = route_pattern(req.uri().path());
        let method = method_label(req.method());
        let started = Instant::now();
        // Errors become their response here, so a 404 or 500 is counted with its status.
        let response = match self.inner.call(req).await {
            Ok(output) => output.into_response(),
            Err(err) => err.into_response(),
        };
        self.metrics
            .http_request_duration_seconds
            .with_label_values(&[method, route])
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .http_requests_total
            .with_label_values(&[method, route, response.status().as_str()])
            .inc();
        Ok(response)
    }
}
