//! Accounts, statuses, timelines, instance, CORS and errors, as a client sees them.

use serde_json::Value;

use super::{ids, link, Client};
use crate::common::{self, TestApp};
use crate::on_both_backends;

on_both_backends!(
    tokens_act_for_their_user_within_their_scopes,
    timelines_page_through_link_headers_without_gaps_or_repeats,
    statuses_post_once_per_idempotency_key_and_delete_as_hidden,
    simultaneous_posts_with_one_idempotency_key_post_once,
    follow_changes_the_home_timeline_and_the_relationship,
);

async fn tokens_act_for_their_user_within_their_scopes(app: TestApp) {
    let ann = Client::for_new_user(&app, "ann", "read write follow").await;
    let me: Value = ann
        .get("/api/v1/accounts/verify_credentials")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["username"], "ann");
    assert_eq!(me["acct"], "ann");
    assert_eq!(me["source"]["privacy"], "public");

    // A read-only token reads but may not post or follow.
    let reader = Client::log_in(&app, "ann", "read").await;
    assert_eq!(reader.get("/api/v1/timelines/home").await.status(), 200);
    let refused = reader.post("/api/v1/statuses", &[("status", "no")]).await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(
        body["error"],
        "This action is outside the authorized scopes"
    );

    // No token, a wrong one, a revoked one: 401 with JSON.
    let anonymous = app
        .http
        .get(app.url("/api/v1/timelines/home"))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401);
    let wrong = Client {
        token: "nope".into(),
        ..Client::log_in(&app, "ann", "read").await
    };
    let res = wrong.get("/api/v1/accounts/verify_credentials").await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let revoked = app
        .http
        .post(app.url("/oauth/revoke"))
        .form(&[
            ("client_id", ann.client_id.as_str()),
            ("client_secret", ann.client_secret.as_str()),
            ("token", ann.token.as_str()),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        ann.get("/api/v1/accounts/verify_credentials")
            .await
            .status(),
        401
    );
    assert_eq!(
        reader
            .get("/api/v1/accounts/verify_credentials")
            .await
            .status(),
        200
    );

    // A new password voids the tokens issued before it: changed in the database, as on
    // another instance, it holds once the grant this instance read is a second old
    // (docs/mastodon.md, "OAuth 2").
    let new_hash =
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    common::exec_sql(
        &app.db_url,
        &format!("UPDATE users SET pw_hash = '{new_hash}' WHERE username = 'ann'"),
    )
    .await;
    let changed_at = std::time::Instant::now();
    loop {
        let status = reader
            .get("/api/v1/accounts/verify_credentials")
            .await
            .status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            changed_at.elapsed() < std::time::Duration::from_secs(3),
            "the token still works 3 s after the password changed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.stop().await;
}

async fn timelines_page_through_link_headers_without_gaps_or_repeats(app: TestApp) {
    let ann = Client::for_new_user(&app, "ann", "read write").await;
    let mut posted = Vec::new();
    for k in 0..45 {
        let status = ann.post_status(&format!("status {k}")).await;
        posted.push(
            status["id"]
                .as_str()
                .expect("id")
                .parse::<i64>()
                .expect("id"),
        );
    }
    posted.reverse();
    for path in ["/api/v1/timelines/public", "/api/v1/timelines/home"] {
        let mut seen = Vec::new();
        let mut url = app.url(&format!("{path}?limit=20"));
        loop {
            let res = ann.get_url(&url).await;
            assert_eq!(res.status(), 200);
            let next = link(&res, "next");
            let page: Value = res.json().await.expect("json");
            let page_ids = ids(&page);
            if page_ids.is_empty() {
                assert!(next.is_none(), "an empty page has no Link");
                break;
            }
            assert!(page_ids.len() <= 20);
            seen.extend(page_ids);
            let next = next.expect("a full page links to the next");
            assert!(next.starts_with(&app.base), "absolute: {next}");
            assert!(next.contains("limit=20"), "keeps limit: {next}");
            url = next;
        }
        assert_eq!(seen, posted, "{path}: every status once, newest first");
    }
    // `min_id` gives the page just above it, newest first; `since_id` the newest above it.
    let res = ann
        .get(&format!(
            "/api/v1/timelines/public?limit=5&min_id={}",
            posted[44]
        ))
        .await;
    let prev = link(&res, "prev").expect("prev");
    assert!(prev.contains(&format!("min_id={}", posted[39])), "{prev}");
    let page: Value = res.json().await.expect("json");
    assert_eq!(ids(&page), posted[39..44].to_vec());
    let page: Value = ann
        .get(&format!(
            "/api/v1/timelines/public?limit=5&since_id={}",
            posted[44]
        ))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ids(&page), posted[0..5].to_vec());
    // An account's statuses page the same way; a bad id is a clear 400 or 404.
    let me = ann.my_id().await;
    let page: Value = ann
        .get(&format!(
            "/api/v1/accounts/{me}/statuses?limit=3&max_id={}",
            posted[0]
        ))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ids(&page), posted[1..4].to_vec());
    assert_eq!(
        ann.get("/api/v1/timelines/public?max_id=x").await.status(),
        400
    );
    assert_eq!(ann.get("/api/v1/accounts/999999").await.status(), 404);
    assert_eq!(ann.get("/api/v1/accounts/abc/statuses").await.status(), 404);
    app.stop().await;
}

