//! CORS as Mastodon answers it on its API and token endpoints: any origin may call with a
//! bearer token (no cookies are involved, so this opens nothing a token does not), the
//! preflight is answered here, and `Link` is readable by the page's script, which pages
//! timelines with it.

use std::sync::Arc;

use poem::http::{header, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};

/// Methods a preflight allows.
const METHODS: &str = "GET, POST, PUT, DELETE, PATCH, OPTIONS";
/// Headers the page's script may read beyond the simple ones.
const EXPOSED: &str = "Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-Request-Id, Idempotency-Key";
/// How long a browser may cache a preflight, in seconds.
const MAX_AGE: &str = "7200";

/// Middleware: answers preflights, and adds the CORS headers to every answer (errors too).
pub async fn cors<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let is_preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let asked_headers = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned();
    let mut res = if is_preflight {
        let mut res = StatusCode::OK.into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            METHODS.parse().map_err(bad)?,
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            asked_headers.unwrap_or_else(|| {
                header::HeaderValue::from_static("Authorization, Content-Type, Idempotency-Key")
            }),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            MAX_AGE.parse().map_err(bad)?,
        );
        res
    } else {
        match ep.call(req).await {
            Ok(res) => res.into_response(),
            Err(err) => err.into_response(),
        }
    };
    let headers = res.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        EXPOSED.parse().map_err(bad)?,
    );
    Ok(res)
}

fn bad(_: header::InvalidHeaderValue) -> poem::Error {
    poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR)
}
