//! Mastodon's frames for the realtime engine's events (docs/mastodon.md, "Streaming"), as
//! [`FrameFormat`]s: the engine builds each once per stream and format and shares it with
//! every subscriber. The payload of an `update` is the REST API's Status entity
//! (`super::super::entities::status_json`), so a streamed status reads exactly as a
//! fetched one.

use std::sync::Arc;

use serde::Serialize;

use super::super::entities::status_json;
use crate::realtime::format::FrameFormat;
use crate::realtime::protocol::{Position, StreamName};
use crate::store::TimelineMessage;

/// A websocket frame: `{"stream":[…],"event":…,"payload":"…"}`, the payload a JSON text.
#[derive(Serialize)]
struct Frame<'a> {
    stream: [&'a str; 1],
    event: &'static str,
    payload: &'a str,
}

/// The websocket frames of one Mastodon stream name. One per name rather than one per
/// engine stream: `public` and `public:local` are one stream here, but a client matches
/// frames to its subscription by the name in `stream` (masto.js does), so each carries
/// the name it was subscribed as.
pub struct SocketFrames {
    /// The name frames carry (`user`, `public`, `public:local`).
    name: &'static str,
    /// The server's public URL, for the statuses' links.
    base: Arc<str>,
}

impl SocketFrames {
    pub fn new(name: &'static str, base: Arc<str>) -> SocketFrames {
        SocketFrames { name, base }
    }

    fn frame(&self, event: &'static str, payload: &str) -> String {
        let frame = Frame {
            stream: [self.name],
            event,
            payload,
        };
        serde_json::to_string(&frame).unwrap_or_default()
    }
}

impl FrameFormat for SocketFrames {
    fn message(&self, _: &StreamName, message: &TimelineMessage, _: Position) -> String {
        self.frame("update", &status_json(message, &self.base))
    }

    fn delete(&self, _: &StreamName, id: i64, _: Position) -> String {
        self.frame("delete", &id.to_string())
    }
}

/// The server-sent events' data: the payload alone (the status JSON, or the id); the
/// event's name goes on its `event:` line (`super::dialect`).
pub struct EventPayloads {
    base: Arc<str>,
}

impl EventPayloads {
    pub fn new(base: Arc<str>) -> EventPayloads {
        EventPayloads { base }
    }
}

impl FrameFormat for EventPayloads {
    fn message(&self, _: &StreamName, message: &TimelineMessage, _: Position) -> String {
        status_json(message, &self.base)
    }

    fn delete(&self, _: &StreamName, id: i64, _: Position) -> String {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_websocket_frame_carries_the_status_as_a_json_string() {
        let message = TimelineMessage {
            message_id: 5,
            author_id: 2,
            username: "ann".into(),
            email: "ann@example.com".into(),
            text: "hi \"you\"".into(),
            pub_date: 1_764_943_387,
        };
        let frames = SocketFrames::new("public:local", "https://mt.example".into());
        let frame: serde_json::Value = serde_json::from_str(&frames.message(
            &StreamName::Public,
            &message,
            Position::default(),
        ))
        .expect("json");
        assert_eq!(frame["stream"], serde_json::json!(["public:local"]));
        assert_eq!(frame["event"], "update");
        let payload = frame["payload"].as_str().expect("a string");
        assert_eq!(payload, status_json(&message, "https://mt.example"));
        let delete = frames.delete(&StreamName::Public, 5, Position::default());
        assert_eq!(
            delete,
            r#"{"stream":["public:local"],"event":"delete","payload":"5"}"#
        );
    }
}
