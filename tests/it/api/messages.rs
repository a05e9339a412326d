//! `/api/msgs` and `/api/msgs/{username}`: auth, order, `no`, 404s, bodies, round-trips.

use crate::common::{self, encode, exec_sql, TestApp, SIM_AUTH};
use crate::on_both_backends;
use serde_json::{json, Value};

const FORBIDDEN: &str =
    r#"{"status":403,"error_msg":"You are not authorized to use this resource!"}"#;

async fn messages(app: &TestApp, path: &str) -> Vec<Value> {
    let res = app.get_api(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.expect("JSON array")
}

fn contents(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["content"].as_str().expect("content").to_owned())
        .collect()
}

async fn protected_endpoints_answer_the_exact_403(app: TestApp) {
    app.register("alice").await;
    let requests = [
        app.http.get(app.url("/api/msgs")),
        app.http.get(app.url("/api/msgs/alice")),
        app.http
            .post(app.url("/api/msgs/alice"))
            .json(&json!({"content": "x"})),
        app.http.get(app.url("/api/fllws/alice")),
        app.http
            .post(app.url("/api/fllws/alice"))
            .json(&json!({"follow": "alice"})),
        app.http
            .get(app.url("/api/msgs"))
            .header("Authorization", "Basic c2ltdWxhdG9yOndyb25n"),
        app.http
            .get(app.url("/api/msgs"))
            .header("Authorization", "Bearer x"),
    ];
    for request in requests {
        let res = request.send().await.expect("send");
        assert_eq!(res.status(), 403);
        assert_eq!(res.text().await.expect("body"), FORBIDDEN);
    }
    // Nothing was posted by the refused POST.
    assert!(messages(&app, "/msgs").await.is_empty());
}

async fn messages_are_newest_first_with_the_right_shape(app: TestApp) {
    app.register("alice").await;
    app.register("bob").await;
    for (user, text) in [("alice", "one"), ("bob", "two"), ("alice", "three")] {
        assert_eq!(app.tweet(user, text).await.status(), 204);
    }
    let all = messages(&app, "/msgs").await;
    assert_eq!(contents(&all), ["three", "two", "one"]);
    let first = all[0].as_object().expect("object");
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["content", "pub_date", "user"]);
    assert_eq!(first["user"], "alice");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let pub_date = first["pub_date"]
        .as_i64()
        .expect("pub_date is integer seconds");
    assert!(
        (now - pub_date).abs() < 60,
        "pub_date {pub_date} vs now {now}"
    );
    assert_eq!(
        contents(&messages(&app, "/msgs/alice").await),
        ["three", "one"]
    );
    assert_eq!(contents(&messages(&app, "/msgs/bob").await), ["two"]);
}

async fn no_limits_defaults_and_falls_back_to_100(app: TestApp) {
    app.register("alice").await;
    for i in 0..105 {
        assert_eq!(app.tweet("alice", &format!("m{i}")).await.status(), 204);
    }
    assert_eq!(messages(&app, "/msgs").await.len(), 100);
    assert_eq!(messages(&app, "/msgs?no=abc").await.len(), 100);
    assert_eq!(messages(&app, "/msgs?no=105").await.len(), 105);
    assert_eq!(
        contents(&messages(&app, "/msgs?no=3").await),
        ["m104", "m103", "m102"]
    );
    assert_eq!(
        app.get_api("/msgs?no=0").await.text().await.expect("body"),
        "[]"
    );
    assert_eq!(
        app.get_api("/msgs/alice?no=0")
            .await
            .text()
            .await
            .expect("body"),
        "[]"
    );
    assert_eq!(messages(&app, "/msgs/alice?no=2").await.len(), 2);
    assert_eq!(messages(&app, "/msgs/alice?no=x").await.len(), 100);
}

async fn unknown_users_are_404(app: TestApp) {
    assert_eq!(app.get_api("/msgs/ghost").await.status(), 404);
    // The reference answers 500 here; a tweet by an unknown user is a 404.
    let res = app.tweet("ghost", "boo").await;
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.expect("JSON error");
    assert_eq!(body["status"], 404);
}

async fn bad_post_bodies_are_400_and_record_nothing(app: TestApp) {
    app.register("alice").await;
    for raw in [
        "",
        "{",
        r#"{"content": 5}"#,
        r#"{"content": null}"#,
        r#"{"text": "x"}"#,
        "[]",
        &format!(r#"{{"content": "{}"}}"#, "a".repeat(1001)),
    ] {
        let res = app
            .http
            .post(app.url("/api/msgs/alice"))
            .header("Authorization", SIM_AUTH)
            .header("content-type", "application/json")
            .body(raw.to_owned())
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 400, "body {raw:?}");
        let body: Value = res.json().await.expect("JSON error");
        assert_eq!(body["status"], 400);
    }
    assert!(messages(&app, "/msgs").await.is_empty());
}

