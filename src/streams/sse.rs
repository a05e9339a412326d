//! A stream as server-sent events, for clients and proxies without websockets: MiniTwit's
//! `/sse` (docs/protocol.md: each message is `id: N`, `event: message`, `data: <the
//! websocket frame>`; a hidden one is `event: delete`) and Mastodon's, each in its
//! dialect (`super::dialect`). Same subscriptions, replay, caps and metrics as a
//! websocket. `Last-Event-ID` (or `?since=`) resumes like `since`, and a comment keeps the
//! connection alive every ping interval (25 s). A reader that falls behind is cut off (a
//! browser reconnects by itself with `Last-Event-ID`); a `home` whose login ended (logout,
//! expiry, a revoked token) ends.

use std::time::Duration;

use poem::{Body, Request, Response};
use tokio::sync::{mpsc, oneshot};

use super::dialect::{self, SseDialect};
use super::reader::{Gauge, Reader};
use super::refusal;
use super::start::client_bucket;
use crate::realtime::protocol::{Position, StreamName};
use crate::realtime::queue::{count_written, Signal};
use crate::realtime::runtime;
use crate::realtime::slots::Slot;
use crate::realtime::subscription::Subscription;
use crate::realtime::Hub;
use crate::state::AppState;

/// The keep-alive comment.
const KEEP_ALIVE_COMMENT: &str = ": keep-alive\n\n";
/// Events buffered between the stream task and the response body.
const BODY_BUFFER: usize = 16;
/// How long one event may wait for the client to read before the stream is cut off.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What an SSE response streams, checked by its route.
pub struct SseOpen {
    pub reader: Option<Reader>,
    pub name: StreamName,
    pub since: Option<Position>,
    pub dialect: SseDialect,
    /// Its transport label in `minitwit_ws_connections`.
    pub transport: &'static str,
}

/// Takes the stream's slot under the caps (503 past them) and answers with the event
/// stream once it is registered.
pub async fn respond(req: &Request, state: &AppState, opened: SseOpen) -> Response {
    let slot = match state.hub.slots().take(client_bucket(req, state)) {
        Ok(slot) => slot,
        Err(refusal) => {
            state
                .metrics
                .ws_refused_total
                .with_label_values(&[refusal.as_str()])
                .inc();
            return refusal::too_many_streams();
        }
    };
    let (tx, rx) = mpsc::channel(BODY_BUFFER);
    let stream = SseStream {
        hub: state.hub.clone(),
        reader: opened.reader,
        name: opened.name,
        since: opened.since,
        dialect: opened.dialect,
        transport: opened.transport,
        _slot: slot,
    };
    // On the socket runtime, like websockets; if it is gone the stream just ends.
    let (subscribed, registered) = oneshot::channel();
    drop(runtime::handle().spawn(stream.run(tx, subscribed)));
    // Answered once the stream is registered, so a message posted after the client saw
    // the 200 reaches it (whether registering worked or not, the body tells).
    let _ = registered.await;
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|event| (Ok::<_, std::io::Error>(event), rx))
    });
    Response::builder()
        .content_type("text/event-stream")
        .header("Cache-Control", "no-cache")
        // nginx must pass each event on at once, not buffer the response.
        .header("X-Accel-Buffering", "no")
        .body(Body::from_bytes_stream(body))
}

/// One SSE response's subscription, fed to its body through a channel.
struct SseStream {
    hub: Hub,
    reader: Option<Reader>,
    name: StreamName,
    since: Option<Position>,
    dialect: SseDialect,
    transport: &'static str,
    /// Holds this stream's place under the caps until it ends.
    _slot: Slot,
}

impl SseStream {
    /// Feeds `tx`; `subscribed` is told once the stream is registered with the hub.
    async fn run(self, tx: mpsc::Sender<String>, subscribed: oneshot::Sender<()>) {
        let hub = self.hub.clone();
        let _gauge = Gauge::open(&hub, self.transport);
        let dialect = dialect::sse(&self.dialect);
        let mut rx = hub.open_queue();
        let reader = self.reader.as_ref().map(|r| r.user_id);
        let format = dialect.format().clone();
        let mut sub = match Subscription::open(&hub, reader, rx.handle(), self.name, format).await {
            Ok(sub) => sub,
            Err(e) => {
                let _ = tx.send(dialect.error(&e)).await;
                return;
            }
        };
        // A `home` ends with the session's login (`crate::realtime::logins`): the body
        // finishes.
        let _login = match (&sub.name, self.reader.and_then(|r| r.login)) {
            (StreamName::Home, Some(login)) => Some(hub.logins().hold(&login, rx.handle())),
            _ => None,
        };
        let _ = subscribed.send(());
        let metrics = hub.metrics().clone();
        let replay = match self.since {
            Some(since) => sub.replay(since, &hub).await,
            None => Ok(Vec::new()),
        };
        match replay {
            Ok(messages) => {
                for replayed in messages {
                    let event = dialect.event(replayed.position, replayed.kind, &replayed.frame);
                    if !emit(&tx, event).await {
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
                _ = tx.closed() => break,
                // The queue also says when the server stops, when the reader fell too far
                // behind (the stream ends; the browser resumes by itself) and when to send
                // a keep-alive comment (as often as websockets are pinged).
                next = rx.recv() => {
                    let outgoing = match next {
                        Ok(outgoing) => outgoing,
                        Err(Signal::KeepAlive) => {
                            if !emit(&tx, KEEP_ALIVE_COMMENT.to_owned()).await {
                                break;
                            }
                            continue;
                        }
                        Err(Signal::Shutdown | Signal::TooSlow | Signal::LoggedOut) => break,
                    };
                    if !sub.wants(&outgoing) {
                        continue;
                    }
                    let event = dialect.event(outgoing.position, outgoing.kind, &outgoing.frame);
                    if !emit(&tx, event).await {
                        break;
                    }
                    count_written(&metrics, outgoing.at_us);
                }
            }
        }
        // Dropping `sub` unregisters it.
    }
}

/// Hands `event` to the response body; `false` when the client is gone or has not read
/// for [`WRITE_TIMEOUT`].
async fn emit(tx: &mpsc::Sender<String>, event: String) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, tx.send(event)).await,
        Ok(Ok(()))
    )
}
