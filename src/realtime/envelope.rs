//! What travels between instances: an [`Event`] stamped with its origin and commit time;
//! and what the dispatcher hears ([`Inbound`]): such envelopes, and the bus reconnecting.
//!
//! The origin lets an instance skip its own events coming back from Redis (it delivered
//! them locally already); the commit time feeds `minitwit_fanout_delay_seconds`. The
//! event itself is the one type that carries a message from the post to the sockets.

use serde::{Deserialize, Serialize};

use super::event::Event;

/// An event on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The instance that published it.
    pub origin: u128,
    /// When it was published (just after its commit), in Unix microseconds.
    pub at_us: i64,
    pub event: Event,
}

impl Envelope {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Option<Envelope> {
        serde_json::from_slice(bytes).ok()
    }
}

/// What the dispatcher hears.
#[derive(Debug)]
pub enum Inbound {
    /// An event from this instance or from the bus.
    Event(Envelope),
    /// The bus (re)connected: what it carried meanwhile is lost, so ask the database now.
    BusReconnected,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TimelineMessage;

    #[test]
    fn envelopes_round_trip_through_json() {
        let envelope = Envelope {
            origin: u128::MAX - 7,
            at_us: 123,
            event: Event::MessagePosted(TimelineMessage {
                message_id: 9,
                author_id: 2,
                username: "bob".into(),
                email: "b@x".into(),
                text: "ünïcode \"quoted\"".into(),
                pub_date: 5,
            }),
        };
        assert_eq!(Envelope::from_json(&envelope.to_json()), Some(envelope));
        assert_eq!(Envelope::from_json(b"garbage"), None);
    }
}
