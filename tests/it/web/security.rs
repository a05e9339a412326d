//! Sessions and forms that are safe: cross-origin writes (and logout) refused, cookie flags,
//! fresh sessions on login, logout and expiry enforced by the server, flashes shown once.

use crate::common::web::WebClient;
use crate::common::{self, TestApp};
use crate::on_both_backends;
use minitwit::limits::TrustedProxies;

async fn cross_origin_writes_are_refused_and_change_nothing(app: TestApp) {
    app.register("target").await;
    let web = WebClient::new(&app);
    web.register_and_login("victim", "pw").await;
    let host = app.addr.to_string();
    let evil_origin = [("origin", "http://evil.example")];
    let cross_site = [("sec-fetch-site", "cross-site")];
    for headers in [&evil_origin[..], &cross_site[..]] {
        let page = web
            .post_with_headers("/add_message", &[("text", "forged message")], headers)
            .await;
        assert_eq!(page.status, 403, "{headers:?}");
        assert!(page.contains("another site"));
        for path in ["/target/follow", "/target/unfollow"] {
            assert_eq!(web.post_with_headers(path, &[], headers).await.status, 403);
            assert_eq!(web.get_with_headers(path, headers).await.status, 403);
        }
        let page = web
            .post_with_headers(
                "/login",
                &[("username", "victim"), ("password", "pw")],
                headers,
            )
            .await;
        assert_eq!(page.status, 403);
        let page = web
            .post_with_headers(
                "/register",
                &[
                    ("username", "forged"),
                    ("email", "f@x"),
                    ("password", "p"),
                    ("password2", "p"),
                ],
                headers,
            )
            .await;
        assert_eq!(page.status, 403);
    }
    // Nothing happened: no message, no follow, no user.
    assert!(!web.get("/public").await.contains("forged message"));
    assert!(web
        .get("/target")
        .await
        .contains("You are not yet following this user."));
    assert_eq!(web.get("/forged").await.status, 404);
    // A link from another site to a page that only reads still works.
    assert_eq!(
        web.get_with_headers("/public", &cross_site).await.status,
        200
    );
    assert_eq!(
        web.get_with_headers("/login", &cross_site).await.status,
        302
    );
    // The same request from our own origin goes through.
    let own_origin = format!("http://{host}");
    let page = web
        .post_with_headers(
            "/add_message",
            &[("text", "real message")],
            &[("origin", &own_origin), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(page.status, 302);
    assert!(web.get("/public").await.contains("real message"));
}

async fn session_cookie_is_signed_httponly_samesite_lax(app: TestApp) {
    let web = WebClient::new(&app);
    web.register("alice", "pw").await;
    web.register("bob", "pw").await;
    let page = web
        .post("/login", &[("username", "alice"), ("password", "pw")])
        .await;
    assert_eq!(page.status, 302);
    let cookie = page.session_cookie();
    let lower = cookie.to_ascii_lowercase();
    assert!(lower.contains("httponly"), "{cookie}");
    assert!(lower.contains("samesite=lax"), "{cookie}");
    assert!(lower.contains("path=/"), "{cookie}");

    // A tampered cookie (bob's id under alice's signature) is not a session.
    let tampered = web
        .cookie_header()
        .expect("cookie")
        .replace("%22user_id%22%3A1", "%22user_id%22%3A2");
    assert_ne!(Some(&tampered), web.cookie_header().as_ref());
    let res = app
        .http
        .get(app.url("/"))
        .header("cookie", tampered)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 302);
}

async fn sessions_survive_a_restart_with_the_same_key(app: TestApp) {
    // A second server with the same MINITWIT_SECRET_KEY (a replica) accepts the session.
    let web = WebClient::new(&app);
    web.register_and_login("alice", "pw").await;
    let replica = TestApp::start(&app.db_url).await;
    let res = replica
        .http
        .get(replica.url("/"))
        .header("cookie", web.cookie_header().expect("cookie"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("body").contains("sign out [alice]"));
    // A server with another key does not.
    let stranger = TestApp::start_with(&app.db_url, |s| {
        s.secret_key = Some(
            "a different secret key for this test"
                .parse()
                .expect("secret"),
        );
    })
    .await;
    let res = stranger
        .http
        .get(stranger.url("/"))
        .header("cookie", web.cookie_header().expect("cookie"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 302);
    replica.stop().await;
    stranger.stop().await;
}

async fn login_starts_a_fresh_session(app: TestApp) {
    let web = WebClient::new(&app);
    web.register_and_login("alice", "pw").await;
    // Log out without looking at the next page: the session now holds a pending flash.
    assert_eq!(web.get("/logout").await.status, 302);
    let before_login = web.cookie_header().expect("cookie");
    let page = web.login("alice", "pw").await;
    assert!(page.contains("sign out [alice]"));
    assert_ne!(web.cookie_header().expect("cookie"), before_login);
    // Nothing of the session before the login carries over into the new one.
    assert!(page.contains("<li>You were logged in</li>"));
    assert!(!page.contains("You were logged out"));
}

async fn flashes_survive_exactly_one_redirect(app: TestApp) {
    let web = WebClient::new(&app);
    web.register("alice", "pw").await;
    let page = web
        .post("/login", &[("username", "alice"), ("password", "pw")])
        .await;
    assert_eq!(page.location.as_deref(), Some("/"));
    let page = web.get("/").await;
    assert!(page.contains(r#"<ul class="flashes">"#));
    assert!(page.contains("<li>You were logged in</li>"));
    let page = web.get("/").await;
    assert!(!page.contains("You were logged in"));
    assert!(!page.contains(r#"<ul class="flashes">"#));
}

async fn logout_ends_the_session(app: TestApp) {
    let web = WebClient::new(&app);
    web.register_and_login("alice", "pw").await;
    web.logout().await;
    let page = web.post("/add_message", &[("text", "after logout")]).await;
    assert_eq!(page.status, 401);
    assert!(!web.get("/public").await.contains("after logout"));
}

/// A copy of the cookie taken before logout (a stolen one, a shared computer) is worth
/// nothing after it: the server forgot the login.
async fn a_cookie_saved_before_logout_is_refused_after_it(app: TestApp) {
    let web = WebClient::new(&app);
    web.register_and_login("alice", "pw").await;
    let saved = web.cookie_header().expect("a session cookie");
    web.logout().await;
    let res = app
        .http
        .post(app.url("/add_message"))
        .header("cookie", &saved)
        .form(&[("text", "posted with a saved cookie")])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 401);
    let res = app
        .http
        .get(app.url("/"))
        .header("cookie", &saved)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 302, "the saved cookie is not logged in");
    let res = app
        .http
        .get(app.url("/alice/follow"))
        .header("cookie", &saved)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 401);
    // Nor does it open the logged-in user's live stream.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/ws?stream=home",
            app.addr
        ))
        .expect("request");
    request
        .headers_mut()
        .insert("cookie", saved.parse().expect("header"));
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 401)
        }
        other => panic!("home stream opened with a logged-out cookie: {other:?}"),
    }
    let messages: Vec<serde_json::Value> = app.get_api("/msgs").await.json().await.expect("JSON");
    assert!(messages.is_empty(), "{messages:?}");
}

