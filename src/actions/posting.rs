//! Posting a message: check it, store it, then publish it to open streams.

use crate::domain::MessageText;
use crate::error::{AppError, AppResult};
use crate::realtime::Event;
use crate::state::AppState;
use crate::store::{TimelineMessage, User};

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
