//! Hiding a message and showing it again (README.md, "Moderation"): set the flag and number
//! the change, then tell open streams on every instance, which send `delete` for a hidden
//! message and the message again for one shown again.

use crate::error::{AppError, AppResult};
use crate::realtime::Event;
use crate::state::AppState;

/// Hides (`true`) or shows message `message_id` and publishes the change; no message with
/// that id is [`AppError::NotFound`].
pub async fn set_hidden(state: &AppState, message_id: i64, hidden: bool) -> AppResult<()> {
    let change = state
        .store
        .set_hidden(message_id, hidden)
        .await?
        .ok_or_else(unknown_message)?;
    if hidden {
        state.metrics.messages_hidden_total.inc();
    }
    state.hub.publish(Event::VisibilityChanged(change));
    Ok(())
}

/// The 404 for a message id that names no message (or is not an id at all).
pub fn unknown_message() -> AppError {
    AppError::NotFound("Unknown message")
}
