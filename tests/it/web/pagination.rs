//! 30 messages a page, newest first, and an "older messages" link that pages by id.

use crate::common::web::{Page, WebClient};
use crate::common::{self, TestApp};
use crate::on_both_backends;

/// The texts of the messages on a page, top to bottom.
fn texts(page: &Page) -> Vec<String> {
    page.body
        .split("</a></strong> ")
        .skip(1)
        .map(|rest| rest.split(" <small>").next().unwrap_or_default().to_owned())
        .collect()
}

/// The "older messages" link, if the page has one.
fn older_link(page: &Page) -> Option<String> {
    let rest = page.body.split(r#"<a class="older" href=""#).nth(1)?;
    Some(rest.split('"').next()?.replace("&amp;", "&"))
}

/// Walks a timeline from `start` through its "older messages" links.
async fn walk(web: &WebClient, start: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut next = Some(start.to_owned());
    while let Some(path) = next {
        let page = web.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        pages.push(texts(&page));
        next = older_link(&page);
        assert!(pages.len() <= 5, "the older links never end");
    }
    pages
}

async fn sixty_five_messages_page_as_30_30_5_newest_first(app: TestApp) {
    app.register("poster").await;
    for i in 1..=65 {
        assert_eq!(
            app.tweet("poster", &format!("message {i}")).await.status(),
            204
        );
    }
    let web = WebClient::new(&app);
    web.login("poster", "secret").await;
    let expected: Vec<String> = (1..=65).rev().map(|i| format!("message {i}")).collect();
    for timeline in ["/public", "/", "/poster"] {
        let pages = walk(&web, timeline).await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, [30, 30, 5], "{timeline}");
        assert_eq!(pages.concat(), expected, "{timeline}");
    }
}

async fn a_full_last_page_has_no_older_link(app: TestApp) {
    app.register("poster").await;
    for i in 1..=30 {
        app.tweet("poster", &format!("message {i}")).await;
    }
    let web = WebClient::new(&app);
    let page = web.get("/public").await;
    assert_eq!(texts(&page).len(), 30);
    assert_eq!(older_link(&page), None);
    assert!(page.contains(r#"data-newest-id="30""#));
}

async fn a_new_message_does_not_shift_older_pages(app: TestApp) {
    app.register("poster").await;
    for i in 1..=35 {
        app.tweet("poster", &format!("message {i}")).await;
    }
    let web = WebClient::new(&app);
    let first = web.get("/public").await;
    let older = older_link(&first).expect("an older page");
    // Someone posts while the reader is on page one: page two is still 5..1 (keyset, not
    // OFFSET, so nothing is shown twice).
    app.tweet("poster", "message 36").await;
    let second = web.get(&older).await;
    assert_eq!(
        texts(&second),
        (1..=5)
            .rev()
            .map(|i| format!("message {i}"))
            .collect::<Vec<_>>()
    );
}

on_both_backends!(
    sixty_five_messages_page_as_30_30_5_newest_first,
    a_full_last_page_has_no_older_link,
    a_new_message_does_not_shift_older_pages,
);
