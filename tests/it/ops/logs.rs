//! `LOG_FORMAT=json`: one JSON object per line, a request id per request that is also the
//! `X-Request-Id` header, and no secrets in the logs. Runs the real binary, as deployed.

use std::time::Duration;

use crate::common::{Backend, ServerProcess, TestDb, SIM_AUTH};

const PASSWORD: &str = "correct-horse-battery-staple";
const METRICS_TOKEN: &str = "metrics-token-never-logged";

/// The binary serving on a random port (testkit's launcher), and the log lines read so far.
struct Server {
    process: ServerProcess,
    seen: Vec<String>,
}

impl Server {
    fn start(db_url: &str) -> (Server, String) {
        let process = crate::common::server_process(
            db_url,
            &[
                ("METRICS_TOKEN", METRICS_TOKEN),
                ("SIMULATOR_PASSWORD", "super_safe!"),
            ],
        );
        let base = process.base.clone();
        let server = Server {
            process,
            seen: Vec::new(),
        };
        (server, base)
    }

    /// The first line (parsed) matching `pred`, waiting up to 10 s for it.
    fn wait_for(&mut self, pred: impl Fn(&serde_json::Value) -> bool) -> Option<serde_json::Value> {
        let parse = |line: &str| -> serde_json::Value {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
        };
        if let Some(found) = self.seen.iter().map(|l| parse(l)).find(|v| pred(v)) {
            return Some(found);
        }
        while let Ok(line) = self.process.logs.recv_timeout(Duration::from_secs(10)) {
            let value = parse(&line);
            self.seen.push(line);
            if pred(&value) {
                return Some(value);
            }
        }
        None
    }
}

/// The `X-Request-Id` the server answered with.
fn request_id(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("X-Request-Id")
        .to_owned()
}

fn finished_with_id(id: &str) -> impl Fn(&serde_json::Value) -> bool + '_ {
    move |v| v["message"] == "request finished" && v["request_id"] == id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id_and_no_secrets() {
    let db = TestDb::new(Backend::Sqlite).await;
    let (mut server, base) = Server::start(&db.url);
    let http = reqwest::Client::new();

    // A fresh id, returned in the header and logged with the request's outcome.
    let res = http
        .post(format!("{base}/api/register"))
        .json(
            &serde_json::json!({"username": "dora", "email": "dora@example.com", "pwd": PASSWORD}),
        )
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), 204);
    let id = request_id(&res);
    let parsed = uuid::Uuid::parse_str(&id).expect("the id is a UUID");
    assert_eq!(parsed.get_version_num(), 4);
    let line = server
        .wait_for(finished_with_id(&id))
        .expect("a line for the request");
    assert_eq!(line["status"], 204);
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["span"]["route"], "/api/register");
    assert_eq!(line["span"]["method"], "POST");

    // Each request has its own id.
    let other = http
        .get(format!("{base}/api/latest"))
        .send()
        .await
        .expect("latest");
    let other_id = request_id(&other);
    assert_ne!(other_id, id);

    // An id from the proxy (nginx's $request_id: 32 hex digits) is kept.
    let upstream = "0123456789abcdef0123456789abcdef";
    let res = http
        .get(format!("{base}/api/msgs"))
        .header("Authorization", SIM_AUTH)
        .header("X-Request-Id", upstream)
        .send()
        .await
        .expect("msgs");
    let kept = "01234567-89ab-cdef-0123-456789abcdef";
    assert_eq!(res.headers()["x-request-id"], kept);
    assert!(server.wait_for(finished_with_id(kept)).is_some());

    // Anything else a client sends is replaced, so it cannot forge log content.
    let res = http
        .get(format!("{base}/healthz"))
        .header("X-Request-Id", "\"}{\"level\":\"ERROR\"")
        .send()
        .await
        .expect("healthz");
    let replaced = request_id(&res);
    assert!(uuid::Uuid::parse_str(&replaced).is_ok(), "{replaced}");
    assert!(server.wait_for(finished_with_id(&replaced)).is_some());

    // The web login form carries the password in its body.
    let res = http
        .post(format!("{base}/login"))
        .form(&[("username", "dora"), ("password", PASSWORD)])
        .send()
        .await
        .expect("login");
    let login_id = request_id(&res);
    assert!(server.wait_for(finished_with_id(&login_id)).is_some());

    // Credentials travel in headers and bodies and are never written out.
    let res = http
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("metrics");
    assert_eq!(res.status(), 200);
    let metrics_id = request_id(&res);
    assert!(server.wait_for(finished_with_id(&metrics_id)).is_some());
    let all = server.seen.join("\n");
    for secret in [PASSWORD, METRICS_TOKEN, "super_safe!", &SIM_AUTH[6..]] {
        assert!(!all.contains(secret), "{secret} reached the logs:\n{all}");
    }
    drop(server);
    db.drop_db().await;
}

/// The default, human-readable format colours its fields only on a terminal: written to a
/// pipe or a file (`docker logs`, journald, `2> minitwit.log`), escape codes would be
/// noise in every line, and bytes to format and write for every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readable_logs_to_a_pipe_carry_no_colour_codes() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut process = crate::common::server_process(&db.url, &[("LOG_FORMAT", "pretty")]);
    let res = reqwest::get(format!("{}/api/latest", process.base))
        .await
        .expect("latest");
    let id = request_id(&res);
    let mut seen = Vec::new();
    while let Ok(line) = process.logs.recv_timeout(Duration::from_secs(10)) {
        let done = line.contains("request finished") && line.contains(&id);
        seen.push(line);
        if done {
            break;
        }
    }
    let all = seen.join("\n");
    assert!(
        all.contains("request finished"),
        "no line for the request:\n{all}"
    );
    assert!(!all.contains('\u{1b}'), "escape codes in the log:\n{all:?}");
    process.kill_9();
    db.drop_db().await;
}
