//! Hundreds of malformed requests: random methods, paths with `%ff` and NUL, invalid UTF-8
//! bodies, wrong types, nulls, huge numbers, wrong content types, control characters in
//! every field. No 5xx, on SQLite and on PostgreSQL (which refuses NUL in text); server alive.
//! And names crafted to look like another user's.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::web::WebClient;
use crate::common::{self, encode, TestApp, SIM_AUTH};
use crate::on_both_backends;

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FOO",
];
const PATHS: &[&str] = &[
    "/",
    "/public",
    "/api/latest",
    "/api/register",
    "/api/msgs",
    "/api/msgs/alice",
    "/api/msgs/%ff",
    "/api/msgs/%00",
    "/api/msgs/a%2Fb",
    "/api/fllws/alice",
    "/api/fllws/%ff%fe",
    "/api/fllws/ghost",
    "/alice",
    "/%ff",
    "/%00",
    "/alice/follow",
    "/ghost/unfollow",
    "/login",
    "/register",
    "/add_message",
    "/logout",
    "/ws",
    "/metrics",
    "/healthz",
    "/readyz",
    "/static/..%2f..%2fetc%2fpasswd",
    "/api/docs",
    "/api/openapi.json",
    "/%E2%82%AC",
    "/api/msgs/%C3%28",
    "/a%00b",
    "/api/msgs/a%00b",
    "/api/fllws/a%00b",
    "/a%00b/follow",
    "/alice%1b/unfollow",
    "/%7f",
];
const QUERIES: &[&str] = &[
    "",
    "?latest=1",
    "?latest=99999999999999999999999",
    "?latest=-5",
    "?latest=%ff",
    "?no=-1",
    "?no=99999999999999999999",
    "?no=%00",
    "?no=1e9",
    "?latest=1&latest=x&no=2",
    "?%ff=%fe",
    "?before=abc",
    "?before=-1",
    "?stream=%ff",
    "?since=x",
];

fn body(rng: &mut StdRng) -> (Vec<u8>, &'static str) {
    let bodies: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff, 0xfe, 0x00, 0x80],
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        br#"{"content": null}"#.to_vec(),
        br#"{"content": 123456789012345678901234567890}"#.to_vec(),
        br#"{"content": {"nested": [1, 2, 3]}}"#.to_vec(),
        br#"{"follow": null, "unfollow": 5}"#.to_vec(),
        br#"{"username": [], "email": false, "pwd": 1e400}"#.to_vec(),
        b"username=%ff&password=%00&email=x".to_vec(),
        b"text=%ff%fe".to_vec(),
        "[".repeat(10_000).into_bytes(),
        br#"{"content": "\ud800"}"#.to_vec(),
        br#"{"content": "a\u0000b"}"#.to_vec(),
        br#"{"follow": "a\u0000b"}"#.to_vec(),
        br#"{"unfollow": "\u0000"}"#.to_vec(),
        br#"{"username": "n\u0000", "email": "a\u0000@b", "pwd": "p\u0000"}"#.to_vec(),
        b"username=a%00b&email=a%00%40b&password=%00&password2=%00&text=a%00b".to_vec(),
    ];
    let types = [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1",
    ];
    (
        bodies[rng.gen_range(0..bodies.len())].clone(),
        types[rng.gen_range(0..types.len())],
    )
}

async fn junk_requests_never_get_a_5xx(app: TestApp) {
    app.register("alice").await;
    let mut rng = StdRng::seed_from_u64(6);
    let mut seen = std::collections::BTreeMap::new();
    for i in 0..400 {
        let method = METHODS[rng.gen_range(0..METHODS.len())];
        let path = PATHS[rng.gen_range(0..PATHS.len())];
        let query = QUERIES[rng.gen_range(0..QUERIES.len())];
        let (body, content_type) = body(&mut rng);
        let mut request = app
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                format!("{}{path}{query}", app.base),
            )
            .header("content-type", content_type)
            .body(body.clone());
        if rng.gen_bool(0.5) {
            request = request.header("Authorization", SIM_AUTH);
        }
        let res = request.send().await.expect("server answers");
        let status = res.status().as_u16();
        *seen.entry(status).or_insert(0) += 1;
        assert!(
            status < 500,
            "request {i}: {method} {path}{query} ({content_type}, {body:?}) -> {status}"
        );
    }
    eprintln!("statuses seen: {seen:?}");

    // Raw bytes no client library would send: a NUL and invalid UTF-8 in the request line.
    for raw in [
        &b"GET /api/msgs/\x00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        &b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        &b"POST /api/register HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\n\xff\xff\xff\xff"[..],
        &b"GARBAGE\r\n\r\n"[..],
    ] {
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
        stream.write_all(raw).await.expect("write");
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response).await;
        let text = String::from_utf8_lossy(&response);
        assert!(!text.starts_with("HTTP/1.1 5"), "{raw:?} -> {text}");
    }

    // Still alive and correct.
    let res = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("alive");
    assert_eq!(res.status(), 200);
    assert_eq!(app.tweet("alice", "still here").await.status(), 204);
}

