//! One instance: each stream gets exactly its messages, in order; follows change an open
//! home stream; `since` replays then goes live; one post reaches hundreds of sockets.

use std::time::Duration;

use crate::common::{self, TestApp};
use crate::on_both_backends;
use crate::realtime::client::{spawn_posts, WsClient};

async fn register_all(app: &TestApp, names: &[&str]) {
    for name in names {
        assert_eq!(app.register(name).await.status(), 204, "register {name}");
    }
}

async fn tweet(app: &TestApp, user: &str, content: &str) {
    assert_eq!(
        app.tweet(user, content).await.status(),
        204,
        "{user}: {content}"
    );
}

async fn public_user_and_home_streams_deliver_exactly_their_messages(app: TestApp) {
    register_all(&app, &["alice", "bob", "carol", "two words"]).await;
    assert_eq!(app.follow("alice", "bob").await.status(), 204);
    let mut public = WsClient::stream(&app, "public").await;
    let mut bobs = WsClient::stream(&app, "user:bob").await;
    let mut spaced = WsClient::stream(&app, "user:two words").await;
    let mut home = WsClient::home_of(&app, "alice").await;

    tweet(&app, "bob", "bob 1").await;
    tweet(&app, "carol", "carol 1").await;
    tweet(&app, "alice", "alice <b>1</b> ünï").await;
    tweet(&app, "bob", "bob 2").await;
    tweet(&app, "two words", "spaced").await;

    let all = public.messages(5).await;
    let contents: Vec<&str> = all.iter().map(|m| m.2.as_str()).collect();
    assert_eq!(
        contents,
        ["bob 1", "carol 1", "alice <b>1</b> ünï", "bob 2", "spaced"]
    );
    assert!(all.iter().all(|m| m.0 == "public"));
    assert!(
        all.windows(2).all(|w| w[0].3 < w[1].3),
        "ids ascend: {all:?}"
    );

    let bob = bobs.messages(2).await;
    assert_eq!(
        bob.iter()
            .map(|m| (m.0.as_str(), m.1.as_str(), m.2.as_str()))
            .collect::<Vec<_>>(),
        [("user:bob", "bob", "bob 1"), ("user:bob", "bob", "bob 2")]
    );
    assert_eq!(spaced.contents(1).await, ["spaced"]);
    let mine = home.messages(3).await;
    assert_eq!(
        mine.iter()
            .map(|m| (m.0.as_str(), m.2.as_str()))
            .collect::<Vec<_>>(),
        [
            ("home", "bob 1"),
            ("home", "alice <b>1</b> ünï"),
            ("home", "bob 2")
        ]
    );
    // Nothing else trickles in later.
    for client in [&mut public, &mut bobs, &mut home] {
        client.expect_nothing(Duration::from_millis(300)).await;
    }
}

async fn message_events_carry_the_spec_fields(app: TestApp) {
    register_all(&app, &["alice"]).await;
    let mut public = WsClient::stream(&app, "public").await;
    tweet(&app, "alice", "hello").await;
    let event = public.next_event().await;
    let message = &event["message"];
    assert_eq!(event["event"], "message");
    assert_eq!(event["stream"], "public");
    assert!(message["id"].as_i64().expect("id") > 0);
    assert_eq!(message["user"], "alice");
    assert_eq!(message["content"], "hello");
    let now = chrono::Utc::now().timestamp();
    let pub_date = message["pub_date"].as_i64().expect("pub_date");
    assert!((now - pub_date).abs() < 60, "pub_date {pub_date} is now");
    // md5("alice@example.com"), the address the test helper registers.
    assert_eq!(
        message["avatar"],
        "https://www.gravatar.com/avatar/c160f8cc69a4f0bf2b0362752353d060?d=identicon&s=48"
    );
}

async fn follow_and_unfollow_change_an_open_home_stream(app: TestApp) {
    register_all(&app, &["alice", "bob", "carol"]).await;
    let mut home = WsClient::home_of(&app, "alice").await;
    tweet(&app, "bob", "before follow").await;
    tweet(&app, "alice", "own 1").await;
    assert_eq!(home.contents(1).await, ["own 1"]);

    assert_eq!(app.follow("alice", "bob").await.status(), 204);
    tweet(&app, "bob", "after follow").await;
    tweet(&app, "carol", "carol never followed").await;
    tweet(&app, "alice", "own 2").await;
    assert_eq!(home.contents(2).await, ["after follow", "own 2"]);

    assert_eq!(app.unfollow("alice", "bob").await.status(), 204);
    tweet(&app, "bob", "after unfollow").await;
    tweet(&app, "alice", "own 3").await;
    assert_eq!(home.contents(1).await, ["own 3"]);
    home.expect_nothing(Duration::from_millis(300)).await;
}

