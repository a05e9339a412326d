//! What a read costs the database: one round trip per query. sqlx pings every connection
//! given back to its pool, so without MiniTwit keeping its read connections
//! (`src/store/readers.rs`) each read cost PostgreSQL a second round trip.

use std::time::Duration;

use crate::common::faults::FaultProxy;
use crate::common::{Backend, TestApp, TestDb};
use serde_json::Value;

/// Reads measured after the warm-up.
const READS: u64 = 40;
/// Round trips allowed beyond one per read: background work (metrics gauges, the live
/// dispatcher's checks) may query the database meanwhile.
const SLACK: u64 = READS / 4;

#[tokio::test]
async fn each_read_costs_postgresql_one_round_trip() {
    let Some(backend) = Backend::postgres_or_skip("each_read_costs_postgresql_one_round_trip")
    else {
        return;
    };
    let db = TestDb::new(backend).await;
    let (proxy, url) = FaultProxy::in_front_of(&db.url).await;
    let app = TestApp::start(&url).await;
    for name in ["alice", "bob"] {
        assert_eq!(app.register(name).await.status(), 204);
    }
    assert_eq!(app.follow("alice", "bob").await.status(), 204);
    let follows = || async {
        let res = app.get_api("/fllws/alice").await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("JSON");
        assert_eq!(body["follows"], serde_json::json!(["bob"]));
    };
    // The first reads prepare their statements, which costs round trips of its own.
    for _ in 0..5 {
        follows().await;
    }
    // Whatever the server does after answering (a release, a ping) has time to finish.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let before = proxy.answers();
    for _ in 0..READS {
        follows().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let round_trips = proxy.answers() - before;
    assert!(
        round_trips <= READS + SLACK,
        "{READS} reads of /api/fllws cost PostgreSQL {round_trips} round trips"
    );
    app.stop().await;
    db.drop_db().await;
}
