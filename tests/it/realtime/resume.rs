//! Resuming a stream loses nothing (docs/delivery.md): the server hands every frame the
//! position its stream reached, and a client that resumes from it gets the hides and
//! unhides made while it was away and a message committed late with a lower id than the
//! last one it showed; an instance cut off from Redis still gets hides made on another.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::faults::Fault;
use crate::common::{self, Backend, TestApp, TestDb};
use crate::on_both_backends;
use crate::realtime::client::WsClient;
use crate::realtime::cluster::{shared_backends, two_instances_a_behind_a_redis_proxy};
use crate::realtime::sse::SseClient;

/// The position a frame says its stream reached.
fn position(event: &Value) -> String {
    event["position"]
        .as_str()
        .unwrap_or_else(|| panic!("a position in {event}"))
        .to_owned()
}

/// The next message event's (content, id, position).
async fn message(ws: &mut WsClient) -> (String, i64, String) {
    let event = ws.next_event().await;
    assert_eq!(event["event"], "message", "{event}");
    let (_, _, content, id) = crate::realtime::client::as_tuple(&event);
    (content, id, position(&event))
}

async fn hide(app: &TestApp, id: i64, hidden: bool) {
    minitwit::actions::moderation::set_hidden(&app.state, id, hidden)
        .await
        .expect("hide or show");
}

async fn a_resume_gets_the_hides_and_unhides_made_while_away(app: TestApp) {
    assert_eq!(app.register("alice").await.status(), 204);
    let mut ws = WsClient::stream(&app, "public").await;
    for text in ["one", "two"] {
        assert_eq!(app.tweet("alice", text).await.status(), 204);
    }
    let (_, one, _) = message(&mut ws).await;
    let (_, _, away_at) = message(&mut ws).await;
    drop(ws);

    // Away: "one" is hidden and "three" posted.
    hide(&app, one, true).await;
    assert_eq!(app.tweet("alice", "three").await.status(), 204);

    let path = format!("/ws?stream=public&since={away_at}");
    let mut ws = WsClient::connect(&app, &path, &[]).await;
    ws.expect_subscribed("public").await;
    let delete = ws.next_event().await;
    assert_eq!(
        (&delete["event"], &delete["id"]),
        (&json!("delete"), &json!(one)),
        "{delete}"
    );
    let (three, _, back_at) = message(&mut ws).await;
    assert_eq!(three, "three");
    ws.expect_nothing(Duration::from_millis(300)).await;

    // The same over server-sent events, resuming with Last-Event-ID.
    let mut sse = SseClient::open(&app, "stream=public", &[("Last-Event-ID", &away_at)]).await;
    let event = sse.next().await;
    assert_eq!(event.event.as_deref(), Some("delete"), "{event:?}");
    let frame: Value = serde_json::from_str(&event.data).expect("json");
    assert_eq!(frame["id"], json!(one));
    assert_eq!(event.id.as_deref(), Some(position(&frame).as_str()));
    assert_eq!(sse.message().await.1, "three");
    drop(ws);
    drop(sse);

    // Away again: "one" is shown again, and comes back on resume.
    hide(&app, one, false).await;
    let path = format!("/ws?stream=public&since={back_at}");
    let mut ws = WsClient::connect(&app, &path, &[]).await;
    ws.expect_subscribed("public").await;
    let (content, id, _) = message(&mut ws).await;
    assert_eq!((content.as_str(), id), ("one", one));
    ws.expect_nothing(Duration::from_millis(300)).await;
}

async fn a_message_shown_again_comes_back_live(app: TestApp) {
    assert_eq!(app.register("alice").await.status(), 204);
    let mut ws = WsClient::stream(&app, "user:alice").await;
    assert_eq!(app.tweet("alice", "wrongly hidden").await.status(), 204);
    let (_, id, _) = message(&mut ws).await;
    hide(&app, id, true).await;
    assert_eq!(ws.next_event().await["event"], "delete");
    hide(&app, id, false).await;
    let (content, again, _) = message(&mut ws).await;
    assert_eq!((content.as_str(), again), ("wrongly hidden", id));
    ws.expect_nothing(Duration::from_millis(300)).await;
}

