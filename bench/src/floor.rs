//! The floor of the fan-out benchmark: a bare poem server that does only what fan-out
//! cannot avoid. One `tokio::sync::broadcast` of frames, a websocket per reader with the
//! same small tungstenite buffers as MiniTwit, the same subscribed and message frames,
//! and a post endpoint that builds each frame once — no database, no registry, no queue.
//! `bench fanout --floor` runs it as a child process (`bench floor-server`), so its RSS and
//! CPU are measured the way MiniTwit's are.
//!
//! It is also the floor of `bench scenario --floor`: it answers every simulator action
//! (register, tweet, follow, unfollow) the way a server with nothing to store would, by
//! parsing the request's JSON and its `?latest=` and answering 204.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use minitwit::realtime::protocol::{message_frame, subscribed_frame};
use minitwit::store::TimelineMessage;
use minitwit::streams::upgrade::websocket_config;
use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::web::websocket::{Message, WebSocket};
use poem::web::{Data, Json, Path, Query};
use poem::{get, handler, post, EndpointExt, IntoResponse, Response, Route, Server};
use tokio::sync::broadcast;

/// Frames buffered for a lagging reader before it skips (MiniTwit's queue bound).
const CHANNEL: usize = 256;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen.
    #[arg(long)]
    bind: SocketAddr,
}

#[derive(Clone)]
struct Floor {
    frames: broadcast::Sender<Arc<str>>,
    next_id: Arc<AtomicI64>,
    /// The simulator's last `latest`, kept as MiniTwit keeps it (in memory here).
    latest: Arc<AtomicI64>,
}

pub async fn run(args: Args) -> Result<(), String> {
    let floor = Floor {
        frames: broadcast::channel(CHANNEL).0,
        next_id: Arc::new(AtomicI64::new(1)),
        latest: Arc::new(AtomicI64::new(-1)),
    };
    let app = Route::new()
        .at("/ws", get(stream))
        .at("/readyz", get(ready))
        .at("/api/register", post(register))
        .at("/api/msgs/:username", post(publish))
        .at("/api/fllws/:username", post(follow))
        .data(floor);
    Server::new(TcpListener::bind(args.bind))
        .run(app)
        .await
        .map_err(|e| format!("floor server: {e}"))
}

#[handler]
fn ready() -> &'static str {
    "ready"
}

/// The simulator's `?latest=` on every action.
#[derive(serde::Deserialize)]
struct Latest {
    latest: Option<i64>,
}

impl Floor {
    fn record(&self, latest: &Latest) {
        if let Some(latest) = latest.latest {
            self.latest.store(latest, Ordering::Relaxed);
        }
    }
}

#[handler]
fn register(
    Query(latest): Query<Latest>,
    Json(_user): Json<serde_json::Value>,
    floor: Data<&Floor>,
) -> StatusCode {
    floor.record(&latest);
    StatusCode::NO_CONTENT
}

#[handler]
fn follow(
    Path(_username): Path<String>,
    Query(latest): Query<Latest>,
    Json(_change): Json<serde_json::Value>,
    floor: Data<&Floor>,
) -> StatusCode {
    floor.record(&latest);
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
struct Post {
    content: String,
}

/// Builds the frame once and hands the same bytes to every reader.
#[handler]
fn publish(
    Path(username): Path<String>,
    Query(latest): Query<Latest>,
    Json(post): Json<Post>,
    floor: Data<&Floor>,
) -> StatusCode {
    floor.record(&latest);
    let message = TimelineMessage {
        message_id: floor.next_id.fetch_add(1, Ordering::Relaxed),
        author_id: 1,
        username,
        email: String::new(),
        text: post.content,
        pub_date: 0,
    };
    let frame: Arc<str> = message_frame("public", &message, "", None).into();
    let _ = floor.frames.send(frame);
    StatusCode::NO_CONTENT
}

#[handler]
fn stream(ws: WebSocket, floor: Data<&Floor>) -> Response {
    let mut frames = floor.frames.subscribe();
    ws.config(websocket_config())
        .on_upgrade(move |socket| async move {
            let (mut sink, mut incoming) = socket.split();
            if sink
                .send(Message::Text(subscribed_frame("public")))
                .await
                .is_err()
            {
                return;
            }
            loop {
                tokio::select! {
                    frame = frames.recv() => match frame {
                        Ok(frame) => {
                            if sink.send(Message::Text(frame.to_string())).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    message = incoming.next() => match message {
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                        Some(Ok(_)) => {}
                    },
                }
            }
        })
        .into_response()
}
