//! `proxy/nginx.conf` in a real nginx (README.md, "Deployment on Docker Swarm") in front of two replicas on PostgreSQL and
//! Redis, on ports other than 80 and 443, with a self-signed certificate made by the test:
//! plain HTTP redirects to HTTPS, HTTPS answers with HSTS and the session cookie is
//! `Secure`, same-origin forms work, cross-origin ones are refused, websockets upgrade,
//! `/metrics` is not served, a client's own `X-Forwarded-For` does not move it to another
//! rate-limit bucket, and request ids flow through.
//!
//! Needs `TEST_DATABASE_URL`, `TEST_REDIS_URL` and nginx (`NGINX_BIN`, `nginx` on the PATH,
//! or Debian's `/usr/sbin/nginx`); without them the test says why it is skipped.

use crate::common;

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

/// nginx running our config in a temp dir, with a self-signed certificate made for the
/// test; stopped on drop.
struct Nginx {
    child: Child,
    /// The plain-HTTP server (it only redirects).
    http_port: u16,
    /// The TLS server, where everything is served.
    port: u16,
    dir: tempfile::TempDir,
}

/// What the image's own /etc/nginx/nginx.conf (nginx:1.27-alpine) sets in `http { }`
/// around our file: our file must not define any of it again.
const IMAGE_HTTP_BLOCK: &str = "    default_type application/octet-stream;\n\
    log_format main '$remote_addr - $remote_user [$time_local] \"$request\" '\n\
                    '$status $body_bytes_sent \"$http_referer\" '\n\
                    '\"$http_user_agent\" \"$http_x_forwarded_for\"';\n\
    sendfile on;\n\
    keepalive_timeout 65;\n";

impl Nginx {
    /// The stack's `proxy/nginx.conf` with its deployment-specific lines rewritten: the
    /// upstream (Swarm's `app` service) becomes the two replicas, it listens on `http_port`
    /// and `port` (TLS) of 127.0.0.1, takes the certificate from `dir` instead of the
    /// Docker secrets, and logs to `dir`. Everything else is the file as deployed, inside
    /// an `http { }` like the image's.
    fn config(site: &str, http_port: u16, port: u16, upstreams: &[u16], dir: &Path) -> String {
        let d = dir.display();
        // (line prefix, replacement or None to drop it, how many times the file has it)
        let rewrites: [(&str, Option<String>, usize); 7] = [
            ("resolver ", None, 1), // Swarm's DNS: nothing to resolve here.
            (
                "set $upstream ",
                Some("        set $upstream http://minitwit_replicas;".to_owned()),
                1,
            ),
            (
                "listen 80 ",
                Some(format!("    listen 127.0.0.1:{http_port} default_server;")),
                1,
            ),
            (
                "listen 443 ssl ",
                Some(format!("    listen 127.0.0.1:{port} ssl default_server;")),
                1,
            ),
            (
                "ssl_certificate ",
                Some(format!("    ssl_certificate {d}/cert.pem;")),
                1,
            ),
            (
                "ssl_certificate_key ",
                Some(format!("    ssl_certificate_key {d}/key.pem;")),
                1,
            ),
            (
                "access_log ",
                Some(format!("    access_log {d}/access.log minitwit;")),
                2,
            ),
        ];
        let mut seen = [0; 7];
        let mut rewritten = Vec::new();
        'lines: for line in site.lines() {
            let trimmed = line.trim_start();
            for (i, (prefix, replacement, _)) in rewrites.iter().enumerate() {
                if trimmed.starts_with(prefix) {
                    seen[i] += 1;
                    rewritten.extend(replacement.clone());
                    continue 'lines;
                }
            }
            rewritten.push(line.to_owned());
        }
        for (i, (prefix, _, expected)) in rewrites.iter().enumerate() {
            assert_eq!(
                seen[i], *expected,
                "proxy/nginx.conf changed shape at `{prefix}`:\n{site}"
            );
        }
        let servers: String = upstreams
            .iter()
            .map(|p| format!("        server 127.0.0.1:{p};\n"))
            .collect();
        format!(
            "{user}worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n{IMAGE_HTTP_BLOCK}    access_log {d}/image-access.log main;\n\
             client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
             upstream minitwit_replicas {{\n{servers}    }}\n{site}\n}}\n",
            // As root, nginx would hand its workers to `nobody`, who cannot use the temp dir.
            user = if is_root() { "user root;\n" } else { "" },
            site = rewritten.join("\n"),
        )
    }

    fn start(bin: &Path, upstreams: &[u16]) -> Nginx {
        let dir = tempfile::tempdir().expect("temp dir");
        self_signed_certificate(dir.path());
        let http_port = common::free_port();
        let port = common::free_port();
        let site =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/proxy/nginx.conf"))
                .expect("proxy/nginx.conf");
        let conf = dir.path().join("nginx.conf");
        let config = Nginx::config(&site, http_port, port, upstreams, dir.path());
        std::fs::write(&conf, config).expect("write");
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
        for listening in [http_port, port] {
            while std::net::TcpStream::connect(("127.0.0.1", listening)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "nginx does not listen on {listening}; its error log:\n{}",
                    std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Nginx {
            child,
            http_port,
            port,
            dir,
        }
    }

    /// Where the app is served: the TLS server.
    fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The certificate the test made, for clients to trust.
    fn certificate_pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("cert.pem")).expect("cert.pem")
    }

    fn certificate_der(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("cert.der")).expect("cert.der")
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

