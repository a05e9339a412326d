//! A reader that stops reading is cut off with 4008 and never slows the others.

use std::time::Duration;

use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::MaybeTlsStream;

use crate::common::{Backend, TestApp, TestDb};
use crate::realtime::client::{ws_url, WsClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_closed_with_4008_while_a_fast_reader_gets_every_post() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| s.ws_queue = 128).await;
    app.register("alice").await;

    // The stalled reader shrinks its receive window so the server's writes back up soon.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let tcp = socket.connect(app.addr).await.expect("connect");
    let (stalled, _) = tokio_tungstenite::client_async(
        ws_url(&app, "/ws?stream=public"),
        MaybeTlsStream::Plain(tcp),
    )
    .await
    .expect("handshake");
    let mut stalled = WsClient { ws: stalled };
    let mut fast = WsClient::stream(&app, "public").await;

    // Post until the server gives up on the stalled reader: the kernel's send buffer
    // (megabytes) fills first, then the server's write buffer, then its queue of 128.
    let text = "x".repeat(900);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<usize>();
    let reading = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut done_rx = done_rx;
        let mut total = None;
        loop {
            if total.is_some_and(|t| got.len() >= t) {
                return (fast, got);
            }
            tokio::select! {
                t = &mut done_rx, if total.is_none() => total = Some(t.expect("total")),
                m = fast.messages(1) => got.push(m[0].2.clone()),
            }
        }
    });
    let slow_kicks = &app.state.metrics.ws_slow_disconnects_total;
    let mut posts = 0;
    while slow_kicks.get() == 0 {
        assert!(posts < 20_000, "the stalled reader was never cut off");
        let res = app.tweet("alice", &format!("{posts} {text}")).await;
        assert_eq!(res.status(), 204);
        posts += 1;
    }
    // A few more after the cut: the fast reader must still get them all.
    for _ in 0..20 {
        assert_eq!(
            app.tweet("alice", &format!("{posts} {text}"))
                .await
                .status(),
            204
        );
        posts += 1;
    }
    done_tx.send(posts).expect("reader waits");
    let (mut fast, got) = reading.await.expect("fast reader");
    let numbers: Vec<usize> = got
        .iter()
        .map(|m| m.split(' ').next().expect("n").parse().expect("number"))
        .collect();
    assert_eq!(
        numbers,
        (0..posts).collect::<Vec<_>>(),
        "the fast reader got every post, in order"
    );
    assert_eq!(slow_kicks.get(), 1, "only the stalled reader was cut off");

    // The stalled reader now reads: what fitted in the buffers, then 4008.
    stalled.expect_subscribed("public").await;
    assert_eq!(stalled.close_code().await, Some(CloseCode::from(4008)));

    // The fast reader is still live.
    app.tweet("alice", "after").await;
    assert_eq!(fast.contents(1).await, ["after"]);
    fast.expect_nothing(Duration::from_millis(200)).await;
    app.stop().await;
}
