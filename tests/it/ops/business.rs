//! The business gauges: refreshed from the database, so they are right whoever wrote the
//! rows, and counted cheaply on large tables.

use std::time::{Duration, Instant};

use minitwit::metrics::refresh::REFRESH_INTERVAL;
use minitwit::store::{Counts, Store, Totals};

use crate::common::{self, Backend, TestApp, TestDb};
use crate::on_both_backends;
use crate::ops::metrics::{sample, scrape};

/// Scrapes until every `(series, value)` holds, or fails after a few refresh intervals.
async fn wait_for_gauges(app: &TestApp, expected: &[(&str, f64)]) {
    let deadline = Instant::now() + REFRESH_INTERVAL * 3;
    loop {
        let text = scrape(app).await;
        let wrong: Vec<_> = expected
            .iter()
            .filter(|(series, value)| sample(&text, series) != Some(*value))
            .map(|(series, value)| (series, value, sample(&text, series)))
            .collect();
        if wrong.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gauges (series, expected, got) still wrong: {wrong:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn business_gauges_follow_the_database(app: TestApp) {
    wait_for_gauges(
        &app,
        &[
            ("minitwit_users", 0.0),
            ("minitwit_messages", 0.0),
            ("minitwit_follows", 0.0),
            ("minitwit_latest_sim_action", -1.0),
        ],
    )
    .await;
    for name in ["ann", "ben", "cid"] {
        assert_eq!(app.register(name).await.status(), 204);
    }
    for text in ["one", "two"] {
        assert_eq!(app.tweet("ann", text).await.status(), 204);
    }
    assert_eq!(app.follow("ben", "ann").await.status(), 204);
    assert_eq!(app.follow("cid", "ann").await.status(), 204);
    assert_eq!(app.unfollow("cid", "ann").await.status(), 204);
    assert_eq!(app.get_api("/msgs?latest=42").await.status(), 200);
    wait_for_gauges(
        &app,
        &[
            ("minitwit_users", 3.0),
            ("minitwit_messages", 2.0),
            ("minitwit_follows", 1.0),
            ("minitwit_latest_sim_action", 42.0),
        ],
    )
    .await;
    // Rows written by someone else (another replica, say) are counted too.
    common::exec_sql(
        &app.db_url,
        "INSERT INTO messages (author_id, text, pub_date, flagged) \
         SELECT user_id, 'from elsewhere', 0, false FROM users",
    )
    .await;
    wait_for_gauges(&app, &[("minitwit_messages", 5.0)]).await;
    let text = scrape(&app).await;
    assert!(sample(&text, "minitwit_db_pool_connections").is_some_and(|v| v >= 1.0));
}

on_both_backends!(business_gauges_follow_the_database);

/// Inserts `n` rows with even ids 2, 4, … 2n into `users`, leaving the odd ids free.
const EVEN_USERS: &str =
    "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2500) \
     INSERT INTO users (user_id, username, email, pw_hash) \
     SELECT 2 * n, 'u' || n, 'u@example.com', 'x' FROM s";

async fn incremental_counts_stay_exact(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.expect("connects");
    store.migrate().await.expect("migrates");
    common::exec_sql(&db.url, EVEN_USERS).await;
    common::exec_sql(
        &db.url,
        "INSERT INTO messages (author_id, text, pub_date, flagged) \
         SELECT user_id, 'm', 0, false FROM users WHERE user_id <= 3000",
    )
    .await;
    common::exec_sql(
        &db.url,
        "INSERT INTO follows (who_id, whom_id) SELECT user_id, 2 FROM users WHERE user_id > 2",
    )
    .await;
    let mut totals = Totals::default();
    let counts = store.count_totals(&mut totals).await.expect("counts");
    assert_eq!(
        counts,
        Counts {
            users: 2500,
            messages: 1500,
            follows: 2499
        }
    );
    // Counting again changes nothing.
    assert_eq!(
        store.count_totals(&mut totals).await.expect("counts"),
        counts
    );
    // A row whose id is below the highest one (as when an earlier transaction commits
    // late) is still counted, and so are new rows and removed follows.
    common::exec_sql(
        &db.url,
        "INSERT INTO users (user_id, username, email, pw_hash) VALUES (4999, 'late', 'l@x', 'x'), (6000, 'new', 'n@x', 'x')",
    )
    .await;
    common::exec_sql(&db.url, "DELETE FROM follows WHERE who_id > 4000").await;
    let counts = store.count_totals(&mut totals).await.expect("counts");
    assert_eq!(
        counts,
        Counts {
            users: 2502,
            messages: 1500,
            follows: 1999
        }
    );
    store.close().await;
    db.drop_db().await;
}

on_both_backends!(backend: incremental_counts_stay_exact);
