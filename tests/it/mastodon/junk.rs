//! Input a client should never send, as a fuzzer sends it (tests/it/ops/mastodon_docs.rs
//! runs one): refused with a 400 or treated as naming nothing, never a 500. PostgreSQL
//! refuses U+0000 in text, so a NUL that reaches a query is an error there and not on
//! SQLite; each case runs on both.

use serde_json::{json, Value};

use super::Client;
use crate::common::{self, TestApp};
use crate::on_both_backends;

on_both_backends!(a_nul_in_a_parameter_is_refused_not_an_error);

/// `res` is a 400 with the API's JSON error.
async fn assert_refused(res: reqwest::Response, what: &str) {
    let status = res.status();
    let body: Value = res.json().await.unwrap_or_default();
    assert_eq!(status, 400, "{what}: {body}");
    assert!(body["error"].is_string(), "{what}: {body}");
}

async fn a_nul_in_a_parameter_is_refused_not_an_error(app: TestApp) {
    let ann = Client::for_new_user(&app, "ann", "read write follow").await;
    let oob = "urn:ietf:wg:oauth:2.0:oob";
    for form in [
        [
            ("client_name", "a\0b"),
            ("redirect_uris", oob),
            ("website", ""),
        ],
        [
            ("client_name", "a"),
            ("redirect_uris", "http://x/\0"),
            ("website", ""),
        ],
        [
            ("client_name", "a"),
            ("redirect_uris", oob),
            ("website", "w\0"),
        ],
    ] {
        let res = app
            .http
            .post(app.url("/api/v1/apps"))
            .form(&form)
            .send()
            .await
            .expect("apps");
        assert_refused(res, &format!("apps {form:?}")).await;
    }
    let res = app
        .http
        .post(app.url("/api/v1/apps"))
        .json(&json!({"client_name": "a\u{0}", "redirect_uris": [oob]}))
        .send()
        .await
        .expect("apps");
    assert_refused(res, "apps as JSON").await;

    for grant in ["password", "authorization_code", "client_credentials"] {
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", grant),
                ("client_id", "id\0"),
                ("client_secret", "secret"),
                ("code", "code"),
            ])
            .send()
            .await
            .expect("token");
        assert_refused(res, grant).await;
    }
    let res = app
        .http
        .post(app.url("/oauth/revoke"))
        .form(&[
            ("token", "t"),
            ("client_id", "id\0"),
            ("client_secret", "s"),
        ])
        .send()
        .await
        .expect("revoke");
    assert_refused(res, "revoke").await;

    // The consent page names no app for such a client id: the page's 400, no error.
    let res = app
        .http
        .get(app.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "id\0"),
            ("redirect_uri", oob),
        ])
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), 400, "GET /oauth/authorize");

    // The client that sent none of it still works.
    assert_eq!(
        ann.get("/api/v1/accounts/verify_credentials")
            .await
            .status(),
        200
    );
}
