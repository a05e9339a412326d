//! One commit per simulator action, and concurrent writes sharing commits (group commit).
//!
//! PostgreSQL tells how many transactions wrote: a statement trigger on the written tables
//! notes each writing transaction's id, so the count is exact and only this test's
//! database is counted. On both backends the operator's view is checked too:
//! `minitwit_db_writes_per_commit` counts the writer's commits and the writes they held.

use futures_util::future::join_all;

use crate::common::{self, TestApp};
use crate::on_both_backends;

/// Installs the transaction counter on a PostgreSQL test database.
async fn count_writing_transactions(app: &TestApp) {
    common::exec_sql(
        &app.db_url,
        r#"
        CREATE TABLE test_commits (xid bigint PRIMARY KEY);
        CREATE FUNCTION test_note_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO test_commits VALUES (pg_current_xact_id()::text::bigint)
                ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$;
        CREATE TRIGGER test_commits_messages AFTER INSERT OR UPDATE OR DELETE ON messages
            FOR EACH STATEMENT EXECUTE FUNCTION test_note_commit();
        CREATE TRIGGER test_commits_follows AFTER INSERT OR UPDATE OR DELETE ON follows
            FOR EACH STATEMENT EXECUTE FUNCTION test_note_commit();
        CREATE TRIGGER test_commits_latest AFTER INSERT OR UPDATE OR DELETE ON sim_latest
            FOR EACH STATEMENT EXECUTE FUNCTION test_note_commit();
        CREATE TRIGGER test_commits_users AFTER INSERT OR UPDATE OR DELETE ON users
            FOR EACH STATEMENT EXECUTE FUNCTION test_note_commit();
        "#,
    )
    .await;
}

async fn writing_transactions(app: &TestApp) -> i64 {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(&app.db_url).await.expect("connect");
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) AS n FROM test_commits",
        ))
        .await
        .expect("count")
        .expect("a row");
    let _ = db.close().await;
    row.try_get::<i64>("", "n").expect("n")
}

