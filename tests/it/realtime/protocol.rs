//! The protocol edges: refused upgrades are clear 4xx, subscribe/unsubscribe frames, bad
//! frames answered with an error event, pings, and the idle timeout.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{Backend, TestApp, TestDb, SIM_AUTH};
use crate::realtime::client::{refused_status, SilentPeer, WsClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_upgrades_are_clear_4xx() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    app.register("alice").await;
    assert_eq!(refused_status(&app, "/ws?stream=home", None).await, 401);
    assert_eq!(
        refused_status(&app, "/ws?stream=user:a%00b", None).await,
        400
    );
    assert_eq!(
        refused_status(&app, "/ws?stream=everything", None).await,
        400
    );
    assert_eq!(refused_status(&app, "/ws?stream=user:", None).await, 400);
    assert_eq!(
        refused_status(&app, "/ws?stream=user:ghost", None).await,
        404
    );
    assert_eq!(
        refused_status(&app, "/ws?stream=public&since=x", None).await,
        400
    );
    assert_eq!(
        refused_status(&app, "/ws?stream=public&since=-1", None).await,
        400
    );
    // The simulator's stream: 403 without (or with a wrong) credential, as the API.
    assert_eq!(
        refused_status(&app, "/api/stream?user=alice", None).await,
        403
    );
    let wrong = "Basic c2ltdWxhdG9yOndyb25n";
    assert_eq!(
        refused_status(&app, "/api/stream?user=alice", Some(wrong)).await,
        403
    );
    assert_eq!(
        refused_status(&app, "/api/stream?user=ghost", Some(SIM_AUTH)).await,
        404
    );
    assert_eq!(
        refused_status(&app, "/api/stream", Some(SIM_AUTH)).await,
        400
    );
    // A plain GET (no upgrade) is refused too, not a 500.
    let res = app
        .http
        .get(app.url("/ws?stream=public"))
        .send()
        .await
        .expect("get");
    assert!(res.status().is_client_error(), "{}", res.status());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_and_unsubscribe_frames_change_what_a_socket_gets() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    for name in ["alice", "bob"] {
        app.register(name).await;
    }
    let mut ws = WsClient::stream(&app, "public").await;
    ws.send_json(json!({"type": "subscribe", "stream": "user:bob"}))
        .await;
    ws.expect_subscribed("user:bob").await;
    app.tweet("bob", "b1").await;
    let got = ws.messages(2).await;
    let mut streams: Vec<&str> = got.iter().map(|m| m.0.as_str()).collect();
    streams.sort();
    assert_eq!(streams, ["public", "user:bob"]);
    assert!(got.iter().all(|m| m.2 == "b1"));

    ws.send_json(json!({"type": "unsubscribe", "stream": "public"}))
        .await;
    assert_eq!(
        ws.next_event().await,
        json!({"event": "unsubscribed", "stream": "public"})
    );
    app.tweet("alice", "a1").await;
    app.tweet("bob", "b2").await;
    assert_eq!(
        ws.messages(1).await[0],
        ("user:bob".into(), "bob".into(), "b2".into(), got[0].3 + 2)
    );

    // Subscribing with since replays that stream.
    ws.send_json(json!({"type": "subscribe", "stream": "user:alice", "since": 0}))
        .await;
    ws.expect_subscribed("user:alice").await;
    assert_eq!(ws.contents(1).await, ["a1"]);

    // Bad frames get an error event and the socket stays usable.
    for bad in [
        json!({"type": "dance"}),
        json!({"type": "subscribe", "stream": "nope"}),
        json!({"type": "subscribe", "stream": "user:ghost"}),
        json!({"type": "subscribe", "stream": "home"}),
    ] {
        ws.send_json(bad.clone()).await;
        let event = ws.next_event().await;
        assert_eq!(event["event"], "error", "{bad} -> {event}");
        assert!(event["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    app.tweet("bob", "b3").await;
    assert_eq!(ws.contents(1).await, ["b3"]);
    app.stop().await;
}

/// With a 1 s ping and a 2 s idle timeout: a reading client stays connected and sees
/// pings; a client that never reads (so never answers them) is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_keep_readers_alive_and_silent_peers_are_closed() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| {
        s.ws_ping_secs = 1;
        s.ws_idle_secs = 2;
    })
    .await;
    app.register("alice").await;
    let mut reader = WsClient::stream(&app, "public").await;
    let mut silent = SilentPeer::connect(&app, "/ws?stream=public").await;

    // The reader polls (answering pings) for 4 s and counts them.
    let pings = pings_within(&mut reader, Duration::from_secs(4)).await;
    assert!(pings >= 2, "{pings} pings in 4 s");
    app.tweet("alice", "still here").await;
    assert_eq!(reader.contents(1).await, ["still here"]);

    // The silent one was closed for idleness meanwhile (a few pings may precede the close).
    assert_eq!(silent.close_code().await, Some(CloseCode::Normal));
    app.stop().await;
}

