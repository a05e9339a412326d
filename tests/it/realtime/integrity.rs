//! The delivery guarantee of docs/delivery.md under the faults networks make: two instances on one
//! PostgreSQL and one Redis with random delays in between, Redis cut off from one
//! instance, and Redis stalled (TCP up, no answers). Every socket must receive exactly
//! the messages of its stream, each once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::faults::{Fault, FaultProxy};
use crate::common::{Backend, TestApp, TestDb};
use crate::realtime::client::{spawn_posts, WsClient};
use crate::realtime::cluster::{
    shared_backends, two_instances_a_behind_a_redis_proxy, wait_for_ready,
};

/// One socket and the contents it must end up with (each exactly once).
struct Expecting {
    label: String,
    client: WsClient,
    expected: Vec<String>,
}

impl Expecting {
    /// Reads until the socket has as many messages as expected (or the wait runs out),
    /// then a little longer to catch duplicates; returns what arrived, by content.
    async fn collect(&mut self, within: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        while got.len() < self.expected.len() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.client.next_event_within(left).await {
                Some(event) => {
                    assert_eq!(event["event"], "message", "{}: {event}", self.label);
                    got.push(crate::realtime::client::as_tuple(&event).2);
                }
                None => break,
            }
        }
        while let Some(event) = self
            .client
            .next_event_within(Duration::from_millis(300))
            .await
        {
            got.push(crate::realtime::client::as_tuple(&event).2);
        }
        got
    }
}