async fn since_replays_then_continues_live(app: TestApp) {
    register_all(&app, &["alice", "bob"]).await;
    let mut watcher = WsClient::stream(&app, "public").await;
    for i in 1..=5 {
        tweet(&app, "alice", &format!("m{i}")).await;
    }
    tweet(&app, "bob", "bob m6").await;
    let ids: Vec<i64> = watcher.messages(6).await.iter().map(|m| m.3).collect();

    let path = format!("/ws?stream=user:alice&since={}", ids[1]);
    let mut late = WsClient::connect(&app, &path, &[]).await;
    late.expect_subscribed("user:alice").await;
    assert_eq!(late.contents(3).await, ["m3", "m4", "m5"]);
    tweet(&app, "alice", "m7").await;
    assert_eq!(late.contents(1).await, ["m7"]);
    late.expect_nothing(Duration::from_millis(300)).await;

    // since=0 replays everything (here fewer than the 200 cap), oldest first.
    let mut all = WsClient::connect(&app, "/ws?stream=public&since=0", &[]).await;
    all.expect_subscribed("public").await;
    assert_eq!(
        all.contents(7).await,
        ["m1", "m2", "m3", "m4", "m5", "bob m6", "m7"]
    );
}

/// Posts keep coming while a reader connects with `since`: the replay and the live feed
/// must join with every message exactly once, in id order.
async fn since_joins_live_with_no_gap_and_no_duplicate(app: TestApp) {
    register_all(&app, &["alice"]).await;
    tweet(&app, "alice", "first").await;
    let mut first = WsClient::connect(&app, "/ws?stream=public&since=0", &[]).await;
    first.expect_subscribed("public").await;
    let first_id = first.messages(1).await[0].3;

    let poster = spawn_posts(&app, "alice", (0..60).map(|i| format!("c{i}")).collect());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut joiner =
        WsClient::connect(&app, &format!("/ws?stream=public&since={first_id}"), &[]).await;
    joiner.expect_subscribed("public").await;
    poster.await.expect("poster");
    let got: Vec<String> = joiner.contents(60).await;
    let expected: Vec<String> = (0..60).map(|i| format!("c{i}")).collect();
    assert_eq!(got, expected);
    joiner.expect_nothing(Duration::from_millis(300)).await;
}

/// Concurrent posters commit (and publish) ids out of order; every stream still gets each
/// message once, in id order.
async fn concurrent_posts_arrive_once_in_id_order(app: TestApp) {
    let names: Vec<String> = (0..4).map(|i| format!("poster{i}")).collect();
    for name in &names {
        app.register(name).await;
    }
    let mut public = WsClient::stream(&app, "public").await;
    let mut posters = Vec::new();
    for name in names.clone() {
        let http = app.http.clone();
        let url = app.url(&format!("/api/msgs/{name}"));
        posters.push(tokio::spawn(async move {
            for i in 0..25 {
                let res = http
                    .post(&url)
                    .header("Authorization", crate::common::SIM_AUTH)
                    .json(&serde_json::json!({"content": format!("{name} {i}")}))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(res.status(), 204);
            }
        }));
    }
    for poster in posters {
        poster.await.expect("poster");
    }
    let got = public.messages(100).await;
    let ids: Vec<i64> = got.iter().map(|m| m.3).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend: {ids:?}");
    let mut contents: Vec<&str> = got.iter().map(|m| m.2.as_str()).collect();
    contents.sort();
    contents.dedup();
    assert_eq!(contents.len(), 100, "every post once");
    public.expect_nothing(Duration::from_millis(300)).await;
}

async fn one_post_reaches_hundreds_of_sockets(app: TestApp) {
    register_all(&app, &["alice"]).await;
    let mut sockets = Vec::new();
    for i in 0..300 {
        let stream = if i % 2 == 0 { "public" } else { "user:alice" };
        sockets.push(WsClient::stream(&app, stream).await);
    }
    tweet(&app, "alice", "to everyone").await;
    let reads = sockets
        .into_iter()
        .map(|mut s| async move { s.contents(1).await });
    let got = futures_util::future::join_all(reads).await;
    assert_eq!(got.len(), 300);
    assert!(got.iter().all(|c| c == &["to everyone"]));
}

on_both_backends!(
    public_user_and_home_streams_deliver_exactly_their_messages,
    message_events_carry_the_spec_fields,
    follow_and_unfollow_change_an_open_home_stream,
    since_replays_then_continues_live,
    since_joins_live_with_no_gap_and_no_duplicate,
    concurrent_posts_arrive_once_in_id_order,
    one_post_reaches_hundreds_of_sockets,
);
