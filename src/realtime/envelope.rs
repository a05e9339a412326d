//! What travels between instances: an [`Event`] stamped with its origin and commit time.
//!
//! The origin lets an instance skip its own events coming back from Redis (it delivered
//! them locally already); the commit time feeds `minitwit_fanout_delay_seconds`.

use serde::{Deserialize, Serialize};

use super::Event;
use crate::store::TimelineMessage;

/// An event on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The instance that published it.
    pub origin: u128,
    /// When it was published (just after its commit), in Unix microseconds.
    pub at_us: i64,
    pub event: WireEvent,
}

/// [`Event`] in a serialisable form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum WireEvent {
    Message {
        id: i64,
        author_id: i64,
        username: String,
        email: String,
        text: String,
        pub_date: i64,
    },
    Followed {
        who: i64,
        whom: i64,
    },
    Unfollowed {
        who: i64,
        whom: i64,
    },
}

impl From<Event> for WireEvent {
    fn from(event: Event) -> Self {
        match event {
            Event::MessagePosted(m) => WireEvent::Message {
                id: m.message_id,
                author_id: m.author_id,
                username: m.username,
                email: m.email,
                text: m.text,
                pub_date: m.pub_date,
            },
            Event::Followed { who, whom } => WireEvent::Followed { who, whom },
            Event::Unfollowed { who, whom } => WireEvent::Unfollowed { who, whom },
        }
    }
}

impl WireEvent {
    /// The message this event carries, if it is one.
    pub fn message(&self) -> Option<TimelineMessage> {
        match self {
            WireEvent::Message {
                id,
                author_id,
                username,
                email,
                text,
                pub_date,
            } => Some(TimelineMessage {
                message_id: *id,
                author_id: *author_id,
                username: username.clone(),
                email: email.clone(),
                text: text.clone(),
                pub_date: *pub_date,
            }),
            _ => None,
        }
    }

    pub fn message_id(&self) -> Option<i64> {
        match self {
            WireEvent::Message { id, .. } => Some(*id),
            _ => None,
        }
    }
}

impl Envelope {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Option<Envelope> {
        serde_json::from_slice(bytes).ok()
    }
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_through_json() {
        let envelope = Envelope {
            origin: u128::MAX - 7,
            at_us: 123,
            event: WireEvent::Message {
                id: 9,
                author_id: 2,
                username: "bob".into(),
                email: "b@x".into(),
                text: "ünïcode \"quoted\"".into(),
                pub_date: 5,
            },
        };
        assert_eq!(Envelope::from_json(&envelope.to_json()), Some(envelope));
        assert_eq!(Envelope::from_json(b"garbage"), None);
    }
}
