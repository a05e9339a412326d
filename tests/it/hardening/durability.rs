//! Nothing acknowledged is lost: `kill -9` during concurrent writes, and SIGTERM lets
//! in-flight requests finish.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::server_process;
use crate::common::{Backend, TestDb, SIM_AUTH};

async fn acknowledged_posts_survive_kill_9(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut server = server_process(&db.url, &[]);
    let http = reqwest::Client::new();
    let api = format!("{}/api", server.base);
    for writer in 0..4 {
        let res = http
            .post(format!("{api}/register"))
            .header("Authorization", SIM_AUTH)
            .json(&json!({"username": format!("writer{writer}"), "email": "w@x", "pwd": "p"}))
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), 204);
    }
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let http = http.clone();
            let api = api.clone();
            let acknowledged = acknowledged.clone();
            tokio::spawn(async move {
                for n in 0.. {
                    let text = format!("writer {writer} post {n}");
                    let res = http
                        .post(format!("{api}/msgs/writer{writer}"))
                        .header("Authorization", SIM_AUTH)
                        .json(&json!({ "content": text }))
                        .send()
                        .await;
                    match res {
                        Ok(res) if res.status() == 204 => {
                            acknowledged.lock().expect("lock").push(text)
                        }
                        _ => break, // the server is gone
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill_9();
    for writer in writers {
        let _ = writer.await;
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() > 20,
        "writers made progress: {}",
        acknowledged.len()
    );

    let server = server_process(&db.url, &[]);
    let stored: Vec<Value> = http
        .get(format!("{}/api/msgs?no=10000", server.base))
        .header("Authorization", SIM_AUTH)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("JSON");
    let stored: HashSet<String> = stored
        .iter()
        .map(|m| m["content"].as_str().expect("content").to_owned())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|t| !stored.contains(*t))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged posts lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    drop(server);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_posts_survive_kill_9() {
    acknowledged_posts_survive_kill_9(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_posts_survive_kill_9() {
    if let Some(backend) = Backend::postgres_or_skip("kill_9") {
        acknowledged_posts_survive_kill_9(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_then_exits() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut server = server_process(&db.url, &[]);
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{}/api/register", server.base))
        .header("Authorization", SIM_AUTH)
        .json(&json!({"username": "alice", "email": "a@x", "pwd": "p"}))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), 204);

    // An open websocket, which must be told to go away (1001) and reconnect elsewhere.
    let (mut socket, _) = tokio_tungstenite::connect_async(format!(
        "{}/ws?stream=public",
        server.base.replace("http://", "ws://")
    ))
    .await
    .expect("websocket opens");

    // A post whose body is still arriving when SIGTERM comes.
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let body = r#"{"content": "sent across a shutdown"}"#;
    let head = format!(
        "POST /api/msgs/alice HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {SIM_AUTH}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(&body.as_bytes()[..10])
        .await
        .expect("part");
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.sigterm().expect("SIGTERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream
        .write_all(&body.as_bytes()[10..])
        .await
        .expect("rest");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");

    let close_code = tokio::time::timeout(Duration::from_secs(10), async {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Message::Close(Some(close))) => return Some(u16::from(close.code)),
                Ok(Message::Close(None)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
        None
    })
    .await
    .expect("the socket is closed within 10 s of SIGTERM");
    assert_eq!(close_code, Some(1001), "websockets are told to go away");

    // New connections are refused, and the process exits cleanly.
    let exited = tokio::task::spawn_blocking(move || {
        for _ in 0..100 {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    })
    .await
    .expect("joins");
    let status = exited.expect("exits within 10 s of SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());

    // The in-flight post was stored.
    let server = server_process(&db.url, &[]);
    let stored: Vec<Value> = http
        .get(format!("{}/api/msgs", server.base))
        .header("Authorization", SIM_AUTH)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("JSON");
    assert_eq!(stored[0]["content"], "sent across a shutdown");
}
