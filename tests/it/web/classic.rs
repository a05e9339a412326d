//! The classic MiniTwit web tests (Flask's `minitwit_tests.py`), flow for flow, plus the
//! follow-status texts, the anonymous redirects and 401s, and 404s for unknown users.

use crate::common::web::WebClient;
use crate::common::{self, TestApp};
use crate::on_both_backends;

async fn register_texts_in_the_classic_order(app: TestApp) {
    let web = WebClient::new(&app);
    let page = web.register("user1", "default").await;
    assert_eq!(page.path, "/login");
    assert!(page.contains("You were successfully registered and can login now"));
    let page = web.register("user1", "default").await;
    assert!(page.contains("The username is already taken"));
    let page = web.register("", "default").await;
    assert!(page.contains("You have to enter a username"));
    let page = web.register("meh", "").await;
    assert!(page.contains("You have to enter a password"));
    let page = web.register_with("meh", "x", "y", "meh@example.com").await;
    assert!(page.contains("The two passwords do not match"));
    let page = web.register_with("meh", "foo", "foo", "broken").await;
    assert!(page.contains("You have to enter a valid email address"));
    // Mismatched passwords are reported before a taken name, as in the classic app.
    let page = web.register_with("user1", "x", "y", "u@example.com").await;
    assert!(page.contains("The two passwords do not match"));
    // Errors are shown on the form, in div.error, with what was typed kept.
    assert!(page.contains(r#"<div class="error">"#));
    assert!(page.contains(r#"value="user1""#));
    // None of the refused registrations created a user.
    assert_eq!(web.get("/meh").await.status, 404);
}

async fn login_and_logout_texts(app: TestApp) {
    let web = WebClient::new(&app);
    let page = web.register_and_login("user1", "default").await;
    assert!(page.contains("You were logged in"));
    assert_eq!(page.path, "/");
    assert!(page.contains("sign out [user1]"));
    let page = web.logout().await;
    assert!(page.contains("You were logged out"));
    assert_eq!(page.path, "/public");
    assert!(page.contains("sign in"));
    assert!(!page.contains("sign out"));
    let page = web.login("user1", "wrongpassword").await;
    assert!(page.contains("Invalid password"));
    let page = web.login("user2", "wrongpassword").await;
    assert!(page.contains("Invalid username"));
    let page = web.login("user1", "").await;
    assert!(page.contains("Invalid password"));
    // Logged out means logged out: the personal timeline sends us to the public one.
    assert_eq!(web.get("/").await.location.as_deref(), Some("/public"));
}

async fn message_recording_escapes_markup(app: TestApp) {
    let web = WebClient::new(&app);
    web.register_and_login("foo", "default").await;
    web.add_message("test message 1").await;
    web.add_message("<test message 2>").await;
    let page = web.get("/").await;
    assert!(page.contains("test message 1"));
    assert!(page.contains("&lt;test message 2&gt;"));
    assert!(!page.contains("<test message 2>"));
    // An empty message is ignored, without a flash, as in the classic app.
    let page = web.add_message("").await;
    assert_eq!(page.path, "/");
    assert!(!page.contains("Your message was recorded"));
    assert_eq!(page.body.matches("<li data-id=").count(), 2);
}

async fn timelines_follow_and_unfollow(app: TestApp) {
    let web = WebClient::new(&app);
    web.register_and_login("foo", "default").await;
    web.add_message("the message by foo").await;
    web.logout().await;
    web.register_and_login("bar", "default").await;
    web.add_message("the message by bar").await;
    let page = web.get("/public").await;
    assert!(page.contains("the message by foo"));
    assert!(page.contains("the message by bar"));

    // bar's timeline should just show bar's message
    let page = web.get("/").await;
    assert!(!page.contains("the message by foo"));
    assert!(page.contains("the message by bar"));

    // now let's follow foo
    let page = web.get_follow("/foo/follow").await;
    assert_eq!(page.path, "/foo");
    assert!(page.contains("You are now following &#34;foo&#34;"));
    assert!(page.contains("You are currently following this user."));

    // we should now see foo's message
    let page = web.get("/").await;
    assert!(page.contains("the message by foo"));
    assert!(page.contains("the message by bar"));

    // but on the user's page we only want the user's message
    let page = web.get("/bar").await;
    assert!(!page.contains("the message by foo"));
    assert!(page.contains("the message by bar"));
    assert!(page.contains("This is you!"));
    let page = web.get("/foo").await;
    assert!(page.contains("the message by foo"));
    assert!(!page.contains("the message by bar"));

    // now unfollow and check if that worked
    let page = web.get_follow("/foo/unfollow").await;
    assert!(page.contains("You are no longer following &#34;foo&#34;"));
    assert!(page.contains("You are not yet following this user."));
    let page = web.get("/").await;
    assert!(!page.contains("the message by foo"));
    assert!(page.contains("the message by bar"));

    // The page's own follow button posts a form; that works too.
    let page = web.post_follow("/foo/follow", &[]).await;
    assert!(page.contains("You are now following &#34;foo&#34;"));
    let page = web.post_follow("/foo/unfollow", &[]).await;
    assert!(page.contains("You are no longer following &#34;foo&#34;"));
}

async fn follow_status_texts_and_buttons(app: TestApp) {
    app.register("Roger Histand").await;
    let web = WebClient::new(&app);
    // Anonymous readers see the messages but no follow box.
    let page = web.get("/Roger%20Histand").await;
    assert_eq!(page.status, 200);
    assert!(page.contains("Roger Histand&#39;s Timeline"));
    assert!(!page.contains("followstatus"));

    web.register_and_login("reader", "pw").await;
    let page = web.get("/Roger%20Histand").await;
    assert!(page.contains("You are not yet following this user."));
    assert!(page.contains(r#"action="/Roger%20Histand/follow" method="post""#));
    let page = web.get_follow("/Roger%20Histand/follow").await;
    assert_eq!(page.path, "/Roger%20Histand");
    assert!(page.contains("You are now following &#34;Roger Histand&#34;"));
    assert!(page.contains("You are currently following this user."));
    assert!(page.contains(r#"action="/Roger%20Histand/unfollow" method="post""#));
    let page = web.get("/reader").await;
    assert!(page.contains("This is you!"));
    assert!(!page.contains("Follow user"));
}

async fn page_layout_has_the_classic_parts(app: TestApp) {
    let web = WebClient::new(&app);
    let page = web.get("/public").await;
    assert!(page.contains("<title>Public Timeline | MiniTwit</title>"));
    assert!(page.contains("<h1>MiniTwit</h1>"));
    assert!(page.contains("public timeline</a> |"));
    assert!(page.contains(r#"<a href="/register">sign up</a>"#));
    assert!(page.contains(r#"<a href="/login">sign in</a>"#));
    assert!(page.contains("<li><em>There's no message so far.</em></li>"));
    assert!(page.contains(r#"data-stream="public" data-newest-id="0""#));
    assert!(page.contains(r#"<script src="/static/live.js" defer></script>"#));

    web.register_and_login("alice", "pw").await;
    let page = web.get("/").await;
    assert!(page.contains("<title>My Timeline | MiniTwit</title>"));
    assert!(page.contains(r#"<a href="/">my timeline</a>"#));
    assert!(page.contains("sign out [alice]"));
    assert!(page.contains("What's on your mind alice?"));
    assert!(page.contains(r#"name="text""#));
    assert!(page.contains(r#"value="Share""#));
    assert!(page.contains(r#"data-stream="home""#));

    let css = app
        .http
        .get(app.url("/static/style.css"))
        .send()
        .await
        .expect("request");
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/css"));
    assert!(css.text().await.expect("body").contains("ul.messages"));
}

async fn messages_show_gravatar_date_and_author_link(app: TestApp) {
    app.post_api(
        "/register",
        serde_json::json!({"username": "Dora", "email": "  Dora@Example.com ", "pwd": "x"}),
    )
    .await;
    let web = WebClient::new(&app);
    web.login("Dora", "x").await;
    web.add_message("hello world").await;
    let page = web.get("/public").await;
    let digest = format!("{:x}", md5::compute("dora@example.com"));
    assert!(page.contains(&format!(
        r#"<img src="https://www.gravatar.com/avatar/{digest}?d=identicon&amp;s=48">"#
    )));
    assert!(
        page.contains(r#"<strong><a href="/Dora">Dora</a></strong> hello world <small>&mdash; "#)
    );
    // The date is today's, in UTC, to the minute.
    let date = page
        .body
        .split("<small>&mdash; ")
        .nth(1)
        .and_then(|rest| rest.split("</small>").next())
        .expect("a date");
    let parsed = chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d @ %H:%M")
        .unwrap_or_else(|e| panic!("{date:?} is not YYYY-MM-DD @ HH:MM: {e}"));
    let age = chrono::Utc::now().naive_utc() - parsed;
    assert!(
        age >= chrono::Duration::zero() && age < chrono::Duration::minutes(2),
        "{date} is not now in UTC"
    );
}

async fn anonymous_visitors_are_redirected_or_refused(app: TestApp) {
    app.register("foo").await;
    let web = WebClient::new(&app);
    let page = web.get("/").await;
    assert_eq!(page.status, 302);
    assert_eq!(page.location.as_deref(), Some("/public"));
    for path in ["/foo/follow", "/foo/unfollow"] {
        assert_eq!(web.get(path).await.status, 401, "GET {path}");
        assert_eq!(web.post(path, &[]).await.status, 401, "POST {path}");
    }
    let page = web.post("/add_message", &[("text", "sneaky")]).await;
    assert_eq!(page.status, 401);
    assert!(page.contains("<title>401 Unauthorized | MiniTwit</title>"));
    assert!(!web.get("/public").await.contains("sneaky"));
}

async fn unknown_users_are_404_pages(app: TestApp) {
    let web = WebClient::new(&app);
    let page = web.get("/nobody").await;
    assert_eq!(page.status, 404);
    assert!(page.contains("<title>404 Not Found | MiniTwit</title>"));
    assert!(page.contains("<h1>MiniTwit</h1>"));
    web.register_and_login("me", "pw").await;
    assert_eq!(web.get("/nobody/follow").await.status, 404);
    assert_eq!(web.get("/nobody/unfollow").await.status, 404);
    assert_eq!(web.post("/nobody/follow", &[]).await.status, 404);
}

async fn bad_input_is_a_clear_4xx(app: TestApp) {
    let web = WebClient::new(&app);
    web.register_and_login("me", "pw").await;
    for path in ["/public?before=abc", "/?before=-1", "/me?before=1e3"] {
        let page = web.get(path).await;
        assert_eq!(page.status, 400, "{path}");
        assert!(page.contains("before"), "{path}: {}", page.body);
    }
    let page = web
        .post("/add_message", &[("text", &"x".repeat(1001))])
        .await;
    assert_eq!(page.status, 400);
    assert!(page.contains("at most 1000 characters"));
    let page = web
        .post("/add_message", &[("text", &"x".repeat(70 * 1024))])
        .await;
    assert_eq!(page.status, 413);
    // A body that is not a form at all reads as an empty form.
    let res = app
        .http
        .post(app.url("/login"))
        .header("content-type", "application/json")
        .body("{\"username\": 5}")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("body").contains("Invalid username"));
    assert!(!web.get("/me").await.contains("xxxxxxxxxx"));
}

async fn logged_in_users_skip_the_forms(app: TestApp) {
    let web = WebClient::new(&app);
    web.register_and_login("me", "pw").await;
    assert_eq!(web.get("/login").await.location.as_deref(), Some("/"));
    assert_eq!(web.get("/register").await.location.as_deref(), Some("/"));
}

async fn a_message_posted_through_the_api_appears_on_the_pages(app: TestApp) {
    app.register("Roger Histand").await;
    assert_eq!(
        app.tweet("Roger Histand", "from the simulator")
            .await
            .status(),
        204
    );
    let web = WebClient::new(&app);
    for path in ["/public", "/Roger%20Histand"] {
        let page = web.get(path).await;
        assert!(
            page.contains(
                r#"<a href="/Roger%20Histand">Roger Histand</a></strong> from the simulator"#
            ),
            "{path}"
        );
    }
    web.register_and_login("fan", "pw").await;
    web.get_follow("/Roger%20Histand/follow").await;
    assert!(web.get("/").await.contains("from the simulator"));
}

on_both_backends!(
    a_message_posted_through_the_api_appears_on_the_pages,
    register_texts_in_the_classic_order,
    login_and_logout_texts,
    message_recording_escapes_markup,
    timelines_follow_and_unfollow,
    follow_status_texts_and_buttons,
    page_layout_has_the_classic_parts,
    messages_show_gravatar_date_and_author_link,
    anonymous_visitors_are_redirected_or_refused,
    unknown_users_are_404_pages,
    bad_input_is_a_clear_4xx,
    logged_in_users_skip_the_forms,
);
