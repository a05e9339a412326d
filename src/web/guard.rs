//! Refuses state-changing requests sent from another site (CSRF), by `Sec-Fetch-Site` and
//! `Origin`. Requests with neither header (plain HTTP clients, the classic test suite) pass:
//! browsers send at least one of them on every cross-origin POST.

use std::sync::Arc;

use poem::http::{header, Method};
use poem::{Endpoint, IntoResponse, Request, Response};

use super::error;
use crate::error::{AppError, Forbidden};

/// Middleware for endpoints that change state on any method (the follow links).
pub async fn refuse_cross_origin<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    if is_cross_origin(&req) {
        tracing::info!(uri = %req.uri(), "refused a cross-origin request");
        return Ok(error::response(&AppError::Forbidden(
            Forbidden::CrossOrigin,
        )));
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// Middleware for pages whose GET only reads but whose other methods write (the forms):
/// a link from another site to the page still works.
pub async fn refuse_cross_origin_writes<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    if ![Method::GET, Method::HEAD].contains(req.method()) && is_cross_origin(&req) {
        tracing::info!(uri = %req.uri(), "refused a cross-origin request");
        return Ok(error::response(&AppError::Forbidden(
            Forbidden::CrossOrigin,
        )));
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// Whether a browser says the request comes from another site, or its `Origin` is not the
/// host it was sent to. A request carrying neither header is not cross-origin.
pub fn is_cross_origin(req: &Request) -> bool {
    let headers = req.headers();
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if cross_site {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    match (origin.to_str().ok(), host) {
        (Some(origin), Some(host)) => !same_authority(origin, host),
        // `Origin: null` (sandboxed frames, some redirects) or no host: refuse.
        _ => true,
    }
}

/// Compares an `Origin` (`scheme://host[:port]`) with a `Host` header, default ports
/// normalised on both sides (`http://a` matches `a:80`).
fn same_authority(origin: &str, host: &str) -> bool {
    let Ok(origin) = url::Url::parse(origin) else {
        return false;
    };
    let Ok(target) = url::Url::parse(&format!("{}://{}", origin.scheme(), host.trim())) else {
        return false;
    };
    origin.host_str().is_some()
        && origin.host_str() == target.host_str()
        && origin.port_or_known_default() == target.port_or_known_default()
        && target.path() == "/"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri_str("/add_message");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.finish()
    }

    #[test]
    fn plain_clients_and_same_origin_browsers_pass() {
        assert!(!is_cross_origin(&req(&[])));
        assert!(!is_cross_origin(&req(&[("host", "127.0.0.1:8080")])));
        assert!(!is_cross_origin(&req(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!is_cross_origin(&req(&[
            ("host", "minitwit.example:80"),
            ("origin", "http://MiniTwit.example"),
        ])));
        assert!(!is_cross_origin(&req(&[("sec-fetch-site", "none")])));
    }

    #[test]
    fn other_sites_are_refused() {
        assert!(is_cross_origin(&req(&[("sec-fetch-site", "cross-site")])));
        assert!(is_cross_origin(&req(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ])));
        assert!(is_cross_origin(&req(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:9090"),
        ])));
        assert!(is_cross_origin(&req(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "null"),
        ])));
        assert!(is_cross_origin(&req(&[
            ("host", "a.example/evil"),
            ("origin", "http://a.example"),
        ])));
    }
}
