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

on_both_backends!(
    register_succeeds_with_empty_204,
    register_errors_come_in_the_classic_order,
    register_body_errors_are_400_not_500,
    concurrent_registrations_of_one_name_have_one_winner,
    reserved_and_slashed_usernames_are_refused,
);
