//! The stream protocol (docs/protocol.md): stream names, positions, client frames and
//! server frames.
//!
//! Server frames are built here only, so the pages' live script, the tests and the
//! benchmark all read one shape.

use serde::{Deserialize, Serialize};

use crate::store::TimelineMessage;

/// Most messages a `since` replay sends before going live (docs/protocol.md).
pub const MAX_REPLAY: u64 = 200;

/// A stream a socket can subscribe to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StreamName {
    /// Everyone's messages.
    Public,
    /// One author's messages, by username.
    User(String),
    /// The connection's user and everyone they follow.
    Home,
}

impl StreamName {
    /// Parses `public`, `home` or `user:USERNAME`.
    pub fn parse(raw: &str) -> Result<StreamName, &'static str> {
        match raw {
            "public" => Ok(StreamName::Public),
            "home" => Ok(StreamName::Home),
            _ => match raw.strip_prefix("user:") {
                // No username holds a control character (`crate::domain::username`): such a
                // name is junk.
                Some(name)
                    if !name.is_empty()
                        && name.chars().count() <= 64
                        && !name.chars().any(char::is_control) =>
                {
                    Ok(StreamName::User(name.to_owned()))
                }
                _ => Err("unknown stream: use public, home or user:USERNAME"),
            },
        }
    }

    /// Whether a client's `raw` name names this stream.
    pub fn is(&self, raw: &str) -> bool {
        match self {
            StreamName::Public => raw == "public",
            StreamName::Home => raw == "home",
            StreamName::User(name) => raw.strip_prefix("user:") == Some(name.as_str()),
        }
    }

    /// The name as clients write it.
    pub fn as_string(&self) -> String {
        match self {
            StreamName::Public => "public".into(),
            StreamName::Home => "home".into(),
            StreamName::User(name) => format!("user:{name}"),
        }
    }
}

/// What a client may send.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientFrame {
    Subscribe {
        stream: String,
        since: Option<Since>,
    },
    Unsubscribe {
        stream: String,
    },
}

/// A subscribe frame's `since`: the position the server sent (a string), or a message id
/// (a number, as older clients send).
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Since {
    Id(i64),
    Position(String),
}

impl Since {
    /// The position it names; `None` if it names none (a negative id, a malformed string).
    pub fn position(&self) -> Option<Position> {
        match self {
            Since::Id(id) => Position::parse(&id.to_string()),
            Since::Position(raw) => Position::parse(raw),
        }
    }
}

impl ClientFrame {
    pub fn parse(text: &str) -> Result<ClientFrame, String> {
        serde_json::from_str(text).map_err(|e| format!("bad frame: {e}"))
    }
}

/// Where a stream stands, as the server hands it to its client with every message and
/// delete (`"position"` in websocket frames, `id:` in server-sent events): every message
/// of the stream with an id up to `message`, and every hide or unhide up to `change`, was
/// already sent on it. A client resumes from it (`since`, `Last-Event-ID`), so a message
/// committed late with a lower id than the last one shown, or a hide made while the client
/// was away, still reaches it (docs/delivery.md).
///
/// Written `M.C`; a bare `M` (the newest message id a client showed, as older clients
/// send) resumes messages only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub message: i64,
    /// `None` for a bare message id: the client says nothing of the changes it saw.
    pub change: Option<i64>,
}

