//! What a stream's client says and how the stream answers, per protocol: MiniTwit's own
//! (docs/protocol.md) or a surface's, such as Mastodon's streaming API (docs/mastodon.md).
//! The socket task (`super::socket`) and the SSE task (`super::sse`) are the same for every
//! protocol: subscriptions, replay, pings, caps, the 4008 kick and the frame budget. A
//! [`Dialect`] only parses a websocket's client frames and words its answers, an
//! [`EventDialect`] writes server-sent events; both name the format their frames are
//! built in (`crate::realtime::format`).

use std::sync::Arc;

use crate::realtime::format::Format;
use crate::realtime::protocol::{
    error_frame, subscribed_frame, unsubscribed_frame, ClientFrame, Position, StreamName,
};
use crate::realtime::queue::FrameKind;

/// A stream a client asks for: which, in which format, and from where.
pub struct Wanted {
    pub stream: StreamName,
    /// The format of its frames, live and replayed.
    pub format: Format,
    /// Resume from here (docs/delivery.md).
    pub since: Option<Position>,
}

/// What a client frame asks for.
pub enum Command {
    Subscribe(Wanted),
    Unsubscribe {
        /// The stream as the client wrote it, for the answer.
        raw: String,
        /// The stream it names, if any, and in which format it was asked for.
        stream: Option<(StreamName, Format)>,
    },
    /// Nothing to do: a frame the protocol lets pass without an answer.
    Ignore,
}

/// One protocol's client frames and answers.
pub trait Dialect: Send + Sync {
    /// Parses a text frame from the client; the error is told with [`Dialect::error`].
    fn command(&self, text: &str) -> Result<Command, String>;
    /// The answer to a subscribe, if the protocol has one.
    fn subscribed(&self, stream: &StreamName) -> Option<String>;
    /// The answer to an unsubscribe of `raw`, if the protocol has one.
    fn unsubscribed(&self, raw: &str) -> Option<String>;
    /// A refused client frame's answer; the socket stays open.
    fn error(&self, error: &str) -> String;
    /// The answer to a binary frame, if the protocol has one.
    fn binary(&self) -> Option<String>;
}

/// A socket's dialect: `None` is MiniTwit's, which costs an idle socket no allocation.
pub type SocketDialect = Option<Arc<dyn Dialect>>;

/// MiniTwit's own protocol (docs/protocol.md).
pub struct MiniTwit;

impl Dialect for MiniTwit {
    fn command(&self, text: &str) -> Result<Command, String> {
        match ClientFrame::parse(text)? {
            ClientFrame::Subscribe { stream, since } => {
                let since = match since.map(|raw| raw.position()) {
                    None => None,
                    Some(Some(position)) => Some(position),
                    Some(None) => return Err("bad since".into()),
                };
                Ok(Command::Subscribe(Wanted {
                    stream: StreamName::parse(&stream)?,
                    format: None,
                    since,
                }))
            }
            ClientFrame::Unsubscribe { stream } => Ok(Command::Unsubscribe {
                stream: StreamName::parse(&stream).ok().map(|name| (name, None)),
                raw: stream,
            }),
        }
    }

    fn subscribed(&self, stream: &StreamName) -> Option<String> {
        Some(subscribed_frame(&stream.as_string()))
    }

    fn unsubscribed(&self, raw: &str) -> Option<String> {
        Some(unsubscribed_frame(raw))
    }

    fn error(&self, error: &str) -> String {
        error_frame(error)
    }

    fn binary(&self) -> Option<String> {
        Some(error_frame("frames are JSON text"))
    }
}

/// The dialect `dialect` names.
pub fn of(dialect: &SocketDialect) -> &dyn Dialect {
    match dialect {
        Some(dialect) => dialect.as_ref(),
        None => &MiniTwit,
    }
}

/// The protocol of an SSE response: how a frame and an error are written as events.
pub trait EventDialect: Send + Sync {
    /// The format of the stream's frames, live and replayed.
    fn format(&self) -> &Format;
    /// The event of a frame of `kind`, after which the stream stands at `position`.
    fn event(&self, position: Position, kind: FrameKind, frame: &str) -> String;
    /// The event saying why the stream could not open.
    fn error(&self, error: &str) -> String;
}

/// An SSE response's dialect: `None` is MiniTwit's.
pub type SseDialect = Option<Arc<dyn EventDialect>>;

/// MiniTwit's events: `id:` the position, `event:` the frame's kind, `data:` the frame.
impl EventDialect for MiniTwit {
    fn format(&self) -> &Format {
        &None
    }

    fn event(&self, position: Position, kind: FrameKind, frame: &str) -> String {
        event_text(Some(position), kind.as_str(), frame)
    }

    fn error(&self, error: &str) -> String {
        event_text(None, "error", &error_frame(error))
    }
}

/// The SSE dialect `dialect` names.
pub fn sse(dialect: &SseDialect) -> &dyn EventDialect {
    match dialect {
        Some(dialect) => dialect.as_ref(),
        None => &MiniTwit,
    }
}

/// One event in the text format: `id:` (the stream's position, for messages and
/// deletes), `event:`, `data:`, blank line. The data is one line of JSON (serde_json
/// escapes newlines).
fn event_text(id: Option<Position>, event: &str, data: &str) -> String {
    match id {
        Some(id) => format!("id: {id}\nevent: {event}\ndata: {data}\n\n"),
        None => format!("event: {event}\ndata: {data}\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribed_to(command: Result<Command, String>) -> Option<(StreamName, Option<Position>)> {
        match command {
            Ok(Command::Subscribe(wanted)) if wanted.format.is_none() => {
                Some((wanted.stream, wanted.since))
            }
            _ => None,
        }
    }

    #[test]
    fn minitwit_commands_and_their_refusals() {
        let minitwit = of(&None);
        assert_eq!(
            subscribed_to(
                minitwit.command(r#"{"type":"subscribe","stream":"user:al","since":"4.2"}"#)
            ),
            Some((StreamName::User("al".into()), Position::parse("4.2")))
        );
        assert!(matches!(
            minitwit.command(r#"{"type":"unsubscribe","stream":"nope"}"#),
            Ok(Command::Unsubscribe { raw, stream: None }) if raw == "nope"
        ));
        assert!(matches!(
            minitwit.command(r#"{"type":"unsubscribe","stream":"home"}"#),
            Ok(Command::Unsubscribe {
                stream: Some((StreamName::Home, None)),
                ..
            })
        ));
        assert_eq!(
            minitwit
                .command(r#"{"type":"subscribe","stream":"public","since":"x"}"#)
                .err(),
            Some("bad since".into())
        );
        assert_eq!(
            minitwit
                .command(r#"{"type":"subscribe","stream":"users"}"#)
                .err(),
            Some("unknown stream: use public, home or user:USERNAME".into())
        );
        assert_eq!(
            minitwit.subscribed(&StreamName::Home).as_deref(),
            Some(r#"{"event":"subscribed","stream":"home"}"#)
        );
    }
}
