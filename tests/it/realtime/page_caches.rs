//! The first pages served from memory (`/api/msgs`, `/api/msgs/{u}`, `/public` and `/{u}`
//! for anonymous readers, the Mastodon public timeline, and each reader's home on `/` and
//! through the Mastodon API) change as soon as a message is posted, hidden or shown, or the
//! reader follows or unfollows, on this instance or on another one; a reader with a login
//! or with flashes still gets a page of their own, and a page from the cache is the page
//! that would be rendered now.

use std::time::{Duration, Instant};

use crate::common::faults::Fault;
use crate::common::web::WebClient;
use crate::common::{self, Backend, TestApp, TestDb};
use crate::mastodon::Client;
use crate::on_both_backends;
use crate::realtime::cluster::{
    shared_backends, two_instances, two_instances_a_behind_a_redis_proxy, wait_for_ready,
};

/// The views served from caches, all showing author's messages.
const VIEWS: [&str; 5] = [
    "/api/msgs",
    "/api/msgs/author",
    "/public",
    "/author",
    "/api/v1/timelines/public",
];

/// A reader's home, on the classic page and through the Mastodon API.
const HOMES: [&str; 2] = ["/", "/api/v1/timelines/home"];

/// A page as an anonymous reader gets it.
async fn anonymous(app: &TestApp, path: &str) -> String {
    let res = app.http.get(app.url(path)).send().await.expect("page");
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("body")
}

/// The views that show `text` now (the API with the simulator's credential, the pages
/// without a login).
async fn views_showing(app: &TestApp, text: &str) -> Vec<&'static str> {
    let mut showing = Vec::new();
    for path in VIEWS {
        let body = match path.strip_prefix("/api") {
            Some(mastodon) if mastodon.starts_with("/v1/") => anonymous(app, path).await,
            Some(api) => {
                let res = app.get_api(api).await;
                assert_eq!(res.status(), 200, "{path}");
                res.text().await.expect("body")
            }
            None => anonymous(app, path).await,
        };
        if body.contains(text) {
            showing.push(path);
        }
    }
    showing
}

