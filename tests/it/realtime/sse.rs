//! Server-sent events (docs/protocol.md): `/sse` delivers messages with ids on the same delivery
//! path as the websockets, resumes after `Last-Event-ID`, sends `delete` for a hidden
//! message, and refuses `home` without a session.

use std::time::Duration;

use crate::common::web::WebClient;
use crate::common::{self, TestApp};
use crate::on_both_backends;

/// One event of the stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// An open `/sse` response, read event by event.
pub(crate) struct SseClient {
    res: reqwest::Response,
    buffer: String,
}

impl SseClient {
    pub(crate) async fn open(app: &TestApp, query: &str, headers: &[(&str, &str)]) -> SseClient {
        SseClient::at(app, &format!("/sse?{query}"), headers).await
    }

    /// Opens the event stream at `path_and_query` (Mastodon's, for one).
    pub(crate) async fn at(
        app: &TestApp,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> SseClient {
        let mut request = app.http.get(app.url(path_and_query));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let res = request.send().await.expect("sse");
        assert_eq!(res.status(), 200, "{path_and_query}");
        let content_type = res.headers()["content-type"].to_str().expect("ascii");
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        SseClient {
            res,
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped), within 10 s.
    pub(crate) async fn next(&mut self) -> SseEvent {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("an event within 10 s")
    }

    /// Asserts that no event arrives within `wait`.
    pub(crate) async fn expect_nothing(&mut self, wait: Duration) {
        if let Some(event) = self.next_within(wait).await {
            panic!("expected no event, got {event:?}");
        }
    }

    /// The next event (comments skipped) within `wait`, or `None`.
    pub(crate) async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent::default();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        event.id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event.event = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if event.id.is_none() && event.event.is_none() && data.is_empty() {
                    continue; // a keep-alive comment
                }
                event.data = data.join("\n");
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk())
                .await
                .ok()?
                .expect("stream readable")
                .expect("stream still open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Whether the server ends the response within `wait` (whatever it sends before).
    pub(crate) async fn ends_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, async {
            while let Ok(Some(_)) = self.res.chunk().await {}
        })
        .await
        .is_ok()
    }

    /// The next message event as (id line, content), checking it mirrors the websocket
    /// frame: the id line is the position the frame carries.
    pub(crate) async fn message(&mut self) -> (String, String) {
        let event = self.next().await;
        assert_eq!(event.event.as_deref(), Some("message"), "{event:?}");
        let frame: serde_json::Value = serde_json::from_str(&event.data).expect("JSON data");
        assert_eq!(frame["event"], "message");
        let id = event.id.expect("an id line");
        assert_eq!(frame["position"].as_str(), Some(id.as_str()));
        let content = frame["message"]["content"].as_str().expect("content");
        (id, content.to_owned())
    }
}

async fn sse_delivers_messages_with_ids_and_resumes_after_last_event_id(app: TestApp) {
    assert_eq!(app.register("alice").await.status(), 204);
    let mut live = SseClient::open(&app, "stream=public", &[]).await;
    for text in ["one", "two", "three"] {
        assert_eq!(app.tweet("alice", text).await.status(), 204);
    }
    let first = live.message().await;
    let second = live.message().await;
    assert_eq!(live.message().await.1, "three");
    assert_eq!((first.1.as_str(), second.1.as_str()), ("one", "two"));

    // A browser reconnecting sends the last id it saw.
    let mut resumed = SseClient::open(
        &app,
        "stream=public",
        &[("Last-Event-ID", first.0.as_str())],
    )
    .await;
    assert_eq!(resumed.message().await, second);
    assert_eq!(resumed.message().await.1, "three");
    let mut by_query =
        SseClient::open(&app, &format!("stream=user:alice&since={}", second.0), &[]).await;
    assert_eq!(by_query.message().await.1, "three");
    assert_eq!(app.tweet("alice", "four").await.status(), 204);
    assert_eq!(resumed.message().await.1, "four");
    assert_eq!(by_query.message().await.1, "four");

    // A hidden message is an `event: delete` with the websocket's delete frame, whose
    // position is the id line.
    let id = app.state.store.newest_ids().await.expect("newest").message - 3;
    minitwit::actions::moderation::set_hidden(&app.state, id, true)
        .await
        .expect("hide");
    assert_eq!(live.message().await.1, "four");
    let delete = live.next().await;
    assert_eq!(delete.event.as_deref(), Some("delete"));
    let frame = serde_json::from_str::<serde_json::Value>(&delete.data).expect("json");
    let position = delete.id.expect("a position");
    assert_eq!(
        frame,
        serde_json::json!({"event": "delete", "stream": "public", "id": id, "position": position})
    );
}

async fn sse_home_needs_a_session(app: TestApp) {
    let res = app
        .http
        .get(app.url("/sse?stream=home"))
        .send()
        .await
        .expect("sse");
    assert_eq!(res.status(), 401);
    for (query, status) in [("", 400), ("stream=nope", 400), ("stream=user:ghost", 404)] {
        let res = app
            .http
            .get(app.url(&format!("/sse?{query}")))
            .send()
            .await
            .expect("sse");
        assert_eq!(res.status(), status, "{query}");
    }
    let bad_resume = app
        .http
        .get(app.url("/sse?stream=public"))
        .header("Last-Event-ID", "x")
        .send()
        .await
        .expect("sse");
    assert_eq!(bad_resume.status(), 400);

    // With the session cookie, home works.
    let alice = WebClient::new(&app);
    alice.register_and_login("alice", "secret").await;
    let cookie = alice.cookie_header().expect("a session cookie");
    let mut home = SseClient::open(&app, "stream=home", &[("Cookie", cookie.as_str())]).await;
    assert_eq!(app.tweet("alice", "mine").await.status(), 204);
    assert_eq!(home.message().await.1, "mine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_sse_stream_gets_keep_alive_comments() {
    let db = crate::common::TestDb::new(crate::common::Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| s.ws_ping_secs = 1).await;
    let mut idle = SseClient::open(&app, "stream=public", &[]).await;
    let chunk = tokio::time::timeout(Duration::from_secs(3), idle.res.chunk())
        .await
        .expect("a keep-alive within the interval")
        .expect("readable")
        .expect("open");
    assert_eq!(String::from_utf8_lossy(&chunk), ": keep-alive\n\n");
    app.stop().await;
}

/// Stopping the server ends open SSE streams (the browser reconnects elsewhere) instead of
/// holding the shutdown until its grace period runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_ends_sse_streams() {
    let db = crate::common::TestDb::new(crate::common::Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    let mut open = SseClient::open(&app, "stream=public", &[]).await;
    let stopping = tokio::spawn(app.stop());
    assert!(
        open.ends_within(Duration::from_secs(5)).await,
        "the stream still runs 5 s after the stop"
    );
    tokio::time::timeout(Duration::from_secs(15), stopping)
        .await
        .expect("the server stops")
        .expect("stop task");
}

on_both_backends!(
    sse_delivers_messages_with_ids_and_resumes_after_last_event_id,
    sse_home_needs_a_session,
);
