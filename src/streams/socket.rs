//! One task per websocket: subscriptions, `since` replay joined to the live feed, pings,
//! the idle timeout, the 4008 close of a reader that cannot keep up, the 1008 close of a
//! client that floods frames or replays (`budget`), and the 4001 close of a `home` whose
//! login ended (`logins`).

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use futures_util::future::Either;
use futures_util::sink::Send as SendFuture;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::budget::{FrameBudget, ReplayBudget};
use super::close::{self, Stop};
use super::dialect::{self, Command, SocketDialect, Wanted};
use super::reader::{Gauge, Reader};
use super::upgrade::{PendingSocket, Socket};
use crate::realtime::logins::LoginHold;
use crate::realtime::protocol::{Position, StreamName};
use crate::realtime::queue::{count_written, Outgoing, QueueReceiver, Signal};
use crate::realtime::slots::{Refusal, Slot};
use crate::realtime::subscription::Subscription;
use crate::realtime::Hub;

/// Streams one socket may hold at once, so one client cannot pile up subscriptions.
const MAX_STREAMS: usize = 16;
/// How long one frame may take to write (a replay's too) before the peer counts as too
/// slow and is closed with 4008.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a socket task needs.
pub struct Connection {
    pub hub: Hub,
    pub reader: Option<Reader>,
    /// The stream named in the URL, subscribed before anything else.
    pub initial: Option<Wanted>,
    /// This socket's place under the caps on open streams, or why it has none.
    pub slot: Result<Slot, Refusal>,
    /// The protocol its client speaks.
    pub dialect: SocketDialect,
    /// Its transport label in `minitwit_ws_connections`.
    pub transport: &'static str,
}

/// Serves one websocket, from its upgrade until it closes: the one task of an open
/// socket, on the socket runtime.
///
/// Built from combinators rather than as one `async fn`, so the task's future holds the
/// connection once: an `async fn` keeps its arguments for its whole life beside whatever
/// they were moved into, and every idle socket would carry both copies.
pub fn run(pending: PendingSocket, conn: Connection) -> impl Future<Output = ()> + Send {
    pending.open().then(move |ws| match (ws, conn.slot) {
        (None, _) => Either::Left(Either::Left(std::future::ready(()))),
        (Some(ws), Err(refusal)) => Either::Left(Either::Right(async move {
            close::refuse(ws, conn.hub.metrics(), refusal).await
        })),
        (Some(ws), Ok(slot)) => {
            let task = SocketTask {
                rx: conn.hub.open_queue(),
                _gauge: Gauge::open(&conn.hub, conn.transport),
                ws,
                hub: conn.hub,
                reader: conn.reader,
                initial: conn.initial.map(Box::new),
                subs: Vec::new(),
                home_login: None,
                dialect: conn.dialect,
                _slot: slot,
            };
            Either::Right(task.run())
        }
    })
}

/// One open socket. Kept small: an idle socket holds this, in the task it runs in, for
/// its whole life.
struct SocketTask {
    ws: Socket,
    /// This socket's queue of live frames and signals; the registry holds its other end.
    rx: QueueReceiver,
    hub: Hub,
    reader: Option<Reader>,
    /// The stream named in the URL, until it is subscribed (boxed: a pointer for the
    /// socket's life rather than the request itself).
    initial: Option<Box<Wanted>>,
    subs: Vec<Subscription>,
    /// Ties its `home` subscription to the session's login, which ends it (boxed: most
    /// sockets have none).
    home_login: Option<Box<LoginHold>>,
    /// The protocol its client speaks.
    dialect: SocketDialect,
    /// Holds this socket's place under the caps until it closes.
    _slot: Slot,
    _gauge: Gauge,
}

/// What woke an open socket.
enum Step {
    /// A live frame from its queue.
    Frame(Outgoing),
    /// Something from the peer; `None` when it went away or broke the protocol.
    Incoming(Option<Message>),
    /// Time for a ping, and to check the peer's silence.
    KeepAlive,
}

impl SocketTask {
    /// Not an `async fn`, which would hold the task twice (its argument, and the local
    /// that argument is moved into): the `async` block uses it where it was captured.
    #[allow(clippy::manual_async_fn)]
    fn run(mut self) -> impl Future<Output = ()> + Send {
        async move {
            let stop = self.serve().await;
            // Boxed: a closing socket's state, kept out of every open socket's task.
            Box::pin(self.close(stop)).await;
        }
    }

