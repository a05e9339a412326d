//! `proxy/nginx.conf` in a real nginx (SPEC §7) in front of two replicas on PostgreSQL and
//! Redis, on a port other than 80: same-origin forms work, cross-origin ones are refused,
//! websockets upgrade, `/metrics` is not served, a client's own `X-Forwarded-For` does not
//! move it to another rate-limit bucket, and request ids flow through.
//!
//! Needs `TEST_DATABASE_URL`, `TEST_REDIS_URL` and nginx (`NGINX_BIN`, `nginx` on the PATH,
//! or Debian's `/usr/sbin/nginx`); without them the test says why it is skipped.

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use minitwit::limits::TrustedProxies;
use serde_json::json;

use common::web::WebClient;
use common::{skip_notice, Backend, TestApp, TestDb, SIM_AUTH};

/// Logins per minute each replica allows one client address, low so the bucket test is short.
const LOGINS_PER_MINUTE: u32 = 3;

fn nginx_bin() -> Option<PathBuf> {
    if let Ok(bin) = std::env::var("NGINX_BIN") {
        return Some(PathBuf::from(bin));
    }
    let on_path = Command::new("sh")
        .args(["-c", "command -v nginx"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.exists()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

/// nginx running our config in a temp dir; stopped on drop.
struct Nginx {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// The stack's `proxy/nginx.conf` with its three deployment-specific lines rewritten:
    /// the upstream (Swarm's `app` service) becomes the two replicas, it listens on `port`,
    /// and logs to the temp dir. Everything else is the file as deployed.
    fn config(site: &str, port: u16, upstreams: &[u16], dir: &Path) -> String {
        let mut rewritten = Vec::new();
        let mut replaced = 0;
        for line in site.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("resolver ") {
                replaced += 1; // Swarm's DNS: nothing to resolve here.
            } else if trimmed.starts_with("set $upstream ") {
                rewritten.push("        set $upstream http://minitwit_replicas;".to_owned());
                replaced += 1;
            } else if trimmed.starts_with("listen ") {
                rewritten.push(format!("    listen 127.0.0.1:{port} default_server;"));
                replaced += 1;
            } else if trimmed.starts_with("access_log ") {
                rewritten.push(format!("    access_log {}/access.log main;", dir.display()));
                replaced += 1;
            } else {
                rewritten.push(line.to_owned());
            }
        }
        assert_eq!(replaced, 4, "proxy/nginx.conf changed shape:\n{site}");
        let servers: String = upstreams
            .iter()
            .map(|p| format!("        server 127.0.0.1:{p};\n"))
            .collect();
        let d = dir.display();
        format!(
            "{user}worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
             upstream minitwit_replicas {{\n{servers}    }}\n{site}\n}}\n",
            // As root, nginx would hand its workers to `nobody`, who cannot use the temp dir.
            user = if is_root() { "user root;\n" } else { "" },
            site = rewritten.join("\n"),
        )
    }

    fn start(bin: &Path, upstreams: &[u16]) -> Nginx {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = common::free_port();
        let site =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/proxy/nginx.conf"))
                .expect("proxy/nginx.conf");
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, Nginx::config(&site, port, upstreams, dir.path())).expect("write");
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx does not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx { child, port, dir }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two replicas on one database, sharing Redis, trusting only the proxy on 127.0.0.1.
async fn replicas(db_url: &str, redis_url: &str) -> (TestApp, TestApp) {
    let channel = format!("minitwit:test:{}", uuid::Uuid::new_v4().simple());
    let start = || {
        let redis = redis_url.to_owned();
        let channel = channel.clone();
        TestApp::start_with(db_url, move |s| {
            s.redis_url = Some(redis);
            s.redis_channel = channel;
            s.trusted_proxies = TrustedProxies::parse("127.0.0.1").expect("valid");
            s.login_per_minute = LOGINS_PER_MINUTE;
        })
    };
    let a = start().await;
    let b = start().await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stacks_nginx_config_in_front_of_two_replicas() {
    let Some(_) = Backend::postgres_or_skip("the nginx proxy test") else {
        return;
    };
    let Ok(redis_url) = std::env::var("TEST_REDIS_URL") else {
        skip_notice("skipped the nginx proxy test: TEST_REDIS_URL is not set");
        return;
    };
    let Some(bin) = nginx_bin() else {
        skip_notice(
            "skipped the nginx proxy test: no nginx (install nginx-light, or set NGINX_BIN)",
        );
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b) = replicas(&db.url, &redis_url).await;
    let nginx = Nginx::start(&bin, &[a.addr.port(), b.addr.port()]);
    let base = nginx.base();
    // A client that sends half a request head is dropped at the front door too (checked at
    // the end; it takes 10 s).
    let half_head = tokio::spawn({
        let port = nginx.port;
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            let started = Instant::now();
            stream
                .write_all(b"GET /public HTTP/1.1\r\nHost: x\r\n")
                .await
                .expect("write");
            let mut rest = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest)).await;
            started.elapsed()
        }
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // Same-origin forms, as a browser sends them to http://127.0.0.1:PORT (not port 80).
    let same_origin = [("origin", base.as_str()), ("sec-fetch-site", "same-origin")];
    let web = WebClient::at(&base);
    let page = web
        .post_with_headers(
            "/register",
            &[
                ("username", "alice"),
                ("email", "alice@example.com"),
                ("password", "pw"),
                ("password2", "pw"),
            ],
            &same_origin,
        )
        .await;
    assert_eq!(
        page.status, 302,
        "register through the proxy: {}",
        page.body
    );
    let page = web
        .post_with_headers(
            "/login",
            &[("username", "alice"), ("password", "pw")],
            &same_origin,
        )
        .await;
    assert_eq!(page.status, 302, "login through the proxy: {}", page.body);

    // A websocket through the proxy, to whichever replica; posts on either reach it.
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws?stream=public", nginx.port))
            .await
            .expect("the websocket upgrades through nginx");
    let page = web
        .post_with_headers("/add_message", &[("text", "via the proxy")], &same_origin)
        .await;
    assert_eq!(page.status, 302, "post through the proxy: {}", page.body);
    let res = http
        .post(format!("{base}/api/msgs/alice"))
        .header("Authorization", SIM_AUTH)
        .json(&json!({"content": "via the API"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 204);
    let mut seen = Vec::new();
    let got_both = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(frame)) = socket.next().await {
            if let Ok(text) = frame.to_text() {
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(text) {
                    if let Some(content) = event["message"]["content"].as_str() {
                        seen.push(content.to_owned());
                    }
                }
            }
            if seen.len() == 2 {
                return;
            }
        }
    })
    .await;
    assert!(got_both.is_ok(), "the socket got {seen:?}");
    seen.sort();
    assert_eq!(seen, ["via the API", "via the proxy"]);

    // Cross-origin writes are refused through the proxy too, and change nothing.
    let page = web
        .post_with_headers(
            "/add_message",
            &[("text", "forged")],
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(page.status, 403);
    let page = web
        .get_with_headers("/logout", &[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(page.status, 403);
    assert!(web.get("/").await.contains("sign out [alice]"));
    assert!(!web.get("/public").await.contains("forged"));

    // /metrics is for Prometheus on the internal network, never through the proxy.
    for path in ["/metrics", "/metrics/", "/metrics?x=1"] {
        let res = http.get(format!("{base}{path}")).send().await.expect("get");
        assert_eq!(res.status(), 404, "{path}");
    }

    // Request ids: nginx's id reaches the app, which returns it; the same id is in nginx's log.
    let res = http
        .get(format!("{base}/public"))
        .header("x-request-id", "client-chosen-id")
        .send()
        .await
        .expect("get");
    let id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("X-Request-Id on the answer")
        .to_owned();
    assert_ne!(id, "client-chosen-id");
    // The app writes nginx's 32 hex digits as a hyphenated UUID (src/telemetry.rs).
    let id = id.replace('-', "");
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "nginx's $request_id: {id}"
    );
    // nginx writes its log line when the response is done; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !nginx.access_log().contains(&id) {
        assert!(Instant::now() < deadline, "{id} not in nginx's log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A client that makes up X-Forwarded-For entries stays in its own rate-limit bucket:
    // the replicas believe only the entry nginx appended. Round-robin spreads ten
    // attempts over two replicas, more than each allows. The client has an address of
    // its own (127.0.0.3), as real clients do: the proxy's 127.0.0.1 is trusted.
    let client = reqwest::Client::builder()
        .local_address(Some([127, 0, 0, 3].into()))
        .build()
        .expect("client");
    let mut statuses = Vec::new();
    for i in 0..10 {
        let res = client
            .post(format!("{base}/login"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .form(&[("username", "nobody"), ("password", "guess")])
            .send()
            .await
            .expect("login attempt");
        statuses.push(res.status().as_u16());
    }
    assert!(
        statuses.contains(&429),
        "made-up X-Forwarded-For escaped the limit: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 429].contains(s)),
        "{statuses:?}"
    );

    let after = half_head.await.expect("joins");
    assert!(
        after < Duration::from_secs(15),
        "half a head kept for {after:?}"
    );

    drop(nginx);
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}
