//! How an event becomes the bytes a stream's client reads. A subscription names its
//! [`FrameFormat`]; `None` is MiniTwit's own frames (docs/protocol.md). A surface with
//! other frames for the same events (the Mastodon streaming API, docs/mastodon.md)
//! implements the trait; the engine never imports that surface.
//!
//! [`EventFrames`] builds each frame of one event once per stream and format, the first
//! time a recipient needs it, and hands every other recipient the same shared bytes.

use std::cell::OnceCell;
use std::sync::Arc;

use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::protocol::{avatar_url, delete_frame, message_frame, Position, StreamName};
use crate::store::TimelineMessage;

/// A surface's frames for the engine's events.
pub trait FrameFormat: Send + Sync {
    /// A new message on `stream`, or a hidden one shown again; the stream stands at
    /// `position` once it is written.
    fn message(&self, stream: &StreamName, message: &TimelineMessage, position: Position)
        -> String;
    /// Message `id` was hidden: clients remove it.
    fn delete(&self, stream: &StreamName, id: i64, position: Position) -> String;
}

/// A subscription's frame format: `None` for MiniTwit's own. Made once per surface (at
/// startup), so recipients sharing a format share its frames: they are told apart by the
/// `Arc`'s address.
pub type Format = Option<Arc<dyn FrameFormat>>;

/// What an event shows a stream.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    /// The message, new or shown again.
    Message(&'a TimelineMessage),
    /// Message N was hidden.
    Delete(i64),
}

/// One event's frames, for every stream it reaches.
pub struct EventFrames<'a> {
    shown: Shown<'a>,
    position: Position,
    /// The author's avatar in MiniTwit's message frames: computed once per event, not per
    /// stream.
    avatar: OnceCell<String>,
}

impl<'a> EventFrames<'a> {
    pub fn new(shown: Shown<'a>, position: Position) -> EventFrames<'a> {
        EventFrames {
            shown,
            position,
            avatar: OnceCell::new(),
        }
    }

    /// The frames of this event on `stream`, none built yet.
    pub fn on(&self, stream: StreamName) -> StreamFrames<'_, 'a> {
        StreamFrames {
            event: self,
            stream,
            minitwit: None,
            others: Vec::new(),
        }
    }

    fn minitwit(&self, stream: &str) -> String {
        match self.shown {
            Shown::Message(message) => {
                let avatar = self.avatar.get_or_init(|| avatar_url(&message.email));
                message_frame(stream, message, avatar, Some(self.position))
            }
            Shown::Delete(id) => delete_frame(stream, id, self.position),
        }
    }
}

/// One frame of `shown` on `stream` in `format`, built for one recipient (a replay).
pub fn frame(format: &Format, stream: &StreamName, shown: Shown<'_>, position: Position) -> String {
    match format {
        None => EventFrames::new(shown, position).minitwit(&stream.as_string()),
        Some(format) => formatted(format.as_ref(), stream, shown, position),
    }
}

fn formatted(
    format: &dyn FrameFormat,
    stream: &StreamName,
    shown: Shown<'_>,
    position: Position,
) -> String {
    match shown {
        Shown::Message(message) => format.message(stream, message, position),
        Shown::Delete(id) => format.delete(stream, id, position),
    }
}

/// One event's frames on one stream, each format's built the first time it is asked for.
pub struct StreamFrames<'e, 'a> {
    event: &'e EventFrames<'a>,
    stream: StreamName,
    minitwit: Option<Utf8Bytes>,
    /// Other formats' frames, by the format's address; a few formats at most.
    others: Vec<(usize, Utf8Bytes)>,
}

impl StreamFrames<'_, '_> {
    /// The frame in `format`, shared: cloning it copies no bytes.
    pub fn frame(&mut self, format: &Format) -> Utf8Bytes {
        match format {
            None => {
                let (event, stream) = (self.event, &self.stream);
                self.minitwit
                    .get_or_insert_with(|| Utf8Bytes::from(event.minitwit(&stream.as_string())))
                    .clone()
            }
            Some(format) => {
                let address = address(format);
                if let Some((_, frame)) = self.others.iter().find(|(a, _)| *a == address) {
                    return frame.clone();
                }
                let event = self.event;
                let built = formatted(format.as_ref(), &self.stream, event.shown, event.position);
                let frame = Utf8Bytes::from(built);
                self.others.push((address, frame.clone()));
                frame
            }
        }
    }
}

/// Whether `a` and `b` are the same format.
pub fn same(a: &Format, b: &Format) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => address(a) == address(b),
        _ => false,
    }
}

/// A format's identity: the address of its data (a `dyn` pointer's vtable half is not
/// unique, so it is left out).
fn address(format: &Arc<dyn FrameFormat>) -> usize {
    Arc::as_ptr(format).cast::<()>() as usize
}
