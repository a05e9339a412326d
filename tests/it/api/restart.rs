//! Restart: latest and messages survive a stop and a start on the same database.

use crate::common::{self, Backend, TestApp, TestDb};
use crate::on_both_backends;

async fn state_survives_restart(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db.url).await;
    app.post_api(
        "/register?latest=1",
        serde_json::json!({"username": "alice", "email": "a@a", "pwd": "p"}),
    )
    .await;
    assert_eq!(app.tweet("alice", "before restart").await.status(), 204);
    assert_eq!(app.get_api("/msgs?latest=42").await.status(), 200);
    app.stop().await;

    let app = TestApp::start(&db.url).await;
    assert_eq!(app.latest().await, 42);
    let messages: serde_json::Value = app.get_api("/msgs/alice").await.json().await.expect("JSON");
    assert_eq!(messages[0]["content"], "before restart");
    // The account survives too: a second registration of the name is refused.
    assert_eq!(app.register("alice").await.status(), 400);
    app.stop().await;
    db.drop_db().await;
}

on_both_backends!(backend: state_survives_restart);
