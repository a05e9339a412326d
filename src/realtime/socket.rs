//! One task per websocket: subscriptions, `since` replay joined to the live feed, pings,
//! the idle timeout, the 4008 close of a reader that cannot keep up and the 1008 close of
//! a client that floods frames.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message, WebSocketConfig, WebSocketStream};
use tokio::time::Instant;

use super::protocol::{error_frame, subscribed_frame, unsubscribed_frame, ClientFrame, StreamName};
use super::registry::{Outgoing, QueueReceiver, SocketHandle};
use super::slots::{Refusal, Slot};
use super::subscription::Subscription;
use super::Hub;
use crate::store::Store;

/// Close code for a reader whose queue overflowed (it may resume with `since`).
pub const CLOSE_TOO_SLOW: u16 = 4008;
/// Streams one socket may hold at once, so one client cannot pile up subscriptions.
const MAX_STREAMS: usize = 16;
/// How long a closing handshake may wait on a peer that does not read.
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// How long one frame may take to write (a replay's too) before the peer counts as too
/// slow and is closed with 4008.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Close code for a client that sends frames faster than [`FRAMES_PER_SECOND`].
pub const CLOSE_POLICY: u16 = 1008;
/// Close code for a stream refused by a cap on open streams (try again later).
pub const CLOSE_TRY_LATER: u16 = 1013;
/// Client frames a socket may send per second on average, and in one burst (SPEC §4).
const FRAMES_PER_SECOND: f64 = 10.0;
const FRAME_BURST: f64 = 20.0;
/// How long a flooding client's remaining frames are read away after its 1008.
const FLOOD_DRAIN: Duration = Duration::from_secs(2);

/// Small buffers: an idle socket costs kilobytes, not tungstenite's default 128 KiB read
/// buffer (STYLE.md). Frames from clients are tiny subscribe requests.
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096)
        .max_write_buffer_size(65536)
        .max_message_size(Some(64 << 10))
        .max_frame_size(Some(64 << 10))
}

/// Who the connection belongs to, which decides what `home` means.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub user_id: i64,
}

/// Everything a socket task needs.
pub struct Connection {
    pub hub: Hub,
    pub store: Store,
    pub reader: Option<Reader>,
    /// The stream named in the URL, subscribed before anything else.
    pub initial: Option<(StreamName, Option<i64>)>,
    /// This socket's place under the caps on open streams, or why it has none.
    pub slot: Result<Slot, Refusal>,
}

/// A token bucket: [`FRAMES_PER_SECOND`] on average, [`FRAME_BURST`] at once.
struct FrameBudget {
    tokens: f64,
    refilled: Instant,
}

impl FrameBudget {
    fn new() -> FrameBudget {
        FrameBudget {
            tokens: FRAME_BURST,
            refilled: Instant::now(),
        }
    }

