//! Per-address limits count an IPv6 client by its /64 (README.md, "Limits"): a host given a
//! /64 picks new addresses at will, so addresses in one /64 share one budget, the next /64
//! has its own, and an IPv4 client seen as IPv4-mapped IPv6 is that IPv4 client. The app
//! sits behind a trusted proxy on 127.0.0.1 whose `X-Forwarded-For` names the client, as
//! in the stack; this machine's loopback has one IPv6 address, so the proxy's header is
//! how one test speaks from many.

use serde_json::json;

use crate::common::{Backend, TestApp, TestDb};
use minitwit::limits::TrustedProxies;

async fn app_behind_a_proxy() -> (TestApp, TestDb) {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| {
        s.trusted_proxies = TrustedProxies::parse("127.0.0.1").expect("valid");
        s.login_per_minute = 5;
        s.register_per_minute = 3;
    })
    .await;
    (app, db)
}

async fn login_from(app: &TestApp, client: &str) -> u16 {
    app.http
        .post(app.url("/login"))
        .header("x-forwarded-for", client)
        .form(&[("username", "nobody"), ("password", "guess")])
        .send()
        .await
        .expect("post")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_from_one_ipv6_64_share_one_budget() {
    let (app, _db) = app_behind_a_proxy().await;
    // Five addresses of one /64 use its five attempts between them.
    let mut statuses = Vec::new();
    for host in [
        "::1",
        "::2",
        ":abcd:ef01:2345:6789",
        ":ffff:ffff:ffff:fffe",
        "::5",
    ] {
        statuses.push(login_from(&app, &format!("2001:db8:7:7{host}")).await);
    }
    assert_eq!(statuses, [200; 5]);
    // A sixth, fresh address of the same /64 is refused like a sixth attempt.
    assert_eq!(login_from(&app, "2001:db8:7:7:1234::99").await, 429);
    assert_eq!(login_from(&app, "2001:db8:7:7::6").await, 429);
    // The neighbouring /64 is another subscriber with its own budget.
    assert_eq!(login_from(&app, "2001:db8:7:8::1").await, 200);
    let metrics = app.state.metrics.encode();
    assert!(
        metrics.contains("minitwit_rate_limited_total{limiter=\"login\"} 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_from_one_ipv6_64_share_one_budget_and_mapped_ipv4_is_ipv4() {
    let (app, _db) = app_behind_a_proxy().await;
    let register_from = |client: &'static str, name: String| {
        let request = app
            .http
            .post(app.url("/api/register"))
            .header("x-forwarded-for", client)
            .json(&json!({"username": name, "email": "a@b", "pwd": "p"}));
        async move { request.send().await.expect("post").status().as_u16() }
    };
    let mut statuses = Vec::new();
    for (i, client) in ["2001:db8::a", "2001:db8::b", "2001:db8::c", "2001:db8::d"]
        .into_iter()
        .enumerate()
    {
        statuses.push(register_from(client, format!("v6_{i}")).await);
    }
    assert_eq!(statuses, [204, 204, 204, 429]);
    // An IPv4 client counts the same whether the proxy wrote it as IPv4 or IPv4-mapped.
    let mut statuses = Vec::new();
    for (i, client) in [
        "198.51.100.7",
        "::ffff:198.51.100.7",
        "198.51.100.7",
        "::ffff:198.51.100.7",
    ]
    .into_iter()
    .enumerate()
    {
        statuses.push(register_from(client, format!("v4_{i}")).await);
    }
    assert_eq!(statuses, [204, 204, 204, 429]);
}
