//! Moderation (README.md, "The web pages"): `minitwit moderator grant|revoke`, the hide form moderators see,
//! 403 for everyone else, and a hidden message gone from every page and the API until a
//! moderator shows it again.

use std::process::Command;

use crate::common::web::{Page, WebClient};
use crate::common::{self, Backend, TestApp, TestDb};
use crate::on_both_backends;

const PASSWORD: &str = "secret";

fn moderator_command(db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_minitwit"))
        .arg("moderator")
        .args(args)
        .args(["--database-url", db_url])
        .env_remove("REDIS_URL")
        .output()
        .expect("minitwit runs")
}

/// The id of the newest message on `page` (its first `data-id`).
fn first_message_id(page: &Page) -> i64 {
    let at = page
        .body
        .find("<li data-id=\"")
        .expect("a message on the page")
        + 13;
    let rest = &page.body[at..];
    rest[..rest.find('"').expect("closing quote")]
        .parse()
        .expect("numeric id")
}

async fn api_contents(app: &TestApp, path: &str) -> Vec<String> {
    let res = app.get_api(path).await;
    assert_eq!(res.status(), 200, "{path}");
    let body: Vec<serde_json::Value> = res.json().await.expect("json");
    body.iter()
        .map(|m| m["content"].as_str().expect("content").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_and_revoke_through_the_command_line() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    let moderator = WebClient::new(&app);
    moderator.register_and_login("mod", PASSWORD).await;
    app.tweet("mod", "a message").await;
    assert!(!moderator.get("/public").await.contains("/hide\""));

    let out = moderator_command(&db.url, &["grant", "mod"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("mod is a moderator"));
    let page = moderator.get("/public").await;
    let id = first_message_id(&page);
    assert!(
        page.contains(&format!("action=\"/messages/{id}/hide\"")),
        "a moderator sees a hide form on every message"
    );

    let out = moderator_command(&db.url, &["revoke", "mod"]);
    assert!(out.status.success(), "{out:?}");
    assert!(!moderator.get("/public").await.contains("/hide\""));
    let refused = moderator.post(&format!("/messages/{id}/hide"), &[]).await;
    assert_eq!(
        refused.status, 403,
        "a revoked moderator may no longer hide"
    );

    let out = moderator_command(&db.url, &["grant", "nobody"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody"));
    app.stop().await;
}

async fn a_plain_user_gets_403_and_no_form(app: TestApp) {
    let plain = WebClient::new(&app);
    plain.register_and_login("plain", PASSWORD).await;
    plain.add_message("mine").await;
    let page = plain.get("/public").await;
    assert!(!page.contains("/hide\""), "no hide form for a plain user");
    let id = first_message_id(&page);
    for path in [
        format!("/messages/{id}/hide"),
        format!("/messages/{id}/unhide"),
    ] {
        assert_eq!(plain.post(&path, &[]).await.status, 403, "{path}");
        let anonymous = WebClient::new(&app);
        assert_eq!(anonymous.post(&path, &[]).await.status, 403, "{path}");
    }
    assert_eq!(api_contents(&app, "/msgs").await, ["mine"]);
}

async fn hidden_messages_leave_every_page_and_the_api_until_shown_again(app: TestApp) {
    let moderator = WebClient::new(&app);
    moderator.register_and_login("mod", PASSWORD).await;
    assert!(app
        .state
        .store
        .set_moderator("mod", true)
        .await
        .expect("grant"));
    let reader = WebClient::new(&app);
    reader.register_and_login("reader", PASSWORD).await;
    assert_eq!(app.register("author").await.status(), 204);
    assert_eq!(app.follow("reader", "author").await.status(), 204);
    app.tweet("author", "keep me").await;
    app.tweet("author", "abusive text").await;

    let page = moderator.get("/public").await;
    let id = first_message_id(&page);
    // The form posts back to the page it is on.
    let hidden = moderator
        .post_with_headers(
            &format!("/messages/{id}/hide"),
            &[],
            &[("Referer", &format!("{}/author", app.base))],
        )
        .await;
    assert_eq!(hidden.status, 302);
    assert_eq!(hidden.location.as_deref(), Some("/author"));
    assert!(moderator
        .get("/author")
        .await
        .contains("The message was hidden"));

    for path in ["/public", "/author"] {
        let page = reader.get(path).await;
        assert!(!page.contains("abusive text"), "{path} still shows it");
        assert!(page.contains("keep me"), "{path}");
    }
    let home = reader.get("/").await;
    assert!(!home.contains("abusive text") && home.contains("keep me"));
    assert_eq!(api_contents(&app, "/msgs").await, ["keep me"]);
    assert_eq!(api_contents(&app, "/msgs/author").await, ["keep me"]);
    assert_eq!(app.state.metrics.messages_hidden_total.get(), 1);

    let shown = moderator
        .post_follow(&format!("/messages/{id}/unhide"), &[])
        .await;
    assert!(shown.contains("The message is visible again"));
    assert!(reader.get("/public").await.contains("abusive text"));
    assert_eq!(
        api_contents(&app, "/msgs/author").await,
        ["abusive text", "keep me"]
    );

    assert_eq!(
        moderator.post("/messages/999999/hide", &[]).await.status,
        404
    );
    assert_eq!(moderator.post("/messages/abc/hide", &[]).await.status, 404);
    // Same origin only, like every form.
    let cross = moderator
        .post_with_headers(
            &format!("/messages/{id}/hide"),
            &[],
            &[("Origin", "https://evil.example")],
        )
        .await;
    assert_eq!(cross.status, 403);
    assert!(reader.get("/public").await.contains("abusive text"));
}

on_both_backends!(
    a_plain_user_gets_403_and_no_form,
    hidden_messages_leave_every_page_and_the_api_until_shown_again,
);