/// Each login is its own session: logging out of one browser leaves the other logged in.
async fn each_login_is_its_own_session(app: TestApp) {
    let laptop = WebClient::new(&app);
    laptop.register_and_login("alice", "pw").await;
    let phone = WebClient::new(&app);
    phone.login("alice", "pw").await;
    assert_ne!(laptop.cookie_header(), phone.cookie_header());
    laptop.logout().await;
    assert!(phone.get("/").await.contains("sign out [alice]"));
    phone.add_message("from the phone").await;
    assert_eq!(laptop.get("/").await.location.as_deref(), Some("/public"));
}

/// The cookie says how long the login lasts, and the server holds it to that even if a
/// client keeps the cookie longer.
async fn sessions_expire_after_session_days(app: TestApp) {
    let web = WebClient::new(&app);
    web.register("alice", "pw").await;
    let page = web
        .post("/login", &[("username", "alice"), ("password", "pw")])
        .await;
    let cookie = page.session_cookie();
    assert!(
        cookie.to_ascii_lowercase().contains("max-age=1209600"),
        "14 days: {cookie}"
    );
    assert!(
        !cookie.to_ascii_lowercase().contains("secure"),
        "plain HTTP: {cookie}"
    );
    assert!(web.get("/").await.contains("sign out [alice]"));
    common::exec_sql(&app.db_url, "UPDATE sessions SET expires_at = 1").await;
    assert_eq!(web.get("/").await.location.as_deref(), Some("/public"));
    assert_eq!(
        web.post("/add_message", &[("text", "too late")])
            .await
            .status,
        401
    );
}

