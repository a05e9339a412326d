//! `/api/fllws/{username}`: list, follow (idempotent), unfollow, 400s and 404s.

use crate::common::{self, TestApp};
use crate::on_both_backends;
use serde_json::{json, Value};

async fn follows_of(app: &TestApp, path: &str) -> Vec<String> {
    let res = app.get_api(path).await;
    assert_eq!(res.status(), 200, "{path}");
    let body: Value = res.json().await.expect("JSON");
    body["follows"]
        .as_array()
        .expect("follows array")
        .iter()
        .map(|v| v.as_str().expect("name").to_owned())
        .collect()
}

async fn follow_is_idempotent_and_listed_once(app: TestApp) {
    for name in ["alice", "bob", "carol"] {
        app.register(name).await;
    }
    assert_eq!(follows_of(&app, "/fllws/alice").await, Vec::<String>::new());
    for _ in 0..3 {
        assert_eq!(app.follow("alice", "bob").await.status(), 204);
    }
    assert_eq!(app.follow("alice", "carol").await.status(), 204);
    let mut follows = follows_of(&app, "/fllws/alice").await;
    follows.sort();
    assert_eq!(follows, ["bob", "carol"]);
    assert_eq!(follows_of(&app, "/fllws/alice?no=1").await.len(), 1);
    assert_eq!(follows_of(&app, "/fllws/alice?no=0").await.len(), 0);
    assert_eq!(follows_of(&app, "/fllws/bob").await, Vec::<String>::new());
}

async fn unfollow_removes_and_tolerates_pairs_never_followed(app: TestApp) {
    for name in ["alice", "bob", "carol"] {
        app.register(name).await;
    }
    assert_eq!(app.unfollow("alice", "bob").await.status(), 204);
    app.follow("alice", "bob").await;
    app.follow("alice", "carol").await;
    assert_eq!(app.unfollow("alice", "bob").await.status(), 204);
    assert_eq!(app.unfollow("alice", "bob").await.status(), 204);
    assert_eq!(follows_of(&app, "/fllws/alice").await, ["carol"]);
}

async fn unknown_users_and_targets_are_404(app: TestApp) {
    app.register("alice").await;
    assert_eq!(app.get_api("/fllws/ghost").await.status(), 404);
    assert_eq!(app.follow("ghost", "alice").await.status(), 404);
    assert_eq!(app.follow("alice", "ghost").await.status(), 404);
    assert_eq!(app.unfollow("alice", "ghost").await.status(), 404);
    assert_eq!(follows_of(&app, "/fllws/alice").await, Vec::<String>::new());
}

async fn bodies_without_follow_or_unfollow_are_400(app: TestApp) {
    app.register("alice").await;
    app.register("bob").await;
    for body in [
        json!({}),
        json!({"other": "bob"}),
        json!({"follow": 3}),
        json!([]),
    ] {
        let res = app.post_api("/fllws/alice", body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.expect("JSON error");
        assert_eq!(err["status"], 400);
    }
}

on_both_backends!(
    follow_is_idempotent_and_listed_once,
    unfollow_removes_and_tolerates_pairs_never_followed,
    unknown_users_and_targets_are_404,
    bodies_without_follow_or_unfollow_are_400,
);
