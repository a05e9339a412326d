//! The live page in headless Chromium: two users in two browser contexts; B posts and A's
//! open timeline shows it without a reload, escaped, in the server's markup; a reader
//! scrolled down gets an "N new messages" bar instead; a message that arrives after higher
//! ids is placed by its id, and a repeat shows once; a message a moderator hides leaves
//! open pages, over websockets and over the server-sent-events fallback.

use crate::common::browser::{Chromium, Tab};
use crate::common::{Backend, TestApp, TestDb};

async fn log_in(tab: &mut Tab, app: &TestApp, username: &str) {
    tab.goto(&app.url("/login")).await;
    tab.fill("input[name=username]", username).await;
    tab.fill("input[name=password]", "secret").await;
    tab.click_and_wait("input[type=submit]").await;
    assert_eq!(tab.location().await, app.url("/"), "{username} logged in");
}

/// Waits until the page's live script has its websocket open.
async fn wait_live(tab: &mut Tab) {
    tab.wait_for("window.minitwitLive && window.minitwitLive.connected()")
        .await;
}

async fn post_through_the_form(tab: &mut Tab, text: &str) {
    tab.fill("input[name=text]", text).await;
    tab.click_and_wait("input[value=Share]").await;
}

const FIRST_MESSAGE: &str = "document.querySelector('#timeline li').innerText";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_by_b_appears_on_a_open_timeline_without_a_reload() {
    let Some(mut chromium) = Chromium::launch_or_skip("live page in Chromium").await else {
        return;
    };
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    for name in ["alice", "bob"] {
        assert_eq!(app.register(name).await.status(), 204);
    }
    assert_eq!(app.follow("alice", "bob").await.status(), 204);
    // Enough history that the pages scroll.
    for i in 0..30 {
        app.tweet("bob", &format!("old {i}")).await;
    }

    let mut alice = chromium.new_isolated_tab().await;
    let mut bob = chromium.new_isolated_tab().await;
    log_in(&mut alice, &app, "alice").await;
    log_in(&mut bob, &app, "bob").await;
    wait_live(&mut alice).await;
    alice.eval("window.__sameDocument = true").await;

    let text = "Live <b>from</b> bob & \"co\"";
    post_through_the_form(&mut bob, text).await;
    alice
        .wait_for(&format!(
            "{FIRST_MESSAGE}.includes({})",
            serde_json::to_string(text).expect("json")
        ))
        .await;
    assert_eq!(alice.eval("window.__sameDocument").await, true, "no reload");
    // Shown as text in the server's markup: no <b> element, link and avatar as rendered.
    assert_eq!(
        alice
            .eval("document.querySelectorAll('#timeline b').length")
            .await,
        0
    );
    let first = alice
        .eval(
            "(() => { const li = document.querySelector('#timeline li'); return [
               li.querySelector('strong a').getAttribute('href'),
               li.querySelector('img').getAttribute('src'),
               li.querySelector('small').innerText,
               li.getAttribute('data-id') ]; })()",
        )
        .await;
    assert_eq!(first[0], "/bob");
    // md5("bob@example.com")
    assert_eq!(
        first[1],
        "https://www.gravatar.com/avatar/4b9bb80620f03eb3719e0a061c14283d?d=identicon&s=48"
    );
    let date = first[2].as_str().expect("date");
    assert!(
        date.starts_with("— ") && date.len() == "— 2026-01-01 @ 00:00".len(),
        "{date}"
    );
    let id: i64 = first[3].as_str().expect("id").parse().expect("numeric id");
    assert_eq!(alice.eval("window.minitwitLive.lastId()").await, id);
    // A reload renders the same first message the script inserted.
    let live_html = alice
        .eval("document.querySelector('#timeline li').outerHTML")
        .await;
    alice.goto(&app.url("/")).await;
    assert_eq!(
        alice
            .eval("document.querySelector('#timeline li').outerHTML")
            .await,
        live_html,
        "live markup equals the server's"
    );

    // Scrolled down on the public timeline: a bar instead of a jump.
    alice.goto(&app.url("/public")).await;
    wait_live(&mut alice).await;
    alice
        .eval("window.scrollTo(0, document.body.scrollHeight)")
        .await;
    assert!(
        alice
            .eval("window.scrollY")
            .await
            .as_f64()
            .expect("scrollY")
            > 100.0,
        "the public page scrolls"
    );
    post_through_the_form(&mut bob, "while alice reads below").await;
    alice
        .wait_for("document.querySelector('#live-bar') && document.querySelector('#live-bar').innerText === '1 new message'")
        .await;
    assert!(!alice
        .eval(FIRST_MESSAGE)
        .await
        .as_str()
        .expect("text")
        .contains("while alice reads below"));
    alice.click("#live-bar a").await;
    alice
        .wait_for(&format!(
            "{FIRST_MESSAGE}.includes('while alice reads below') && !document.querySelector('#live-bar')"
        ))
        .await;

    chromium.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_message_is_placed_by_id_and_a_repeat_shows_once() {
    let Some(mut chromium) = Chromium::launch_or_skip("live page order in Chromium").await else {
        return;
    };
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    assert_eq!(app.register("bob").await.status(), 204);
    for i in 1..=3 {
        app.tweet("bob", &format!("m{i}")).await;
    }
    let mut tab = chromium.new_tab().await;
    tab.goto(&app.url("/public")).await;
    wait_live(&mut tab).await;
    let ids = "Array.from(document.querySelectorAll('#timeline li')).map(li => li.getAttribute('data-id')).join(',')";
    assert_eq!(tab.eval(ids).await, "3,2,1");
    // As the socket would hand them over: 5 first, then 4 committed late, then 5 again.
    let receive = |id: i64| {
        format!(
            "window.minitwitLive.receive({{id: {id}, user: 'bob', content: 'm{id}', pub_date: 0, avatar: ''}})"
        )
    };
    for id in [5, 4, 5] {
        tab.eval(&receive(id)).await;
    }
    assert_eq!(tab.eval(ids).await, "5,4,3,2,1");
    assert_eq!(tab.eval("window.minitwitLive.lastId()").await, 5);
    chromium.close().await;
    app.stop().await;
}

