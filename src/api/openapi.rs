//! The simulator API as poem-openapi sees it: one service that is both the router of the
//! documented operations and the source of `/api/openapi.json`, so the two cannot drift,
//! and `/api/docs`, Swagger UI served from the binary (poem-openapi embeds its assets; the
//! page inlines the document and loads nothing from another host).
//!
//! Why poem-openapi and not utoipa: it is poem's own, so routes come from the same
//! attributes as the document instead of a second list beside poem's router; and its
//! `swagger-ui` feature ships the UI inside the crate, where utoipa-swagger-ui downloads it
//! while building, which fails without network access.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use poem::endpoint::make_sync;
use poem::http::header::CONTENT_SECURITY_POLICY;
use poem::{Endpoint, Response};
use poem_openapi::OpenApiService;
use sha2::{Digest, Sha256};

use super::follows::FollowsApi;
use super::latest::LatestApi;
use super::messages::MessagesApi;
use super::register::RegisterApi;

pub type Operations = (LatestApi, RegisterApi, MessagesApi, FollowsApi);

/// The documented operations, mounted under `/api`.
pub fn service() -> OpenApiService<Operations, ()> {
    OpenApiService::new(
        (LatestApi, RegisterApi, MessagesApi, FollowsApi),
        "MiniTwit simulator API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "The ITU MiniTwit simulator's API. Every endpoint records `?latest=N` \
         before checking anything else; errors are `{\"status\":…,\"error_msg\":…}`.",
    )
    .server("/api")
}

/// `/api/docs`: Swagger UI with the document inlined, plus a link to the document itself
/// for tools (and for readers without JavaScript). Its scripts and styles are inline, so
/// its Content-Security-Policy allows exactly those, by hash, and nothing else inline
/// (`crate::browser_policy` keeps a response's own policy).
pub fn docs_endpoint(swagger_ui_html: String) -> impl Endpoint {
    // Before the UI's own element, which comes after the inlined script (whose text may
    // hold anything, even "<body>").
    let anchor = "<div id=\"ui\"></div>";
    let link = "<p>The OpenAPI document: <a href=\"/api/openapi.json\">/api/openapi.json</a></p>\n";
    let mut page = swagger_ui_html;
    if let Some(at) = page.rfind(anchor) {
        page.insert_str(at, link);
    }
    let policy = docs_policy(&page);
    make_sync(move |_| {
        Response::builder()
            .content_type("text/html; charset=utf-8")
            .header(CONTENT_SECURITY_POLICY, policy.as_str())
            .body(page.clone())
    })
}

/// The docs page's policy: its own inline scripts and styles by hash; images from itself
/// and `data:` (Swagger UI's icons); requests ("Try it out") only to this origin.
fn docs_policy(page: &str) -> String {
    let scripts = inline_hashes(page, "script");
    let styles = inline_hashes(page, "style");
    format!(
        "default-src 'none'; script-src {scripts}; style-src {styles}; \
         img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
         frame-ancestors 'none'"
    )
}

/// `'sha256-…'` of the text of every `<tag …>…</tag>` in `page` that loads nothing from a
/// `src`, as CSP hashes it: the exact characters between the tags.
fn inline_hashes(page: &str, tag: &str) -> String {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut hashes = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find(&open) {
        let Some(head_end) = rest[start..].find('>').map(|i| start + i + 1) else {
            break;
        };
        let Some(body_end) = rest[head_end..].find(&close).map(|i| head_end + i) else {
            break;
        };
        if !rest[start..head_end].contains(" src=") {
            let digest = Sha256::digest(&rest.as_bytes()[head_end..body_end]);
            hashes.push(format!("'sha256-{}'", BASE64.encode(digest)));
        }
        rest = &rest[body_end + close.len()..];
    }
    if hashes.is_empty() {
        "'none'".to_owned()
    } else {
        hashes.join(" ")
    }
}

/// `/api/openapi.json`: the document, rendered once.
pub fn document_endpoint(document: String) -> impl Endpoint {
    make_sync(move |_| {
        Response::builder()
            .content_type("application/json")
            .body(document.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_code_is_hashed_and_loaded_scripts_are_not() {
        let page = "<style>p{}</style><script src=\"/x.js\"></script><script>let a;</script>";
        let scripts = inline_hashes(page, "script");
        // printf 'let a;' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            scripts,
            "'sha256-81WALLbUROF1pWdYjuQYKuIcGgY/+TqVJr8UsV6Tkvo='"
        );
        assert!(inline_hashes(page, "style").starts_with("'sha256-"));
        assert_eq!(inline_hashes("<p></p>", "script"), "'none'");
    }
}
