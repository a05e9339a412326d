//! The Mastodon streaming protocol on MiniTwit's stream tasks (`crate::streams`): what a
//! websocket client sends (`{"type":"subscribe","stream":"user"}`), how the socket answers
//! (nothing on success, `{"error":…}` on a refusal; a frame that is not a command is let
//! pass, as Mastodon does), and how server-sent events are written (`event: update` or
//! `event: delete`, the payload as `data:`, no `id:`).

use std::sync::Arc;

use serde::Deserialize;

use super::frames::EventPayloads;
use super::names::{Named, StreamNames};
use crate::realtime::format::Format;
use crate::realtime::protocol::{Position, StreamName};
use crate::realtime::queue::FrameKind;
use crate::streams::dialect::{Command, Dialect, EventDialect, Wanted};

/// A client frame: `stream` is a name, or (as Mastodon also reads it) a list whose first
/// item is the name. Other fields (a hashtag's `tag`, a list's `list`) are ignored.
#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
    stream: Option<StreamField>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StreamField {
    One(String),
    Many(Vec<String>),
}

impl StreamField {
    fn first(self) -> Option<String> {
        match self {
            StreamField::One(name) => Some(name),
            StreamField::Many(names) => names.into_iter().next(),
        }
    }
}

/// `{"error": …}`.
pub fn error_frame(error: &str) -> String {
    serde_json::json!({ "error": error }).to_string()
}

/// The websocket side.
pub struct SocketDialect {
    pub names: StreamNames,
}

impl Dialect for SocketDialect {
    fn command(&self, text: &str) -> Result<Command, String> {
        let Ok(frame) = serde_json::from_str::<ClientFrame>(text) else {
            return Ok(Command::Ignore);
        };
        let Some(raw) = frame.stream.and_then(StreamField::first) else {
            return Ok(Command::Ignore);
        };
        let named = self.names.lookup(&raw);
        match frame.kind.as_str() {
            "subscribe" => match named? {
                Named::Stream(stream, format) => Ok(Command::Subscribe(Wanted {
                    stream,
                    format,
                    since: None,
                })),
                Named::Empty => Ok(Command::Ignore),
            },
            "unsubscribe" => {
                let stream = match named? {
                    Named::Stream(stream, format) => Some((stream, format)),
                    Named::Empty => None,
                };
                Ok(Command::Unsubscribe { raw, stream })
            }
            _ => Ok(Command::Ignore),
        }
    }

    fn subscribed(&self, _: &StreamName) -> Option<String> {
        None
    }

    fn unsubscribed(&self, _: &str) -> Option<String> {
        None
    }

    fn error(&self, error: &str) -> String {
        error_frame(error)
    }

    fn binary(&self) -> Option<String> {
        None
    }
}

/// The server-sent events side.
pub struct EventsDialect {
    format: Format,
}

impl EventsDialect {
    pub fn new(base: &Arc<str>) -> EventsDialect {
        EventsDialect {
            format: Some(Arc::new(EventPayloads::new(base.clone()))),
        }
    }
}

impl EventDialect for EventsDialect {
    fn format(&self) -> &Format {
        &self.format
    }

    fn event(&self, _: Position, kind: FrameKind, payload: &str) -> String {
        let event = match kind {
            FrameKind::Delete => "delete",
            FrameKind::Message | FrameKind::Shown => "update",
        };
        format!("event: {event}\ndata: {payload}\n\n")
    }

    fn error(&self, error: &str) -> String {
        format!("event: error\ndata: {}\n\n", error_frame(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::format::same;

    fn dialect() -> SocketDialect {
        SocketDialect {
            names: StreamNames::new(&Arc::from("https://mt.example")),
        }
    }

    #[test]
    fn commands_name_a_stream_and_its_format() {
        let dialect = dialect();
        let subscribed = |text: &str| match dialect.command(text) {
            Ok(Command::Subscribe(wanted)) => Some((wanted.stream, wanted.format)),
            _ => None,
        };
        let (user, _) = subscribed(r#"{"type":"subscribe","stream":"user"}"#).expect("user");
        assert_eq!(user, StreamName::Home);
        let (public, public_format) =
            subscribed(r#"{"type":"subscribe","stream":["public"]}"#).expect("public");
        let (local, local_format) =
            subscribed(r#"{"type":"subscribe","stream":"public:local"}"#).expect("local");
        assert_eq!((public, local), (StreamName::Public, StreamName::Public));
        assert!(
            !same(&public_format, &local_format),
            "told apart by their names"
        );
        for ignored in [
            r#"{"type":"subscribe","stream":"user:notification"}"#,
            r#"{"type":"subscribe","stream":"hashtag","tag":"rust"}"#,
            r#"{"type":"dance","stream":"user"}"#,
            "not json",
        ] {
            assert!(
                matches!(dialect.command(ignored), Ok(Command::Ignore)),
                "{ignored}"
            );
        }
        assert_eq!(
            dialect
                .command(r#"{"type":"subscribe","stream":"home"}"#)
                .err()
                .as_deref(),
            Some("Unknown stream type")
        );
        assert!(matches!(
            dialect.command(r#"{"type":"unsubscribe","stream":"user"}"#),
            Ok(Command::Unsubscribe {
                stream: Some((StreamName::Home, _)),
                ..
            })
        ));
    }

    #[test]
    fn events_carry_the_payload_alone() {
        let events = EventsDialect::new(&Arc::from("https://mt.example"));
        assert_eq!(
            events.event(Position::default(), FrameKind::Delete, "42"),
            "event: delete\ndata: 42\n\n"
        );
        assert_eq!(
            events.event(Position::default(), FrameKind::Shown, "{}"),
            "event: update\ndata: {}\n\n"
        );
    }
}