on_both_backends!(
    a_resume_gets_the_hides_and_unhides_made_while_away,
    a_message_shown_again_comes_back_live
);

/// A message whose insert commits after a higher id was shown (its transaction held open
/// here) reaches a client that reconnected meanwhile. PostgreSQL only: SQLite has one
/// writer, so no higher id can commit while the insert is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_committed_late_reaches_a_client_that_resumed() {
    use sea_orm::{ConnectionTrait, Database, Statement, TransactionTrait};
    let Some(backend) = Backend::postgres_or_skip("the late-commit resume test") else {
        return;
    };
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db.url).await;
    assert_eq!(app.register("alice").await.status(), 204);
    let alice = app
        .state
        .store
        .user_id_by_name("alice")
        .await
        .expect("lookup")
        .expect("alice");
    let mut ws = WsClient::stream(&app, "public").await;

    let conn = Database::connect(&db.url).await.expect("connect");
    let txn = conn.begin().await.expect("begin");
    let late = txn
        .query_one(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!(
                "INSERT INTO messages (author_id, text, pub_date, flagged) \
                 VALUES ({alice}, 'committed late', 0, false) RETURNING message_id"
            ),
        ))
        .await
        .expect("insert")
        .expect("a row")
        .try_get::<i64>("", "message_id")
        .expect("id");
    assert_eq!(app.tweet("alice", "committed first").await.status(), 204);
    let (content, id, shown_at) = message(&mut ws).await;
    assert_eq!(content, "committed first");
    assert!(id > late);
    drop(ws);
    txn.commit().await.expect("commit");

    let path = format!("/ws?stream=public&since={shown_at}");
    let mut ws = WsClient::connect(&app, &path, &[]).await;
    ws.expect_subscribed("public").await;
    let mut got = Vec::new();
    while let Some(event) = ws.next_event_within(Duration::from_secs(3)).await {
        got.push(crate::realtime::client::as_tuple(&event).2);
    }
    assert!(
        got.iter().any(|c| c == "committed late"),
        "resumed from {shown_at}, got {got:?}"
    );
    let _ = conn.close().await;
    app.stop().await;
    db.drop_db().await;
}

/// Expects exactly one `delete` of `id` on each of A's clients within `within`, then
/// nothing more for a while.
async fn two_instances_hide_while_a_is_cut_off(hidden: bool) {
    let Some(redis) = shared_backends("the hide-during-outage test") else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b, proxy) = two_instances_a_behind_a_redis_proxy(&db.url, &redis).await;
    assert_eq!(b.register("author").await.status(), 204);
    assert_eq!(b.tweet("author", "contested").await.status(), 204);
    let id = b.state.store.newest_ids().await.expect("newest").message;
    if !hidden {
        // The unhide case starts from a hidden message, and from A knowing it.
        hide(&b, id, true).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while a.state.hub.position().change < Some(1) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "A never heard of the hide"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // A's clients show where the message stands now.
    let mut ws = WsClient::connect(&a, "/ws?stream=public&since=0", &[]).await;
    ws.expect_subscribed("public").await;
    let mut sse = SseClient::open(&a, "stream=public&since=0", &[]).await;
    if hidden {
        assert_eq!(message(&mut ws).await.1, id);
        assert_eq!(sse.message().await.1, "contested");
    }

    proxy.set(Fault::Cut);
    hide(&b, id, hidden).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.set(Fault::None);

    let expected = if hidden { "delete" } else { "message" };
    let event = ws.next_event().await;
    assert_eq!(event["event"], expected, "{event}");
    let got = event["id"].as_i64().or(event["message"]["id"].as_i64());
    assert_eq!(got, Some(id), "{event}");
    let event = sse.next().await;
    assert_eq!(event.event.as_deref(), Some(expected), "{event:?}");
    // Exactly once, also after the bus is back.
    ws.expect_nothing(Duration::from_secs(2)).await;
    sse.expect_nothing(Duration::from_millis(500)).await;
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hide_on_b_reaches_a_cut_off_from_redis_once() {
    two_instances_hide_while_a_is_cut_off(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhide_on_b_reaches_a_cut_off_from_redis_once() {
    two_instances_hide_while_a_is_cut_off(false).await;
}