    async fn serve(&mut self) -> Stop {
        let mut replays = ReplayBudget::new();
        if let Some(wanted) = self.initial.take() {
            // Boxed: subscribing awaits database queries whose state would otherwise be
            // part of every idle socket's task, for its whole life.
            if let Err(stop) = Box::pin(self.subscribe(*wanted, &mut replays)).await {
                return stop;
            }
        }
        let mut last_heard = Instant::now();
        let mut budget = FrameBudget::new();
        loop {
            // The queue first: it also says when the server stops, when the reader is too
            // slow (before the frames still queued) and when to ping.
            let step = tokio::select! {
                biased;
                next = self.rx.recv() => match next {
                    Ok(outgoing) => Step::Frame(outgoing),
                    Err(Signal::Shutdown) => return Stop::Shutdown,
                    Err(Signal::TooSlow) => return Stop::TooSlow,
                    Err(Signal::LoggedOut) => return Stop::LoggedOut,
                    Err(Signal::KeepAlive) => Step::KeepAlive,
                },
                incoming = self.ws.next() => Step::Incoming(incoming.and_then(Result::ok)),
            };
            let result = match step {
                Step::Frame(outgoing) => {
                    let written = match self.forward(outgoing) {
                        Some((write, at_us)) => write.await.map(|()| Some(at_us)),
                        None => Ok(None),
                    };
                    if let Ok(Some(at_us)) = written {
                        count_written(self.hub.metrics(), at_us);
                    }
                    written.map(drop)
                }
                Step::Incoming(incoming) => {
                    last_heard = Instant::now();
                    match incoming {
                        None => Err(Stop::Gone),
                        Some(Message::Close(_)) => Err(Stop::PeerClosed),
                        Some(frame @ (Message::Text(_) | Message::Binary(_))) => {
                            if budget.take() {
                                // Boxed: it may subscribe (database queries), rarely runs.
                                Box::pin(self.on_frame(frame, &mut replays)).await
                            } else {
                                Err(Stop::Flooding)
                            }
                        }
                        // Pings are answered by tungstenite; pongs only prove liveness.
                        Some(_) => Ok(()),
                    }
                }
                Step::KeepAlive => {
                    if last_heard.elapsed() >= self.hub.limits().idle_timeout {
                        Err(Stop::Idle)
                    } else {
                        // Boxed: once per ping interval.
                        Box::pin(write(
                            &mut self.ws,
                            &self.rx,
                            Message::Ping(Default::default()),
                        ))
                        .await
                    }
                }
            };
            if let Err(stop) = result {
                return stop;
            }
        }
    }

    /// Unregisters the socket's streams and closes it the way `stop` says.
    async fn close(&mut self, stop: Stop) {
        // Dropping a subscription unregisters it: nothing more is queued for this socket
        // while it closes.
        self.subs.clear();
        close::close(&mut self.ws, self.hub.metrics(), stop).await;
    }

    /// The write of a live message, unless this stream's replay already sent it: the
    /// shared frame itself, with no copy per socket. Returns the write and the message's
    /// commit time (for the metrics once it is written), not a future that holds them:
    /// an `async` block would keep the write twice, as captured and as awaited.
    fn forward(
        &mut self,
        outgoing: Outgoing,
    ) -> Option<(impl Future<Output = Result<(), Stop>> + '_, i64)> {
        let wanted = match self.subs.iter_mut().find(|s| s.id == outgoing.sub) {
            Some(sub) => sub.wants(&outgoing),
            None => false, // unsubscribed meanwhile
        };
        let at_us = outgoing.at_us;
        wanted.then(|| {
            let message = Message::Text(outgoing.frame);
            (write(&mut self.ws, &self.rx, message), at_us)
        })
    }

    async fn on_frame(&mut self, frame: Message, replays: &mut ReplayBudget) -> Result<(), Stop> {
        let dialect = dialect::of(&self.dialect);
        let Message::Text(text) = frame else {
            return self.send_some(dialect.binary()).await;
        };
        match dialect.command(&text) {
            Err(e) => self.send(dialect.error(&e)).await,
            Ok(Command::Ignore) => Ok(()),
            Ok(Command::Subscribe(wanted)) => self.subscribe(wanted, replays).await,
            Ok(Command::Unsubscribe { raw, stream }) => {
                let held = stream
                    .and_then(|(name, format)| self.subs.iter().position(|s| s.is(&name, &format)));
                if let Some(at) = held {
                    let sub = self.subs.swap_remove(at);
                    if sub.name == StreamName::Home {
                        self.home_login = None;
                    }
                    // Dropping it unregisters it.
                    drop(sub);
                }
                self.send_some(dialect::of(&self.dialect).unsubscribed(&raw))
                    .await
            }
        }
    }

