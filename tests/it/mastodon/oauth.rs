//! The OAuth authorization-code flow with PKCE through the real consent page, as a web
//! client (Elk, Phanpy) runs it, and the refusals around it.

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{self, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_code_from_the_consent_page_becomes_a_token_once_with_its_verifier,
    the_password_grant_takes_the_email_as_mastodon_does,
);

const REDIRECT: &str = "http://127.0.0.1:5999/callback";

async fn a_code_from_the_consent_page_becomes_a_token_once_with_its_verifier(app: TestApp) {
    assert_eq!(app.register("ann").await.status(), 204);
    let registered: Value = app
        .http
        .post(app.url("/api/v1/apps"))
        .json(&serde_json::json!({
            "client_name": "Elkish <web>",
            "redirect_uris": REDIRECT,
            "scopes": "read write follow push",
        }))
        .send()
        .await
        .expect("apps")
        .json()
        .await
        .expect("json");
    let client_id = registered["client_id"].as_str().expect("id");
    let verifier = "dBjftJeZ4CVP-mJ0kRKBGHrnUjSd-f6C8kG1B1xtxhE-and-some-more-entropy";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let query = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "read write"),
        ("state", "xyz"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = app
        .http
        .get(app.url("/oauth/authorize"))
        .query(&query)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:5999"),
        "{csp}"
    );
    let html = page.text().await.expect("html");
    assert!(
        html.contains("Elkish &lt;web&gt;"),
        "the app's name, escaped"
    );
    assert!(html.contains("read write"));

    // A redirect URI the app did not register gets no page.
    let mut bad = query.to_vec();
    bad[2] = ("redirect_uri", "https://evil.example/cb");
    let refused = app
        .http
        .get(app.url("/oauth/authorize"))
        .query(&bad)
        .send()
        .await
        .expect("page");
    assert_eq!(refused.status(), 400);

    // The visitor signs in on the page and allows: a code for the app, with its state.
    let mut form: Vec<(&str, &str)> = query[1..].to_vec();
    form.extend([
        ("username", "ann"),
        ("password", "wrong"),
        ("decision", "Authorize"),
    ]);
    let wrong = app
        .http
        .post(app.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), 200);
    assert!(wrong
        .text()
        .await
        .expect("html")
        .contains("Invalid username or password"));
    form.retain(|(k, _)| *k != "password");
    form.push(("password", "secret"));
    let allowed = app
        .http
        .post(app.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(allowed.status(), 302);
    let location =
        url::Url::parse(allowed.headers()["location"].to_str().expect("ascii")).expect("url");
    assert!(location.as_str().starts_with(REDIRECT));
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("xyz"));
    let code = param("code").expect("code");

    let exchange = |verifier: &'static str| {
        app.http
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT),
                ("code", code.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let res = exchange("not-the-verifier").await.expect("token");
    assert_eq!(
        res.status(),
        400,
        "a wrong verifier is refused, and spends the code"
    );
    // A new code, exchanged with the right verifier, gives a token for ann, once.
    let allowed = app
        .http
        .post(app.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .expect("post");
    let location =
        url::Url::parse(allowed.headers()["location"].to_str().expect("ascii")).expect("url");
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let token_for = |code: String| {
        app.http
            .post(app.url("/oauth/token"))
            .json(&serde_json::json!({
                "grant_type": "authorization_code",
                "client_id": client_id,
                "redirect_uri": REDIRECT,
                "code": code,
                "code_verifier": verifier,
            }))
            .send()
    };
    let res = token_for(code.clone()).await.expect("token");
    assert_eq!(res.status(), 200);
    let token: Value = res.json().await.expect("json");
    assert_eq!(token["scope"], "read write");
    let me = super::account_of(&app, &token).await;
    assert_eq!(me["username"], "ann");
    assert_eq!(
        token_for(code).await.expect("token").status(),
        400,
        "a code works once"
    );

    // Deny sends the visitor back with access_denied.
    let mut deny = form.clone();
    deny.retain(|(k, _)| *k != "decision");
    deny.push(("decision", "Deny"));
    let denied = app
        .http
        .post(app.url("/oauth/authorize"))
        .form(&deny)
        .send()
        .await
        .expect("post");
    assert_eq!(denied.status(), 302);
    assert!(denied.headers()["location"]
        .to_str()
        .expect("ascii")
        .contains("error=access_denied"));

    // The password grant with a wrong password, and a scope the app did not register.
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", client_id),
            ("username", "ann"),
            ("password", "secret"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 401, "no client secret");
    app.stop().await;
}

/// Mastodon's password grant names the user by email (Mastodon.py's `log_in` documents
/// `username` as "the user's e-mail address"); MiniTwit takes the username or, failing
/// that, an email that belongs to exactly one user.
async fn the_password_grant_takes_the_email_as_mastodon_does(app: TestApp) {
    assert_eq!(app.register("ann").await.status(), 204);
    for (name, email) in [("bob", "shared@example.com"), ("cy", "shared@example.com")] {
        let res = app
            .post_api(
                "/register",
                serde_json::json!({"username": name, "email": email, "pwd": "secret"}),
            )
            .await;
        assert_eq!(res.status(), 204);
    }
    let (client_id, client_secret) = super::register_app(&app).await;
    let grant = |username: &'static str, password: &'static str| {
        app.http
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "password"),
                ("client_id", &client_id),
                ("client_secret", &client_secret),
                ("username", username),
                ("password", password),
                ("scope", "read"),
            ])
            .send()
    };

    let by_email = grant("ann@example.com", "secret").await.expect("token");
    assert_eq!(by_email.status(), 200);
    let token: Value = by_email.json().await.expect("json");
    let me = super::account_of(&app, &token).await;
    assert_eq!(
        me["username"], "ann",
        "the token acts for the email's owner"
    );

    // A wrong password, and an email two users share, are refused like a wrong name.
    for (username, password) in [
        ("ann@example.com", "wrong"),
        ("shared@example.com", "secret"),
    ] {
        let refused = grant(username, password).await.expect("token");
        assert_eq!(refused.status(), 400, "{username}");
        let body: Value = refused.json().await.expect("json");
        assert_eq!(body["error"], "invalid_grant", "{username}");
    }
    app.stop().await;
}