/// Two instances, jitter to PostgreSQL on A and to Redis on B, 8 posters over both, 20
/// sockets per instance on public, user: and home streams.
async fn every_socket_gets_each_message_once_under_jitter(seed: u64, redis_url: &str) {
    let db = TestDb::new(Backend::Postgres).await;
    let (pg_proxy, a_db_url) = FaultProxy::in_front_of(&db.url).await;
    let (redis_proxy, b_redis_url) = FaultProxy::in_front_of(redis_url).await;
    let channel = format!("minitwit:test:{}", uuid::Uuid::new_v4().simple());
    let (a_channel, a_redis) = (channel.clone(), redis_url.to_owned());
    let a = TestApp::start_with(&a_db_url, move |s| {
        s.redis_url = Some(a_redis);
        s.redis_channel = a_channel;
    })
    .await;
    let b = TestApp::start_with(&db.url, move |s| {
        s.redis_url = Some(b_redis_url);
        s.redis_channel = channel;
    })
    .await;
    for app in [&a, &b] {
        wait_for_ready(app, 200, Duration::from_secs(10)).await;
    }

    const POSTERS: usize = 8;
    const POSTS_EACH: usize = 12;
    let posters: Vec<String> = (0..POSTERS).map(|i| format!("poster{i}")).collect();
    let readers: Vec<String> = (0..4).map(|i| format!("reader{i}")).collect();
    for name in posters.iter().chain(&readers) {
        assert_eq!(b.register(name).await.status(), 204);
    }
    // reader k follows posters k and k+4: its home holds two posters' messages.
    let mut follows: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, reader) in readers.iter().enumerate() {
        for poster in [&posters[k], &posters[k + 4]] {
            assert_eq!(b.follow(reader, poster).await.status(), 204);
            follows.entry(reader).or_default().push(poster);
        }
    }
    let content = |poster: &str, n: usize| format!("{poster} #{n}");
    let all_of = |poster: &str| {
        (0..POSTS_EACH)
            .map(|n| content(poster, n))
            .collect::<Vec<_>>()
    };

    let mut sockets = Vec::new();
    for (side, app) in [("A", &a), ("B", &b)] {
        for i in 0..12 {
            sockets.push(Expecting {
                label: format!("{side} public {i}"),
                client: WsClient::stream(app, "public").await,
                expected: posters.iter().flat_map(|p| all_of(p)).collect(),
            });
        }
        // A watches posters 0-3 by name, B posters 4-7.
        let watched = if side == "A" { 0..4 } else { 4..8 };
        for poster in &posters[watched] {
            sockets.push(Expecting {
                label: format!("{side} user:{poster}"),
                client: WsClient::stream(app, &format!("user:{poster}")).await,
                expected: all_of(poster),
            });
        }
        for reader in &readers {
            sockets.push(Expecting {
                label: format!("{side} home of {reader}"),
                client: WsClient::home_of(app, reader).await,
                expected: follows[reader.as_str()]
                    .iter()
                    .flat_map(|p| all_of(p))
                    .collect(),
            });
        }
    }

    let jitter = Duration::from_millis(100);
    pg_proxy.set(Fault::Jitter { max: jitter, seed });
    redis_proxy.set(Fault::Jitter {
        max: jitter,
        seed: seed.wrapping_add(1),
    });
    let mut posting = Vec::new();
    for (i, poster) in posters.iter().enumerate() {
        let app = if i % 2 == 0 { &a } else { &b };
        let texts: Vec<String> = (0..POSTS_EACH).map(|n| content(poster, n)).collect();
        posting.push(spawn_posts(app, poster, texts));
    }
    for task in posting {
        task.await.expect("poster");
    }

    let mut wrong = Vec::new();
    for socket in &mut sockets {
        let mut got = socket.collect(Duration::from_secs(15)).await;
        got.sort();
        let mut expected = socket.expected.clone();
        expected.sort();
        if got != expected {
            let missing = expected.iter().filter(|e| !got.contains(e)).count();
            wrong.push(format!(
                "{}: {} of {} arrived ({missing} missing, {} extra)",
                socket.label,
                got.len(),
                expected.len(),
                got.len() + missing - expected.len()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "seed {seed}: sockets without exactly their messages:\n{}",
        wrong.join("\n")
    );
    drop((pg_proxy, redis_proxy));
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_with_network_jitter_deliver_each_message_once() {
    let Some(redis) = shared_backends("the jitter delivery test") else {
        return;
    };
    for seed in [1, 7, 42] {
        every_socket_gets_each_message_once_under_jitter(seed, &redis).await;
    }
}

/// A with Redis through a proxy, B direct; sockets on A for public, user:bob and alice's
/// home (alice follows bob).
async fn instance_behind_a_redis_proxy(
    db: &TestDb,
    redis_url: &str,
) -> (TestApp, TestApp, FaultProxy, Vec<WsClient>) {
    let (a, b, proxy) = two_instances_a_behind_a_redis_proxy(&db.url, redis_url).await;
    for name in ["alice", "bob"] {
        assert_eq!(b.register(name).await.status(), 204);
    }
    assert_eq!(b.follow("alice", "bob").await.status(), 204);
    let sockets = vec![
        WsClient::stream(&a, "public").await,
        WsClient::stream(&a, "user:bob").await,
        WsClient::home_of(&a, "alice").await,
    ];
    (a, b, proxy, sockets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_of_an_instance_cut_off_from_redis_get_what_was_posted_meanwhile() {
    let Some(redis) = shared_backends("the Redis cut-off test") else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b, proxy, mut sockets) = instance_behind_a_redis_proxy(&db, &redis).await;

    proxy.set(Fault::Cut);
    wait_for_ready(&a, 503, Duration::from_secs(5)).await;
    let posted: Vec<String> = (0..10).map(|i| format!("while cut off {i}")).collect();
    for text in &posted {
        assert_eq!(b.tweet("bob", text).await.status(), 204);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.set(Fault::None);
    wait_for_ready(&a, 200, Duration::from_secs(10)).await;
    assert_eq!(b.tweet("bob", "after").await.status(), 204);

    let mut expected = posted.clone();
    expected.push("after".into());
    for socket in &mut sockets {
        // The same sockets, never reconnected: each message once, in id order.
        assert_eq!(socket.contents(expected.len()).await, expected);
        socket.expect_nothing(Duration::from_millis(500)).await;
    }
    assert!(a.state.metrics.delivery_catchup_messages_total.get() >= 10);
    drop(proxy);
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_makes_readyz_503_fast_and_fan_out_comes_back() {
    let Some(redis) = shared_backends("the Redis stall test") else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b, proxy, mut sockets) = instance_behind_a_redis_proxy(&db, &redis).await;

    proxy.set(Fault::Stall);
    let stalled_at = Instant::now();
    loop {
        let asked = Instant::now();
        let status =
            tokio::time::timeout(Duration::from_secs(5), a.http.get(a.url("/readyz")).send())
                .await
                .expect("/readyz answered")
                .expect("/readyz")
                .status();
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "/readyz took {:?} with Redis stalled",
            asked.elapsed()
        );
        if status == 503 {
            break;
        }
        assert!(
            stalled_at.elapsed() < Duration::from_secs(5),
            "/readyz still {status} {:?} after Redis stalled",
            stalled_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(a.state.metrics.redis_stalls_total.get() >= 1);
    assert_eq!(b.tweet("bob", "during the stall").await.status(), 204);

    proxy.set(Fault::None);
    wait_for_ready(&a, 200, Duration::from_secs(10)).await;
    assert_eq!(b.tweet("bob", "after the stall").await.status(), 204);
    for socket in &mut sockets {
        assert_eq!(
            socket.contents(2).await,
            ["during the stall", "after the stall"]
        );
        socket.expect_nothing(Duration::from_millis(500)).await;
    }
    drop(proxy);
    a.stop().await;
    b.stop().await;
    db.drop_db().await;
}
