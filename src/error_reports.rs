//! Error reports to Sentry (or any Sentry-compatible service) when `SENTRY_DSN` is set:
//! panics, and every ERROR-level log line, which is where the cause of a 5xx is logged
//! (the API's and the pages' error types log the database error they turn into a 500).
//! Each report of a request carries its id as the tag `request_id`, the id of its log lines
//! and of its `X-Request-Id` header.
//!
//! Why the `sentry` crate: it is Sentry's own SDK, with a tracing layer (so the log lines
//! that already say what went wrong become the reports, nothing is logged twice) and a
//! panic hook; built with rustls on the reqwest we already have, no OpenSSL.

use std::future::Future;

use futures_util::future::Either;
use sentry::integrations::tracing::EventFilter;
use sentry::SentryFutureExt;
use tracing::{Level, Metadata};

use crate::config::Settings;

/// Starts the Sentry client when `SENTRY_DSN` is set; reports are sent while the returned
/// guard lives (dropping it flushes what is queued, for up to 2 s).
pub fn init(settings: &Settings) -> Result<Option<sentry::ClientInitGuard>, String> {
    let Some(dsn) = &settings.sentry_dsn else {
        return Ok(None);
    };
    let dsn: sentry::types::Dsn = dsn
        .expose()
        .parse()
        .map_err(|e| format!("bad SENTRY_DSN: {e}"))?;
    Ok(Some(sentry::init(sentry::ClientOptions {
        dsn: Some(dsn),
        release: sentry::release_name!(),
        attach_stacktrace: true,
        // Headers, cookies and bodies stay out of reports, as they stay out of logs.
        send_default_pii: false,
        ..Default::default()
    })))
}

/// Whether a Sentry client is running.
pub fn enabled() -> bool {
    sentry::Hub::current().client().is_some()
}

/// The tracing layer that turns ERROR lines into reports and INFO/WARN lines into the
/// breadcrumbs that precede them.
pub fn layer<S>() -> sentry::integrations::tracing::SentryLayer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    sentry::integrations::tracing::layer()
        .event_filter(event_filter)
        // Reports, not performance tracing: a span turned into a Sentry span would also
        // switch to the hub current when the span was created, before the request's own.
        .span_filter(|_| false)
}

fn event_filter(metadata: &Metadata<'_>) -> EventFilter {
    match *metadata.level() {
        // The summary line of a failed request repeats what its cause line reported.
        Level::ERROR if metadata.target() == module_path_of_request_log() => {
            EventFilter::Breadcrumb
        }
        Level::ERROR => EventFilter::Event,
        Level::WARN | Level::INFO => EventFilter::Breadcrumb,
        _ => EventFilter::Ignore,
    }
}

/// Where `telemetry` logs each request's `request finished` line.
fn module_path_of_request_log() -> &'static str {
    "minitwit::telemetry"
}

/// Runs a request's future with its own Sentry scope tagged with the request id, so any
/// report made while serving it names the request; without Sentry, the future as it is.
pub fn in_request_scope<F: Future>(request_id: &str, fut: F) -> impl Future<Output = F::Output> {
    if !enabled() {
        return Either::Left(fut);
    }
    let hub = std::sync::Arc::new(sentry::Hub::new_from_top(sentry::Hub::current()));
    hub.configure_scope(|scope| scope.set_tag("request_id", request_id));
    Either::Right(fut.bind_hub(hub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_log_lives_where_the_filter_looks() {
        assert_eq!(
            module_path_of_request_log(),
            std::any::type_name::<crate::telemetry::RequestTelemetry>()
                .rsplit_once("::")
                .map(|(module, _)| module)
                .unwrap_or_default()
        );
    }
}
