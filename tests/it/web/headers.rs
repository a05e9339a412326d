//! What the browser is told it may do with each response: the pages run only our own
//! scripts and styles, load images only from us and Gravatar, connect only back to us and
//! cannot be framed; nothing is MIME-sniffed; the `Referer` stays home. Checked on the
//! headers, and in headless Chromium, where the pages (live updates included) run with no
//! policy violation and an injected inline script does not run.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::common::browser::{Chromium, Tab};
use crate::common::web::WebClient;
use crate::common::{Backend, TestApp, TestDb, SIM_AUTH};

/// A Content-Security-Policy as directive → sources.
fn directives(policy: &str) -> BTreeMap<String, Vec<String>> {
    policy
        .split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace();
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.map(str::to_owned).collect()))
        })
        .collect()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} on {}", res.url()))
}

/// No sniffing, no framing, `Referer` only to ourselves; and the response's policy.
fn common_headers(res: &reqwest::Response) -> BTreeMap<String, Vec<String>> {
    assert_eq!(
        header(res, "x-content-type-options"),
        "nosniff",
        "{}",
        res.url()
    );
    assert_eq!(header(res, "x-frame-options"), "DENY", "{}", res.url());
    assert_eq!(
        header(res, "referrer-policy"),
        "same-origin",
        "{}",
        res.url()
    );
    let policy = directives(header(res, "content-security-policy"));
    assert_eq!(policy["frame-ancestors"], ["'none'"], "{}", res.url());
    policy
}

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(app.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_says_what_a_browser_may_do_with_it() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    app.register("bob").await;
    app.tweet("bob", "hello").await;
    let web = WebClient::new(&app);
    web.register_and_login("alice", "pw").await;
    let cookie = web.cookie_header().expect("logged in");

    // The pages, logged in and out, errors included.
    for (path, cookie, status) in [
        ("/", Some(cookie.as_str()), 200),
        ("/public", None, 200),
        ("/public", Some(&cookie), 200),
        ("/bob", Some(&cookie), 200),
        ("/bob", None, 200),
        ("/login", None, 200),
        ("/register", None, 200),
        ("/nobody-by-this-name", None, 404),
        ("/bob/follow", None, 401),
    ] {
        let res = get(&app, path, cookie).await;
        assert_eq!(res.status(), status, "{path}");
        assert!(
            header(&res, "content-type").starts_with("text/html"),
            "{path}"
        );
        let policy = common_headers(&res);
        assert_eq!(policy["default-src"], ["'none'"], "{path}");
        assert_eq!(policy["script-src"], ["'self'"], "{path}");
        assert_eq!(policy["style-src"], ["'self'"], "{path}");
        assert_eq!(
            policy["img-src"],
            ["'self'", "https://www.gravatar.com"],
            "{path}"
        );
        assert_eq!(policy["connect-src"], ["'self'"], "{path}");
        assert_eq!(policy["base-uri"], ["'none'"], "{path}");
        assert_eq!(policy["form-action"], ["'self'"], "{path}");
    }

    // What is not a page may load and run nothing, should a browser render it anyway.
    let api = app
        .http
        .get(app.url("/api/msgs"))
        .header("Authorization", SIM_AUTH)
        .send()
        .await
        .expect("request");
    let refused = app
        .http
        .get(app.url("/api/msgs"))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 403);
    let script = get(&app, "/static/live.js", None).await;
    let style = get(&app, "/static/style.css", None).await;
    for res in [&api, &refused, &script, &style] {
        assert_eq!(res.status().is_success(), res.status() != 403);
        let policy = common_headers(res);
        assert_eq!(policy["default-src"], ["'none'"], "{}", res.url());
        assert_eq!(policy.len(), 3, "{}: {policy:?}", res.url());
    }

    // The docs page (Swagger UI): its own inline code by hash, no other inline code.
    let docs = get(&app, "/api/docs", None).await;
    assert_eq!(docs.status(), 200);
    let policy = common_headers(&docs);
    for directive in ["script-src", "style-src"] {
        assert!(
            !policy[directive].is_empty()
                && policy[directive].iter().all(|s| s.starts_with("'sha256-")),
            "{directive}: {policy:?}"
        );
    }
    assert_eq!(policy["connect-src"], ["'self'"]);
    assert_eq!(policy["default-src"], ["'none'"]);
    app.stop().await;
}

