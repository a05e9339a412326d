//! Following and unfollowing: record the change, then tell open streams.

use crate::error::AppResult;
use crate::realtime::Event;
use crate::state::AppState;

/// Records that `who` follows `whom` (with the simulator's `latest`, if any) and tells
/// open streams.
pub async fn follow(state: &AppState, who: i64, whom: i64, latest: Option<i64>) -> AppResult<()> {
    state.store.follow(who, whom, latest).await?;
    state.hub.publish(Event::Followed { who, whom });
    Ok(())
}

/// Removes a follow (with the simulator's `latest`, if any) and tells open streams.
pub async fn unfollow(state: &AppState, who: i64, whom: i64, latest: Option<i64>) -> AppResult<()> {
    state.store.unfollow(who, whom, latest).await?;
    state.hub.publish(Event::Unfollowed { who, whom });
    Ok(())
}