/// Author posts, the reader's open page shows it, a moderator hides it from their own page:
/// it leaves the reader's page without a reload.
async fn hidden_message_leaves_an_open_page(without_websockets: bool) {
    let test = if without_websockets {
        "hidden message over SSE in Chromium"
    } else {
        "hidden message in Chromium"
    };
    let Some(mut chromium) = Chromium::launch_or_skip(test).await else {
        return;
    };
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    for name in ["mod", "reader"] {
        assert_eq!(app.register(name).await.status(), 204);
    }
    assert!(app
        .state
        .store
        .set_moderator("mod", true)
        .await
        .expect("grant"));
    assert_eq!(app.tweet("reader", "hello").await.status(), 204);

    let mut reader = chromium.new_isolated_tab().await;
    if without_websockets {
        reader
            .before_each_document("window.WebSocket = undefined;")
            .await;
    }
    log_in(&mut reader, &app, "reader").await;
    reader.goto(&app.url("/public")).await;
    wait_live(&mut reader).await;
    let transport = if without_websockets {
        "sse"
    } else {
        "websocket"
    };
    assert_eq!(
        reader.eval("window.minitwitLive.transport()").await,
        transport
    );
    reader.eval("window.__sameDocument = true").await;
    let mut moderator = chromium.new_isolated_tab().await;
    log_in(&mut moderator, &app, "mod").await;
    moderator.goto(&app.url("/public")).await;
    wait_live(&mut moderator).await;

    assert_eq!(app.tweet("reader", "abusive").await.status(), 204);
    let shows_abusive = "document.querySelector('#timeline').innerText.includes('abusive')";
    reader.wait_for(shows_abusive).await;
    // The moderator's live-inserted message has its hide form too.
    moderator.wait_for(shows_abusive).await;
    let id = moderator
        .eval("document.querySelector('#timeline li').getAttribute('data-id')")
        .await;
    let id = id.as_str().expect("an id");
    moderator
        .click_and_wait(&format!(
            "#timeline li[data-id='{id}'] form.moderate button"
        ))
        .await;
    assert!(moderator
        .eval("document.querySelector('ul.flashes').innerText")
        .await
        .as_str()
        .expect("flashes")
        .contains("The message was hidden"));

    reader.wait_for(&format!("!{shows_abusive}")).await;
    assert_eq!(
        reader.eval("window.__sameDocument").await,
        true,
        "no reload"
    );
    assert!(reader
        .eval("document.querySelector('#timeline').innerText")
        .await
        .as_str()
        .expect("text")
        .contains("hello"));
    chromium.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_message_leaves_an_open_page() {
    hidden_message_leaves_an_open_page(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_websockets_the_page_lives_on_server_sent_events() {
    hidden_message_leaves_an_open_page(true).await;
}
