//! A websocket client for the stream tests: connect to `/ws` or `/api/stream`, read the
//! JSON events of docs/protocol.md with timeouts, and send subscribe frames.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::{TestApp, SIM_AUTH};

/// How long a test waits for an event that should come.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct WsClient {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// `ws://` URL of `path_and_query` on `app`.
pub fn ws_url(app: &TestApp, path_and_query: &str) -> String {
    format!("ws://{}{}", app.addr, path_and_query)
}

/// The HTTP status the server answered an upgrade request with, when it refused it.
pub async fn refused_status(app: &TestApp, path_and_query: &str, auth: Option<&str>) -> u16 {
    let mut request = ws_url(app, path_and_query)
        .into_client_request()
        .expect("request");
    if let Some(auth) = auth {
        request
            .headers_mut()
            .insert("Authorization", auth.parse().expect("header"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => panic!("{path_and_query} was upgraded, expected a refusal"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("{path_and_query}: {e}"),
    }
}

impl WsClient {
    /// Opens `/ws?stream=STREAM` and waits for its `subscribed` event.
    pub async fn stream(app: &TestApp, stream: &str) -> WsClient {
        let path = format!("/ws?stream={}", crate::common::encode(stream));
        let mut client = WsClient::connect(app, &path, &[]).await;
        client.expect_subscribed(stream).await;
        client
    }

    /// Opens `/api/stream?user=USER` (USER's home) with the simulator's credential.
    pub async fn home_of(app: &TestApp, user: &str) -> WsClient {
        let path = format!("/api/stream?user={}", crate::common::encode(user));
        let mut client = WsClient::connect(app, &path, &[("Authorization", SIM_AUTH)]).await;
        client.expect_subscribed("home").await;
        client
    }

    pub async fn connect(
        app: &TestApp,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> WsClient {
        let mut request = ws_url(app, path_and_query)
            .into_client_request()
            .expect("request");
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .expect("header name"),
                value.parse().expect("header value"),
            );
        }
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .unwrap_or_else(|e| panic!("connect {path_and_query}: {e}"));
        WsClient { ws }
    }

    /// The next JSON event, skipping pings; panics after [`WAIT`] or on close.
    pub async fn next_event(&mut self) -> Value {
        self.next_event_within(WAIT)
            .await
            .expect("an event within the wait")
    }

    /// The next JSON event within `wait`, or `None` if none came.
    pub async fn next_event_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(&text).expect("events are JSON"))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    pub async fn expect_subscribed(&mut self, stream: &str) {
        let event = self.next_event().await;
        assert_eq!(
            event,
            serde_json::json!({"event": "subscribed", "stream": stream})
        );
    }

    /// The next `n` message events, as (stream, user, content, id).
    pub async fn messages(&mut self, n: usize) -> Vec<(String, String, String, i64)> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let event = self.next_event().await;
            assert_eq!(event["event"], "message", "{event}");
            out.push(as_tuple(&event));
        }
        out
    }

    /// The contents of the next `n` messages.
    pub async fn contents(&mut self, n: usize) -> Vec<String> {
        self.messages(n).await.into_iter().map(|m| m.2).collect()
    }

    /// Asserts that no event arrives within `wait`.
    pub async fn expect_nothing(&mut self, wait: Duration) {
        if let Some(event) = self.next_event_within(wait).await {
            panic!("expected no event, got {event}");
        }
    }

    pub async fn send_json(&mut self, value: Value) {
        self.ws
            .send(Message::Text(value.to_string().into()))
            .await
            .expect("send");
    }

    /// Reads until the server closes; returns the close code (skipping any events).
    pub async fn close_code(&mut self) -> Option<CloseCode> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("closed within the wait")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("connection failed before a close frame: {e}"),
                None => return None,
            }
        }
    }
}

/// Posts `texts` as `user` through the simulator API, in order, in a task of its own;
/// every post must answer 204.
pub fn spawn_posts(app: &TestApp, user: &str, texts: Vec<String>) -> tokio::task::JoinHandle<()> {
    let http = app.http.clone();
    let url = app.url(&format!("/api/msgs/{}", crate::common::encode(user)));
    tokio::spawn(async move {
        for text in texts {
            let res = http
                .post(&url)
                .header("Authorization", SIM_AUTH)
                .json(&serde_json::json!({ "content": text }))
                .send()
                .await
                .expect("post");
            assert_eq!(res.status(), 204, "{text}");
        }
    })
}

pub fn as_tuple(event: &Value) -> (String, String, String, i64) {
    (
        event["stream"].as_str().expect("stream").to_owned(),
        event["message"]["user"].as_str().expect("user").to_owned(),
        event["message"]["content"]
            .as_str()
            .expect("content")
            .to_owned(),
        event["message"]["id"].as_i64().expect("id"),
    )
}

/// A websocket peer that completes the handshake and then never writes a byte, not even
/// the pongs a websocket library sends by itself: the peer the server's idle timeout is
/// for. (A tungstenite client answers buffered pings while it reads, and that write can
/// meet the already-closed socket before the close frame is read.)
pub struct SilentPeer {
    tcp: TcpStream,
    /// Bytes read after the handshake and not yet parsed into frames.
    pending: Vec<u8>,
}

impl SilentPeer {
    /// Upgrades `path_and_query` by hand and checks the server answered 101.
    pub async fn connect(app: &TestApp, path_and_query: &str) -> SilentPeer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = TcpStream::connect(app.addr).await.expect("connect");
        let request = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n",
            app.addr
        );
        tcp.write_all(request.as_bytes())
            .await
            .expect("send upgrade");
        let mut pending = Vec::new();
        let head_end = loop {
            if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 1024];
            let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk))
                .await
                .expect("upgrade answered within the wait")
                .expect("read upgrade answer");
            assert!(n > 0, "closed during the upgrade");
            pending.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "not upgraded: {head}");
        pending.drain(..head_end);
        SilentPeer { tcp, pending }
    }

    /// Reads (without answering anything) until the server sends a close frame, and
    /// returns its code; `None` if the connection ends without one.
    pub async fn close_code(&mut self) -> Option<CloseCode> {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            while let Some((opcode, payload)) = self.next_frame() {
                if opcode == 0x8 {
                    let code = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                    return code.map(CloseCode::from);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.tcp.read(&mut chunk))
                .await
                .expect("closed within the wait")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next whole (unmasked, server-sent) frame in `pending` as (opcode, payload).
    fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let buf = &self.pending;
        let (opcode, short_len) = (*buf.first()? & 0x0f, *buf.get(1)? & 0x7f);
        let (len, header) = match short_len {
            126 => (u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize, 4),
            127 => {
                let bytes: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
                (u64::from_be_bytes(bytes) as usize, 10)
            }
            n => (n as usize, 2),
        };
        let payload = buf.get(header..header + len)?.to_vec();
        self.pending.drain(..header + len);
        Some((opcode, payload))
    }
}