    /// Takes one frame's token; `false` when the client is over its budget.
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * FRAMES_PER_SECOND;
        self.tokens = (self.tokens + earned).min(FRAME_BURST);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

enum Stop {
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
}

type SinkHalf = SplitSink<WebSocketStream, Message>;

/// The write half with the socket's kick signal, so every write gives up at once when the
/// socket is kicked (a peer that stopped reading blocks the write).
struct Writer<'a, 'n> {
    sink: &'a mut SinkHalf,
    kicked: std::pin::Pin<&'a mut tokio::sync::futures::Notified<'n>>,
}

impl Writer<'_, '_> {
    async fn write(&mut self, message: Message) -> Result<(), Stop> {
        tokio::select! {
            sent = self.sink.send(message) => sent.map_err(|_| Stop::Gone),
            _ = self.kicked.as_mut() => Err(Stop::TooSlow),
            _ = tokio::time::sleep(WRITE_TIMEOUT) => Err(Stop::TooSlow),
        }
    }
}

/// Counts a stream in `minitwit_ws_connections{transport}` for as long as it lives.
pub struct Gauge(prometheus::IntGauge);

impl Gauge {
    pub fn open(hub: &Hub, transport: &str) -> Gauge {
        let gauge = hub.metrics().ws_connections.with_label_values(&[transport]);
        gauge.inc();
        Gauge(gauge)
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Serves one upgraded websocket until it closes.
pub async fn run(ws: WebSocketStream, conn: Connection) {
    let hub = conn.hub.clone();
    if let Err(refusal) = &conn.slot {
        hub.metrics()
            .ws_refused_total
            .with_label_values(&[refusal.as_str()])
            .inc();
        let (mut sink, _) = ws.split();
        let reason = "too many open streams: try again later";
        let frame = Message::Close(Some((CloseCode::from(CLOSE_TRY_LATER), reason.into())));
        let _ = tokio::time::timeout(CLOSE_WAIT, sink.send(frame)).await;
        return;
    }
    let _gauge = Gauge::open(&hub, "websocket");
    let (handle, rx) = SocketHandle::new(hub.limits().queue_bound);
    let (mut sink, mut stream) = ws.split();
    let mut task = SocketTask {
        conn,
        handle,
        subs: Vec::new(),
    };
    let stop = task.serve(&mut sink, &mut stream, rx).await;
    let flooding = matches!(stop, Stop::Flooding);
    for sub in &task.subs {
        sub.close(&hub);
    }
    let close = match stop {
        Stop::TooSlow => Some((CLOSE_TOO_SLOW, "too slow: resume with since")),
        Stop::Shutdown => Some((1001, "server shutting down")),
        Stop::Idle => Some((1000, "idle")),
        Stop::Flooding => {
            hub.metrics()
                .ws_refused_total
                .with_label_values(&["flood"])
                .inc();
            Some((CLOSE_POLICY, "too many frames: at most 10 a second"))
        }
        Stop::Gone | Stop::PeerClosed => None,
    };
    if matches!(stop, Stop::PeerClosed) {
        // tungstenite queued the close reply; flushing it completes the handshake.
        let _ = tokio::time::timeout(CLOSE_WAIT, sink.close()).await;
    }
    if let Some((code, reason)) = close {
        let frame = Message::Close(Some((CloseCode::from(code), reason.into())));
        let _ = tokio::time::timeout(CLOSE_WAIT, sink.send(frame)).await;
    }
    if flooding {
        // The flood is still in the receive buffer: closing on it would send a reset that
        // discards our close frame at the client. Read it away until the client's close.
        let _ = tokio::time::timeout(FLOOD_DRAIN, async {
            while let Some(Ok(frame)) = stream.next().await {
                if matches!(frame, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

/// Completes when the server starts shutting down (or the hub is gone).
pub(super) async fn stopping(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

struct SocketTask {
    conn: Connection,
    handle: Arc<SocketHandle>,
    subs: Vec<Subscription>,
}

impl SocketTask {
    async fn serve(
        &mut self,
        sink: &mut SinkHalf,
        stream: &mut SplitStream<WebSocketStream>,
        mut rx: QueueReceiver,
    ) -> Stop {
        let hub = self.conn.hub.clone();
        let limits = hub.limits().clone();
        // Both futures are made once and stay registered: re-creating them on every
        // wake-up would re-register 10k sockets on shared waiter lists per message.
        let stopping = stopping(hub.shutdown_signal());
        tokio::pin!(stopping);
        let handle = self.handle.clone();
        let kicked = handle.kick_signal();
        tokio::pin!(kicked);
        let mut w = Writer { sink, kicked };
        let sink = &mut w;
        if let Some((name, since)) = self.conn.initial.take() {
            // Boxed: subscribing awaits database queries whose state would otherwise be
            // part of every idle socket's task, for its whole life.
            if let Err(stop) = Box::pin(self.subscribe(sink, name, since)).await {
                return stop;
            }
        }
        let mut last_heard = Instant::now();
        let mut budget = FrameBudget::new();
        let mut pings =
            tokio::time::interval_at(Instant::now() + limits.ping_interval, limits.ping_interval);
        loop {
            tokio::select! {
                biased;
                _ = &mut stopping => return Stop::Shutdown,
                _ = sink.kicked.as_mut() => return Stop::TooSlow,
                incoming = stream.next() => {
                    last_heard = Instant::now();
                    let is_frame = matches!(&incoming, Some(Ok(Message::Text(_) | Message::Binary(_))));
                    if is_frame && !budget.take() {
                        return Stop::Flooding;
                    }
                    let result = match incoming {
                        Some(Ok(Message::Text(text))) => Box::pin(self.on_frame(sink, &text)).await,
                        Some(Ok(Message::Close(_))) => Err(Stop::PeerClosed),
                        None | Some(Err(_)) => Err(Stop::Gone),
                        Some(Ok(Message::Binary(_))) => {
                            self.send(sink, error_frame("frames are JSON text")).await
                        }
                        // Pings are answered by tungstenite; pongs only prove liveness.
                        Some(Ok(_)) => Ok(()),
                    };
                    if let Err(stop) = result {
                        return stop;
                    }
                }
                outgoing = rx.recv() => {
                    let Some(outgoing) = outgoing else { return Stop::Gone };
                    if let Err(stop) = self.forward(sink, outgoing).await {
                        return stop;
                    }
                }
                _ = pings.tick() => {
                    if last_heard.elapsed() >= limits.idle_timeout {
                        return Stop::Idle;
                    }
                    if let Err(stop) = self.write(sink, Message::Ping(Vec::new())).await {
                        return stop;
                    }
                }
            }
        }
    }

    /// Sends a live message unless this stream's replay already sent it.
    async fn forward(&mut self, sink: &mut Writer<'_, '_>, outgoing: Outgoing) -> Result<(), Stop> {
        let Some(sub) = self.subs.iter_mut().find(|s| s.id == outgoing.sub) else {
            return Ok(()); // unsubscribed meanwhile
        };
        if !sub.wants(&outgoing) {
            return Ok(());
        }
        self.write(sink, Message::Text(outgoing.frame.to_string()))
            .await?;
        outgoing.record_sent(self.conn.hub.metrics());
        Ok(())
    }

    async fn on_frame(&mut self, sink: &mut Writer<'_, '_>, text: &str) -> Result<(), Stop> {
        match ClientFrame::parse(text) {
            Err(e) => self.send(sink, error_frame(&e)).await,
            Ok(ClientFrame::Subscribe { stream, since }) => match StreamName::parse(&stream) {
                Ok(name) => self.subscribe(sink, name, since).await,
                Err(e) => self.send(sink, error_frame(e)).await,
            },
            Ok(ClientFrame::Unsubscribe { stream }) => {
                if let Some(at) = self.subs.iter().position(|s| s.name == stream) {
                    self.subs.swap_remove(at).close(&self.conn.hub);
                }
                self.send(sink, unsubscribed_frame(&stream)).await
            }
        }
    }

    /// Registers the stream first, then replays from the database: anything committed
    /// meanwhile is both queued live and maybe in the replay, and the replayed ids drop
    /// the second copy. So replay joins live with no gap and no duplicate.
    async fn subscribe(
        &mut self,
        sink: &mut Writer<'_, '_>,
        name: StreamName,
        since: Option<i64>,
    ) -> Result<(), Stop> {
        let label = name.as_string();
        if self.subs.iter().any(|s| s.name == label) {
            return self.send(sink, subscribed_frame(&label)).await;
        }
        if self.subs.len() >= MAX_STREAMS {
            return self.send(sink, error_frame("too many streams")).await;
        }
        let reader = self.conn.reader.map(|r| r.user_id);
        let (hub, store) = (&self.conn.hub, &self.conn.store);
        let sub = match Subscription::open(hub, store, reader, &self.handle, &name).await {
            Ok(sub) => sub,
            Err(e) => return self.send(sink, error_frame(&e)).await,
        };
        self.subs.push(sub);
        self.send(sink, subscribed_frame(&label)).await?;
        if let Some(since) = since {
            self.replay(sink, &label, since).await?;
        }
        Ok(())
    }

    /// Sends the stream's messages after `since` (at most [`super::protocol::MAX_REPLAY`]),
    /// oldest first.
    async fn replay(
        &mut self,
        sink: &mut Writer<'_, '_>,
        label: &str,
        since: i64,
    ) -> Result<(), Stop> {
        let Some(sub) = self.subs.iter_mut().find(|s| s.name == label) else {
            return Ok(());
        };
        let messages = match sub.replay(&self.conn.store, since).await {
            Ok(messages) => messages,
            Err(e) => {
                tracing::warn!(error = %e, "cannot replay a stream");
                return self.send(sink, error_frame("cannot replay now")).await;
            }
        };
        for (_, frame) in messages {
            self.write(sink, Message::Text(frame)).await?;
            self.conn.hub.metrics().ws_messages_sent_total.inc();
        }
        Ok(())
    }

    async fn send(&self, sink: &mut Writer<'_, '_>, text: String) -> Result<(), Stop> {
        self.write(sink, Message::Text(text)).await
    }

    async fn write(&self, sink: &mut Writer<'_, '_>, message: Message) -> Result<(), Stop> {
        sink.write(message).await
    }
}
