//! `MINITWIT_COOKIE_SECURE=auto`: marks the session cookie `Secure` when the request came
//! over HTTPS, as a trusted proxy says in `X-Forwarded-Proto` (TLS ends at the proxy, so the
//! app itself only sees HTTP). `true` and `false` are settled in the cookie config instead.

use std::net::IpAddr;
use std::sync::Arc;

use poem::http::header::SET_COOKIE;
use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use crate::config::{CookieSecure, Settings};
use crate::limits::TrustedProxies;
use crate::session_cookie::SESSION_COOKIE;

/// Appends `; Secure` to the session cookie of requests that came over HTTPS, when
/// `MINITWIT_COOKIE_SECURE=auto` (otherwise it passes everything through untouched).
pub struct SecureOverHttps {
    /// `None` unless the setting is `auto`.
    trusted: Option<Arc<TrustedProxies>>,
}

impl SecureOverHttps {
    pub fn new(settings: &Settings) -> SecureOverHttps {
        SecureOverHttps {
            trusted: (settings.cookie_secure == CookieSecure::Auto)
                .then(|| Arc::new(settings.trusted_proxies.clone())),
        }
    }
}

impl<E: Endpoint> Middleware<E> for SecureOverHttps {
    type Output = SecureOverHttpsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        SecureOverHttpsEndpoint {
            inner,
            trusted: self.trusted.clone(),
        }
    }
}

pub struct SecureOverHttpsEndpoint<E> {
    inner: E,
    trusted: Option<Arc<TrustedProxies>>,
}

impl<E: Endpoint> Endpoint for SecureOverHttpsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let https = self
            .trusted
            .as_ref()
            .is_some_and(|trusted| came_over_https(&req, trusted));
        let mut res = self.inner.call(req).await?.into_response();
        if https {
            mark_secure(&mut res);
        }
        Ok(res)
    }
}

/// HTTPS end to end, or HTTPS to a trusted proxy that forwarded it. A client talking to us
/// directly cannot claim HTTPS with the header.
pub fn came_over_https(req: &Request, trusted: &TrustedProxies) -> bool {
    req.scheme().as_str() == "https"
        || forwarded_https(
            req.remote_addr().as_socket_addr().map(|peer| peer.ip()),
            req.headers()
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok()),
            trusted,
        )
}

fn forwarded_https(peer: Option<IpAddr>, proto: Option<&str>, trusted: &TrustedProxies) -> bool {
    peer.is_some_and(|peer| trusted.contains(peer))
        // A chain of proxies appends: the last entry is the one our proxy wrote.
        && proto
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

fn mark_secure(res: &mut Response) {
    let prefix = format!("{SESSION_COOKIE}=");
    let headers = res.headers_mut();
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(SET_COOKIE);
    for cookie in cookies {
        let value = match cookie.to_str() {
            Ok(text)
                if text.starts_with(&prefix) && !text.to_ascii_lowercase().contains("; secure") =>
            {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(cookie)
            }
            _ => cookie,
        };
        headers.append(SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_only_when_a_trusted_proxy_says_so() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").expect("valid");
        let proxy = "10.0.0.2".parse().ok();
        let stranger = "192.0.2.1".parse().ok();
        assert!(forwarded_https(proxy, Some("https"), &trusted));
        assert!(forwarded_https(proxy, Some("http, HTTPS"), &trusted));
        assert!(!forwarded_https(proxy, Some("http"), &trusted));
        assert!(!forwarded_https(proxy, None, &trusted));
        assert!(!forwarded_https(stranger, Some("https"), &trusted));
        assert!(!forwarded_https(None, Some("https"), &trusted));
        assert!(!came_over_https(&Request::builder().finish(), &trusted));
    }

    #[test]
    fn only_the_session_cookie_is_marked() {
        let mut res = Response::builder()
            .header(
                SET_COOKIE,
                format!("{SESSION_COOKIE}=abc; Path=/; HttpOnly"),
            )
            .header(SET_COOKIE, "other=1")
            .finish();
        mark_secure(&mut res);
        let cookies: Vec<&str> = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(
            cookies,
            [
                format!("{SESSION_COOKIE}=abc; Path=/; HttpOnly; Secure").as_str(),
                "other=1"
            ]
        );
    }
}
