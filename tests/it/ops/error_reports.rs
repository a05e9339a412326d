//! Error reports: with `SENTRY_DSN` pointing at a sink in the test, a server error that
//! really happens (the messages table gone from under a running server) reaches the sink
//! as a Sentry event tagged with the request id the client saw.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::exec_sql;
use crate::ops::sink::Sink;

/// The JSON items of a Sentry envelope (one JSON document per line).
fn envelope_items(body: &[u8]) -> Vec<Value> {
    body.split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_reported_to_sentry_with_its_request_id() {
    let mut sentry = Sink::start().await;
    let dsn = sentry.base.replace("http://", "http://public@") + "/1";
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("minitwit.db").display()
    );
    let server = crate::common::server_process(&db_url, &[("SENTRY_DSN", &dsn)]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let app = reqwest::Client::new();
    let api = |path: &str| format!("http://{addr}/api{path}");
    let sim = crate::common::SIM_AUTH;

    let res = app
        .post(api("/register"))
        .json(&serde_json::json!({"username": "alice", "email": "a@x", "pwd": "p"}))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), 204);
    let ok = app
        .post(api("/msgs/alice"))
        .header("Authorization", sim)
        .json(&serde_json::json!({"content": "before"}))
        .send()
        .await
        .expect("post");
    assert_eq!(ok.status(), 204);
    // Healthy requests report nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let early = sentry.drain();
    assert!(
        early.is_empty(),
        "reports before anything failed: {:?}",
        early.iter().map(|r| r.path.as_str()).collect::<Vec<_>>()
    );

    // The table goes away underneath the running server: posting is now a 500.
    exec_sql(&db_url, "DROP TABLE messages").await;
    let failed = app
        .post(api("/msgs/alice"))
        .header("Authorization", sim)
        .json(&serde_json::json!({"content": "after"}))
        .send()
        .await
        .expect("post");
    assert_eq!(failed.status(), 500);
    let request_id = failed
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("X-Request-Id")
        .to_owned();

    let deadline = Instant::now() + Duration::from_secs(20);
    let event = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(received) = sentry.next(left).await else {
            panic!("no Sentry event for request {request_id} within 20 s");
        };
        assert_eq!(received.path, "/api/1/envelope/", "{}", received.text());
        let found = envelope_items(&received.body)
            .into_iter()
            .find(|item| item["tags"]["request_id"] == request_id.as_str());
        if let Some(event) = found {
            break event;
        }
    };
    // Sentry leaves out the level when it is the default, error.
    assert!(
        event.get("level").is_none() || event["level"] == "error",
        "{}",
        event["level"]
    );
    assert_eq!(event["message"], "database error");
    let fields = event["contexts"].to_string();
    assert!(
        fields.contains("no such table"),
        "the cause is missing: {fields}"
    );
    // What the server never reports: the client's credential.
    let text = event.to_string();
    assert!(!text.contains(sim.trim_start_matches("Basic ")));
    drop(server);
}
