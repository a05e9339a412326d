//! The headers that tell a browser what it may do with a response, set on every response
//! in one place (README.md, "Security"):
//!
//! - pages (`text/html`) get a Content-Security-Policy that runs only our own scripts and
//!   styles (`/static/*`, no inline code), shows images from us and Gravatar, and connects
//!   only back to us (the live updates' `/ws` and `/sse`);
//! - everything else (the API's JSON, the static files, the streams) gets a policy that
//!   allows nothing, as nothing of it is meant to be rendered as a document;
//! - all of them: no framing by any site (clickjacking), no MIME sniffing, and the
//!   `Referer` kept to our own origin.
//!
//! A response that brings its own policy keeps it: the API's docs page (Swagger UI, whose
//! scripts are inline) allows exactly its own inline code by hash (`api::openapi`).

use poem::http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

/// The pages: scripts and styles only from `/static`, avatars from Gravatar
/// (`crate::avatar`), connections only to this origin. CSP Level 3 browsers match
/// `ws:`/`wss:` to the same host with `'self'`; an older one refuses the websocket and
/// `static/live.js` falls back to server-sent events, which `'self'` allows everywhere.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' https://www.gravatar.com; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// Responses that are not pages: nothing may load or run if a browser renders one anyway.
pub const NON_PAGE_POLICY: &str = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Sets the headers above on every response, errors included.
pub struct BrowserPolicy;

impl<E: Endpoint> Middleware<E> for BrowserPolicy {
    type Output = BrowserPolicyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BrowserPolicyEndpoint { inner }
    }
}

pub struct BrowserPolicyEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for BrowserPolicyEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        // Errors become their response here, so a 404 or 413 carries the headers too.
        let mut res = match self.inner.call(req).await {
            Ok(output) => output.into_response(),
            Err(err) => err.into_response(),
        };
        apply(&mut res);
        Ok(res)
    }
}

fn apply(res: &mut Response) {
    let is_page = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/html"));
    let headers = res.headers_mut();
    let policy = if is_page {
        PAGE_POLICY
    } else {
        NON_PAGE_POLICY
    };
    headers
        .entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(policy));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(content_type: &str, own_policy: Option<&'static str>) -> Response {
        let mut builder = Response::builder().content_type(content_type);
        if let Some(policy) = own_policy {
            builder = builder.header(CONTENT_SECURITY_POLICY, policy);
        }
        let mut res = builder.finish();
        apply(&mut res);
        res
    }

    fn policy(res: &Response) -> &str {
        res.headers()
            .get(CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    #[test]
    fn pages_others_and_own_policies() {
        assert_eq!(policy(&with("text/html; charset=utf-8", None)), PAGE_POLICY);
        assert_eq!(policy(&with("application/json", None)), NON_PAGE_POLICY);
        assert_eq!(
            policy(&with("text/html", Some("script-src 'x'"))),
            "script-src 'x'"
        );
        let res = with("application/json", None);
        assert_eq!(res.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(res.headers()[X_FRAME_OPTIONS], "DENY");
        assert_eq!(res.headers()[REFERRER_POLICY], "same-origin");
    }

    #[test]
    fn the_page_policy_has_no_inline_code() {
        assert!(!PAGE_POLICY.contains("unsafe"));
        assert!(PAGE_POLICY.contains("frame-ancestors 'none'"));
    }
}
