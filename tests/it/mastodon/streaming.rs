//! Mastodon's streaming API (docs/mastodon.md, "Streaming") against a real server: the
//! websocket with its token given each of the three ways, its `user`, `public` and
//! `public:local` streams and subscribe frames; the server-sent events; refusals before
//! the upgrade; a revoked token's `user` stream ending; and two instances behind Redis.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderName;

use super::Client;
use crate::common::{self, Backend, TestApp, TestDb};
use crate::on_both_backends;
use crate::realtime::client::{ws_url, WsClient};
use crate::realtime::cluster::{shared_backends, two_instances};
use crate::realtime::sse::SseClient;

/// A token for `username` (registered already) with `scope`, as a client logs in.
async fn token(app: &TestApp, username: &str, scope: &str) -> String {
    Client::log_in(app, username, scope).await.token
}

/// Opens a Mastodon streaming websocket at `path_and_query` with `headers`; checks that
/// an offered `Sec-WebSocket-Protocol` is selected in the answer, as browsers require.
async fn connect(app: &TestApp, path_and_query: &str, headers: &[(&str, &str)]) -> WsClient {
    let mut request = ws_url(app, path_and_query)
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    let (ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("connect {path_and_query}: {e}"));
    let offered = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-protocol"));
    if let Some((_, protocol)) = offered {
        assert_eq!(
            response.headers()["sec-websocket-protocol"].to_str().ok(),
            Some(*protocol),
            "the offered protocol is echoed"
        );
    }
    WsClient { ws }
}

/// The status an upgrade at `path_and_query` with `headers` is refused with.
async fn refused(app: &TestApp, path_and_query: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = ws_url(app, path_and_query)
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => panic!("{path_and_query} was upgraded, expected a refusal"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            let json: Value = serde_json::from_slice(body).expect("a JSON error");
            assert!(json["error"].is_string(), "{json}");
            response.status().as_u16()
        }
        Err(e) => panic!("{path_and_query}: {e}"),
    }
}

