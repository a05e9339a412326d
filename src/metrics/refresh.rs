//! Refreshes the business gauges from the database on an interval.
//!
//! A scrape only reads memory, so it stays cheap however often Prometheus comes and
//! however large the database is; and since the values come from the shared database,
//! every replica reports the same, correct totals.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::Metrics;
use crate::store::{Store, Totals};

/// How often the gauges are re-read: as often as Prometheus scrapes in our stack.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Aborts the refresher when dropped, so it never outlives the server that started it.
pub struct RefresherGuard(JoinHandle<()>);

impl Drop for RefresherGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts refreshing `minitwit_users`, `_messages`, `_follows`, `_latest_sim_action` and
/// `_db_pool_connections` now and then every [`REFRESH_INTERVAL`].
pub fn spawn_refresher(store: Store, metrics: Metrics) -> RefresherGuard {
    RefresherGuard(tokio::spawn(async move {
        let mut totals = Totals::default();
        let mut ticker = tokio::time::interval(REFRESH_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            refresh(&store, &metrics, &mut totals).await;
        }
    }))
}

async fn refresh(store: &Store, metrics: &Metrics, totals: &mut Totals) {
    match store.count_totals(totals).await {
        Ok(counts) => {
            metrics.users.set(counts.users);
            metrics.messages.set(counts.messages);
            metrics.follows.set(counts.follows);
        }
        // Keep the last values: a gauge dropping to 0 would look like lost data.
        Err(e) => tracing::warn!(error = %e, "cannot refresh the business gauges"),
    }
    match store.latest().await {
        Ok(latest) => metrics.latest_sim_action.set(latest.unwrap_or(-1)),
        Err(e) => tracing::warn!(error = %e, "cannot refresh minitwit_latest_sim_action"),
    }
    metrics
        .db_pool_connections
        .set(i64::from(store.pool_connections()));
}