/// Each simulator action with `?latest=` is one commit: the action and its `latest`
/// together, or `latest` alone when the action is refused or only reads.
async fn each_simulator_action_is_one_commit(app: TestApp) {
    count_writing_transactions(&app).await;
    let before = writing_transactions(&app).await;
    let mut latest = 0;
    let mut next = || {
        latest += 1;
        latest
    };
    let mut actions = 0;
    for name in ["alice", "bob"] {
        let body = serde_json::json!({"username": name, "email": format!("{name}@x"), "pwd": "p"});
        let res = app
            .post_api(&format!("/register?latest={}", next()), body)
            .await;
        assert_eq!(res.status(), 204);
        actions += 1;
    }
    for i in 0..10 {
        let body = serde_json::json!({ "content": format!("hello {i}") });
        let res = app
            .post_api(&format!("/msgs/alice?latest={}", next()), body)
            .await;
        assert_eq!(res.status(), 204);
        actions += 1;
    }
    for key in ["follow", "unfollow", "follow", "follow", "unfollow"] {
        let body = serde_json::json!({ key: "bob" });
        let res = app
            .post_api(&format!("/fllws/alice?latest={}", next()), body)
            .await;
        assert_eq!(res.status(), 204);
        actions += 1;
    }
    // Refused or read-only: `latest` alone, still one commit each.
    let empty = serde_json::json!({ "content": "" });
    let res = app
        .post_api(&format!("/msgs/alice?latest={}", next()), empty)
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .get_api(&format!("/msgs/nobody?latest={}", next()))
        .await;
    assert_eq!(res.status(), 404);
    let res = app.get_api(&format!("/msgs?latest={}", next())).await;
    assert_eq!(res.status(), 200);
    let res = app
        .http
        .post(app.url(&format!("/api/msgs/alice?latest={}", next())))
        .json(&serde_json::json!({ "content": "no credential" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    actions += 4;

    let commits = writing_transactions(&app).await - before;
    assert_eq!(
        commits, actions,
        "{actions} simulator actions took {commits} commits"
    );
    assert_eq!(app.latest().await, latest);
    let res = app.get_api("/msgs/alice?no=100").await;
    let messages: Vec<serde_json::Value> = res.json().await.expect("json");
    assert_eq!(messages.len(), 10);
    let res = app.get_api("/fllws/alice").await;
    let follows: serde_json::Value = res.json().await.expect("json");
    assert_eq!(follows["follows"], serde_json::json!([]));
}

/// Posts and follows sent at once share commits, and every one acknowledged is stored.
async fn concurrent_writes_share_commits(app: TestApp) {
    register_burst_users(&app).await;
    count_writing_transactions(&app).await;
    let before = writing_transactions(&app).await;
    const POSTS: usize = 64;
    burst(&app, POSTS).await;
    let commits = writing_transactions(&app).await - before;
    assert!(
        commits < (POSTS as i64 + 1) / 2,
        "{} concurrent writes took {commits} commits",
        POSTS + 1
    );
    stored_exactly(&app, POSTS).await;
}

async fn register_burst_users(app: &TestApp) {
    for name in ["carol", "dave"] {
        assert_eq!(app.register(name).await.status(), 204);
    }
}

/// `posts` messages by carol and dave following carol, all sent at once, each with its own
/// `latest`; every one answered 204.
async fn burst(app: &TestApp, posts: usize) {
    let posts = (0..posts).map(|i| async move {
        let body = serde_json::json!({ "content": format!("burst {i}") });
        app.post_api(&format!("/msgs/carol?latest={}", 1000 + i), body)
            .await
            .status()
    });
    let follow = app.post_api(
        "/fllws/dave?latest=7",
        serde_json::json!({"follow": "carol"}),
    );
    let (statuses, follow) = tokio::join!(join_all(posts), follow);
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    assert_eq!(follow.status(), 204);
}

/// The burst's messages are all stored, each once, and the follow too.
async fn stored_exactly(app: &TestApp, posts: usize) {
    let res = app.get_api("/msgs/carol?no=1000").await;
    let messages: Vec<serde_json::Value> = res.json().await.expect("json");
    let mut texts: Vec<String> = messages
        .iter()
        .map(|m| m["content"].as_str().expect("content").to_owned())
        .collect();
    texts.sort();
    let mut expected: Vec<String> = (0..posts).map(|i| format!("burst {i}")).collect();
    expected.sort();
    assert_eq!(texts, expected);
    let res = app.get_api("/fllws/dave").await;
    let follows: serde_json::Value = res.json().await.expect("json");
    assert_eq!(follows["follows"], serde_json::json!(["carol"]));
    let latest = app.latest().await;
    assert!(
        latest == 7 || (1000..1000 + posts as i64).contains(&latest),
        "latest {latest} was never sent"
    );
}

/// The writer's commits and the writes they held, from `/metrics`.
async fn commits_in_metrics(app: &TestApp) -> (f64, f64) {
    let res = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("body");
    let value = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics"))
    };
    (
        value("minitwit_db_writes_per_commit_count "),
        value("minitwit_db_writes_per_commit_sum "),
    )
}

/// Posts and a follow sent at once share commits on either backend, as the operator sees
/// it in `/metrics`: every write counted once, in fewer commits than half the writes.
async fn concurrent_writes_share_commits_in_metrics(app: TestApp) {
    register_burst_users(&app).await;
    let (commits_before, writes_before) = commits_in_metrics(&app).await;
    const POSTS: usize = 64;
    burst(&app, POSTS).await;
    let (commits_after, writes_after) = commits_in_metrics(&app).await;
    let (commits, writes) = (commits_after - commits_before, writes_after - writes_before);
    assert_eq!(writes, (POSTS + 1) as f64, "writes counted");
    assert!(
        commits < writes / 2.0,
        "{writes} concurrent writes took {commits} commits"
    );
    stored_exactly(&app, POSTS).await;
}

/// The same burst on either backend: every write acknowledged is stored once.
async fn concurrent_writes_are_all_stored(app: TestApp) {
    register_burst_users(&app).await;
    const POSTS: usize = 200;
    burst(&app, POSTS).await;
    stored_exactly(&app, POSTS).await;
}

/// Commits are counted on PostgreSQL only; SQLite has no transaction ids to count.
mod postgres_commits {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_simulator_action_is_one_commit() {
        if let Some(backend) =
            common::Backend::postgres_or_skip("each_simulator_action_is_one_commit")
        {
            common::with_app(backend, super::each_simulator_action_is_one_commit).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits() {
        if let Some(backend) = common::Backend::postgres_or_skip("concurrent_writes_share_commits")
        {
            common::with_app(backend, super::concurrent_writes_share_commits).await;
        }
    }
}

on_both_backends!(concurrent_writes_are_all_stored);
on_both_backends!(concurrent_writes_share_commits_in_metrics);
