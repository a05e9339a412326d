//! The socket limits of docs/protocol.md: a bare `/ws` subscribes with frames, a client flooding
//! frames or `since` replays is closed with 1008 without slowing anyone else, and the caps
//! on open streams per instance and per address refuse with 1013.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

use crate::common::{Backend, TestApp, TestDb};
use crate::realtime::client::{spawn_posts, ws_url, WsClient};

/// A server on a fresh SQLite database where alice posted `text`.
async fn alice_posted(text: &str) -> (TestDb, TestApp) {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    app.register("alice").await;
    app.tweet("alice", text).await;
    (db, app)
}

/// `minitwit_ws_refused_total{reason}`.
fn refused(app: &TestApp, reason: &str) -> u64 {
    app.state
        .metrics
        .ws_refused_total
        .with_label_values(&[reason])
        .get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_socket_subscribes_with_frames() {
    let (_db, app) = alice_posted("before").await;
    let mut ws = WsClient::connect(&app, "/ws", &[]).await;
    ws.expect_nothing(Duration::from_millis(200)).await;
    ws.send_json(json!({"type": "subscribe", "stream": "public", "since": 0}))
        .await;
    ws.expect_subscribed("public").await;
    assert_eq!(ws.contents(1).await, ["before"]);
    app.tweet("alice", "live").await;
    assert_eq!(ws.contents(1).await, ["live"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_socket_is_closed_with_1008_and_others_get_every_message() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    app.register("alice").await;
    let mut reader = WsClient::stream(&app, "public").await;
    let mut flood = WsClient::connect(&app, "/ws", &[]).await;
    let poster = spawn_posts(&app, "alice", (0..30).map(|i| format!("m{i}")).collect());
    // Each frame would be a database query (a user lookup, a replay).
    for i in 0..200 {
        let stream = if i % 2 == 0 { "user:alice" } else { "public" };
        let kind = if i % 4 < 2 {
            "subscribe"
        } else {
            "unsubscribe"
        };
        if flood
            .ws
            .send(tokio_tungstenite::tungstenite::Message::Text(
                json!({"type": kind, "stream": stream, "since": 0})
                    .to_string()
                    .into(),
            ))
            .await
            .is_err()
        {
            break; // closed already
        }
    }
    assert_eq!(flood.close_code().await, Some(CloseCode::Policy));
    poster.await.expect("poster");
    let expected: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
    assert_eq!(reader.contents(30).await, expected);
    assert_eq!(refused(&app, "flood"), 1);
    app.stop().await;
}

/// A socket that alternates `subscribe … since` and `unsubscribe` inside its frame budget
/// makes a replay query per subscribe: past its replay budget it is closed with 1008,
/// while another socket's live messages still arrive at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_flood_is_closed_with_1008_and_others_read_fast() {
    let (_db, app) = alice_posted("replayed").await;
    let mut reader = WsClient::stream(&app, "public").await;
    let mut flood = WsClient::connect(&app, "/ws", &[]).await;
    let started = tokio::time::Instant::now();
    // About 8 frames a second, under the 10 of the frame budget: 60 replays in 15 s.
    let flooding = tokio::spawn(async move {
        for _ in 0..60 {
            for kind in ["subscribe", "unsubscribe"] {
                let frame = json!({"type": kind, "stream": "public", "since": 0});
                if flood
                    .ws
                    .send(Message::Text(frame.to_string().into()))
                    .await
                    .is_err()
                {
                    return None;
                }
                let pause = tokio::time::Instant::now() + Duration::from_millis(125);
                while let Ok(frame) = tokio::time::timeout_at(pause, flood.ws.next()).await {
                    match frame {
                        Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                        Some(Ok(_)) => {}
                        _ => return None,
                    }
                }
            }
        }
        None
    });
    // Meanwhile the other socket reads every message at once.
    let mut slowest = Duration::ZERO;
    let mut sent = 0;
    while !flooding.is_finished() && started.elapsed() < Duration::from_secs(20) {
        let posted = tokio::time::Instant::now();
        app.tweet("alice", &format!("live {sent}")).await;
        let event = reader
            .next_event_within(Duration::from_secs(1))
            .await
            .expect("a live message within 1 s during the replay flood");
        assert_eq!(event["message"]["content"], format!("live {sent}"));
        slowest = slowest.max(posted.elapsed());
        sent += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let code = flooding.await.expect("flood task");
    assert_eq!(
        code,
        Some(CloseCode::Policy),
        "after {:?}",
        started.elapsed()
    );
    assert!(sent > 0);
    assert!(
        slowest < Duration::from_millis(500),
        "slowest live message {slowest:?}"
    );
    assert_eq!((refused(&app, "replays"), refused(&app, "flood")), (1, 0));
    app.stop().await;
}

/// Opens `/ws?stream=public` from source address `from` (any of 127.0.0.0/8).
async fn connect_from(app: &TestApp, from: [u8; 4]) -> WsClient {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(IpAddr::from(from), 0))
        .expect("bind a loopback source address");
    let tcp = socket.connect(app.addr).await.expect("connect");
    let (ws, _) = tokio_tungstenite::client_async(
        ws_url(app, "/ws?stream=public"),
        MaybeTlsStream::Plain(tcp),
    )
    .await
    .expect("handshake");
    WsClient { ws }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_past_the_caps_are_refused_with_1013() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| {
        s.max_sockets = 3;
        s.max_sockets_per_ip = 2;
    })
    .await;
    let mut first = connect_from(&app, [127, 0, 0, 1]).await;
    first.expect_subscribed("public").await;
    let mut second = connect_from(&app, [127, 0, 0, 1]).await;
    second.expect_subscribed("public").await;
    let mut third_same_ip = connect_from(&app, [127, 0, 0, 1]).await;
    assert_eq!(third_same_ip.close_code().await, Some(CloseCode::Again));

    let mut other_ip = connect_from(&app, [127, 0, 0, 2]).await;
    other_ip.expect_subscribed("public").await;
    let mut over_instance = connect_from(&app, [127, 0, 0, 3]).await;
    assert_eq!(over_instance.close_code().await, Some(CloseCode::Again));

    // A closed stream gives its place back.
    first.ws.close(None).await.expect("close");
    let _ = first.close_code().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from(&app, [127, 0, 0, 1]).await;
    again.expect_subscribed("public").await;

    assert_eq!(refused(&app, "max_sockets_per_ip"), 1);
    assert_eq!(refused(&app, "max_sockets"), 1);
    app.stop().await;
}
