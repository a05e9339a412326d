//! A `home` stream belongs to its login (README.md, "Live updates"): logout, the session's
//! expiry, or a logout on another instance ends an open home websocket (close 4001) and an
//! open home SSE response (its body ends) within 5 s. Other streams of the same cookie,
//! and the simulator's sessionless `/api/stream`, keep running.

use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::web::WebClient;
use crate::common::{self, Backend, TestApp, TestDb};
use crate::on_both_backends;
use crate::realtime::client::WsClient;
use crate::realtime::cluster::{shared_backends, two_instances};
use crate::realtime::pages::refused_with;
use crate::realtime::sse::SseClient;

/// How soon a stream must end after its login did.
const WITHIN: Duration = Duration::from_secs(5);
/// Close code of a `home` whose login ended.
const LOGGED_OUT: CloseCode = CloseCode::Library(4001);

/// `name` registered and logged in on `app`; its session cookie as a `Cookie` header.
async fn logged_in(app: &TestApp, name: &str) -> (WebClient, String) {
    let client = WebClient::new(app);
    client.register_and_login(name, "secret").await;
    let cookie = client.cookie_header().expect("a session cookie");
    (client, cookie)
}

/// `/ws?stream=STREAM` with `cookie`, subscribed.
async fn ws_with_cookie(app: &TestApp, stream: &str, cookie: &str) -> WsClient {
    let path = format!("/ws?stream={}", common::encode(stream));
    let mut ws = WsClient::connect(app, &path, &[("Cookie", cookie)]).await;
    ws.expect_subscribed(stream).await;
    ws
}

async fn sse_home(app: &TestApp, cookie: &str) -> SseClient {
    SseClient::open(app, "stream=home", &[("Cookie", cookie)]).await
}

/// Waits for the socket's close; asserts 4001 within [`WITHIN`] of `since`.
async fn assert_logged_out(ws: &mut WsClient, since: Instant) {
    let code = tokio::time::timeout(WITHIN, ws.close_code())
        .await
        .expect("the home socket closed within 5 s");
    assert_eq!(code, Some(LOGGED_OUT));
    assert!(
        since.elapsed() < WITHIN,
        "closed after {:?}",
        since.elapsed()
    );
}

async fn assert_sse_ended(sse: &mut SseClient, since: Instant) {
    let left = WITHIN.saturating_sub(since.elapsed());
    assert!(
        sse.ends_within(left).await,
        "the home SSE response still runs {:?} after the login ended",
        since.elapsed()
    );
}

async fn logout_ends_open_home_streams(app: TestApp) {
    assert_eq!(app.register("bob").await.status(), 204);
    let (alice, cookie) = logged_in(&app, "alice").await;
    assert_eq!(app.follow("alice", "bob").await.status(), 204);
    let mut home = ws_with_cookie(&app, "home", &cookie).await;
    let mut public = ws_with_cookie(&app, "public", &cookie).await;
    let mut sse = sse_home(&app, &cookie).await;
    let mut simulator = WsClient::home_of(&app, "alice").await;
    assert_eq!(app.tweet("bob", "before").await.status(), 204);
    assert_eq!(home.contents(1).await, ["before"]);
    assert_eq!(sse.message().await.1, "before");

    let logged_out = Instant::now();
    alice.logout().await;
    assert_logged_out(&mut home, logged_out).await;
    assert_sse_ended(&mut sse, logged_out).await;
    // The cookie's public stream and the simulator's home have no login to end.
    assert_eq!(app.tweet("bob", "after").await.status(), 204);
    assert_eq!(public.contents(2).await, ["before", "after"]);
    assert_eq!(simulator.contents(2).await, ["before", "after"]);
    // The old cookie cannot open home again.
    let old_cookie = [("Cookie", cookie.as_str())];
    assert_eq!(
        refused_with(&app, "/ws?stream=home", &old_cookie).await,
        401
    );
}

async fn an_expired_session_ends_open_home_streams(app: TestApp) {
    let (_alice, cookie) = logged_in(&app, "alice").await;
    // `MINITWIT_SESSION_DAYS` is whole days: shorten this login in the database.
    let expires_at = minitwit::clock::unix_now() + 2;
    common::exec_sql(
        &app.db_url,
        &format!("UPDATE sessions SET expires_at = {expires_at}"),
    )
    .await;
    let mut home = ws_with_cookie(&app, "home", &cookie).await;
    let mut sse = sse_home(&app, &cookie).await;
    // Until the expiry the streams stay open.
    home.expect_nothing(Duration::from_millis(500)).await;

    let expiry = std::time::UNIX_EPOCH + Duration::from_secs(expires_at as u64);
    let wait = expiry
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    let expired = Instant::now() + wait;
    tokio::time::sleep(wait).await;
    assert_logged_out(&mut home, expired).await;
    assert_sse_ended(&mut sse, expired).await;
}

/// A logout elsewhere shows here only as the missing `sessions` row.
async fn a_session_gone_from_the_database_ends_open_home_streams(app: TestApp) {
    let (_alice, cookie) = logged_in(&app, "alice").await;
    let mut home = ws_with_cookie(&app, "home", &cookie).await;
    let mut sse = sse_home(&app, &cookie).await;
    let deleted = Instant::now();
    common::exec_sql(&app.db_url, "DELETE FROM sessions").await;
    assert_logged_out(&mut home, deleted).await;
    assert_sse_ended(&mut sse, deleted).await;
}

on_both_backends!(
    logout_ends_open_home_streams,
    an_expired_session_ends_open_home_streams,
    a_session_gone_from_the_database_ends_open_home_streams,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_b_ends_the_home_streams_on_a() {
    let Some(redis) = shared_backends("logout across instances") else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b) = two_instances(&db.url, &redis).await;
    let (alice_on_b, cookie) = logged_in(&b, "alice").await;
    let mut home_a = ws_with_cookie(&a, "home", &cookie).await;
    let mut sse_a = sse_home(&a, &cookie).await;
    let logged_out = Instant::now();
    alice_on_b.logout().await;
    assert_logged_out(&mut home_a, logged_out).await;
    assert_sse_ended(&mut sse_a, logged_out).await;
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}
