//! Two instances sharing a database and Redis: posts and follow changes on one reach the
//! streams of the other; Redis going away and coming back (a private redis-server).

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::common::faults::FaultProxy;
use crate::common::{Backend, TestApp, TestDb};
use crate::realtime::client::WsClient;

/// Starts instances A and B on `db_url`, sharing Redis at `redis_url` on a fresh channel.
pub async fn two_instances(db_url: &str, redis_url: &str) -> (TestApp, TestApp) {
    let channel = format!("minitwit:test:{}", uuid::Uuid::new_v4().simple());
    let start = |db: String, channel: String| {
        let redis = redis_url.to_owned();
        async move {
            TestApp::start_with(&db, move |s| {
                s.redis_url = Some(redis);
                s.redis_channel = channel;
            })
            .await
        }
    };
    let a = start(db_url.to_owned(), channel.clone()).await;
    let b = start(db_url.to_owned(), channel).await;
    for app in [&a, &b] {
        wait_for_ready(app, 200, Duration::from_secs(10)).await;
    }
    (a, b)
}

/// Instances A and B as [`two_instances`] makes them, but A reaches Redis through a fault
/// proxy (to cut, stall or delay) and B directly.
pub async fn two_instances_a_behind_a_redis_proxy(
    db_url: &str,
    redis_url: &str,
) -> (TestApp, TestApp, FaultProxy) {
    let (proxy, a_redis) = FaultProxy::in_front_of(redis_url).await;
    let channel = format!("minitwit:test:{}", uuid::Uuid::new_v4().simple());
    let a_channel = channel.clone();
    let a = TestApp::start_with(db_url, move |s| {
        s.redis_url = Some(a_redis);
        s.redis_channel = a_channel;
    })
    .await;
    let b_redis = redis_url.to_owned();
    let b = TestApp::start_with(db_url, move |s| {
        s.redis_url = Some(b_redis);
        s.redis_channel = channel;
    })
    .await;
    for app in [&a, &b] {
        wait_for_ready(app, 200, Duration::from_secs(10)).await;
    }
    (a, b, proxy)
}

/// Polls `/readyz` until it answers `status`.
pub async fn wait_for_ready(app: &TestApp, status: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let got = app
            .http
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz")
            .status()
            .as_u16();
        if got == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {got}, expected {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn shared_backends(test: &str) -> Option<String> {
    match (
        std::env::var("TEST_DATABASE_URL"),
        std::env::var("TEST_REDIS_URL"),
    ) {
        (Ok(_), Ok(redis)) => Some(redis),
        _ => {
            crate::common::skip_notice(&format!(
                "skipped {test}: needs TEST_DATABASE_URL and TEST_REDIS_URL"
            ));
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_on_b_reaches_home_and_public_streams_on_a() {
    let Some(redis) = shared_backends("two-instance fan-out") else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b) = two_instances(&db.url, &redis).await;
    for name in ["alice", "bob", "carol"] {
        assert_eq!(b.register(name).await.status(), 204);
    }
    assert_eq!(b.follow("alice", "bob").await.status(), 204);
    let mut public_a = WsClient::stream(&a, "public").await;
    let mut home_a = WsClient::home_of(&a, "alice").await;
    let mut bob_a = WsClient::stream(&a, "user:bob").await;
    let mut public_b = WsClient::stream(&b, "public").await;

    assert_eq!(b.tweet("bob", "from B").await.status(), 204);
    assert_eq!(b.tweet("carol", "carol on B").await.status(), 204);
    assert_eq!(a.tweet("bob", "from A").await.status(), 204);

    let expected = ["from B", "carol on B", "from A"];
    assert_eq!(public_a.contents(3).await, expected);
    assert_eq!(public_b.contents(3).await, expected);
    assert_eq!(home_a.contents(2).await, ["from B", "from A"]);
    assert_eq!(bob_a.contents(2).await, ["from B", "from A"]);

    // Follow changes made on B reach the home stream open on A.
    assert_eq!(b.unfollow("alice", "bob").await.status(), 204);
    assert_eq!(b.follow("alice", "carol").await.status(), 204);
    assert_eq!(b.tweet("bob", "bob unfollowed").await.status(), 204);
    assert_eq!(b.tweet("carol", "carol followed").await.status(), 204);
    assert_eq!(home_a.contents(1).await, ["carol followed"]);
    home_a.expect_nothing(Duration::from_millis(300)).await;
    for client in [&mut public_a, &mut public_b] {
        assert_eq!(
            client.contents(2).await,
            ["bob unfollowed", "carol followed"]
        );
    }
    assert_eq!(a.state.metrics.pubsub_errors_total.get(), 0);
    assert!(a.state.metrics.pubsub_messages_received_total.get() >= 6);
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}

/// A private redis-server on `port`, killed when dropped.
struct PrivateRedis {
    child: Child,
}

impl PrivateRedis {
    async fn start(port: u16) -> PrivateRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server runs (apt install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        PrivateRedis { child }
    }

    async fn stop(mut self) {
        self.child.kill().await.expect("kill redis-server");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_survives_redis_going_away_and_fan_out_resumes() {
    if which("redis-server").is_none() {
        crate::common::skip_notice("skipped the Redis fault test: redis-server is not installed");
        return;
    }
    // Shared PostgreSQL when available (as in production), else one SQLite file.
    let backend = if std::env::var("TEST_DATABASE_URL").is_ok() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let db = TestDb::new(backend).await;
    let port = crate::common::free_port();
    let redis = PrivateRedis::start(port).await;
    let (a, b) = two_instances(&db.url, &format!("redis://127.0.0.1:{port}")).await;
    b.register("bob").await;
    let mut public_a = WsClient::stream(&a, "public").await;
    let mut public_b = WsClient::stream(&b, "public").await;
    assert_eq!(b.tweet("bob", "before").await.status(), 204);
    assert_eq!(public_a.contents(1).await, ["before"]);
    assert_eq!(public_b.contents(1).await, ["before"]);

    redis.stop().await;
    wait_for_ready(&a, 503, Duration::from_secs(5)).await;
    wait_for_ready(&b, 503, Duration::from_secs(5)).await;
    // Posting keeps working and answering fast; B's own sockets still get the posts.
    for i in 0..5 {
        let started = Instant::now();
        assert_eq!(b.tweet("bob", &format!("during {i}")).await.status(), 204);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "a post took {:?} with Redis down",
            started.elapsed()
        );
    }
    assert_eq!(
        public_b.contents(5).await,
        (0..5).map(|i| format!("during {i}")).collect::<Vec<_>>()
    );
    assert!(
        b.state.metrics.pubsub_errors_total.get() > 0,
        "the fault is counted"
    );
    assert!(
        a.state.metrics.pubsub_errors_total.get() > 0,
        "the fault is counted"
    );

    let redis = PrivateRedis::start(port).await;
    wait_for_ready(&a, 200, Duration::from_secs(10)).await;
    wait_for_ready(&b, 200, Duration::from_secs(10)).await;
    assert_eq!(b.tweet("bob", "after").await.status(), 204);
    // A's open socket got the posts made while Redis was away from the database, once,
    // and live fan-out picks up again with the next one.
    let mut expected: Vec<String> = (0..5).map(|i| format!("during {i}")).collect();
    expected.push("after".into());
    assert_eq!(public_a.contents(6).await, expected);
    public_a.expect_nothing(Duration::from_millis(300)).await;
    assert_eq!(public_b.contents(1).await, ["after"]);
    a.stop().await;
    b.stop().await;
    redis.stop().await;
    db.drop_db().await;
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}