/// A client that sends its post again before the first answer came (a double tap, a retry
/// on a slow network) gets one status, not two: the requests with one key wait in turn.
async fn simultaneous_posts_with_one_idempotency_key_post_once(app: TestApp) {
    let ann = Client::for_new_user(&app, "ann", "read write").await;
    let posts = (0..8).map(|_| async {
        let res = app
            .http
            .post(app.url("/api/v1/statuses"))
            .bearer_auth(&ann.token)
            .header("Idempotency-Key", "double-tap")
            .json(&serde_json::json!({"status": "only once"}))
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 200);
        let status: Value = res.json().await.expect("json");
        status["id"].as_str().expect("id").to_owned()
    });
    let answered = futures_util::future::join_all(posts).await;
    assert!(
        answered.iter().all(|id| *id == answered[0]),
        "every request answers the one status: {answered:?}"
    );
    let public = ann.get_json("/api/v1/timelines/public").await;
    assert_eq!(ids(&public).len(), 1, "posted once");
    app.stop().await;
}

async fn statuses_post_once_per_idempotency_key_and_delete_as_hidden(app: TestApp) {
    let ann = Client::for_new_user(&app, "ann", "read write").await;
    let bob = Client::for_new_user(&app, "bob", "read write").await;
    let post_keyed = || {
        app.http
            .post(app.url("/api/v1/statuses"))
            .bearer_auth(&ann.token)
            .header("Idempotency-Key", "k-1")
            .json(&serde_json::json!({"status": "line one\nline <two>"}))
            .send()
    };
    let first: Value = post_keyed()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let again: Value = post_keyed()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["content"], "<p>line one<br>line &lt;two&gt;</p>");
    let public = ann.get_json("/api/v1/timelines/public").await;
    assert_eq!(ids(&public).len(), 1, "posted once");

    // Bad input is a clear 4xx with JSON.
    for form in [
        vec![("status", "")],
        vec![("status", &*"x".repeat(1001))],
        vec![("status", "dm"), ("visibility", "direct")],
    ] {
        let res = ann.post("/api/v1/statuses", &form).await;
        assert_eq!(res.status(), 400, "{form:?}");
        let body: Value = res.json().await.expect("json");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }

    let id = first["id"].as_str().expect("id");
    let shown: Value = bob
        .get(&format!("/api/v1/statuses/{id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["account"]["username"], "ann");
    assert_eq!(
        bob.delete(&format!("/api/v1/statuses/{id}")).await.status(),
        403
    );
    let deleted = ann.delete(&format!("/api/v1/statuses/{id}")).await;
    assert_eq!(deleted.status(), 200);
    let deleted: Value = deleted.json().await.expect("json");
    assert_eq!(deleted["text"], "line one\nline <two>");
    assert_eq!(
        bob.get(&format!("/api/v1/statuses/{id}")).await.status(),
        404
    );
    let public: Value = ann
        .get("/api/v1/timelines/public")
        .await
        .json()
        .await
        .expect("json");
    assert!(ids(&public).is_empty());
    let page = reqwest::get(app.url("/public"))
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    assert!(!page.contains("line one"), "gone from the pages too");
    app.stop().await;
}

async fn follow_changes_the_home_timeline_and_the_relationship(app: TestApp) {
    let ann = Client::for_new_user(&app, "ann", "read write follow").await;
    let bob = Client::for_new_user(&app, "bob", "read write").await;
    bob.post_status("from bob").await;
    let found: Value = ann
        .get("/api/v1/accounts/lookup?acct=bob")
        .await
        .json()
        .await
        .expect("json");
    let bob_id = found["id"].as_str().expect("id").to_owned();
    assert_eq!(found["statuses_count"], 1);
    let home: Value = ann
        .get("/api/v1/timelines/home")
        .await
        .json()
        .await
        .expect("json");
    assert!(ids(&home).is_empty());

    let rel: Value = ann
        .post(&format!("/api/v1/accounts/{bob_id}/follow"), &[])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (rel["id"].as_str(), rel["following"].as_bool()),
        (Some(&*bob_id), Some(true))
    );
    let home: Value = ann
        .get("/api/v1/timelines/home")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(home[0]["content"], "<p>from bob</p>");
    let page = app.get_api("/fllws/ann").await.text().await.expect("text");
    assert!(
        page.contains("bob"),
        "the simulator API sees the follow: {page}"
    );
    let rels: Value = ann
        .get(&format!("/api/v1/accounts/relationships?id[]={bob_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(rels[0]["following"], true);
    let bob_seen: Value = bob
        .get(&format!("/api/v1/accounts/{bob_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(bob_seen["followers_count"], 1);

    let rel: Value = ann
        .post(&format!("/api/v1/accounts/{bob_id}/unfollow"), &[])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(rel["following"], false);
    let home: Value = ann
        .get("/api/v1/timelines/home")
        .await
        .json()
        .await
        .expect("json");
    assert!(ids(&home).is_empty());
    assert_eq!(
        ann.get("/api/v1/accounts/lookup?acct=nobody")
            .await
            .status(),
        404
    );
    app.stop().await;
}

/// What clients read before logging in, and the CORS a web client needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_nodeinfo_stubs_and_cors_answer_as_mastodon_does() {
    let db = common::TestDb::new(common::Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    for path in [
        "/api/v1/instance",
        "/api/v1/instance/",
        "/api/v2/instance",
        "/api/v2/instance/",
    ] {
        let body: Value = reqwest::get(app.url(path))
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert!(body["version"]
            .as_str()
            .expect("version")
            .starts_with("4.2.0 (compatible; MiniTwit "));
    }
    let v1: Value = reqwest::get(app.url("/api/v1/instance"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(v1["urls"]["streaming_api"], format!("ws://{}", app.addr));
    assert_eq!(v1["configuration"]["statuses"]["max_characters"], 1000);
    let v2: Value = reqwest::get(app.url("/api/v2/instance"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        v2["configuration"]["urls"]["streaming"],
        format!("ws://{}", app.addr)
    );
    assert_eq!(v2["registrations"]["enabled"], true);
    let links: Value = reqwest::get(app.url("/.well-known/nodeinfo"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let href = links["links"][0]["href"].as_str().expect("href");
    let nodeinfo: Value = reqwest::get(href)
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(nodeinfo["software"]["name"], "minitwit");
    let meta: Value = reqwest::get(app.url("/.well-known/oauth-authorization-server"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );

    let ann = Client::for_new_user(&app, "ann", "read").await;
    for (path, expected) in [
        ("/api/v1/notifications", "[]"),
        ("/api/v1/lists", "[]"),
        ("/api/v1/filters", "[]"),
        ("/api/v2/filters", "[]"),
        ("/api/v1/followed_tags", "[]"),
        ("/api/v1/follow_requests", "[]"),
        ("/api/v1/custom_emojis", "[]"),
        ("/api/v1/markers", "{}"),
    ] {
        let res = ann.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.text().await.expect("text"), expected, "{path}");
    }
    let prefs: Value = ann
        .get("/api/v1/preferences")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(prefs["posting:default:visibility"], "public");

    // A preflight from any origin, and CORS headers on errors too.
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/timelines/home"))
        .header("Origin", "https://elk.zone")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .expect("options");
    assert_eq!(preflight.status(), 200);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert!(preflight.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .contains("authorization"));
    let refused = app
        .http
        .get(app.url("/api/v1/timelines/home"))
        .header("Origin", "https://elk.zone")
        .send()
        .await
        .expect("get");
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["access-control-allow-origin"], "*");
    assert!(refused.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii")
        .contains("Link"));
    let unknown = app
        .http
        .get(app.url("/api/v1/nothing/here"))
        .send()
        .await
        .expect("get");
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.expect("json");
    assert_eq!(body["error"], "Record not found");
    // The simulator API beside it is unchanged.
    assert_eq!(app.get_api("/latest").await.status(), 200);
    app.stop().await;
}
