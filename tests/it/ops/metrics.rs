//! `/metrics`: every family README.md lists under "Metrics and logs" after a little traffic, route labels that are
//! patterns, and `METRICS_TOKEN`.

use crate::common::{self, Backend, TestApp, TestDb};
use crate::on_both_backends;

/// Every family README.md lists under "Metrics and logs".
pub const SPEC_FAMILIES: &[&str] = &[
    "minitwit_http_requests_total",
    "minitwit_http_request_duration_seconds",
    "minitwit_ws_connections",
    "minitwit_ws_messages_sent_total",
    "minitwit_ws_slow_disconnects_total",
    "minitwit_fanout_delay_seconds",
    "minitwit_pubsub_messages_received_total",
    "minitwit_pubsub_errors_total",
    "minitwit_users",
    "minitwit_messages",
    "minitwit_follows",
    "minitwit_latest_sim_action",
    "minitwit_rate_limited_total",
    "minitwit_db_pool_connections",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
];

pub async fn scrape(app: &TestApp) -> String {
    let res = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), 200);
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    res.text().await.expect("body")
}

/// Families declared by `# TYPE` lines.
fn families(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The value of the sample line that starts with `series` exactly (name and labels).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

/// A little traffic of every kind the simulator sends, good and bad.
pub async fn light_traffic(app: &TestApp, round: usize) {
    let a = format!("alice{round}");
    let b = format!("bob {round}");
    assert_eq!(app.register(&a).await.status(), 204);
    assert_eq!(app.register(&b).await.status(), 204);
    assert_eq!(app.tweet(&a, "hello").await.status(), 204);
    assert_eq!(app.follow(&b, &a).await.status(), 204);
    assert_eq!(
        app.get_api(&format!("/msgs/{}?no=5&latest={round}", common::encode(&a)))
            .await
            .status(),
        200
    );
    assert_eq!(app.get_api("/msgs/nobody").await.status(), 404);
    assert_eq!(app.get_api("/fllws/nobody").await.status(), 404);
    assert_eq!(app.get_api("/msgs").await.status(), 200);
    let no_auth = app
        .http
        .get(app.url("/api/msgs"))
        .send()
        .await
        .expect("get");
    assert_eq!(no_auth.status(), 403);
    for path in ["/healthz", "/readyz", "/no/such/page/here"] {
        app.http.get(app.url(path)).send().await.expect("get");
    }
}

async fn every_spec_family_is_exposed_after_a_little_traffic(app: TestApp) {
    light_traffic(&app, 1).await;
    let text = scrape(&app).await;
    let present = families(&text);
    let missing: Vec<_> = SPEC_FAMILIES
        .iter()
        .filter(|f| !present.iter().any(|p| p == *f))
        .collect();
    assert!(
        missing.is_empty(),
        "missing families {missing:?} in\n{text}"
    );
    // Counted with method, pattern and status.
    let ok = sample(
        &text,
        r#"minitwit_http_requests_total{method="POST",route="/api/register",status="204"}"#,
    );
    assert_eq!(ok, Some(2.0), "{text}");
    let not_found = sample(
        &text,
        r#"minitwit_http_requests_total{method="GET",route="/api/msgs/:username",status="404"}"#,
    );
    assert_eq!(not_found, Some(1.0), "{text}");
    let forbidden = sample(
        &text,
        r#"minitwit_http_requests_total{method="GET",route="/api/msgs",status="403"}"#,
    );
    assert_eq!(forbidden, Some(1.0), "{text}");
    let unknown = sample(
        &text,
        r#"minitwit_http_requests_total{method="GET",route="other",status="404"}"#,
    );
    assert_eq!(unknown, Some(1.0), "{text}");
    let timed = sample(
        &text,
        r#"minitwit_http_request_duration_seconds_count{method="POST",route="/api/msgs/:username"}"#,
    );
    assert_eq!(timed, Some(1.0), "{text}");
    // Rate-limit series exist before the first refusal, so alerts and panels see them.
    for limiter in ["login", "register", "ws_connect", "post"] {
        let series = format!(r#"minitwit_rate_limited_total{{limiter="{limiter}"}}"#);
        assert_eq!(sample(&text, &series), Some(0.0), "{series} in\n{text}");
    }
    assert!(sample(&text, "process_resident_memory_bytes").is_some_and(|v| v > 0.0));
}

async fn route_labels_are_patterns_never_usernames(app: TestApp) {
    light_traffic(&app, 7).await;
    for path in ["/alice7", "/alice7/follow", "/bob%207/unfollow"] {
        app.http.get(app.url(path)).send().await.expect("get");
    }
    for path in ["/public", "/static/style.css"] {
        let res = app.http.get(app.url(path)).send().await.expect("get");
        assert_eq!(res.status(), 200, "{path}");
    }
    let text = scrape(&app).await;
    // The web pages are counted under their own patterns.
    for series in [
        r#"minitwit_http_requests_total{method="GET",route="/public",status="200"}"#,
        r#"minitwit_http_requests_total{method="GET",route="/static/*path",status="200"}"#,
        r#"minitwit_http_requests_total{method="GET",route="/:username",status="200"}"#,
    ] {
        assert_eq!(sample(&text, series), Some(1.0), "{series} in\n{text}");
    }
    for line in text.lines().filter(|l| l.contains("route=")) {
        assert!(
            !line.contains("alice") && !line.contains("bob") && !line.contains("nobody"),
            "a username became a label value: {line}"
        );
    }
    for pattern in [
        "/:username",
        "/:username/follow",
        "/:username/unfollow",
        "/api/fllws/:username",
        "/static/*path",
    ] {
        assert!(
            text.contains(&format!(r#"route="{pattern}""#)),
            "no {pattern} in\n{text}"
        );
    }
}

on_both_backends!(
    every_spec_family_is_exposed_after_a_little_traffic,
    route_labels_are_patterns_never_usernames,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_token_is_enforced_when_set() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| {
        s.metrics_token = Some("s3cret-token".parse().expect("infallible"));
    })
    .await;
    let get = |auth: Option<&'static str>| {
        let mut req = app.http.get(app.url("/metrics"));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        req.send()
    };
    for bad in [
        None,
        Some("Bearer wrong"),
        Some("Bearer s3cret-token-and-more"),
        Some("Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh"),
    ] {
        let res = get(bad).await.expect("get");
        assert_eq!(res.status(), 401, "{bad:?}");
        assert_eq!(
            res.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        let body = res.text().await.expect("body");
        assert!(!body.contains("minitwit_"), "{body}");
    }
    let res = get(Some("Bearer s3cret-token")).await.expect("get");
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .expect("body")
        .contains("minitwit_http_requests_total"));
    // The rest of the app does not need the token.
    assert_eq!(app.latest().await, -1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_open_without_a_token() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    let text = scrape(&app).await;
    assert!(text.contains("minitwit_users"));
    app.stop().await;
}
