//! `POST /api/register`: 204 with an empty body, then the classic errors in order.

use crate::common::{self, TestApp};
use crate::on_both_backends;
use serde_json::json;

async fn error_of(app: &TestApp, body: serde_json::Value) -> (u16, String) {
    let res = app.post_api("/register", body).await;
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.expect("error body is JSON");
    assert_eq!(body["status"].as_u64(), Some(u64::from(status)));
    (
        status,
        body["error_msg"].as_str().expect("error_msg").to_owned(),
    )
}

async fn register_succeeds_with_empty_204(app: TestApp) {
    let res = app
        .post_api("/register", json!({"username": "Roger Histand", "email": "Roger+Histand@hotmail.com", "pwd": "]=)[X{Km{z"}))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.text().await.expect("body"), "");
}

async fn register_errors_come_in_the_classic_order(app: TestApp) {
    assert_eq!(app.register("taken").await.status(), 204);
    let cases = [
        // Everything wrong: the username is reported first.
        (
            json!({"username": "", "email": "x", "pwd": ""}),
            "You have to enter a username",
        ),
        (
            json!({"email": "x", "pwd": "p"}),
            "You have to enter a username",
        ),
        (
            json!({"username": "u", "email": "no-at-sign", "pwd": ""}),
            "You have to enter a valid email address",
        ),
        (
            json!({"username": "u", "pwd": "p"}),
            "You have to enter a valid email address",
        ),
        (
            json!({"username": "u", "email": "u@x", "pwd": ""}),
            "You have to enter a password",
        ),
        (
            json!({"username": "u", "email": "u@x"}),
            "You have to enter a password",
        ),
        (
            json!({"username": "taken", "email": "u@x", "pwd": "p"}),
            "The username is already taken",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            error_of(&app, body.clone()).await,
            (400, expected.to_owned()),
            "{body}"
        );
    }
}

async fn register_body_errors_are_400_not_500(app: TestApp) {
    for raw in [
        "",
        "{",
        "not json",
        "[]",
        r#"{"username": 5, "email": "a@b", "pwd": "p"}"#,
        r#"{"username": "a", "email": "a@b", "pwd": null}"#,
    ] {
        let res = app
            .http
            .post(app.url("/api/register"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 400, "body {raw:?}");
        let body: serde_json::Value = res.json().await.expect("JSON error body");
        assert_eq!(body["status"], 400);
    }
}

async fn concurrent_registrations_of_one_name_have_one_winner(app: TestApp) {
    let attempts = (0..8).map(|_| app.register("contested"));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        7,
        "{statuses:?}"
    );
}

async fn reserved_and_slashed_usernames_are_refused(app: TestApp) {
    for name in ["public", "login", "api", "a/b"] {
        let (status, _) =
            error_of(&app, json!({"username": name, "email": "a@b", "pwd": "p"})).await;
        assert_eq!(status, 400, "{name}");
    }
}

/// Another site's page cannot make its visitors' browsers register accounts: a form or a
/// `fetch` needing no preflight (no credential, `text/plain`) carries `Sec-Fetch-Site` and
/// `Origin`, and is refused with the API's JSON 403 before anything else (`latest` too).
/// The simulator sends neither and registers as before; a page of our own origin (the
/// docs page's "Try it out") does too.
async fn register_from_another_sites_page_is_refused(app: TestApp) {
    let own = format!("http://{}", app.addr);
    assert_eq!(app.get_api("/latest?latest=7").await.status(), 200);
    assert_eq!(app.latest().await, 7);
    for headers in [
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ][..],
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://www.evil.example"),
        ],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "http://evil.example")],
        &[("origin", "null")],
    ] {
        let mut request = app
            .http
            .post(app.url("/api/register?latest=999"))
            .header("content-type", "text/plain;charset=UTF-8")
            .body(r#"{"username": "forged", "email": "forged@example.com", "pwd": "p"}"#);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let res = request.send().await.expect("post");
        assert_eq!(res.status(), 403, "{headers:?}");
        assert_eq!(
            res.headers()["content-type"],
            "application/json",
            "{headers:?}"
        );
        let body: serde_json::Value = res.json().await.expect("the API's JSON error");
        assert_eq!(body["status"], 403, "{headers:?}");
        assert!(
            body["error_msg"]
                .as_str()
                .is_some_and(|m| m.contains("another site")),
            "{body}"
        );
    }
    assert_eq!(
        app.latest().await,
        7,
        "a refused request does not move latest"
    );
    assert_eq!(
        app.get_api("/msgs/forged").await.status(),
        404,
        "no user made"
    );

    // The simulator, exactly as it calls.
    assert_eq!(app.register("simulated").await.status(), 204);
    // A page of our own origin.
    let res = app
        .http
        .post(app.url("/api/register"))
        .header("origin", &own)
        .header("sec-fetch-site", "same-origin")
        .json(&json!({"username": "from the docs", "email": "docs@example.com", "pwd": "p"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 204);
    for name in ["simulated", "from%20the%20docs"] {
        assert_eq!(app.get_api(&format!("/msgs/{name}")).await.status(), 200);
    }
}

on_both_backends!(
    register_succeeds_with_empty_204,
    register_errors_come_in_the_classic_order,
    register_body_errors_are_400_not_500,
    concurrent_registrations_of_one_name_have_one_winner,
    reserved_and_slashed_usernames_are_refused,
    register_from_another_sites_page_is_refused,
);
