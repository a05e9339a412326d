//! Moderation: the moderator role on users, and hiding (flagging) messages.
//!
//! Every hide and unhide is also a numbered row of `visibility_changes`, written in the
//! same transaction as the flag, so the realtime side can find changes it missed on the
//! bus and streams can resume with the changes made while they were away, exactly as
//! they do with messages (docs/delivery.md).

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait, Statement, TransactionTrait,
};

use super::entities::{message, user, visibility_change};
use super::messages::{message_select, scope_condition};
use super::{Store, StoreResult, TimelineMessage, TimelineScope};

/// A hide or an unhide, with the message it changed (what a stream needs to send
/// `delete`, or to show the message again).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VisibilityChange {
    /// Its place in the order of all changes.
    pub change_id: i64,
    /// `true`: hidden; `false`: shown again.
    pub hidden: bool,
    pub message: TimelineMessage,
}

/// The newest committed message id and change id (0 when there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NewestIds {
    pub message: i64,
    pub change: i64,
}

/// Most changes one resume sends (after folding repeated changes of one message).
pub const MAX_CHANGE_REPLAY: u64 = 1000;

/// A change row joined with its message and author.
#[derive(Debug, FromQueryResult)]
struct ChangeRow {
    change_id: i64,
    hidden: bool,
    message_id: i64,
    author_id: i64,
    username: String,
    email: String,
    text: String,
    pub_date: i64,
}

impl From<ChangeRow> for VisibilityChange {
    fn from(row: ChangeRow) -> Self {
        VisibilityChange {
            change_id: row.change_id,
            hidden: row.hidden,
            message: TimelineMessage {
                message_id: row.message_id,
                author_id: row.author_id,
                username: row.username,
                email: row.email,
                text: row.text,
                pub_date: row.pub_date,
            },
        }
    }
}

fn change_select() -> sea_orm::Select<visibility_change::Entity> {
    visibility_change::Entity::find()
        .select_only()
        .column(visibility_change::Column::ChangeId)
        .column(visibility_change::Column::Hidden)
        .columns([
            message::Column::MessageId,
            message::Column::AuthorId,
            message::Column::Text,
            message::Column::PubDate,
        ])
        .column(user::Column::Username)
        .column(user::Column::Email)
        .join(
            JoinType::InnerJoin,
            visibility_change::Relation::Message.def(),
        )
        .join(JoinType::InnerJoin, message::Relation::Author.def())
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

    /// Hides (`true`) or shows a message again, and numbers the change, in one
    /// transaction; `None` when there is no such message.
    pub async fn set_hidden(
        &self,
        message_id: i64,
        hidden: bool,
    ) -> StoreResult<Option<VisibilityChange>> {
        let txn = self.pools.write().begin().await?;
        let query = message_select().filter(message::Column::MessageId.eq(message_id));
        let Some(found) = TimelineMessage::find_by_statement(query.build(self.backend()))
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        message::Entity::update_many()
            .col_expr(message::Column::Flagged, Expr::value(hidden))
            .filter(message::Column::MessageId.eq(message_id))
            .exec(&txn)
            .await?;
        let change = visibility_change::ActiveModel {
            message_id: Set(message_id),
            hidden: Set(hidden),
            ..Default::default()
        };
        let change_id = visibility_change::Entity::insert(change)
            .exec(&txn)
            .await?
            .last_insert_id;
        txn.commit().await?;
        self.messages_changed(Some(found.author_id));
        Ok(Some(VisibilityChange {
            change_id,
            hidden,
            message: found,
        }))
    }

    /// The newest committed message and change ids, in one round trip: the realtime
    /// dispatcher compares them with what the bus brought.
    pub async fn newest_ids(&self) -> StoreResult<NewestIds> {
        let sql = "SELECT (SELECT MAX(message_id) FROM messages) AS newest_message, \
                   (SELECT MAX(change_id) FROM visibility_changes) AS newest_change";
        let row = self
            .pools
            .read()
            .query_one(Statement::from_string(self.backend(), sql))
            .await?;
        let Some(row) = row else {
            return Ok(NewestIds::default());
        };
        let message: Option<i64> = row.try_get("", "newest_message")?;
        let change: Option<i64> = row.try_get("", "newest_change")?;
        Ok(NewestIds {
            message: message.unwrap_or(0),
            change: change.unwrap_or(0),
        })
    }

    /// The committed changes among `ids`, by id: what the realtime dispatcher asks for when
    /// the bus lost or delayed them.
    pub async fn visibility_changes(&self, ids: &[i64]) -> StoreResult<Vec<VisibilityChange>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let query = change_select()
            .filter(visibility_change::Column::ChangeId.is_in(ids.iter().copied()))
            .order_by_asc(visibility_change::Column::ChangeId);
        let rows = ChangeRow::find_by_statement(query.build(self.backend()))
            .all(self.pools.read())
            .await?;
        Ok(rows.into_iter().map(VisibilityChange::from).collect())
    }

    /// What a stream resuming from (`up_to_message`, `after_change`) missed of the
    /// messages it may have shown: for each message of `scope` with id at most
    /// `up_to_message` whose visibility changed after change `after_change`, its last
    /// change, in change order (at most [`MAX_CHANGE_REPLAY`] changes read).
    pub async fn changes_since(
        &self,
        scope: TimelineScope,
        up_to_message: i64,
        after_change: i64,
    ) -> StoreResult<Vec<VisibilityChange>> {
        let query = change_select()
            .filter(visibility_change::Column::ChangeId.gt(after_change))
            .filter(message::Column::MessageId.lte(up_to_message))
            .filter(scope_condition(scope))
            .order_by_asc(visibility_change::Column::ChangeId)
            .limit(MAX_CHANGE_REPLAY);
        let rows = ChangeRow::find_by_statement(query.build(self.backend()))
            .all(self.pools.read())
            .await?;
        Ok(last_change_per_message(
            rows.into_iter().map(VisibilityChange::from).collect(),
        ))
    }
}

/// Keeps each message's last change only, in change order: what a client needs is where
/// each message stands now.
fn last_change_per_message(changes: Vec<VisibilityChange>) -> Vec<VisibilityChange> {
    let mut last = std::collections::HashMap::new();
    for change in &changes {
        last.insert(change.message.message_id, change.change_id);
    }
    changes
        .into_iter()
        .filter(|c| last.get(&c.message.message_id) == Some(&c.change_id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(change_id: i64, message_id: i64, hidden: bool) -> VisibilityChange {
        VisibilityChange {
            change_id,
            hidden,
            message: TimelineMessage {
                message_id,
                author_id: 1,
                username: "a".into(),
                email: "a@x".into(),
                text: "t".into(),
                pub_date: 0,
            },
        }
    }

    #[test]
    fn a_resume_gets_where_each_message_stands_now() {
        let folded = last_change_per_message(vec![
            change(1, 10, true),
            change(2, 11, true),
            change(3, 10, false),
            change(4, 12, true),
            change(5, 11, false),
            change(6, 11, true),
        ]);
        let got: Vec<(i64, i64, bool)> = folded
            .iter()
            .map(|c| (c.change_id, c.message.message_id, c.hidden))
            .collect();
        assert_eq!(got, [(3, 10, false), (4, 12, true), (6, 11, true)]);
    }
}
