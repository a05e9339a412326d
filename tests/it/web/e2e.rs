//! End to end in headless Chromium: register, log in, post, and see the post on the page,
//! then follow someone with the page's button,
//! through the real forms (so the browser's own Origin and Sec-Fetch-Site headers pass the
//! cross-origin check).

use crate::common::browser::Chromium;
use crate::common::{Backend, TestApp, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_post_and_see_it_in_chromium() {
    let Some(mut chromium) =
        Chromium::launch_or_skip("register_login_post_and_see_it_in_chromium").await
    else {
        return;
    };
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    let mut tab = chromium.new_tab().await;

    tab.goto(&app.url("/")).await;
    assert_eq!(tab.location().await, app.url("/public"));
    tab.click_and_wait("a[href='/register']").await;
    tab.fill("input[name=username]", "Ada Lovelace").await;
    tab.fill("input[name=email]", "ada@example.com").await;
    tab.fill("input[name=password]", "analytical").await;
    tab.fill("input[name=password2]", "analytical").await;
    tab.click_and_wait("input[type=submit]").await;
    assert_eq!(tab.location().await, app.url("/login"));
    assert!(tab
        .text()
        .await
        .contains("You were successfully registered and can login now"));

    tab.fill("input[name=username]", "Ada Lovelace").await;
    tab.fill("input[name=password]", "analytical").await;
    tab.click_and_wait("input[type=submit]").await;
    assert_eq!(tab.location().await, app.url("/"));
    let text = tab.text().await;
    assert!(text.contains("You were logged in"), "{text}");
    assert!(text.contains("What's on your mind Ada Lovelace?"), "{text}");
    // The session cookie is HttpOnly: scripts on the page cannot read it.
    assert_eq!(tab.eval("document.cookie").await, "");

    let message = "Hello from <b>Chromium</b> & friends";
    tab.fill("input[name=text]", message).await;
    tab.click_and_wait("input[value=Share]").await;
    assert_eq!(tab.location().await, app.url("/"));
    assert!(tab.text().await.contains("Your message was recorded"));
    // The post is the first message of the timeline, shown as text, not as markup.
    let first = tab
        .eval("document.querySelector('#timeline li[data-id]').innerText")
        .await;
    let first = first.as_str().expect("a message on the timeline");
    assert!(
        first.starts_with(&format!("Ada Lovelace {message} — ")),
        "{first}"
    );
    assert_eq!(
        tab.eval("document.querySelectorAll('#timeline b').length")
            .await,
        0
    );

    tab.goto(&app.url("/public")).await;
    assert!(tab.text().await.contains(message));
    tab.click_and_wait("#timeline li[data-id] strong a").await;
    assert_eq!(tab.location().await, app.url("/Ada%20Lovelace"));
    assert!(tab.text().await.contains("This is you!"));

    // Following from the page's button (a POST form) brings their messages home.
    app.register("Charles Babbage").await;
    app.tweet("Charles Babbage", "difference engine news").await;
    tab.goto(&app.url("/Charles%20Babbage")).await;
    assert!(tab
        .text()
        .await
        .contains("You are not yet following this user."));
    tab.click_and_wait("button.follow").await;
    assert_eq!(tab.location().await, app.url("/Charles%20Babbage"));
    let text = tab.text().await;
    assert!(
        text.contains("You are now following \"Charles Babbage\""),
        "{text}"
    );
    tab.click_and_wait("a[href='/']").await;
    assert!(tab.text().await.contains("difference engine news"));

    chromium.close().await;
    app.stop().await;
    db.drop_db().await;
}
