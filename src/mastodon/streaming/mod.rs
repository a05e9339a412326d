//! Mastodon's streaming API (docs/mastodon.md, "Streaming") as one more transport on the
//! realtime engine: the websocket and SSE tasks of `crate::streams`, speaking Mastodon's
//! protocol through a dialect and built in Mastodon's frames.
//!
//! - [`websocket`]: `GET /api/v1/streaming`; [`events`]: the server-sent events routes.
//! - [`token`]: who opens a stream; [`names`]: Mastodon's stream names as the engine's.
//! - [`dialect`]: client frames, answers and events; [`frames`]: the event frames.

mod dialect;
mod events;
mod frames;
mod names;
mod token;
mod websocket;

use std::sync::Arc;

use poem::{get, handler, EndpointExt, Response, Route};

use self::dialect::{EventsDialect, SocketDialect};
use self::names::StreamNames;

/// The dialects of this server's Mastodon streams, made once so that every subscriber
/// shares their formats and so each event's frames (`crate::realtime::format`).
#[derive(Clone)]
pub struct Streaming {
    socket: Arc<SocketDialect>,
    events: Arc<EventsDialect>,
}

impl Streaming {
    /// The dialects for a server reached at `public_url` (the statuses' links).
    pub fn new(public_url: &Arc<str>) -> Streaming {
        Streaming {
            socket: Arc::new(SocketDialect {
                names: StreamNames::new(public_url),
            }),
            events: Arc::new(EventsDialect::new(public_url)),
        }
    }
}

/// `GET /api/v1/streaming/health`: `OK`, as Mastodon's streaming server answers.
#[handler]
fn health() -> Response {
    Response::builder()
        .content_type("text/plain; charset=utf-8")
        .body("OK")
}

/// The streaming routes, by their full paths, for the surface's router to nest.
pub fn routes(public_url: &Arc<str>) -> Route {
    let streaming = Streaming::new(public_url);
    Route::new()
        .at(
            "/api/v1/streaming",
            get(websocket::websocket.data(streaming.clone())),
        )
        .at(
            "/api/v1/streaming/",
            get(websocket::websocket.data(streaming.clone())),
        )
        .at("/api/v1/streaming/health", get(health))
        .at(
            "/api/v1/streaming/user",
            get(events::user.data(streaming.clone())),
        )
        .at(
            "/api/v1/streaming/public",
            get(events::public.data(streaming.clone())),
        )
        .at(
            "/api/v1/streaming/public/local",
            get(events::public.data(streaming)),
        )
}
