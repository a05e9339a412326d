//! The streams as the pages use them: `home` over the login session cookie, posts and
//! follows made through the web forms, and `/static/live.js` served from the binary.

use std::time::Duration;

use crate::common::web::WebClient;
use crate::common::{self, TestApp};
use crate::on_both_backends;
use crate::realtime::client::{refused_status, WsClient};

async fn home_stream_follows_the_session_and_the_web_forms(app: TestApp) {
    let alice = WebClient::new(&app);
    alice.register_and_login("alice", "wonderland").await;
    let bob = WebClient::new(&app);
    bob.register_and_login("bob", "builder").await;
    app.register("carol").await;

    let cookie = alice.cookie_header().expect("alice has a session cookie");
    // Another site's page cannot use alice's cookie for her home stream.
    let evil = [
        ("Cookie", cookie.as_str()),
        ("Origin", "http://evil.example"),
    ];
    assert_eq!(refused_with(&app, "/ws?stream=home", &evil).await, 401);
    let own_origin = app.base.clone();
    let mut home = WsClient::connect(
        &app,
        "/ws?stream=home",
        &[("Cookie", &cookie), ("Origin", &own_origin)],
    )
    .await;
    home.expect_subscribed("home").await;
    let mut public = WsClient::stream(&app, "public").await;

    bob.add_message("bob before").await;
    alice.add_message("alice <i>own</i>").await;
    assert_eq!(home.contents(1).await, ["alice <i>own</i>"]);

    let followed = alice.post("/bob/follow", &[]).await;
    assert_eq!(followed.status, 302);
    bob.add_message("bob after follow").await;
    app.tweet("carol", "carol via API").await;
    assert_eq!(home.contents(1).await, ["bob after follow"]);

    alice.post("/bob/unfollow", &[]).await;
    bob.add_message("bob after unfollow").await;
    alice.add_message("alice again").await;
    assert_eq!(home.contents(1).await, ["alice again"]);
    home.expect_nothing(Duration::from_millis(300)).await;

    // Web forms and the API publish alike: public saw all six posts, in order.
    assert_eq!(
        public.contents(6).await,
        [
            "bob before",
            "alice <i>own</i>",
            "bob after follow",
            "carol via API",
            "bob after unfollow",
            "alice again"
        ]
    );

    // After logging out the same cookie jar no longer opens a home stream.
    alice.logout().await;
    let status = match alice.cookie_header() {
        Some(cookie) => refused_with(&app, "/ws?stream=home", &[("Cookie", &cookie)]).await,
        None => refused_status(&app, "/ws?stream=home", None).await,
    };
    assert_eq!(status, 401);
}

async fn live_js_is_served_from_the_binary(app: TestApp) {
    let res = app
        .http
        .get(app.url("/static/live.js"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert!(res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/javascript")));
    let body = res.text().await.expect("body");
    assert!(body.contains("/ws?stream="), "the script opens the stream");
    // And the pages load it.
    let page = app
        .http
        .get(app.url("/public"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(page.contains(r#"<script src="/static/live.js" defer></script>"#));
    assert!(page.contains(r#"data-stream="public""#));
}

/// The status of a refused upgrade sent with `headers`.
pub(crate) async fn refused_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderName;
    let mut request = crate::realtime::client::ws_url(app, path)
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => res.status().as_u16(),
        other => panic!("{path} was not refused: {:?}", other.map(|_| ())),
    }
}

on_both_backends!(
    home_stream_follows_the_session_and_the_web_forms,
    live_js_is_served_from_the_binary,
);
