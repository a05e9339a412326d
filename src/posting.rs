//! Posting a message and following: store it, then publish it to open streams.
//!
//! The one path behind the API and the web forms, so every committed change is published
//! exactly once, whichever door it came through.

use crate::domain::MessageText;
use crate::error::{AppError, AppResult};
use crate::realtime::Event;
use crate::state::AppState;
use crate::store::{StoreError, TimelineMessage, User};

/// Validates, stores and publishes a message by `author`, stamped with the current time.
/// A text the rules refuse is [`AppError::Invalid`] with the reason. `latest` (the
/// simulator's, if it sent one) is committed in the same transaction.
pub async fn post_message(
    state: &AppState,
    author: &User,
    text: &str,
    latest: Option<i64>,
) -> AppResult<TimelineMessage> {
    let text = MessageText::parse(text).map_err(AppError::invalid)?;
    let message = state
        .store
        .post_message(author, &text, crate::clock::unix_now(), latest)
        .await?;
    state.hub.publish(Event::MessagePosted(message.clone()));
    Ok(message)
}

/// Records that `who` follows `whom` (with the simulator's `latest`, if any) and tells
/// open streams.
pub async fn follow(
    state: &AppState,
    who: i64,
    whom: i64,
    latest: Option<i64>,
) -> Result<(), StoreError> {
    state.store.follow(who, whom, latest).await?;
    state.hub.publish(Event::Followed { who, whom });
    Ok(())
}

/// Removes a follow (with the simulator's `latest`, if any) and tells open streams.
pub async fn unfollow(
    state: &AppState,
    who: i64,
    whom: i64,
    latest: Option<i64>,
) -> Result<(), StoreError> {
    state.store.unfollow(who, whom, latest).await?;
    state.hub.publish(Event::Unfollowed { who, whom });
    Ok(())
}