/// Control characters as an attacker would place them: alone, around and inside a name.
const CONTROL: &[&str] = &[
    "\0", "\u{1}", "\t", "\n", "\r", "\u{1b}", "\u{1f}", "\u{7f}",
];

/// The control characters a message may not hold: all but line breaks and tabs, which
/// multi-line posts use (README.md, "Limits").
const MESSAGE_CONTROL: &[&str] = &[
    "\0", "\u{1}", "\u{b}", "\u{c}", "\u{1b}", "\u{1f}", "\u{7f}",
];

fn with_control(rng: &mut StdRng, base: &str) -> String {
    with_one_of(CONTROL, rng, base)
}

fn with_one_of(set: &[&str], rng: &mut StdRng, base: &str) -> String {
    let control = set[rng.gen_range(0..set.len())];
    let chars: Vec<char> = base.chars().collect();
    let at = rng.gen_range(0..=chars.len());
    let mut out: String = chars[..at].iter().collect();
    out.push_str(control);
    out.extend(&chars[at..]);
    out
}

/// The probes of issue #11, each with the answer a client must get: 404 for a user named in
/// a path or a follow target that cannot exist, 400 for a field that may not hold it.
async fn control_characters_get_400_or_404_and_store_nothing(app: TestApp) {
    assert_eq!(app.register("alice").await.status(), 204);
    assert_eq!(app.register("bob").await.status(), 204);
    let web = WebClient::new(&app);
    web.login("alice", "secret").await;
    for path in ["/a%00b", "/a%1bb", "/%7f"] {
        assert_eq!(web.get(path).await.status, 404, "GET {path}");
        assert_eq!(web.get(&format!("{path}/follow")).await.status, 404);
        assert_eq!(web.post(&format!("{path}/unfollow"), &[]).await.status, 404);
        assert_eq!(app.get_api(&format!("/msgs{path}")).await.status(), 404);
        assert_eq!(app.get_api(&format!("/fllws{path}")).await.status(), 404);
        let res = app
            .post_api(&format!("/msgs{path}"), json!({"content": "x"}))
            .await;
        assert_eq!(res.status(), 404, "POST /api/msgs{path}");
    }
    for control in MESSAGE_CONTROL {
        let text = format!("a{control}b");
        let res = app
            .post_api("/msgs/alice", json!({ "content": text }))
            .await;
        assert_eq!(res.status(), 400, "content {text:?}");
        let body: Value = res.json().await.expect("JSON error");
        assert_eq!(body["status"], 400);
        let page = web.post("/add_message", &[("text", &text)]).await;
        assert_eq!(page.status, 400, "web post {text:?}");
    }
    for control in CONTROL {
        let text = format!("a{control}b");
        for key in ["follow", "unfollow"] {
            let res = app.post_api("/fllws/alice", json!({ key: text })).await;
            assert_eq!(res.status(), 404, "{key} {text:?}");
        }
        for (username, email, pwd) in [
            (text.as_str(), "x@y", "p"),
            ("carol", &format!("c{control}@y") as &str, "p"),
            ("carol", "c@y", &text as &str),
        ] {
            let res = app
                .post_api(
                    "/register",
                    json!({"username": username, "email": email, "pwd": pwd}),
                )
                .await;
            assert_eq!(res.status(), 400, "register {username:?} {email:?} {pwd:?}");
        }
    }
    // The pages answer the forms with their error texts, as for any other bad input.
    let anonymous = WebClient::new(&app);
    let page = anonymous
        .register_with("carol", "pw", "pw", "carol\0@example.com")
        .await;
    assert_eq!(page.status, 200);
    assert!(page.contains("class=\"error\""), "{}", page.body);
    let page = anonymous.register_with("ca\0rol", "pw", "pw", "c@x").await;
    assert!(page.contains("class=\"error\""), "{}", page.body);
    let page = anonymous.login("a\0b", "pw").await;
    assert_eq!(page.status, 200);
    assert!(page.contains("Invalid username"));
    let page = anonymous.login("alice", "secret\0").await;
    assert!(page.contains("Invalid password"));

    // Nothing of it was stored: no message, no follow, no user.
    let messages: Vec<Value> = app.get_api("/msgs").await.json().await.expect("JSON");
    assert!(messages.is_empty(), "{messages:?}");
    let follows: Value = app
        .get_api("/fllws/alice")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(follows["follows"], json!([]));
    assert_eq!(app.get_api("/msgs/carol").await.status(), 404);
    assert_eq!(app.tweet("alice", "still fine").await.status(), 204);
}