/// Reads `client` (so its pings are answered) for `window`, counting pings; anything
/// else arriving fails the test.
async fn pings_within(client: &mut WsClient, window: Duration) -> usize {
    let mut pings = 0;
    let until = tokio::time::Instant::now() + window;
    while let Ok(frame) = tokio::time::timeout_at(until, client.ws.next()).await {
        match frame {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("got {other:?} while waiting for pings"),
        }
    }
    pings
}

/// Stopping the server closes open streams with 1001 ("going away") rather than leaving
/// them hanging, so clients reconnect to another replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_closes_streams_with_going_away() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    let mut ws = WsClient::stream(&app, "public").await;
    let stopping = tokio::spawn(app.stop());
    assert_eq!(ws.close_code().await, Some(CloseCode::Away));
    tokio::time::timeout(Duration::from_secs(15), stopping)
        .await
        .expect("the server stops")
        .expect("stop task");
}

/// A socket that has not subscribed to anything yet is looked after like any other: it is
/// pinged, closed when its peer stays silent, and told with 1001 when the server stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_socket_is_pinged_closed_when_silent_and_told_when_the_server_stops() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| {
        s.ws_ping_secs = 1;
        s.ws_idle_secs = 2;
    })
    .await;
    let mut silent = SilentPeer::connect(&app, "/ws").await;
    let mut reader = WsClient::connect(&app, "/ws", &[]).await;

    // The reader polls (answering pings) for 4 s and counts them.
    let pings = pings_within(&mut reader, Duration::from_secs(4)).await;
    assert!(pings >= 2, "{pings} pings in 4 s");
    assert_eq!(silent.close_code().await, Some(CloseCode::Normal));

    let stopping = tokio::spawn(app.stop());
    assert_eq!(reader.close_code().await, Some(CloseCode::Away));
    tokio::time::timeout(Duration::from_secs(15), stopping)
        .await
        .expect("the server stops")
        .expect("stop task");
}

/// Websocket connects are limited per client IP (README.md, "Limits"): past the budget, a 429 with
/// `Retry-After` before any upgrade; the simulator's `/api/stream` is not limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connects_are_rate_limited_per_ip() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| s.ws_connects_per_minute = 3).await;
    app.register("alice").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(WsClient::stream(&app, "public").await);
    }
    let request = crate::realtime::client::ws_url(&app, "/ws?stream=public");
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 429);
            assert!(res.headers().contains_key("retry-after"));
        }
        other => panic!("the 4th connect was not refused: {:?}", other.map(|_| ())),
    }
    assert_eq!(
        app.state
            .metrics
            .rate_limited_total
            .with_label_values(&["ws_connect"])
            .get(),
        1
    );
    for _ in 0..3 {
        WsClient::home_of(&app, "alice").await;
    }
    // The sockets already open are unaffected.
    app.tweet("alice", "still live").await;
    for ws in &mut open {
        assert_eq!(ws.contents(1).await, ["still live"]);
    }
    app.stop().await;
}
