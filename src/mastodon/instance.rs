//! What a client asks first: `/api/v1/instance`, `/api/v2/instance` and NodeInfo, with the
//! version string clients parse (`4.2.0 (compatible; MiniTwit …)`), the streaming URL and
//! the status length limit.

use poem::web::Data;
use poem::{handler, Response};
use serde_json::{json, Value};

use super::json;
use crate::domain::MAX_MESSAGE_CHARS;
use crate::state::AppState;

/// The Mastodon API version MiniTwit answers as, and its own.
pub fn version() -> String {
    format!("4.2.0 (compatible; MiniTwit {})", env!("CARGO_PKG_VERSION"))
}

const TITLE: &str = "MiniTwit";
const DESCRIPTION: &str = "A realtime Twitter-like microblog";

/// The host (and port) of the public URL: the instance's domain.
pub fn domain(public_url: &str) -> &str {
    public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest)
        .trim_end_matches('/')
}

/// The websocket base of the streaming API: the public URL as `ws://` or `wss://`.
pub fn streaming_url(public_url: &str) -> String {
    match public_url.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}"),
        None => format!("ws://{}", public_url.trim_start_matches("http://")),
    }
}

fn statuses_configuration() -> Value {
    json!({
        "max_characters": MAX_MESSAGE_CHARS,
        "max_media_attachments": 0,
        "characters_reserved_per_url": 23,
    })
}

fn media_configuration() -> Value {
    json!({
        "supported_mime_types": [],
        "image_size_limit": 0,
        "image_matrix_limit": 0,
        "video_size_limit": 0,
        "video_frame_rate_limit": 0,
        "video_matrix_limit": 0,
    })
}

fn polls_configuration() -> Value {
    json!({
        "max_options": 0,
        "max_characters_per_option": 0,
        "min_expiration": 0,
        "max_expiration": 0,
    })
}

/// `GET /api/v1/instance`.
#[handler]
pub fn instance_v1(state: Data<&AppState>) -> Response {
    let base = &state.public_url;
    json(&json!({
        "uri": domain(base),
        "title": TITLE,
        "short_description": DESCRIPTION,
        "description": DESCRIPTION,
        "email": "",
        "version": version(),
        "urls": { "streaming_api": streaming_url(base) },
        "stats": {
            "user_count": state.metrics.users.get(),
            "status_count": state.metrics.messages.get(),
            "domain_count": 1,
        },
        "thumbnail": null,
        "languages": ["en"],
        "registrations": true,
        "approval_required": false,
        "invites_enabled": false,
        "configuration": {
            "accounts": { "max_featured_tags": 0 },
            "statuses": statuses_configuration(),
            "media_attachments": media_configuration(),
            "polls": polls_configuration(),
        },
        "contact_account": null,
        "rules": [],
    }))
}

/// `GET /api/v2/instance`.
#[handler]
pub fn instance_v2(state: Data<&AppState>) -> Response {
    let base = &state.public_url;
    json(&json!({
        "domain": domain(base),
        "title": TITLE,
        "version": version(),
        "source_url": "https://github.com/itu-devops/minitwit",
        "description": DESCRIPTION,
        "usage": { "users": { "active_month": state.metrics.users.get() } },
        "thumbnail": { "url": format!("{base}/static/style.css"), "blurhash": null, "versions": {} },
        "languages": ["en"],
        "configuration": {
            "urls": { "streaming": streaming_url(base), "status": null },
            "vapid": { "public_key": "" },
            "accounts": { "max_featured_tags": 0, "max_pinned_statuses": 0 },
            "statuses": statuses_configuration(),
            "media_attachments": media_configuration(),
            "polls": polls_configuration(),
            "translation": { "enabled": false },
        },
        "registrations": {
            "enabled": true,
            "approval_required": false,
            "message": null,
            "url": format!("{base}/register"),
        },
        "api_versions": { "mastodon": 0 },
        "contact": { "email": "", "account": null },
        "rules": [],
    }))
}

/// `GET /.well-known/nodeinfo`: where the NodeInfo document is.
#[handler]
pub fn nodeinfo_links(state: Data<&AppState>) -> Response {
    json(&json!({
        "links": [{
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
            "href": format!("{}/nodeinfo/2.0", state.public_url),
        }]
    }))
}

/// `GET /nodeinfo/2.0`.
#[handler]
pub fn nodeinfo(state: Data<&AppState>) -> Response {
    json(&json!({
        "version": "2.0",
        "software": { "name": "minitwit", "version": env!("CARGO_PKG_VERSION") },
        "protocols": [],
        "services": { "outbound": [], "inbound": [] },
        "usage": {
            "users": { "total": state.metrics.users.get() },
            "localPosts": state.metrics.messages.get(),
        },
        "openRegistrations": true,
        "metadata": {},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_public_url() {
        assert_eq!(domain("https://mt.example"), "mt.example");
        assert_eq!(domain("http://127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(streaming_url("https://mt.example"), "wss://mt.example");
        assert_eq!(
            streaming_url("http://127.0.0.1:8080"),
            "ws://127.0.0.1:8080"
        );
        assert!(version().starts_with("4.2.0 (compatible; MiniTwit "));
    }
}