/// Which of reader's homes (signed in on `web`, with a token in `mastodon`) show `text`.
async fn homes_showing(web: &WebClient, mastodon: &Client<'_>, text: &str) -> Vec<&'static str> {
    let page = web.get("/").await;
    assert!(page.contains("sign out [reader]"), "{}", page.body);
    let res = mastodon.get("/api/v1/timelines/home").await;
    assert_eq!(res.status(), 200);
    let api = res.text().await.expect("body");
    HOMES
        .into_iter()
        .zip([page.body, api])
        .filter(|(_, body)| body.contains(text))
        .map(|(path, _)| path)
        .collect()
}

/// Polls until exactly `expected` of reader's homes show `text`, as `eventually_showing`.
async fn eventually_at_home(
    web: &WebClient,
    mastodon: &Client<'_>,
    text: &str,
    expected: &[&str],
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        let showing = homes_showing(web, mastodon, text).await;
        if showing == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{text:?} shown at home by {showing:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `app` until exactly `expected` show `text`. Another instance learns of a change
/// through Redis, so "at once" there is "within moments": `within` is well under the user
/// pages' ten-second safety net, so only the event can have made the change show.
async fn eventually_showing(app: &TestApp, text: &str, expected: &[&str], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let showing = views_showing(app, text).await;
        if showing == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{text:?} shown by {showing:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The id of the newest message on author's page (its first `data-id`).
async fn newest_id(app: &TestApp) -> i64 {
    let page = anonymous(app, "/author").await;
    let at = page.find("<li data-id=\"").expect("a message") + 13;
    let rest = &page[at..];
    rest[..rest.find('"').expect("quote")].parse().expect("id")
}

async fn hide(app: &TestApp, id: i64, hidden: bool) {
    minitwit::actions::moderation::set_hidden(&app.state, id, hidden)
        .await
        .expect("moderation");
}

async fn a_post_a_hide_and_a_show_change_every_cached_view_at_once(app: TestApp) {
    assert_eq!(app.register("author").await.status(), 204);
    assert_eq!(app.tweet("author", "first words").await.status(), 204);
    // Every view read once, so every cache holds a page.
    assert_eq!(views_showing(&app, "first words").await, VIEWS);

    assert_eq!(app.tweet("author", "second words").await.status(), 204);
    assert_eq!(views_showing(&app, "second words").await, VIEWS);

    let id = newest_id(&app).await;
    hide(&app, id, true).await;
    assert!(views_showing(&app, "second words").await.is_empty());
    assert_eq!(views_showing(&app, "first words").await, VIEWS);

    hide(&app, id, false).await;
    assert_eq!(views_showing(&app, "second words").await, VIEWS);
}

async fn an_anonymous_page_from_the_cache_is_the_page_rendered_now(app: TestApp) {
    assert_eq!(app.register("author").await.status(), 204);
    // More than a page, so the "older messages" link is on it; text that needs escaping.
    for i in 0..32 {
        let text = format!("message {i} <b>\"quoted\"</b> & Grüße");
        assert_eq!(app.tweet("author", &text).await.status(), 204);
    }
    for path in ["/public", "/author"] {
        let first = anonymous(&app, path).await;
        let cached = anonymous(&app, path).await;
        // The page before an id beyond every message holds the same rows, but is never
        // cached: it is rendered now.
        let rendered_now = anonymous(&app, &format!("{path}?before={}", i64::MAX)).await;
        assert_eq!(first, cached, "{path}");
        assert_eq!(cached, rendered_now, "{path}");
        assert!(cached.contains("message 31 &lt;b&gt;&#34;quoted&#34;&lt;/b&gt; &amp; Grüße"));
        assert!(cached.contains("older messages"), "{path}");
        assert!(!cached.contains("message 1 "), "{path}: 30 a page");
    }
}

async fn readers_with_a_login_or_flashes_get_their_own_page(app: TestApp) {
    assert_eq!(app.register("author").await.status(), 204);
    assert_eq!(app.tweet("author", "hello").await.status(), 204);
    let public = anonymous(&app, "/public").await;
    let profile = anonymous(&app, "/author").await;
    assert!(profile.contains("sign in") && !profile.contains("Follow user"));

    let reader = WebClient::new(&app);
    reader.register_and_login("reader", "secret").await;
    let page = reader.get("/author").await;
    assert!(page.contains("sign out [reader]"), "{}", page.body);
    assert!(page.contains("You are not yet following this user."));
    let followed = reader.post_follow("/author/follow", &[]).await;
    assert!(followed.contains("You are now following &#34;author&#34;"));
    assert!(followed.contains("You are currently following this user."));
    assert!(followed.contains("Unfollow user"));
    let again = reader.get("/author").await;
    assert!(again.contains("Unfollow user") && !again.contains("You are now following"));
    let unfollowed = reader.post_follow("/author/unfollow", &[]).await;
    assert!(unfollowed.contains("You are no longer following &#34;author&#34;"));
    assert!(unfollowed.contains("You are not yet following this user."));
    assert!(reader.get("/public").await.contains("sign out [reader]"));

    // Logging out lands on /public with a flash, shown once.
    let out = reader.logout().await;
    assert_eq!(out.path, "/public");
    assert!(out.contains("You were logged out") && out.contains("sign in"));
    assert_eq!(reader.get("/public").await.body, public);
    assert_eq!(anonymous(&app, "/author").await, profile);
}

/// Reader signed in on the web and with a Mastodon token, at `app`.
async fn reader_at(app: &TestApp) -> (WebClient, Client<'_>) {
    let web = WebClient::new(app);
    web.login("reader", "secret").await;
    (web, Client::log_in(app, "reader", "read").await)
}

async fn a_follow_a_post_a_hide_and_an_unfollow_change_a_cached_home_at_once(app: TestApp) {
    assert_eq!(app.register("author").await.status(), 204);
    assert_eq!(app.register("reader").await.status(), 204);
    assert_eq!(app.tweet("author", "first words").await.status(), 204);
    let (web, mastodon) = reader_at(&app).await;
    // Read once before each change, so the home cache holds a page.
    assert!(homes_showing(&web, &mastodon, "first words")
        .await
        .is_empty());

    assert_eq!(app.follow("reader", "author").await.status(), 204);
    assert_eq!(homes_showing(&web, &mastodon, "first words").await, HOMES);

    assert_eq!(app.tweet("author", "second words").await.status(), 204);
    assert_eq!(homes_showing(&web, &mastodon, "second words").await, HOMES);

    let id = newest_id(&app).await;
    hide(&app, id, true).await;
    assert!(homes_showing(&web, &mastodon, "second words")
        .await
        .is_empty());
    hide(&app, id, false).await;
    assert_eq!(homes_showing(&web, &mastodon, "second words").await, HOMES);

    assert_eq!(app.unfollow("reader", "author").await.status(), 204);
    assert!(homes_showing(&web, &mastodon, "first words")
        .await
        .is_empty());
}

on_both_backends!(
    a_post_a_hide_and_a_show_change_every_cached_view_at_once,
    a_follow_a_post_a_hide_and_an_unfollow_change_a_cached_home_at_once,
    an_anonymous_page_from_the_cache_is_the_page_rendered_now,
    readers_with_a_login_or_flashes_get_their_own_page,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_a_hide_and_a_show_on_one_instance_change_the_views_of_the_other() {
    let Some(redis) = shared_backends("the two-instance page cache test") else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b) = two_instances(&db.url, &redis).await;
    let soon = Duration::from_secs(1);
    assert_eq!(a.register("author").await.status(), 204);
    assert_eq!(a.tweet("author", "first words").await.status(), 204);
    assert_eq!(views_showing(&b, "first words").await, VIEWS);

    assert_eq!(a.tweet("author", "second words").await.status(), 204);
    eventually_showing(&b, "second words", &VIEWS, soon).await;

    let id = newest_id(&a).await;
    hide(&a, id, true).await;
    eventually_showing(&b, "second words", &[], soon).await;
    assert_eq!(views_showing(&b, "first words").await, VIEWS);

    hide(&a, id, false).await;
    eventually_showing(&b, "second words", &VIEWS, soon).await;
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}

/// The reader's home on B, cached there, follows what happens on A: their follow, a post
/// of whom they follow, a hide and their unfollow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_and_a_post_on_one_instance_change_the_cached_home_on_the_other() {
    let Some(redis) = shared_backends("the two-instance home cache test") else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b) = two_instances(&db.url, &redis).await;
    let soon = Duration::from_secs(1);
    assert_eq!(a.register("author").await.status(), 204);
    assert_eq!(a.register("reader").await.status(), 204);
    assert_eq!(a.tweet("author", "first words").await.status(), 204);
    let (web, mastodon) = reader_at(&b).await;
    assert!(homes_showing(&web, &mastodon, "first words")
        .await
        .is_empty());

    assert_eq!(a.follow("reader", "author").await.status(), 204);
    eventually_at_home(&web, &mastodon, "first words", &HOMES, soon).await;
    assert_eq!(a.tweet("author", "second words").await.status(), 204);
    eventually_at_home(&web, &mastodon, "second words", &HOMES, soon).await;
    let id = newest_id(&a).await;
    hide(&a, id, true).await;
    eventually_at_home(&web, &mastodon, "second words", &[], soon).await;
    assert_eq!(a.unfollow("reader", "author").await.status(), 204);
    eventually_at_home(&web, &mastodon, "first words", &[], soon).await;
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}

/// An instance cut off from Redis misses the events published meanwhile; once it is back,
/// none of its cached pages may still show what was hidden while it was away. Its user
/// pages would otherwise keep a hidden message for up to their ten-second safety net.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_back_from_a_redis_outage_forgets_its_cached_pages() {
    let Some(redis) = shared_backends("the page cache Redis outage test") else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b, proxy) = two_instances_a_behind_a_redis_proxy(&db.url, &redis).await;
    assert_eq!(b.register("author").await.status(), 204);
    assert_eq!(b.tweet("author", "kept words").await.status(), 204);
    assert_eq!(b.tweet("author", "doomed words").await.status(), 204);
    let id = newest_id(&b).await;

    proxy.set(Fault::Cut);
    wait_for_ready(&a, 503, Duration::from_secs(5)).await;
    // Cached now, while A hears nothing: the entries are fresh when A is back.
    assert_eq!(views_showing(&a, "doomed words").await, VIEWS);
    let cached_at = Instant::now();
    hide(&b, id, true).await;
    proxy.set(Fault::None);
    wait_for_ready(&a, 200, Duration::from_secs(5)).await;
    assert!(
        cached_at.elapsed() < Duration::from_secs(8),
        "A took {:?} to come back: its cached pages may have aged out, so this run \
         proves nothing",
        cached_at.elapsed()
    );
    eventually_showing(&a, "doomed words", &[], Duration::from_secs(1)).await;
    assert_eq!(views_showing(&a, "kept words").await, VIEWS);
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}