/// Waits until `app` has `n` stream subscriptions registered: a websocket subscribes
/// after its upgrade, and a subscribe frame has no answer in Mastodon's protocol.
async fn wait_for_subscriptions(app: &TestApp, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.state.hub.registry().len() != n {
        assert!(
            Instant::now() < deadline,
            "{} subscriptions, expected {n}",
            app.state.hub.registry().len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The REST entity of status `id`, as `GET /api/v1/statuses/:id` answers it.
async fn fetched_status(app: &TestApp, id: &str) -> Value {
    app.http
        .get(app.url(&format!("/api/v1/statuses/{id}")))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("status json")
}

/// Expects an `update` on `stream` and returns its payload, parsed.
async fn expect_update(ws: &mut WsClient, stream: &str) -> Value {
    let frame = ws.next_event().await;
    assert_eq!(frame["stream"], json!([stream]), "{frame}");
    assert_eq!(frame["event"], "update", "{frame}");
    let payload = frame["payload"].as_str().expect("the payload is a string");
    serde_json::from_str(payload).expect("the payload is a status")
}

async fn expect_delete(ws: &mut WsClient, stream: &str, id: &str) {
    assert_eq!(
        ws.next_event().await,
        json!({"stream": [stream], "event": "delete", "payload": id})
    );
}

/// Registers `author` and `reader` (who follows `author`); returns the author's client
/// and the reader's token.
async fn author_and_reader(app: &TestApp) -> (Client<'_>, String) {
    for name in ["author", "reader"] {
        assert_eq!(app.register(name).await.status(), 204);
    }
    assert_eq!(app.follow("reader", "author").await.status(), 204);
    (
        Client::log_in(app, "author", "read write").await,
        token(app, "reader", "read").await,
    )
}

async fn websocket_streams_get_updates_and_deletes(app: TestApp) {
    let (author, reader) = author_and_reader(&app).await;
    let bearer = format!("Bearer {reader}");
    // The token three ways: a header, the subprotocol (then a subscribe frame), the query.
    let mut user = connect(
        &app,
        "/api/v1/streaming?stream=user",
        &[("Authorization", &bearer)],
    )
    .await;
    let mut framed = connect(
        &app,
        "/api/v1/streaming",
        &[("Sec-WebSocket-Protocol", &reader)],
    )
    .await;
    framed
        .send_json(json!({"type": "subscribe", "stream": "user"}))
        .await;
    let mut public = connect(&app, "/api/v1/streaming?stream=public", &[]).await;
    let path = format!("/api/v1/streaming/?access_token={reader}&stream=public:local");
    let mut local = connect(&app, &path, &[]).await;
    wait_for_subscriptions(&app, 4).await;

    let posted = author.post_status("hello <world>").await;
    let id = posted["id"].as_str().expect("id").to_owned();
    let rest = fetched_status(&app, &id).await;
    assert_eq!(posted, rest);
    for (ws, stream) in [
        (&mut user, "user"),
        (&mut framed, "user"),
        (&mut public, "public"),
        (&mut local, "public:local"),
    ] {
        assert_eq!(expect_update(ws, stream).await, rest, "the REST entity");
    }

    minitwit::actions::moderation::set_hidden(&app.state, id.parse().expect("id"), true)
        .await
        .expect("hide");
    for (ws, stream) in [
        (&mut user, "user"),
        (&mut framed, "user"),
        (&mut public, "public"),
        (&mut local, "public:local"),
    ] {
        expect_delete(ws, stream, &id).await;
    }

    // Unsubscribing stops the stream; the socket stays open.
    framed
        .send_json(json!({"type": "unsubscribe", "stream": "user"}))
        .await;
    wait_for_subscriptions(&app, 3).await;
    let second = author.post_status("second").await;
    let second_id = second["id"].as_str().expect("id");
    assert_eq!(expect_update(&mut user, "user").await["id"], second_id);
    framed.expect_nothing(Duration::from_millis(300)).await;
    // The author deleting it is a `delete` too.
    let deleted = author
        .delete(&format!("/api/v1/statuses/{second_id}"))
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    expect_delete(&mut user, "user", second_id).await;
    let open = app
        .state
        .metrics
        .ws_connections
        .with_label_values(&["mastodon_websocket"])
        .get();
    assert_eq!(open, 4, "counted under their own transport");
}

async fn what_is_refused_is_refused_before_the_upgrade(app: TestApp) {
    let (_, reader) = author_and_reader(&app).await;
    let bad = "not-a-token";
    let bearer = format!("Bearer {bad}");
    let stream = "/api/v1/streaming?stream=public";
    assert_eq!(
        refused(&app, stream, &[("Authorization", &bearer)]).await,
        401
    );
    assert_eq!(
        refused(&app, stream, &[("Sec-WebSocket-Protocol", bad)]).await,
        401
    );
    let query = format!("{stream}&access_token={bad}");
    assert_eq!(refused(&app, &query, &[]).await, 401);
    assert_eq!(
        refused(&app, "/api/v1/streaming?stream=user", &[]).await,
        401
    );
    let unknown = format!("/api/v1/streaming?stream=home&access_token={reader}");
    assert_eq!(refused(&app, &unknown, &[]).await, 400);
    // A token without `read`.
    let writer = token(&app, "reader", "write").await;
    let write_only = format!("/api/v1/streaming?stream=public&access_token={writer}");
    assert_eq!(refused(&app, &write_only, &[]).await, 403);
    // Streams Mastodon has and MiniTwit has nothing for are accepted, silently.
    let path = format!("/api/v1/streaming?stream=user:notification&access_token={reader}");
    let mut quiet = connect(&app, &path, &[]).await;
    quiet
        .send_json(json!({"type": "subscribe", "stream": "hashtag", "tag": "rust"}))
        .await;
    quiet
        .send_json(json!({"type": "subscribe", "stream": "home"}))
        .await;
    assert_eq!(
        quiet.next_event().await,
        json!({"error": "Unknown stream type"})
    );
    assert_eq!(app.state.hub.registry().len(), 0);

    let health = app
        .http
        .get(app.url("/api/v1/streaming/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain"));
    assert_eq!(health.text().await.expect("body"), "OK");
}

async fn server_sent_events_carry_the_payload(app: TestApp) {
    let (author, reader) = author_and_reader(&app).await;
    let bearer = format!("Bearer {reader}");
    let mut user = SseClient::at(
        &app,
        "/api/v1/streaming/user",
        &[("Authorization", &bearer)],
    )
    .await;
    let by_query = format!("/api/v1/streaming/public?access_token={reader}");
    let mut public = SseClient::at(&app, &by_query, &[]).await;
    let mut anonymous = SseClient::at(&app, "/api/v1/streaming/public/local", &[]).await;

    let posted = author.post_status("over SSE").await;
    let id = posted["id"].as_str().expect("id").to_owned();
    let rest = fetched_status(&app, &id).await;
    for sse in [&mut user, &mut public, &mut anonymous] {
        let event = sse.next().await;
        assert_eq!(event.event.as_deref(), Some("update"));
        assert_eq!(event.id, None, "Mastodon's events have no id");
        let payload: Value = serde_json::from_str(&event.data).expect("a status");
        assert_eq!(payload, rest);
    }
    minitwit::actions::moderation::set_hidden(&app.state, id.parse().expect("id"), true)
        .await
        .expect("hide");
    for sse in [&mut user, &mut public, &mut anonymous] {
        let event = sse.next().await;
        assert_eq!(event.event.as_deref(), Some("delete"));
        assert_eq!(event.data, id);
    }

    let sse_status = |path: &'static str, auth: Option<String>| {
        let mut request = app.http.get(app.url(path));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        async move { request.send().await.expect("sse").status().as_u16() }
    };
    assert_eq!(sse_status("/api/v1/streaming/user", None).await, 401);
    let bad = Some("Bearer nope".to_owned());
    assert_eq!(sse_status("/api/v1/streaming/public", bad).await, 401);
}

async fn a_revoked_token_ends_its_user_stream(app: TestApp) {
    let (author, reader) = author_and_reader(&app).await;
    let path = format!("/api/v1/streaming?stream=user&access_token={reader}");
    let mut user = connect(&app, &path, &[]).await;
    let bearer = format!("Bearer {reader}");
    let mut sse = SseClient::at(
        &app,
        "/api/v1/streaming/user",
        &[("Authorization", &bearer)],
    )
    .await;
    wait_for_subscriptions(&app, 2).await;
    // A live token outlives the login checks (one a second): its streams stay open.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    author.post_status("still here").await;
    expect_update(&mut user, "user").await;
    assert_eq!(sse.next().await.event.as_deref(), Some("update"));
    let revoked = app
        .http
        .post(app.url("/oauth/revoke"))
        .json(&json!({ "token": reader }))
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(user.close_code().await.map(u16::from), Some(4001));
    assert!(sse.ends_within(Duration::from_secs(5)).await);
    // And the token opens nothing any more.
    assert_eq!(refused(&app, &path, &[]).await, 401);
}

/// A new password voids the tokens issued under the old one (docs/mastodon.md, "OAuth 2"),
/// and their streams with them. MiniTwit has no password change yet: done in SQL here.
async fn a_new_password_ends_the_user_stream(app: TestApp) {
    let (_, reader) = author_and_reader(&app).await;
    let path = format!("/api/v1/streaming?stream=user&access_token={reader}");
    let mut user = connect(&app, &path, &[]).await;
    wait_for_subscriptions(&app, 1).await;
    common::exec_sql(
        &app.db_url,
        "UPDATE users SET pw_hash = 'changed' WHERE username = 'reader'",
    )
    .await;
    assert_eq!(user.close_code().await.map(u16::from), Some(4001));
}

on_both_backends!(
    a_new_password_ends_the_user_stream,
    websocket_streams_get_updates_and_deletes,
    what_is_refused_is_refused_before_the_upgrade,
    server_sent_events_carry_the_payload,
    a_revoked_token_ends_its_user_stream,
);

/// A status posted through A's Mastodon API reaches a Mastodon client and a classic `/ws`
/// client on B, each once; a token revoked on A ends its `user` stream on B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_posted_on_a_reaches_both_kinds_of_client_on_b_once() {
    let Some(redis) = shared_backends("the two-instance Mastodon streaming test") else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b) = two_instances(&db.url, &redis).await;
    let (author, reader) = author_and_reader(&a).await;
    let path = format!("/api/v1/streaming?stream=user&access_token={reader}");
    let mut mastodon_user = connect(&b, &path, &[]).await;
    let mut mastodon_public = connect(&b, "/api/v1/streaming?stream=public", &[]).await;
    let mut classic = WsClient::stream(&b, "public").await;
    wait_for_subscriptions(&b, 3).await;

    let posted = author.post_status("from A").await;
    let id = posted["id"].as_str().expect("id");
    // As B's REST API answers it (each test instance has its own public URL).
    let on_b = fetched_status(&b, id).await;
    assert_eq!(expect_update(&mut mastodon_user, "user").await, on_b);
    assert_eq!(expect_update(&mut mastodon_public, "public").await, on_b);
    let classic_frames = classic.messages(1).await;
    assert_eq!(classic_frames[0].2, "from A");
    assert_eq!(classic_frames[0].3.to_string(), id);
    for ws in [&mut mastodon_user, &mut mastodon_public, &mut classic] {
        ws.expect_nothing(Duration::from_millis(500)).await;
    }

    // Revoked on A: B learns it from the database within seconds (realtime/logins.rs).
    let revoked = a
        .http
        .post(a.url("/oauth/revoke"))
        .json(&json!({ "token": reader }))
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(mastodon_user.close_code().await.map(u16::from), Some(4001));
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}
