//! The Mastodon-compatible client API (docs/mastodon.md) against a real server, as a
//! Mastodon client uses it: OAuth, accounts, statuses, timelines and their `Link` paging,
//! CORS, streaming; on SQLite always and on PostgreSQL when `TEST_DATABASE_URL` is set.
//! `clients` runs real client libraries (Mastodon.py, masto.js) against it.

mod browser;
mod clients;
mod junk;
mod oauth;
mod rest;
mod streaming;

use serde_json::Value;

use crate::common::TestApp;

/// A registered app with a token for one user, and the calls a client makes.
pub struct Client<'a> {
    pub app: &'a TestApp,
    pub client_id: String,
    pub client_secret: String,
    pub token: String,
}

/// Registers an app allowed `read write follow push`.
pub async fn register_app(app: &TestApp) -> (String, String) {
    let res = app
        .http
        .post(app.url("/api/v1/apps"))
        .form(&[
            ("client_name", "tests"),
            ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
            ("scopes", "read write follow push"),
        ])
        .send()
        .await
        .expect("apps");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    (
        body["client_id"].as_str().expect("client_id").to_owned(),
        body["client_secret"].as_str().expect("secret").to_owned(),
    )
}

impl<'a> Client<'a> {
    /// Registers `username` through the simulator API and logs in with the password grant.
    pub async fn for_new_user(app: &'a TestApp, username: &str, scope: &str) -> Client<'a> {
        assert_eq!(app.register(username).await.status(), 204);
        Client::log_in(app, username, scope).await
    }

    pub async fn log_in(app: &'a TestApp, username: &str, scope: &str) -> Client<'a> {
        let (client_id, client_secret) = register_app(app).await;
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .json(&serde_json::json!({
                "grant_type": "password",
                "client_id": client_id,
                "client_secret": client_secret,
                "username": username,
                "password": "secret",
                "scope": scope,
            }))
            .send()
            .await
            .expect("token");
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["scope"], scope, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        Client {
            app,
            client_id,
            client_secret,
            token: body["access_token"].as_str().expect("token").to_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.app
            .http
            .get(self.app.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get")
    }

    pub async fn get_url(&self, url: &str) -> reqwest::Response {
        self.app
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get")
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .http
            .post(self.app.url(path))
            .bearer_auth(&self.token)
            .form(form)
            .send()
            .await
            .expect("post")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.app
            .http
            .delete(self.app.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("delete")
    }

    /// The JSON answer to a GET of `path`.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.expect("json")
    }

    /// Posts `text`; returns the status.
    pub async fn post_status(&self, text: &str) -> Value {
        let res = self.post("/api/v1/statuses", &[("status", text)]).await;
        assert_eq!(res.status(), 200);
        res.json().await.expect("json")
    }

    /// This token's account id.
    pub async fn my_id(&self) -> String {
        let me: Value = self
            .get("/api/v1/accounts/verify_credentials")
            .await
            .json()
            .await
            .expect("json");
        me["id"].as_str().expect("id").to_owned()
    }
}

/// The account an OAuth token answer's `access_token` acts for.
pub async fn account_of(app: &TestApp, token: &Value) -> Value {
    app.http
        .get(app.url("/api/v1/accounts/verify_credentials"))
        .bearer_auth(token["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json")
}

/// The `rel` URL of a `Link` header, if any.
pub fn link(res: &reqwest::Response, rel: &str) -> Option<String> {
    let header = res.headers().get("link")?.to_str().ok()?;
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains(&format!("rel=\"{rel}\"")).then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// The status ids of a JSON array answer.
pub fn ids(page: &Value) -> Vec<i64> {
    page.as_array()
        .expect("array")
        .iter()
        .map(|s| s["id"].as_str().expect("id").parse().expect("number"))
        .collect()
}
