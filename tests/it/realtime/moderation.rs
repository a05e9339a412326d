//! A hidden message leaves open streams live (README.md, "Moderation"; docs/protocol.md, `delete`): every
//! `public`, `user:` and `home` stream that could show it gets `{"event":"delete"}`, on
//! this instance and on another one behind Redis; `since` replays skip it.

use std::time::Duration;

use serde_json::json;

use crate::common::{self, Backend, TestApp, TestDb};
use crate::on_both_backends;
use crate::realtime::client::WsClient;
use crate::realtime::cluster::{shared_backends, two_instances};

/// Opens `public`, `user:author` and reader's `home` on `app` (reader follows author).
async fn three_streams(app: &TestApp) -> Vec<WsClient> {
    vec![
        WsClient::stream(app, "public").await,
        WsClient::stream(app, "user:author").await,
        WsClient::home_of(app, "reader").await,
    ]
}

/// Expects the message `content` on each stream, then returns its id.
async fn receive(streams: &mut [WsClient], content: &str) -> i64 {
    let mut id = None;
    for ws in streams.iter_mut() {
        let got = ws.messages(1).await;
        assert_eq!(got[0].2, content);
        id = Some(got[0].3);
    }
    id.expect("at least one stream")
}

async fn expect_delete(streams: &mut [WsClient], id: i64) {
    for (ws, stream) in streams.iter_mut().zip(["public", "user:author", "home"]) {
        let mut event = ws.next_event().await;
        // Where the stream stands after it, for a resume (tests/it/realtime/resume.rs).
        assert!(event["position"].is_string(), "{event}");
        event["position"].take();
        assert_eq!(
            event,
            json!({"event": "delete", "stream": stream, "id": id, "position": null})
        );
    }
}

async fn hiding_sends_delete_to_every_stream_that_showed_it(app: TestApp) {
    for name in ["author", "reader"] {
        assert_eq!(app.register(name).await.status(), 204);
    }
    assert_eq!(app.follow("reader", "author").await.status(), 204);
    let mut streams = three_streams(&app).await;
    assert_eq!(app.tweet("author", "abusive").await.status(), 204);
    let id = receive(&mut streams, "abusive").await;

    minitwit::actions::moderation::set_hidden(&app.state, id, true)
        .await
        .expect("hide");
    expect_delete(&mut streams, id).await;

    // A reader resuming from before it does not get it back.
    let mut resumed = WsClient::connect(&app, "/ws?stream=public&since=0", &[]).await;
    resumed.expect_subscribed("public").await;
    assert_eq!(app.tweet("author", "fine").await.status(), 204);
    assert_eq!(resumed.contents(1).await, ["fine"]);
    // Showing it again sends it again, once, to every stream it belongs to.
    minitwit::actions::moderation::set_hidden(&app.state, id, false)
        .await
        .expect("show");
    for ws in &mut streams {
        assert_eq!(ws.contents(2).await, ["fine", "abusive"]);
        ws.expect_nothing(Duration::from_millis(300)).await;
    }
}

on_both_backends!(hiding_sends_delete_to_every_stream_that_showed_it);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hiding_on_one_instance_deletes_on_the_other() {
    let Some(redis) = shared_backends("the two-instance delete test") else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b) = two_instances(&db.url, &redis).await;
    for name in ["author", "reader"] {
        assert_eq!(b.register(name).await.status(), 204);
    }
    assert_eq!(b.follow("reader", "author").await.status(), 204);
    let mut on_a = three_streams(&a).await;
    assert_eq!(a.tweet("author", "abusive").await.status(), 204);
    let id = receive(&mut on_a, "abusive").await;

    minitwit::actions::moderation::set_hidden(&b.state, id, true)
        .await
        .expect("hide on B");
    expect_delete(&mut on_a, id).await;
    // A's cached public page learnt of it too.
    let page = a.http.get(a.url("/public")).send().await.expect("page");
    assert!(!page.text().await.expect("body").contains("abusive"));
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}
