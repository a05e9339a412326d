//! Where a browser says a request comes from: `Sec-Fetch-Site`, and `Origin` against the
//! `Host` it was sent to. The surfaces decide what to refuse with it (`web::guard` for the
//! pages' actions, `api` for the writes a browser could be made to send).
//!
//! A request with neither header (plain HTTP clients: the simulator, the classic test
//! suite) comes from nowhere in particular and is never foreign: browsers send at least
//! one of them on every request that could be forged.

use poem::http::header;
use poem::Request;

/// Whether a browser says the request comes from another *site*, or its `Origin` is not
/// the host it was sent to. A sibling subdomain (`Sec-Fetch-Site: same-site`, no `Origin`
/// on a GET) passes: this is for requests that only read (the live streams).
pub fn is_cross_origin(req: &Request) -> bool {
    sec_fetch_site(req).is_some_and(|site| site.eq_ignore_ascii_case(b"cross-site"))
        || origin_differs_from_host(req)
}

/// Whether the request did not come from one of our own pages nor from the visitor
/// (typing the address, a bookmark): `Sec-Fetch-Site` other than `same-origin` or `none`,
/// or an `Origin` that is not the host. For requests that change state, where a sibling
/// subdomain (`same-site`, which sends no `Origin` with a link or an image) is as foreign
/// as any other site.
pub fn is_not_same_origin(req: &Request) -> bool {
    let foreign_site = sec_fetch_site(req).is_some_and(|site| {
        !site.eq_ignore_ascii_case(b"same-origin") && !site.eq_ignore_ascii_case(b"none")
    });
    foreign_site || origin_differs_from_host(req)
}

fn sec_fetch_site(req: &Request) -> Option<&[u8]> {
    req.headers().get("sec-fetch-site").map(|v| v.as_bytes())
}

/// Whether the request has an `Origin` that is not the host it was sent to.
fn origin_differs_from_host(req: &Request) -> bool {
    let headers = req.headers();
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
    use poem::http::Method;

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
        for headers in [
            &[][..],
            &[("host", "127.0.0.1:8080")],
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
                ("sec-fetch-site", "same-origin"),
            ],
            &[
                ("host", "minitwit.example:80"),
                ("origin", "http://MiniTwit.example"),
            ],
            &[("sec-fetch-site", "none")],
            &[("sec-fetch-site", "Same-Origin")],
        ] {
            assert!(!is_cross_origin(&req(headers)), "{headers:?}");
            assert!(!is_not_same_origin(&req(headers)), "{headers:?}");
        }
    }

    #[test]
    fn other_sites_are_refused() {
        for headers in [
            &[("sec-fetch-site", "cross-site")][..],
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example"),
            ],
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:9090"),
            ],
            &[("host", "127.0.0.1:8080"), ("origin", "null")],
            &[("host", "a.example/evil"), ("origin", "http://a.example")],
        ] {
            assert!(is_cross_origin(&req(headers)), "{headers:?}");
            assert!(is_not_same_origin(&req(headers)), "{headers:?}");
        }
    }

    #[test]
    fn a_sibling_subdomain_reads_but_does_not_write() {
        for headers in [
            &[("sec-fetch-site", "same-site")][..],
            &[("sec-fetch-site", "same-site"), ("host", "www.example")],
            &[("sec-fetch-site", "something-new")],
        ] {
            assert!(!is_cross_origin(&req(headers)), "{headers:?}");
            assert!(is_not_same_origin(&req(headers)), "{headers:?}");
        }
    }
}