/// Property: whatever control character lands wherever in any field of any route, the
/// answer is a 4xx (or the success the route gives valid input), never a 5xx.
async fn control_characters_anywhere_never_get_a_5xx(app: TestApp) {
    assert_eq!(app.register("alice").await.status(), 204);
    let web = WebClient::new(&app);
    web.login("alice", "secret").await;
    let mut rng = StdRng::seed_from_u64(11);
    for i in 0..60 {
        let name = with_control(&mut rng, "alice");
        // Line breaks and tabs are fine in a message; every other control is not.
        let text = with_one_of(MESSAGE_CONTROL, &mut rng, "hello world");
        let email = with_control(&mut rng, "x@example.com");
        let path = encode(&name);
        let statuses = [
            app.get_api(&format!("/msgs/{path}"))
                .await
                .status()
                .as_u16(),
            app.get_api(&format!("/fllws/{path}"))
                .await
                .status()
                .as_u16(),
            app.post_api(&format!("/msgs/{path}"), json!({ "content": text }))
                .await
                .status()
                .as_u16(),
            app.post_api("/msgs/alice", json!({ "content": text }))
                .await
                .status()
                .as_u16(),
            app.post_api("/fllws/alice", json!({ "follow": name }))
                .await
                .status()
                .as_u16(),
            app.post_api(
                "/register",
                json!({"username": name, "email": email, "pwd": text}),
            )
            .await
            .status()
            .as_u16(),
            web.get(&format!("/{path}")).await.status,
            web.get(&format!("/{path}/follow")).await.status,
            web.post("/add_message", &[("text", &text)]).await.status,
            WebClient::new(&app)
                .post("/login", &[("username", &name), ("password", &text)])
                .await
                .status,
            WebClient::new(&app)
                .post(
                    "/register",
                    &[
                        ("username", name.as_str()),
                        ("email", email.as_str()),
                        ("password", text.as_str()),
                        ("password2", text.as_str()),
                    ],
                )
                .await
                .status,
        ];
        for status in statuses {
            assert!(
                [200, 400, 404].contains(&status),
                "case {i}: {name:?} / {text:?} / {email:?} -> {statuses:?}"
            );
        }
    }
    let messages: Vec<Value> = app.get_api("/msgs").await.json().await.expect("JSON");
    assert!(messages.is_empty(), "{messages:?}");
}

/// Names that look like another user's are refused, and two spellings of one name (NFC
/// and NFD) are one user.
async fn lookalike_usernames_are_refused_or_one_name(app: TestApp) {
    let register = |name: &str| {
        app.post_api(
            "/register",
            json!({"username": name, "email": "x@example.com", "pwd": "pw"}),
        )
    };
    assert_eq!(register("alice").await.status(), 204);
    for lookalike in [
        " alice",
        "alice ",
        "al\u{200b}ice",
        "alice\u{feff}",
        "\u{202e}ecila",
        "al\u{2066}ice",
        // Bidi mark, soft hyphen, invisible operators, fillers, variation selectors.
        "al\u{61c}ice",
        "al\u{ad}ice",
        "al\u{2061}ice",
        "alice\u{2064}",
        "al\u{180e}ice",
        "\u{3164}alice",
        "\u{115f}",
        "alice\u{ffa0}",
        "alice\u{fe0f}",
        "al\u{e0100}ice",
    ] {
        let res = register(lookalike).await;
        assert_eq!(res.status(), 400, "{lookalike:?}");
        let body: Value = res.json().await.expect("JSON error");
        assert_ne!(body["error_msg"], "The username is already taken");
    }
    let decomposed = "A\u{30a}sa";
    let composed = "\u{c5}sa";
    assert_eq!(register(decomposed).await.status(), 204);
    let res = register(composed).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.expect("JSON error");
    assert_eq!(body["error_msg"], "The username is already taken");
    assert_eq!(app.tweet(composed, "one").await.status(), 204);
    assert_eq!(app.tweet(decomposed, "two").await.status(), 204);
    let theirs: Vec<Value> = app
        .get_api(&format!("/msgs/{}", encode(decomposed)))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(theirs.len(), 2);
    assert!(theirs.iter().all(|m| m["user"] == composed), "{theirs:?}");
    let web = WebClient::new(&app);
    assert!(web
        .login(decomposed, "pw")
        .await
        .contains("You were logged in"));
}

on_both_backends!(
    junk_requests_never_get_a_5xx,
    lookalike_usernames_are_refused_or_one_name,
    control_characters_get_400_or_404_and_store_nothing,
    control_characters_anywhere_never_get_a_5xx,
);
