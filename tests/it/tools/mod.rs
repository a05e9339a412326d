//! The load tools, as an operator runs them: `minitwit sim` against a real server and
//! `minitwit seed` into a real database.

use crate::common;
use crate::on_both_backends;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::process::Command;

use common::{encode, Backend, TestApp, TestDb};
use serde_json::Value;

/// A small scenario in the simulator's format, and the follows it implies.
fn scenario() -> (String, usize, HashMap<String, BTreeSet<String>>) {
    let users: Vec<String> = (0..12).map(|i| format!("Sim User {i}")).collect();
    let mut lines = Vec::new();
    let mut follows: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut tweets = 0;
    let mut id = 0;
    let mut push = |line: String| {
        lines.push(format!("{id}\t0\t0\t{line}"));
        id += 1;
    };
    for (i, user) in users.iter().enumerate() {
        push(format!("register\t{user}\t{i}@example.com\tpw{i}"));
        follows.insert(user.clone(), BTreeSet::new());
        // Interleave actions of users registered so far, as the simulator does.
        for (j, other) in users[..=i].iter().enumerate() {
            push(format!("tweet\t{other}\tmessage {i}-{j} Grüße 🐦"));
            tweets += 1;
            let target = &users[(i + j) % (i + 1)];
            if (i + j) % 3 == 0 {
                push(format!("unfollow\t{other}\t{target}"));
                follows.entry(other.clone()).or_default().remove(target);
            } else {
                push(format!("follow\t{other}\t{target}"));
                follows
                    .entry(other.clone())
                    .or_default()
                    .insert(target.clone());
            }
        }
    }
    (lines.join("\n") + "\n", tweets, follows)
}

fn write_temp(contents: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(contents.as_bytes()).expect("write");
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_replays_a_scenario_concurrently_in_per_user_order() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    let (text, tweets, follows) = scenario();
    let file = write_temp(&text);
    let api = app.url("/api");
    let path = file.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_minitwit"))
            .args([
                "sim",
                &api,
                path.to_str().expect("utf-8 path"),
                "--concurrency",
                "6",
            ])
            .output()
            .expect("runs")
    })
    .await
    .expect("joins");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("errors 0"), "{stdout}");
    assert!(stdout.contains("p99"), "{stdout}");

    let all: Vec<Value> = app
        .get_api("/msgs?no=10000")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(all.len(), tweets);
    for (user, expected) in follows {
        let body: Value = app
            .get_api(&format!("/fllws/{}?no=1000", encode(&user)))
            .await
            .json()
            .await
            .expect("JSON");
        let got: BTreeSet<String> = body["follows"]
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v.as_str().expect("name").to_owned())
            .collect();
        assert_eq!(got, expected, "follows of {user}: per-user order was kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_reports_failures_in_the_simulators_error_format() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    let file = write_temp(
        "0\t0\t0\tregister\tann\tann@x\tpw\n1\t0\t0\ttweet\tghost\tboo\n2\t0\t0\ttweet\tann\thi\n",
    );
    let api = app.url("/api");
    let path = file.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_minitwit"))
            .args(["sim", &api, path.to_str().expect("utf-8 path")])
            .output()
            .expect("runs")
    })
    .await
    .expect("joins");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "a failed action fails the run: {stdout}"
    );
    assert!(stdout.contains(",127.0.0.1,1,404,tweet"), "{stdout}");
    assert!(stdout.contains("errors 1"), "{stdout}");
    assert_eq!(app.latest().await, 2);
}

async fn seed_fills_a_database_the_app_serves(backend: Backend) {
    let db = TestDb::new(backend).await;
    let url = db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_minitwit"))
            .args([
                "seed",
                "--users",
                "40",
                "--messages",
                "3000",
                "--follows-per-user",
                "5",
                "--database-url",
                &url,
            ])
            .output()
            .expect("runs")
    })
    .await
    .expect("joins");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app = TestApp::start(&db.url).await;
    let all: Vec<Value> = app
        .get_api("/msgs?no=10000")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(all.len(), 3000);
    let author = all[0]["user"].as_str().expect("user").to_owned();
    let body: Value = app
        .get_api(&format!("/fllws/{}", encode(&author)))
        .await
        .json()
        .await
        .expect("JSON");
    let n = body["follows"].as_array().expect("array").len();
    assert!((4..=5).contains(&n), "{author} follows {n}");
    app.stop().await;
    db.drop_db().await;
}

on_both_backends!(backend: seed_fills_a_database_the_app_serves);
