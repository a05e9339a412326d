//! The simulator API as poem-openapi sees it: one service that is both the router of the
//! documented operations and the source of `/api/openapi.json`, so the two cannot drift,
//! and `/api/docs`, Swagger UI served from the binary (poem-openapi embeds its assets; the
//! page inlines the document and loads nothing from another host).
//!
//! Why poem-openapi and not utoipa: it is poem's own, so routes come from the same
//! attributes as the document instead of a second list beside poem's router; and its
//! `swagger-ui` feature ships the UI inside the crate, where utoipa-swagger-ui downloads it
//! while building, which fails without network access.

use poem::endpoint::make_sync;
use poem::{Endpoint, Response};
use poem_openapi::OpenApiService;

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
        "The ITU MiniTwit simulator's API (SPEC §2). Every endpoint records `?latest=N` \
         before checking anything else; errors are `{\"status\":…,\"error_msg\":…}`.",
    )
    .server("/api")
}

/// `/api/docs`: Swagger UI with the document inlined, plus a link to the document itself
/// for tools (and for readers without JavaScript).
pub fn docs_endpoint(swagger_ui_html: String) -> impl Endpoint {
    // Before the UI's own element, which comes after the inlined script (whose text may
    // hold anything, even "<body>").
    let anchor = "<div id=\"ui\"></div>";
    let link = "<p style=\"font-family:sans-serif;margin:1em 2em\">The OpenAPI document: \
                <a href=\"/api/openapi.json\">/api/openapi.json</a></p>\n";
    let mut page = swagger_ui_html;
    if let Some(at) = page.rfind(anchor) {
        page.insert_str(at, link);
    }
    make_sync(move |_| {
        Response::builder()
            .content_type("text/html; charset=utf-8")
            .body(page.clone())
    })
}

/// `/api/openapi.json`: the document, rendered once.
pub fn document_endpoint(document: String) -> impl Endpoint {
    make_sync(move |_| {
        Response::builder()
            .content_type("application/json")
            .body(document.clone())
    })
}
