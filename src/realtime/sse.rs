//! `GET /sse?stream=S`: the streams of SPEC §4 as server-sent events, for clients and
//! proxies without websockets. Same subscriptions, replay, caps and metrics as `/ws`:
//! each message is `id: N`, `event: message`, `data: <the websocket frame>`; a hidden one
//! is `event: delete`. `Last-Event-ID` (or `?since=`) resumes like `since`, and a comment
//! keeps the connection alive every 25 s. A reader that falls behind is cut off (its
//! browser reconnects by itself with `Last-Event-ID`).

use std::time::Duration;

use poem::http::StatusCode;
use poem::session::Session;
use poem::web::sse::{Event as SseEvent, SSE};
use poem::web::Data;
use poem::{handler, IntoResponse, Request, Response};
use tokio::sync::mpsc;

use super::protocol::{avatar_url, message_frame, StreamName};
use super::registry::SocketHandle;
use super::routes::{plain, stream_request};
use super::slots::Slot;
use super::socket::{stopping, Gauge, Reader};
use super::subscription::Subscription;
use super::Hub;
use crate::limits::client_ip;
use crate::state::AppState;
use crate::store::Store;

/// How often an idle stream gets a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(25);
/// Events buffered between the stream task and the response body.
const BODY_BUFFER: usize = 16;
/// How long one event may wait for the client to read before the stream is cut off.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET /sse?stream=S[&since=ID]` (`Last-Event-ID: ID` wins over `since`).
#[handler]
pub async fn sse_stream(req: &Request, session: &Session, state: Data<&AppState>) -> Response {
    let asked = match stream_request(req, session, &state, Some("last-event-id")).await {
        Ok(asked) => asked,
        Err(refused) => return refused,
    };
    let Some(name) = asked.name else {
        return plain(
            StatusCode::BAD_REQUEST,
            "stream is required: ?stream=public",
        );
    };
    let address = client_ip(req, &state.settings.trusted_proxies);
    let slot = match state.hub.slots().take(address) {
        Ok(slot) => slot,
        Err(refusal) => {
            state
                .metrics
                .ws_refused_total
                .with_label_values(&[refusal.as_str()])
                .inc();
            return Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .header("Retry-After", "5")
                .content_type("text/plain; charset=utf-8")
                .body("too many open streams: try again later");
        }
    };
    let (tx, rx) = mpsc::channel(BODY_BUFFER);
    let stream = SseStream {
        hub: state.hub.clone(),
        store: state.store.clone(),
        reader: asked.reader,
        name,
        since: asked.since,
        _slot: slot,
    };
    // On the socket runtime, like websockets; if it is gone the stream just ends.
    drop(super::runtime::handle().spawn(stream.run(tx)));
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    });
    SSE::new(events).keep_alive(KEEP_ALIVE).into_response()
}

/// One SSE response's subscription, fed to its body through a channel.
struct SseStream {
    hub: Hub,
    store: Store,
    reader: Option<Reader>,
    name: StreamName,
    since: Option<i64>,
    /// Holds this stream's place under the caps until it ends.
    _slot: Slot,
}

impl SseStream {
    async fn run(self, tx: mpsc::Sender<SseEvent>) {
        let hub = self.hub.clone();
        let _gauge = Gauge::open(&hub, "sse");
        let (handle, mut rx) = SocketHandle::new(hub.limits().queue_bound);
        let reader = self.reader.map(|r| r.user_id);
        let mut sub = match Subscription::open(&hub, &self.store, reader, &handle, &self.name).await
        {
            Ok(sub) => sub,
            Err(e) => {
                let _ = tx.send(SseEvent::message(e).event_type("error")).await;
                return;
            }
        };
        let kicked = handle.kick_signal();
        tokio::pin!(kicked);
        let shutdown = stopping(hub.shutdown_signal());
        tokio::pin!(shutdown);
        let metrics = hub.metrics().clone();
        let replay = match self.since {
            Some(since) => sub.replay(&self.store, since).await,
            None => Ok(Vec::new()),
        };
        match replay {
            Ok(messages) => {
                for message in &messages {
                    let frame = message_frame(&sub.name, message, &avatar_url(&message.email));
                    let event = SseEvent::message(frame)
                        .event_type("message")
                        .id(message.message_id.to_string());
                    if !emit(&tx, event).await {
                        sub.close(&hub);
                        return;
                    }
                    metrics.ws_messages_sent_total.inc();
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot replay a stream"),
        }
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = kicked.as_mut() => break,
                _ = tx.closed() => break,
                outgoing = rx.recv() => {
                    let Some(outgoing) = outgoing else { break };
                    if !sub.wants(&outgoing) {
                        continue;
                    }
                    let mut event = SseEvent::message(outgoing.frame.to_string())
                        .event_type(outgoing.kind.as_str());
                    // A delete carries no id, so Last-Event-ID stays the newest message.
                    if outgoing.kind == super::registry::FrameKind::Message {
                        event = event.id(outgoing.id.to_string());
                    }
                    if !emit(&tx, event).await {
                        break;
                    }
                    metrics.ws_messages_sent_total.inc();
                    let delay_us = super::envelope::now_us() - outgoing.at_us;
                    metrics.fanout_delay_seconds.observe(delay_us.max(0) as f64 / 1e6);
                }
            }
        }
        sub.close(&hub);
    }
}

/// Hands `event` to the response body; `false` when the client is gone or has not read
/// for [`WRITE_TIMEOUT`].
async fn emit(tx: &mpsc::Sender<SseEvent>, event: SseEvent) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, tx.send(event)).await,
        Ok(Ok(()))
    )
}