impl Position {
    /// Parses `M` or `M.C` (non-negative integers).
    pub fn parse(raw: &str) -> Option<Position> {
        let number = |part: &str| part.parse::<i64>().ok().filter(|n| *n >= 0);
        match raw.trim().split_once('.') {
            None => Some(Position {
                message: number(raw.trim())?,
                change: None,
            }),
            Some((message, change)) => Some(Position {
                message: number(message)?,
                change: Some(number(change)?),
            }),
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.change {
            Some(change) => write!(f, "{}.{change}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

#[derive(Serialize)]
struct MessageFrame<'a> {
    event: &'static str,
    stream: &'a str,
    message: MessageBody<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<String>,
}

#[derive(Serialize)]
struct MessageBody<'a> {
    id: i64,
    user: &'a str,
    content: &'a str,
    pub_date: i64,
    avatar: &'a str,
}

/// `{"event":"message","stream":S,"message":{...},"position":P}` for `message` on
/// `stream` (a new message, or one shown again); no `position` when `None`.
pub fn message_frame(
    stream: &str,
    message: &TimelineMessage,
    avatar: &str,
    position: Option<Position>,
) -> String {
    let frame = MessageFrame {
        event: "message",
        stream,
        message: MessageBody {
            id: message.message_id,
            user: &message.username,
            content: &message.text,
            pub_date: message.pub_date,
            avatar,
        },
        position: position.map(|p| p.to_string()),
    };
    serde_json::to_string(&frame).unwrap_or_default()
}

/// `{"event":"delete","stream":S,"id":N,"position":P}`: a moderator hid message N.
pub fn delete_frame(stream: &str, id: i64, position: Position) -> String {
    serde_json::json!({"event": "delete", "stream": stream, "id": id, "position": position.to_string()})
        .to_string()
}

/// `{"event":"subscribed","stream":S}`.
pub fn subscribed_frame(stream: &str) -> String {
    serde_json::json!({"event": "subscribed", "stream": stream}).to_string()
}

/// `{"event":"unsubscribed","stream":S}`.
pub fn unsubscribed_frame(stream: &str) -> String {
    serde_json::json!({"event": "unsubscribed", "stream": stream}).to_string()
}

/// `{"event":"error","error":…}`.
pub fn error_frame(error: &str) -> String {
    serde_json::json!({"event": "error", "error": error}).to_string()
}

/// The Gravatar URL the pages show next to a message (`crate::avatar`), so live and
/// rendered messages look the same.
pub fn avatar_url(email: &str) -> String {
    crate::avatar::gravatar_url(email, 48)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_parse_and_print_back() {
        for raw in [
            "public",
            "home",
            "user:alice",
            "user:two words",
            "user:ümlaut",
        ] {
            let name = StreamName::parse(raw).expect(raw);
            assert_eq!(name.as_string(), raw);
            assert!(name.is(raw));
            assert!(!name.is("user:someone else"));
        }
        for bad in [
            "",
            "user:",
            "users",
            "Public",
            "user",
            "user:a\u{0}b",
            "user:a\nb",
        ] {
            assert!(StreamName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_frames_parse() {
        assert_eq!(
            ClientFrame::parse(r#"{"type":"subscribe","stream":"public","since":4}"#),
            Ok(ClientFrame::Subscribe {
                stream: "public".into(),
                since: Some(Since::Id(4))
            })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"unsubscribe","stream":"home"}"#),
            Ok(ClientFrame::Unsubscribe {
                stream: "home".into()
            })
        );
        assert!(ClientFrame::parse(r#"{"type":"dance"}"#).is_err());
        assert!(ClientFrame::parse("not json").is_err());
    }

    #[test]
    fn message_frames_have_the_spec_shape_and_escape_json() {
        let message = TimelineMessage {
            message_id: 42,
            author_id: 1,
            username: "alice".into(),
            email: " Alice@Example.com ".into(),
            text: "hi \"there\" <b>".into(),
            pub_date: 1_700_000_000,
        };
        let avatar = avatar_url(&message.email);
        let position = Position {
            message: 42,
            change: Some(7),
        };
        let frame: serde_json::Value =
            serde_json::from_str(&message_frame("home", &message, &avatar, Some(position)))
                .expect("JSON");
        assert_eq!(
            frame,
            serde_json::json!({"event":"message","stream":"home","message":{
                "id":42,"user":"alice","content":"hi \"there\" <b>","pub_date":1_700_000_000,
                "avatar":"https://www.gravatar.com/avatar/c160f8cc69a4f0bf2b0362752353d060?d=identicon&s=48"},
                "position":"42.7"})
        );
    }

    #[test]
    fn positions_parse_and_print_back() {
        for raw in ["0", "42", "42.0", "42.7"] {
            let position = Position::parse(raw).expect(raw);
            assert_eq!(position.to_string(), raw);
        }
        assert_eq!(
            Position::parse("5"),
            Some(Position {
                message: 5,
                change: None
            })
        );
        for bad in ["", "-1", "1.-2", "a", "1.", ".1", "1.2.3", "1e3"] {
            assert_eq!(Position::parse(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn client_frames_and_stream_names_never_panic(raw in "\\PC{0,120}") {
            let _ = ClientFrame::parse(&raw);
            if let Ok(stream) = StreamName::parse(&raw) {
                // What parses prints back as it was written.
                proptest::prop_assert_eq!(stream.as_string(), raw);
            }
        }

        #[test]
        fn subscribe_frames_round_trip(name in "[^\"\\\\]{1,64}", since in proptest::option::of(proptest::num::i64::ANY)) {
            let frame = serde_json::json!({"type": "subscribe", "stream": format!("user:{name}"), "since": since});
            let parsed = ClientFrame::parse(&frame.to_string());
            proptest::prop_assert_eq!(parsed, Ok(ClientFrame::Subscribe { stream: format!("user:{name}"), since: since.map(Since::Id) }));
        }
    }
}