/// Collects what the policy refused in this tab: the page's own `securitypolicyviolation`
/// events, and Chromium's console and log entries about the policy.
async fn watch_for_violations(tab: &mut Tab) {
    tab.before_each_document(
        "window.__violations = [];\
         document.addEventListener('securitypolicyviolation', (e) => \
           window.__violations.push(e.violatedDirective + ' ' + e.blockedURI), true);",
    )
    .await;
    tab.call("Log.enable", json!({})).await;
    tab.call("Runtime.enable", json!({})).await;
}

/// The violations the current page saw, and every policy complaint Chromium logged since
/// the last call.
async fn violations(tab: &mut Tab) -> (Value, Vec<String>) {
    let seen = tab.eval("window.__violations").await;
    let logged = tab
        .take_events()
        .into_iter()
        .filter_map(|e| match e["method"].as_str() {
            Some("Log.entryAdded") => e["params"]["entry"]["text"].as_str().map(str::to_owned),
            Some("Runtime.consoleAPICalled") => Some(e["params"]["args"].to_string()),
            Some("Runtime.exceptionThrown") => Some(e["params"].to_string()),
            _ => None,
        })
        .filter(|text| text.contains("Content Security Policy") || text.contains("Refused"))
        .collect();
    (seen, logged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_run_under_the_policy_without_a_violation_and_stay_live() {
    let Some(mut chromium) =
        Chromium::launch_or_skip("the pages under the content security policy").await
    else {
        return;
    };
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    for name in ["alice", "bob"] {
        assert_eq!(app.register(name).await.status(), 204);
    }
    app.tweet("bob", "before alice came").await;
    let mut tab = chromium.new_tab().await;
    watch_for_violations(&mut tab).await;

    for path in [
        "/public",
        "/bob",
        "/login",
        "/register",
        "/nobody-by-this-name",
    ] {
        tab.goto(&app.url(path)).await;
        let (seen, logged) = violations(&mut tab).await;
        assert_eq!(seen, json!([]), "{path}");
        assert!(logged.is_empty(), "{path}: {logged:?}");
    }
    // The stylesheet applied (a policy that refused it would leave the page unstyled).
    let font = tab.eval("getComputedStyle(document.body).fontFamily").await;
    assert!(
        font.as_str().is_some_and(|f| f.contains("Trebuchet")),
        "{font}"
    );

    tab.goto(&app.url("/login")).await;
    tab.fill("input[name=username]", "alice").await;
    tab.fill("input[name=password]", "secret").await;
    tab.click_and_wait("input[type=submit]").await;
    assert_eq!(tab.location().await, app.url("/"));
    assert_eq!(app.follow("alice", "bob").await.status(), 204);
    tab.goto(&app.url("/")).await;
    // Live updates: the script ran and its websocket is allowed to the same host.
    tab.wait_for("window.minitwitLive && window.minitwitLive.connected()")
        .await;
    assert_eq!(
        tab.eval("window.minitwitLive.transport()").await,
        "websocket"
    );
    tab.eval("window.__sameDocument = true").await;
    app.tweet("bob", "live under the policy").await;
    tab.wait_for(
        "document.querySelector('#timeline li').innerText.includes('live under the policy')",
    )
    .await;
    assert_eq!(tab.eval("window.__sameDocument").await, true, "no reload");
    let (seen, logged) = violations(&mut tab).await;
    assert_eq!(seen, json!([]), "the live home timeline");
    assert!(logged.is_empty(), "the live home timeline: {logged:?}");

    // The policy is in force: script injected into the page (as an XSS would) does not
    // run, and an image from another host is not loaded.
    tab.eval(
        "(() => { const s = document.createElement('script'); \
           s.textContent = 'window.__injected = true'; document.body.appendChild(s); \
           const i = document.createElement('img'); i.src = 'http://evil.example/x.png'; \
           document.body.appendChild(i); })()",
    )
    .await;
    tab.wait_for("window.__violations.length >= 2").await;
    assert_eq!(tab.eval("window.__injected === undefined").await, true);
    let (seen, _) = violations(&mut tab).await;
    let seen: Vec<&str> = seen
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(seen.iter().any(|v| v.starts_with("script-src")), "{seen:?}");
    assert!(
        seen.iter()
            .any(|v| v.starts_with("img-src") && v.contains("evil.example")),
        "{seen:?}"
    );

    chromium.close().await;
    app.stop().await;
}
