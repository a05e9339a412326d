//! Edges of what users send and where they connect from: a multi-line message keeps its
//! line breaks through the web form, the API, the pages and the streams, on SQLite and
//! PostgreSQL (CRLF stored as LF); and the per-address stream cap counts an IPv6 client by
//! its /64 (README.md, "Limits").

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::browser::Chromium;
use crate::common::web::WebClient;
use crate::common::{self, Backend, TestApp, TestDb};
use crate::on_both_backends;
use crate::realtime::client::WsClient;
use minitwit::limits::TrustedProxies;

/// What a browser's form sends for a two-line text, with a tab and markup to escape.
const TYPED: &str = "line one <b>\r\n\tline two";
/// How it is stored and shown: the CRLF as LF, everything else as written.
const STORED: &str = "line one <b>\n\tline two";

/// The web form, the page after it, the API and an open stream all get the line breaks;
/// a stream resumed from the database does too.
async fn a_multi_line_post_keeps_its_line_breaks_everywhere(app: TestApp) {
    assert_eq!(app.register("alice").await.status(), 204);
    let mut public = WsClient::stream(&app, "public").await;
    let web = WebClient::new(&app);
    web.login("alice", "secret").await;
    let page = web.add_message(TYPED).await;
    assert!(
        page.contains("line one &lt;b&gt;\n\tline two"),
        "escaped, with its line break: {}",
        page.body
    );
    assert_eq!(public.contents(1).await, [STORED]);

    assert_eq!(
        app.tweet("alice", "api\r\nsecond\rthird").await.status(),
        204
    );
    assert_eq!(public.contents(1).await, ["api\nsecond\nthird"]);
    let theirs: Vec<serde_json::Value> =
        app.get_api("/msgs/alice").await.json().await.expect("JSON");
    let contents: Vec<&str> = theirs
        .iter()
        .map(|m| m["content"].as_str().expect("content"))
        .collect();
    assert_eq!(contents, ["api\nsecond\nthird", STORED]);

    let mut resumed = WsClient::connect(&app, "/ws?stream=public&since=0", &[]).await;
    resumed.expect_subscribed("public").await;
    assert_eq!(
        resumed.contents(2).await,
        [STORED, "api\nsecond\nthird"],
        "replayed from the database as stored"
    );
    let public_page = WebClient::new(&app).get("/public").await;
    assert!(
        public_page.contains("api\nsecond\nthird"),
        "{}",
        public_page.body
    );

    // Still a 400 for the other control characters, whichever door.
    assert_eq!(app.tweet("alice", "two\nlines\0").await.status(), 400);
    let refused = web
        .post("/add_message", &[("text", "a\r\n\u{1b}[2J")])
        .await;
    assert_eq!(refused.status, 400);
    public
        .expect_nothing(std::time::Duration::from_millis(300))
        .await;
}

on_both_backends!(a_multi_line_post_keeps_its_line_breaks_everywhere);

/// In a browser, the message's lines show as lines: in the page the server renders and in a
/// message the live script inserts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_shows_a_multi_line_message_on_separate_lines() {
    let Some(mut chromium) = Chromium::launch_or_skip("multi-line messages in Chromium").await
    else {
        return;
    };
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    assert_eq!(app.register("bob").await.status(), 204);
    assert_eq!(
        app.tweet("bob", "rendered\r\nby the server").await.status(),
        204
    );
    let mut tab = chromium.new_isolated_tab().await;
    tab.goto(&app.url("/public")).await;
    const FIRST_TEXT: &str = "document.querySelector('#timeline li p').innerText";
    let shown = tab.eval(FIRST_TEXT).await;
    assert!(
        shown
            .as_str()
            .expect("text")
            .starts_with("bob rendered\nby the server "),
        "{shown}"
    );

    tab.wait_for("window.minitwitLive && window.minitwitLive.connected()")
        .await;
    assert_eq!(
        app.tweet("bob", "live\nand <i>escaped</i>").await.status(),
        204
    );
    tab.wait_for(&format!("{FIRST_TEXT}.includes('live')"))
        .await;
    let shown = tab.eval(FIRST_TEXT).await;
    assert!(
        shown
            .as_str()
            .expect("text")
            .starts_with("bob live\nand <i>escaped</i> "),
        "{shown}"
    );
    assert_eq!(
        tab.eval("document.querySelectorAll('#timeline i').length")
            .await,
        0,
        "markup in a message stays text"
    );
    chromium.close().await;
    app.stop().await;
}

/// Opens `/ws?stream=public` as a trusted proxy forwarding `client`.
async fn stream_for(app: &TestApp, client: &str) -> WsClient {
    WsClient::connect(app, "/ws?stream=public", &[("x-forwarded-for", client)]).await
}

/// This machine's loopback has one IPv6 address, so the clients arrive through a trusted
/// proxy's `X-Forwarded-For`, as they do in the stack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_from_one_ipv6_64_share_the_per_address_cap() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| {
        s.trusted_proxies = TrustedProxies::parse("127.0.0.1").expect("valid");
        s.max_sockets_per_ip = 2;
    })
    .await;
    let mut first = stream_for(&app, "2001:db8:5:5::1").await;
    first.expect_subscribed("public").await;
    let mut second = stream_for(&app, "2001:db8:5:5:aaaa:bbbb:cccc:dddd").await;
    second.expect_subscribed("public").await;
    let mut third = stream_for(&app, "2001:db8:5:5::3").await;
    assert_eq!(third.close_code().await, Some(CloseCode::Again));
    let mut next_64 = stream_for(&app, "2001:db8:5:6::1").await;
    next_64.expect_subscribed("public").await;
    let refused = app
        .state
        .metrics
        .ws_refused_total
        .with_label_values(&["max_sockets_per_ip"])
        .get();
    assert_eq!(refused, 1);
    app.stop().await;
}

/// The connect rate limit counts the /64 too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connects_from_one_ipv6_64_share_one_budget() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| {
        s.trusted_proxies = TrustedProxies::parse("127.0.0.1").expect("valid");
        s.ws_connects_per_minute = 2;
    })
    .await;
    for client in ["2001:db8:9:9::1", "2001:db8:9:9::2"] {
        stream_for(&app, client)
            .await
            .expect_subscribed("public")
            .await;
    }
    let mut request = crate::realtime::client::ws_url(&app, "/ws?stream=public")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "x-forwarded-for",
        "2001:db8:9:9::3".parse().expect("header"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a third connect from the /64 was upgraded"),
    }
    stream_for(&app, "2001:db8:9:a::1")
        .await
        .expect_subscribed("public")
        .await;
    app.stop().await;
}
