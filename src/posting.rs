//! Posting a message and following: store it, then publish it to open streams.
//!
//! The one path behind the API and the web forms, so every committed change is published
//! exactly once, whichever door it came through.

use crate::domain::MessageText;
use crate::error::ApiError;
use crate::realtime::Event;
use crate::state::AppState;
use crate::store::{StoreError, TimelineMessage, User};

#[derive(Debug)]
pub enum PostError {
    Invalid(&'static str),
    Store(StoreError),
}

impl PostError {
    pub fn into_api_error(self) -> ApiError {
        match self {
            PostError::Invalid(message) => ApiError::bad_request(message),
            PostError::Store(e) => e.into(),
        }
    }
}

/// Validates, stores and publishes a message by `author`, stamped with the current time.
pub async fn post_message(
    state: &AppState,
    author: &User,
    text: &str,
) -> Result<TimelineMessage, PostError> {
    let text = MessageText::parse(text).map_err(PostError::Invalid)?;
    let message = state
        .store
        .post_message(author, &text, unix_now())
        .await
        .map_err(PostError::Store)?;
    state.hub.publish(Event::MessagePosted(message.clone()));
    Ok(message)
}

/// Records that `who` follows `whom` and tells open streams.
pub async fn follow(state: &AppState, who: i64, whom: i64) -> Result<(), StoreError> {
    state.store.follow(who, whom).await?;
    state.hub.publish(Event::Followed { who, whom });
    Ok(())
}

/// Removes a follow and tells open streams.
pub async fn unfollow(state: &AppState, who: i64, whom: i64) -> Result<(), StoreError> {
    state.store.unfollow(who, whom).await?;
    state.hub.publish(Event::Unfollowed { who, whom });
    Ok(())
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
