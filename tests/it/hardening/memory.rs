//! Memory under a burst of password hashes (README.md, "Limits"): each Argon2id hash holds 19 MiB, so
//! the process bounds how many run at once. Measured on the real binary, as the kernel
//! sees it (`VmHWM`, the peak resident set).

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::common::server_process;
use crate::common::{self, Backend, TestDb, SIM_AUTH};
use crate::on_both_backends;

/// The stack gives a replica 1 GiB; this is far inside it, and far below the 1.2–2.4 GB that
/// 128 unbounded hashes took.
const MAX_PEAK_RSS_KIB: u64 = 256 * 1024;
const BURST: usize = 128;

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in kB")
}

async fn a_burst_of_registrations_stays_within_memory(backend: Backend) {
    let db = TestDb::new(backend).await;
    // Default settings, except that the logins below come from one address faster than the
    // per-IP login limit allows.
    let server = server_process(&db.url, &[("MINITWIT_LOGIN_PER_MINUTE", "0")]);
    let http = reqwest::Client::new();
    let base = server.base.clone();
    // The simulator's credential is exempt from rate limits, so nothing but the hash
    // bound stands between this burst and the allocator.
    let answers = futures_util::future::join_all((0..BURST).map(|i| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let res = http
                .post(format!("{base}/api/register"))
                .header("Authorization", SIM_AUTH)
                .json(&json!({"username": format!("burst{i}"), "email": "b@x", "pwd": format!("pw{i}")}))
                .send()
                .await
                .expect("the server answers");
            let status = res.status().as_u16();
            let retry_after = res.headers().contains_key("retry-after");
            let body = res.text().await.expect("body");
            (i, status, retry_after, body)
        }
    }))
    .await;
    let peak = peak_rss_kib(server.pid());
    let mut registered = Vec::new();
    for (i, status, retry_after, body) in &answers {
        match status {
            204 => registered.push(*i),
            429 | 503 => {
                assert!(retry_after, "{status} without Retry-After");
                let error: Value = serde_json::from_str(body).expect("JSON error");
                assert_eq!(error["status"], *status);
            }
            other => panic!("registration {i} answered {other}: {body}"),
        }
    }
    eprintln!(
        "peak RSS {} MiB; {} of {BURST} registered",
        peak / 1024,
        registered.len()
    );
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {} MiB during {BURST} concurrent registrations",
        peak / 1024
    );
    assert!(!registered.is_empty(), "some registrations went through");

    // Every user the server said it registered can log in (a few at a time, as people do).
    let logins = futures_util::stream::iter(registered.iter().copied())
        .map(|i| {
            let http = http.clone();
            let base = base.clone();
            async move {
                let res = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .expect("client")
                    .post(format!("{base}/login"))
                    .form(&[
                        ("username", format!("burst{i}")),
                        ("password", format!("pw{i}")),
                    ])
                    .send()
                    .await
                    .expect("login answers");
                drop(http);
                (
                    i,
                    res.status().as_u16(),
                    res.headers().get("location").cloned(),
                )
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    for (i, status, location) in logins {
        assert_eq!(status, 302, "burst{i} cannot log in");
        assert_eq!(location.as_ref().and_then(|l| l.to_str().ok()), Some("/"));
    }
    drop(server);
    db.drop_db().await;
}

on_both_backends!(backend: a_burst_of_registrations_stays_within_memory);
