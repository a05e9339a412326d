//! Mastodon's stream names (docs/mastodon.md, "Streaming") as the realtime engine's
//! streams: `user` is MiniTwit's `home`, `public` and `public:local` are `public` (one
//! server has no remote posts). The names Mastodon has and MiniTwit has nothing for
//! (notifications, hashtags, lists, media, direct messages, remote posts) are accepted and
//! carry nothing, so a client that asks for them on login keeps its other streams.

use std::sync::Arc;

use super::frames::SocketFrames;
use crate::realtime::format::Format;
use crate::realtime::protocol::StreamName;

/// Names Mastodon streams under that carry nothing here.
const EMPTY: &[&str] = &[
    "user:notification",
    "public:media",
    "public:local:media",
    "public:remote",
    "public:remote:media",
    "direct",
    "hashtag",
    "hashtag:local",
    "list",
];

/// The refusal of a name Mastodon does not have either, in its words.
pub const UNKNOWN: &str = "Unknown stream type";

/// What a Mastodon stream name is here.
pub enum Named {
    /// An engine stream, and the format that labels its frames with the name.
    Stream(StreamName, Format),
    /// A stream that carries nothing on MiniTwit.
    Empty,
}

/// The websocket formats of the names that carry something, made once per server.
pub struct StreamNames {
    user: Format,
    public: Format,
    public_local: Format,
}

impl StreamNames {
    pub fn new(base: &Arc<str>) -> StreamNames {
        let format = |name| -> Format { Some(Arc::new(SocketFrames::new(name, base.clone()))) };
        StreamNames {
            user: format("user"),
            public: format("public"),
            public_local: format("public:local"),
        }
    }

    /// What `raw` names; [`UNKNOWN`] if Mastodon has no such stream.
    pub fn lookup(&self, raw: &str) -> Result<Named, &'static str> {
        let (stream, format) = match raw {
            "user" => (StreamName::Home, &self.user),
            "public" => (StreamName::Public, &self.public),
            "public:local" => (StreamName::Public, &self.public_local),
            _ if EMPTY.contains(&raw) => return Ok(Named::Empty),
            _ => return Err(UNKNOWN),
        };
        Ok(Named::Stream(stream, format.clone()))
    }
}
