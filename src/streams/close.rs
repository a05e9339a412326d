//! How a websocket ends: the close codes of docs/protocol.md, and the closing handshake
//! for each reason a socket task stops.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::budget::REPLAYS_EXCEEDED;
use super::upgrade::Socket;
use crate::metrics::Metrics;
use crate::realtime::slots::Refusal;

/// Close code for a peer that was idle too long.
pub const CLOSE_IDLE: u16 = 1000;
/// Close code when the server stops.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a client that sends frames or asks for replays faster than its budget
/// (`super::budget`).
pub const CLOSE_POLICY: u16 = 1008;
/// Close code for a stream refused by a cap on open streams (try again later).
pub const CLOSE_TRY_LATER: u16 = 1013;
/// Close code for a `home` stream whose login ended (logout or expiry).
pub const CLOSE_LOGGED_OUT: u16 = 4001;
/// Close code for a reader whose queue overflowed (it may resume with `since`).
pub const CLOSE_TOO_SLOW: u16 = 4008;

/// How long a closing handshake may wait on a peer that does not read.
pub const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// How long a flooding client's remaining frames are read away after its 1008.
const FLOOD_DRAIN: Duration = Duration::from_secs(2);

/// Why a socket task stopped.
pub enum Stop {
    /// The peer went away or broke the protocol.
    Gone,
    /// The peer sent a close frame: finish the closing handshake.
    PeerClosed,
    /// The peer's queue overflowed.
    TooSlow,
    Shutdown,
    Idle,
    /// The client sent frames faster than its budget.
    Flooding,
    /// The client asked for `since` replays faster than its budget.
    Replaying,
    /// The login behind its `home` ended.
    LoggedOut,
}

/// Closes a socket refused by a cap on open streams with 1013 (try again later).
pub async fn refuse(mut ws: Socket, metrics: &Metrics, refusal: Refusal) {
    metrics
        .ws_refused_total
        .with_label_values(&[refusal.as_str()])
        .inc();
    let close = close_frame(CLOSE_TRY_LATER, "too many open streams: try again later");
    let _ = tokio::time::timeout(CLOSE_WAIT, ws.send(close)).await;
}

/// Closes `ws` the way `stop` says (its streams are unregistered already).
pub async fn close(ws: &mut Socket, metrics: &Metrics, stop: Stop) {
    let close = match stop {
        Stop::TooSlow => Some((CLOSE_TOO_SLOW, "too slow: resume with since")),
        Stop::Shutdown => Some((CLOSE_GOING_AWAY, "server shutting down")),
        Stop::Idle => Some((CLOSE_IDLE, "idle")),
        Stop::Flooding => {
            metrics.ws_refused_total.with_label_values(&["flood"]).inc();
            Some((CLOSE_POLICY, "too many frames: at most 10 a second"))
        }
        Stop::Replaying => {
            metrics
                .ws_refused_total
                .with_label_values(&["replays"])
                .inc();
            Some((CLOSE_POLICY, REPLAYS_EXCEEDED))
        }
        Stop::LoggedOut => Some((CLOSE_LOGGED_OUT, "logged out")),
        Stop::Gone | Stop::PeerClosed => None,
    };
    if matches!(stop, Stop::PeerClosed) {
        // tungstenite queued the close reply; flushing it completes the handshake.
        let _ = tokio::time::timeout(CLOSE_WAIT, SinkExt::close(ws)).await;
    }
    if let Some((code, reason)) = close {
        let _ = tokio::time::timeout(CLOSE_WAIT, ws.send(close_frame(code, reason))).await;
    }
    if matches!(stop, Stop::Flooding | Stop::Replaying) {
        // The flood is still in the receive buffer: closing on it would send a reset that
        // discards our close frame at the client. Read it away until the client's close.
        let _ = tokio::time::timeout(FLOOD_DRAIN, async {
            while let Some(Ok(frame)) = ws.next().await {
                if matches!(frame, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(reason),
    }))
}