    /// Registers the stream first, then replays from the database: anything committed
    /// meanwhile is both queued live and maybe in the replay, and the replayed ids drop
    /// the second copy. So replay joins live with no gap and no duplicate. A replay takes
    /// one of `replays`; without one the socket is closed (1008).
    async fn subscribe(&mut self, wanted: Wanted, replays: &mut ReplayBudget) -> Result<(), Stop> {
        let Wanted {
            stream: name,
            format,
            since,
        } = wanted;
        let dialect = dialect::of(&self.dialect);
        if self.subs.iter().any(|s| s.is(&name, &format)) {
            return self.send_some(dialect.subscribed(&name)).await;
        }
        if self.subs.len() >= MAX_STREAMS {
            return self.send(dialect.error("too many streams")).await;
        }
        if since.is_some() && !replays.take() {
            return Err(Stop::Replaying);
        }
        let reader = self.reader.as_ref().map(|r| r.user_id);
        let sub = match Subscription::open(&self.hub, reader, self.rx.handle(), name, format).await
        {
            Ok(sub) => sub,
            Err(e) => return self.send(dialect.error(&e)).await,
        };
        if sub.name == StreamName::Home {
            if let Some(login) = self.reader.as_ref().and_then(|r| r.login.as_ref()) {
                // Untied before the new tie: both name this socket's queue.
                self.home_login = None;
                let hold = self.hub.logins().hold(login, self.rx.handle());
                self.home_login = Some(Box::new(hold));
            }
        }
        // Most sockets hold one stream: room for exactly that, not the four of a first push.
        self.subs.reserve_exact(1);
        let answer = dialect::of(&self.dialect).subscribed(&sub.name);
        self.subs.push(sub);
        self.send_some(answer).await?;
        if let Some(since) = since {
            self.replay(since).await?;
        }
        Ok(())
    }

    /// Sends the newest subscription's messages after `since` (at most
    /// [`crate::realtime::protocol::MAX_REPLAY`]), oldest first.
    async fn replay(&mut self, since: Position) -> Result<(), Stop> {
        let Some(sub) = self.subs.last_mut() else {
            return Ok(());
        };
        let messages = match sub.replay(since, &self.hub).await {
            Ok(messages) => messages,
            Err(e) => {
                tracing::warn!(error = %e, "cannot replay a stream");
                let answer = dialect::of(&self.dialect).error("cannot replay now");
                return self.send(answer).await;
            }
        };
        for replayed in messages {
            self.send(replayed.frame).await?;
            self.hub.metrics().ws_messages_sent_total.inc();
        }
        Ok(())
    }

    fn send(&mut self, text: String) -> impl Future<Output = Result<(), Stop>> + '_ {
        write(&mut self.ws, &self.rx, Message::Text(text.into()))
    }

    /// Sends `text` if there is one (a protocol without that answer has none).
    async fn send_some(&mut self, text: Option<String>) -> Result<(), Stop> {
        match text {
            Some(text) => self.send(text).await,
            None => Ok(()),
        }
    }
}

/// Writes one frame. Most writes complete at once (the socket's send buffer has room),
/// with no timer; one that waits gives up when the server stops or the socket is kicked,
/// or after [`WRITE_TIMEOUT`] (a peer that stopped reading blocks the write).
///
/// Not an `async fn`: that would keep `message` beside the send that owns it.
fn write<'a>(
    ws: &'a mut Socket,
    rx: &'a QueueReceiver,
    message: Message,
) -> impl Future<Output = Result<(), Stop>> + 'a {
    let mut send = ws.send(message);
    async move {
        if let Poll::Ready(sent) = futures_util::poll!(&mut send) {
            return sent.map_err(|_| Stop::Gone);
        }
        // Boxed: only a waiting write needs this state, not every idle socket's task.
        Box::pin(finish_write(send, rx)).await
    }
}

/// The rest of a write that could not complete at once.
async fn finish_write(
    send: SendFuture<'_, Socket, Message>,
    rx: &QueueReceiver,
) -> Result<(), Stop> {
    tokio::select! {
        sent = send => sent.map_err(|_| Stop::Gone),
        signal = rx.interrupted() => Err(match signal {
            Signal::Shutdown => Stop::Shutdown,
            Signal::LoggedOut => Stop::LoggedOut,
            _ => Stop::TooSlow,
        }),
        _ = tokio::time::sleep(WRITE_TIMEOUT) => Err(Stop::TooSlow),
    }
}
