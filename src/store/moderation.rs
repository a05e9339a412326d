//! Moderation: the moderator role on users, and hiding (flagging) messages.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::entities::{message, user};
use super::{Store, StoreResult};

/// A message whose visibility changed, with what open streams need to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeratedMessage {
    pub message_id: i64,
    pub author_id: i64,
    pub author: String,
}

impl Store {
    /// Gives (`true`) or takes the moderator role; `false` when no user has that name.
    pub async fn set_moderator(&self, username: &str, moderator: bool) -> StoreResult<bool> {
        let done = user::Entity::update_many()
            .col_expr(user::Column::IsModerator, Expr::value(moderator))
            .filter(user::Column::Username.eq(username))
            .exec(self.pools.write())
            .await?;
        Ok(done.rows_affected > 0)
    }

    /// Whether the user may hide messages, read fresh (a revoke takes effect at once).
    pub async fn is_moderator(&self, user_id: i64) -> StoreResult<bool> {
        let role: Option<bool> = user::Entity::find_by_id(user_id)
            .select_only()
            .column(user::Column::IsModerator)
            .into_tuple()
            .one(self.pools.read())
            .await?;
        Ok(role.unwrap_or(false))
    }

    /// Hides (`true`) or shows a message again; `None` when there is no such message.
    pub async fn set_hidden(
        &self,
        message_id: i64,
        hidden: bool,
    ) -> StoreResult<Option<ModeratedMessage>> {
        let found: Option<(i64, String)> = message::Entity::find_by_id(message_id)
            .select_only()
            .column(message::Column::AuthorId)
            .column(user::Column::Username)
            .inner_join(user::Entity)
            .into_tuple()
            .one(self.pools.write())
            .await?;
        let Some((author_id, author)) = found else {
            return Ok(None);
        };
        message::Entity::update_many()
            .col_expr(message::Column::Flagged, Expr::value(hidden))
            .filter(message::Column::MessageId.eq(message_id))
            .exec(self.pools.write())
            .await?;
        self.public_page.invalidate();
        Ok(Some(ModeratedMessage {
            message_id,
            author_id,
            author,
        }))
    }
}