/// `GET /logout` changes state: another site's link, image or script must not log the
/// visitor out. Plain clients (the classic suite) still can.
async fn logout_is_refused_cross_site(app: TestApp) {
    let web = WebClient::new(&app);
    web.register_and_login("alice", "pw").await;
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("origin", "http://evil.example")][..],
    ] {
        let page = web.get_with_headers("/logout", headers).await;
        assert_eq!(page.status, 403, "{headers:?}");
        assert!(
            web.get("/").await.contains("sign out [alice]"),
            "{headers:?}"
        );
    }
    let own = format!("http://{}", app.addr);
    let page = web
        .get_with_headers(
            "/logout",
            &[("origin", own.as_str()), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(page.status, 302);
    assert_eq!(web.get("/").await.location.as_deref(), Some("/public"));
}

/// A sibling subdomain is the same site but not our origin: its links and images send
/// `Sec-Fetch-Site: same-site` and no `Origin`. The GETs that change state (follow,
/// unfollow, logout) take only `same-origin` (our own pages) and `none` (the visitor
/// typed the address); plain clients without the header still pass.
async fn state_changing_gets_are_refused_from_a_sibling_subdomain(app: TestApp) {
    app.register("target").await;
    let web = WebClient::new(&app);
    web.register_and_login("victim", "pw").await;
    let same_site = [("sec-fetch-site", "same-site")];
    let not_following = "You are not yet following this user.";
    let following = "You are currently following this user.";

    let page = web.get_with_headers("/target/follow", &same_site).await;
    assert_eq!(page.status, 403);
    assert!(page.contains("another site"), "{}", page.body);
    assert!(web.get("/target").await.contains(not_following));
    let page = web
        .get_with_headers("/target/follow", &[("sec-fetch-site", "same-origin")])
        .await;
    assert_eq!(page.status, 302);
    assert!(web.get("/target").await.contains(following));

    assert_eq!(
        web.get_with_headers("/target/unfollow", &same_site)
            .await
            .status,
        403
    );
    assert!(web.get("/target").await.contains(following));
    let page = web
        .get_with_headers("/target/unfollow", &[("sec-fetch-site", "none")])
        .await;
    assert_eq!(page.status, 302);
    assert!(web.get("/target").await.contains(not_following));

    assert_eq!(
        web.get_with_headers("/logout", &same_site).await.status,
        403
    );
    assert!(web.get("/").await.contains("sign out [victim]"));
    assert_eq!(web.get("/logout").await.status, 302);
    assert_eq!(web.get("/").await.location.as_deref(), Some("/public"));
}

async fn passwords_are_stored_as_argon2id(app: TestApp) {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let web = WebClient::new(&app);
    web.register("alice", "correct horse").await;
    let db = Database::connect(&app.db_url).await.expect("connect");
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT pw_hash FROM users WHERE username = 'alice'",
        ))
        .await
        .expect("query")
        .expect("alice is stored");
    let hash: String = row.try_get("", "pw_hash").expect("pw_hash");
    let _ = db.close().await;
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));
    assert!(web
        .login("alice", "correct horse")
        .await
        .contains("You were logged in"));
}

async fn a_session_of_a_removed_user_is_logged_out(app: TestApp) {
    let web = WebClient::new(&app);
    web.register_and_login("ghost", "pw").await;
    common::exec_sql(&app.db_url, "DELETE FROM users WHERE username = 'ghost'").await;
    assert_eq!(web.get("/").await.location.as_deref(), Some("/public"));
    assert_eq!(
        web.post("/add_message", &[("text", "boo")]).await.status,
        401
    );
    assert!(web.get("/public").await.contains("sign in"));
}

on_both_backends!(
    passwords_are_stored_as_argon2id,
    a_session_of_a_removed_user_is_logged_out,
    cross_origin_writes_are_refused_and_change_nothing,
    session_cookie_is_signed_httponly_samesite_lax,
    sessions_survive_a_restart_with_the_same_key,
    login_starts_a_fresh_session,
    flashes_survive_exactly_one_redirect,
    logout_ends_the_session,
    a_cookie_saved_before_logout_is_refused_after_it,
    each_login_is_its_own_session,
    sessions_expire_after_session_days,
    logout_is_refused_cross_site,
    state_changing_gets_are_refused_from_a_sibling_subdomain,
);

/// `MINITWIT_COOKIE_SECURE=auto`: `Secure` exactly when a trusted proxy says the visitor
/// came over HTTPS; a client cannot claim it by sending the header itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_secure_when_a_trusted_proxy_says_https() {
    let db = common::TestDb::new(common::Backend::Sqlite).await;
    let behind_proxy = TestApp::start_with(&db.url, |s| {
        s.trusted_proxies = TrustedProxies::parse("127.0.0.1").expect("valid");
    })
    .await;
    let direct = TestApp::start(&db.url).await;
    behind_proxy.register("alice").await;
    let login_cookie = |app: &TestApp, proto: &'static str| {
        let request = app
            .http
            .post(app.url("/login"))
            .header("x-forwarded-proto", proto)
            .form(&[("username", "alice"), ("password", "secret")]);
        async move {
            let res = request.send().await.expect("login");
            assert_eq!(res.status(), 302);
            res.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|c| c.starts_with("minitwit_session="))
                .expect("a session cookie")
                .to_ascii_lowercase()
        }
    };
    assert!(login_cookie(&behind_proxy, "https")
        .await
        .contains("; secure"));
    assert!(!login_cookie(&behind_proxy, "http").await.contains("secure"));
    assert!(!login_cookie(&direct, "https").await.contains("secure"));
    let always = TestApp::start_with(&db.url, |s| {
        s.cookie_secure = minitwit::config::CookieSecure::True;
    })
    .await;
    assert!(login_cookie(&always, "http").await.contains("; secure"));
}
