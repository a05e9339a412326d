//! The Mastodon-compatible client API (docs/mastodon.md): a third surface over the same
//! store, realtime engine, limits and metrics as the simulator API and the pages, so the
//! apps people already use (Elk, Phanpy, Ivory, Tusky, Mastodon.py, masto) work with a
//! MiniTwit server. One file per resource; one router, wrapped once by what applies to
//! all of it: CORS outermost, then the rendering of every error as `{"error": …}`, then
//! the body limit.
//!
//! - [`oauth`]: apps, tokens, revocation, the OAuth metadata (the consent page is
//!   `web::authorize`); [`auth`]: the bearer token and its scopes.
//! - [`instance`]: `/api/v1/instance`, `/api/v2/instance`, NodeInfo.
//! - [`accounts`], [`statuses`], [`timelines`]: the resources; [`entities`]: their JSON.
//! - [`paging`]: `max_id`/`since_id`/`min_id`/`limit` and the `Link` header.
//! - [`streaming`]: the streaming API, websocket and server-sent events.
//! - [`stubs`]: what clients call on login that MiniTwit has no concept of.
//! - [`openapi`]: the OpenAPI document of these routes.
//! - [`params`]: query, form and JSON parameters read alike; [`error`], [`cors`].

mod accounts;
pub mod auth;
mod cors;
pub mod entities;
pub mod error;
mod instance;
mod oauth;
mod openapi;
mod paging;
mod params;
mod statuses;
pub mod streaming;
mod stubs;
mod timelines;

use std::sync::Arc;

use bytes::Bytes;

use poem::{get, post, Endpoint, EndpointExt, Response, Route};
use serde::Serialize;

pub use oauth::{parse_scopes, pkce_matches, scopes_within, OUT_OF_BAND};

use crate::limits::limit_body;
use crate::overload::Limiter;
use crate::rate_limit::RateLimit;
use crate::store::{NewestPage, Rendering, TimelineMessage};

/// The path prefixes this surface answers under; `startup` mounts the router at each.
pub const PREFIXES: [&str; 4] = ["/api/v1", "/api/v2", "/.well-known", "/nodeinfo"];
/// Its paths outside those prefixes: `/oauth/authorize` beside them is a page (the web
/// surface's `authorize`).
pub const PATHS: [&str; 2] = ["/oauth/token", "/oauth/revoke"];

/// `value` as a JSON answer.
fn json(value: &impl Serialize) -> Response {
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(serde_json::to_string(value).unwrap_or_default())
}

/// `page` as a JSON array of statuses, written into one buffer.
fn statuses_array(page: &[TimelineMessage], base: &str) -> String {
    let mut out = String::with_capacity(page.len() * 1200 + 2);
    out.push('[');
    for (k, message) in page.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(&entities::status_json(message, base));
    }
    out.push(']');
    out
}

/// A timeline page as the JSON array of its statuses: written once per page the store's
/// caches keep, since a status's JSON depends only on its row and `base` (the same for
/// every reader of this instance).
fn statuses_body(page: &NewestPage, base: &str) -> Bytes {
    let rendered = page.rendered(Rendering::MastodonStatuses, |rows| {
        Ok::<_, std::convert::Infallible>(Bytes::from(statuses_array(rows, base)))
    });
    match rendered {
        Ok(body) => body,
        Err(never) => match never {},
    }
}

/// Every route of the surface, by its full path (it is mounted without stripping its
/// prefixes), wrapped once; `public_url` is where clients reach the server (the streamed
/// statuses' links).
pub fn routes(public_url: &Arc<str>) -> impl Endpoint<Output = Response> {
    Route::new()
        .nest_no_strip("/api/v1/streaming", streaming::routes(public_url))
        .at(
            "/api/v1/apps",
            post(oauth::create_app.with(RateLimit::per_ip(Limiter::Register))),
        )
        .at(
            "/oauth/token",
            post(oauth::issue_token.with(RateLimit::per_ip(Limiter::Login))),
        )
        .at("/oauth/revoke", post(oauth::revoke))
        .at(
            "/.well-known/oauth-authorization-server",
            get(oauth::metadata),
        )
        .at("/.well-known/nodeinfo", get(instance::nodeinfo_links))
        .at("/nodeinfo/2.0", get(instance::nodeinfo))
        .at("/api/v1/instance", get(instance::instance_v1))
        .at("/api/v1/instance/", get(instance::instance_v1))
        .at("/api/v2/instance", get(instance::instance_v2))
        .at("/api/v2/instance/", get(instance::instance_v2))
        .at(
            "/api/v1/accounts/verify_credentials",
            get(accounts::verify_credentials),
        )
        .at("/api/v1/accounts/lookup", get(accounts::lookup))
        .at(
            "/api/v1/accounts/relationships",
            get(accounts::relationships),
        )
        .at("/api/v1/accounts/:id", get(accounts::show))
        .at("/api/v1/accounts/:id/statuses", get(accounts::statuses))
        .at(
            "/api/v1/accounts/:id/follow",
            post(accounts::follow_account),
        )
        .at(
            "/api/v1/accounts/:id/unfollow",
            post(accounts::unfollow_account),
        )
        .at("/api/v1/statuses", post(statuses::create))
        .at(
            "/api/v1/statuses/:id",
            get(statuses::show).delete(statuses::delete),
        )
        .at("/api/v1/statuses/:id/context", get(statuses::context))
        .at("/api/v1/timelines/home", get(timelines::home))
        .at("/api/v1/timelines/public", get(timelines::public))
        .at("/api/v1/preferences", get(stubs::preferences))
        .at("/api/v1/custom_emojis", get(stubs::no_custom_emojis))
        .at("/api/v1/markers", get(stubs::markers))
        .at("/api/v1/notifications", get(stubs::empty_list))
        .at("/api/v1/followed_tags", get(stubs::empty_list))
        .at("/api/v1/follow_requests", get(stubs::empty_list))
        .at("/api/v1/lists", get(stubs::empty_list))
        .at("/api/v1/filters", get(stubs::empty_list))
        .at("/api/v2/filters", get(stubs::empty_list))
        .at("/api/v1/openapi.json", get(openapi::document))
        .around(limit_body)
        .around(error::render_errors)
        .around(cors::cors)
}
