//! The websocket handshake of `/ws`, `/api/stream` and Mastodon's `/api/v1/streaming`, done here rather than by poem's
//! `WebSocket` extractor, for what each open socket costs (README.md, "Websocket streams"):
//!
//! - poem's `on_upgrade` runs the socket inside a task it spawns on the request runtime.
//!   Our sockets run on their own runtime (`crate::realtime::runtime`), so that task would
//!   only wait for ours, for the socket's whole life, and keep the request's
//!   `Sec-WebSocket-Key` (a slice of hyper's 8 KiB read buffer, which it pins). Here the
//!   socket's one task is spawned on the socket runtime and awaits the upgrade itself.
//! - poem's `Message::Text` owns a `String`, so every recipient of a frame needed a copy of
//!   it. tungstenite's own `Message::Text` takes `Utf8Bytes`, which shares the bytes: a frame
//!   is built once and written to every socket as it is.
//!
//! The checks and refusals are poem's (`WebSocketError`, 400), so clients see no change.

use poem::error::WebSocketError;
use poem::http::header::{self, HeaderValue};
use poem::http::{Method, StatusCode};
use poem::web::headers::{self, HeaderMapExt};
use poem::web::websocket::WebSocketConfig;
use poem::{Body, FromRequest, OnUpgrade, Request, RequestBody, Response, Upgraded};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// Small buffers: an idle socket costs kilobytes, not tungstenite's default 128 KiB read
/// buffer (BENCHMARKS.md measures it). Frames from clients are tiny subscribe requests.
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096)
        .max_write_buffer_size(65536)
        .max_message_size(Some(64 << 10))
        .max_frame_size(Some(64 << 10))
}

/// A websocket as the socket task drives it.
pub type Socket = tokio_tungstenite::WebSocketStream<Upgraded>;

/// A valid websocket upgrade request, not answered yet.
pub struct WsUpgrade {
    /// `Sec-WebSocket-Accept` of the answer.
    accept: HeaderValue,
    /// Resolves to the connection once the `101` answer went out.
    on_upgrade: OnUpgrade,
    /// The subprotocol the answer selects, if any (`Sec-WebSocket-Protocol`).
    protocol: Option<HeaderValue>,
}

impl<'a> FromRequest<'a> for WsUpgrade {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let headers = req.headers();
        let upgrade_websocket = headers
            .get(header::UPGRADE)
            .is_some_and(|v| v == "websocket" || v == "WebSocket");
        let connection_upgrade = headers
            .typed_get::<headers::Connection>()
            .is_some_and(|c| c.contains(header::UPGRADE));
        let version_13 =
            headers.get(header::SEC_WEBSOCKET_VERSION) == Some(&HeaderValue::from_static("13"));
        let key = match headers.get(header::SEC_WEBSOCKET_KEY) {
            Some(key)
                if req.method() == Method::GET
                    && upgrade_websocket
                    && connection_upgrade
                    && version_13 =>
            {
                key
            }
            _ => return Err(WebSocketError::InvalidProtocol.into()),
        };
        let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
            .map_err(|_| WebSocketError::InvalidProtocol)?;
        let on_upgrade = req.take_upgrade().map_err(WebSocketError::from)?;
        Ok(WsUpgrade {
            accept,
            on_upgrade,
            protocol: None,
        })
    }
}

impl WsUpgrade {
    /// Selects `protocol`, one of those the client offered: a browser fails a connection
    /// whose answer selects none of its offers.
    pub fn with_protocol(mut self, protocol: HeaderValue) -> WsUpgrade {
        self.protocol = Some(protocol);
        self
    }

    /// The `101 Switching Protocols` answer, and the upgrade to await (in the socket's
    /// task) for the websocket. The upgrade fails if the answer is not sent.
    pub fn accept(self) -> (Response, PendingSocket) {
        let mut response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, self.accept);
        if let Some(protocol) = self.protocol {
            response = response.header(header::SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        let response = response.body(Body::empty());
        (response, PendingSocket(self.on_upgrade))
    }
}

/// A websocket whose `101` answer is on its way.
pub struct PendingSocket(OnUpgrade);

impl PendingSocket {
    /// The websocket, with the small buffers of [`websocket_config`]; `None` if the
    /// connection went away before the upgrade.
    pub async fn open(self) -> Option<Socket> {
        let upgraded = self.0.await.ok()?;
        Some(Socket::from_raw_socket(upgraded, Role::Server, Some(websocket_config())).await)
    }
}
