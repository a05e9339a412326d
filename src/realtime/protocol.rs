//! The websocket protocol of SPEC §4: stream names, client frames, and server frames.
//!
//! Server frames are built here only, so the pages' live script, the tests and the
//! benchmark all read one shape.

use serde::{Deserialize, Serialize};

use crate::store::TimelineMessage;

/// Most messages a `since` replay sends before going live (SPEC §4).
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
                // No username holds a control character (SPEC §6): such a name is junk.
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
    Subscribe { stream: String, since: Option<i64> },
    Unsubscribe { stream: String },
}

impl ClientFrame {
    pub fn parse(text: &str) -> Result<ClientFrame, String> {
        serde_json::from_str(text).map_err(|e| format!("bad frame: {e}"))
    }
}

#[derive(Serialize)]
struct MessageFrame<'a> {
    event: &'static str,
    stream: &'a str,
    message: MessageBody<'a>,
}

#[derive(Serialize)]
struct MessageBody<'a> {
    id: i64,
    user: &'a str,
    content: &'a str,
    pub_date: i64,
    avatar: &'a str,
}

/// `{"event":"message","stream":S,"message":{...}}` for `message` on `stream`.
pub fn message_frame(stream: &str, message: &TimelineMessage, avatar: &str) -> String {
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
    };
    serde_json::to_string(&frame).unwrap_or_default()
}

/// `{"event":"delete","stream":S,"id":N}`: a moderator hid message N.
pub fn delete_frame(stream: &str, id: i64) -> String {
    serde_json::json!({"event": "delete", "stream": stream, "id": id}).to_string()
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

/// The Gravatar URL the pages show next to a message (SPEC §3), so live and rendered
/// messages look the same.
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
                since: Some(4)
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
        let frame: serde_json::Value =
            serde_json::from_str(&message_frame("home", &message, &avatar)).expect("JSON");
        assert_eq!(
            frame,
            serde_json::json!({"event":"message","stream":"home","message":{
                "id":42,"user":"alice","content":"hi \"there\" <b>","pub_date":1_700_000_000,
                "avatar":"https://www.gravatar.com/avatar/c160f8cc69a4f0bf2b0362752353d060?d=identicon&s=48"}})
        );
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
            proptest::prop_assert_eq!(parsed, Ok(ClientFrame::Subscribe { stream: format!("user:{name}"), since }));
        }
    }
}