async fn spaces_and_unicode_round_trip_exactly(app: TestApp) {
    let name = "Åsa Nørgaard 日本";
    assert_eq!(app.register(name).await.status(), 204);
    let text = "Grüße 🐦 <b>\"quoted\"</b> & 'single'  two spaces";
    assert_eq!(app.tweet(name, text).await.status(), 204);
    let theirs = messages(&app, &format!("/msgs/{}", encode(name))).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["content"], text);
    assert_eq!(theirs[0]["user"], name);
    // The simulator writes spaces as %20 in paths.
    assert_eq!(app.register("Roger Histand").await.status(), 204);
    assert_eq!(app.tweet("Roger Histand", "hi").await.status(), 204);
    let res = app.get_api("/msgs/Roger%20Histand").await;
    assert_eq!(res.status(), 200);
}

/// Line breaks and tabs are part of a message (README.md, "Limits"): they come back as sent,
/// with a CRLF or a lone CR stored as LF; every other control character is still a 400 and
/// stores nothing (a NUL would be a PostgreSQL error).
async fn multi_line_messages_round_trip_and_other_controls_are_400(app: TestApp) {
    assert_eq!(app.register("alice").await.status(), 204);
    let text = "first line\nsecond\tline\n\nafter a blank line";
    assert_eq!(app.tweet("alice", text).await.status(), 204);
    assert_eq!(
        app.tweet("alice", "windows\r\nbreak and\rold mac")
            .await
            .status(),
        204
    );
    for bad in [
        "a\0b",
        "two\nlines\0",
        "bell\u{7}",
        "vertical\u{b}tab",
        "form\u{c}feed",
        "esc\u{1b}[2J",
        "unit\u{1f}sep",
        "del\u{7f}",
    ] {
        let res = app.tweet("alice", bad).await;
        assert_eq!(res.status(), 400, "{bad:?}");
        let body: Value = res.json().await.expect("JSON error");
        assert_eq!(
            body["error_msg"], "The message may not contain control characters",
            "{bad:?}"
        );
    }
    let theirs = contents(&messages(&app, "/msgs/alice").await);
    assert_eq!(theirs, ["windows\nbreak and\nold mac", text]);
    assert_eq!(contents(&messages(&app, "/msgs").await), theirs);
}

async fn equal_dates_are_ordered_by_id(app: TestApp) {
    app.register("alice").await;
    for text in ["a", "b", "c", "d"] {
        app.tweet("alice", text).await;
    }
    // Force a tie on pub_date: order must then follow the id, newest first.
    exec_sql(&app.db_url, "UPDATE messages SET pub_date = 1700000000").await;
    assert_eq!(
        contents(&messages(&app, "/msgs").await),
        ["d", "c", "b", "a"]
    );
}

async fn flagged_messages_never_appear(app: TestApp) {
    app.register("alice").await;
    app.tweet("alice", "visible").await;
    app.tweet("alice", "hidden").await;
    exec_sql(
        &app.db_url,
        "UPDATE messages SET flagged = TRUE WHERE text = 'hidden'",
    )
    .await;
    assert_eq!(contents(&messages(&app, "/msgs").await), ["visible"]);
    assert_eq!(contents(&messages(&app, "/msgs/alice").await), ["visible"]);
}

async fn openapi_document_and_docs_are_served(app: TestApp) {
    let res = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.expect("JSON");
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/latest",
        "/register",
        "/msgs",
        "/msgs/{username}",
        "/fllws/{username}",
    ] {
        assert!(paths.contains_key(path), "{path} documented");
    }
    let res = app
        .http
        .get(app.url("/api/docs"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .expect("html")
        .contains("/api/openapi.json"));
}

async fn health_endpoints_answer(app: TestApp) {
    for path in ["/healthz", "/readyz"] {
        let res = app.http.get(app.url(path)).send().await.expect("get");
        assert_eq!(res.status(), 200, "{path}");
    }
}

on_both_backends!(
    protected_endpoints_answer_the_exact_403,
    messages_are_newest_first_with_the_right_shape,
    no_limits_defaults_and_falls_back_to_100,
    unknown_users_are_404,
    bad_post_bodies_are_400_and_record_nothing,
    spaces_and_unicode_round_trip_exactly,
    multi_line_messages_round_trip_and_other_controls_are_400,
    equal_dates_are_ordered_by_id,
    flagged_messages_never_appear,
    openapi_document_and_docs_are_served,
    health_endpoints_answer,
);