/// `cert.pem`, `cert.der` and `key.pem` in `dir`: a self-signed certificate for 127.0.0.1,
/// made with the openssl command, as an operator would for a test deployment.
fn self_signed_certificate(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        // An end-entity certificate (webpki refuses a CA certificate as a server's).
        "-addext",
        "basicConstraints=critical,CA:FALSE",
    ]);
    run(&[
        "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
    ]);
}

/// A websocket to `path` on the TLS server, trusting only the test's certificate.
async fn wss(
    nginx: &Nginx,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(nginx.certificate_der()))
        .expect("the test's certificate");
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", nginx.port))
        .await
        .expect("connect");
    let name = ServerName::try_from("127.0.0.1").expect("an IP address");
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS with the test's certificate");
    let (socket, _) =
        tokio_tungstenite::client_async(format!("wss://127.0.0.1:{}{path}", nginx.port), tls)
            .await
            .expect("the websocket upgrades through nginx");
    socket
}

impl Drop for Nginx {
    /// SIGTERM, so the master stops its worker too (a SIGKILLed master leaves the worker
    /// running, orphaned); SIGKILL if it has not within 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
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
        let port = nginx.http_port;
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
    // Clients that trust the test's certificate and nothing else.
    let trusting = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(&nginx.certificate_pem()).expect("PEM"),
            )
    };
    let http = trusting().build().expect("client");

    // Plain HTTP only sends the visitor to HTTPS, keeping the method (a POST is re-sent
    // there, not turned into a GET) and doing nothing itself.
    let plain = format!("http://127.0.0.1:{}", nginx.http_port);
    let res = http
        .get(format!("{plain}/public?x=1"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "https://127.0.0.1/public?x=1");
    let res = http
        .post(format!("{plain}/api/register"))
        .header("Authorization", SIM_AUTH)
        .json(&json!({"username": "plain", "email": "plain@example.com", "pwd": "p"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "https://127.0.0.1/api/register");
    let res = http
        .get(format!("{base}/api/msgs/plain"))
        .header("Authorization", SIM_AUTH)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404, "the plain-HTTP POST registered nobody");
    // HTTPS tells browsers to come back only over HTTPS, on every answer.
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .is_ok_and(|v| v.starts_with("max-age=") && !v.starts_with("max-age=0")),
        "{:?}",
        res.headers()
    );

    // Same-origin forms, as a browser sends them to https://127.0.0.1:PORT (not port 443).
    let same_origin = [("origin", base.as_str()), ("sec-fetch-site", "same-origin")];
    let web = WebClient::at_with(&base, trusting().build().expect("client"));
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
    // The proxy said HTTPS (X-Forwarded-Proto), so MINITWIT_COOKIE_SECURE=auto marked the
    // session cookie Secure: a browser never sends it over plain HTTP.
    let cookie = page.session_cookie();
    assert!(
        cookie.to_ascii_lowercase().contains("; secure"),
        "not Secure over HTTPS: {cookie}"
    );

    // A websocket through the proxy, to whichever replica; posts on either reach it.
    let mut socket = wss(&nginx, "/ws?stream=public").await;
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
        assert!(res.headers().contains_key("strict-transport-security"));
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
    let client = trusting()
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
