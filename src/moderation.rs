//! Hiding a message and showing it again (SPEC §3 "Moderation"): set the flag, then tell
//! open streams on every instance, which send `delete` for a hidden message.

use crate::realtime::Event;
use crate::state::AppState;
use crate::store::StoreError;

#[derive(Debug)]
pub enum ModerationError {
    /// No message has that id.
    NotFound,
    Store(StoreError),
}

impl From<StoreError> for ModerationError {
    fn from(e: StoreError) -> Self {
        ModerationError::Store(e)
    }
}

/// Hides (`true`) or shows message `message_id` and publishes the change.
pub async fn set_hidden(
    state: &AppState,
    message_id: i64,
    hidden: bool,
) -> Result<(), ModerationError> {
    let moderated = state
        .store
        .set_hidden(message_id, hidden)
        .await?
        .ok_or(ModerationError::NotFound)?;
    if hidden {
        state.metrics.messages_hidden_total.inc();
        state.hub.publish(Event::MessageHidden {
            message_id,
            author_id: moderated.author_id,
            author: moderated.author,
        });
    } else {
        state.hub.publish(Event::MessageShown { message_id });
    }
    Ok(())
}
