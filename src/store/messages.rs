//! Messages and the three timelines (public, one user's, a user's home), paged by id.
//!
//! Every page is a keyset query on the message id, never OFFSET, so page N costs what
//! page 1 costs: an index range scan on `messages` (by id, or by (author, id)).

use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QueryOrder, QuerySelect, RelationTrait, Select,
};
use serde::Serialize;

use super::entities::{follow, message, user};
use super::{Store, StoreResult};
use crate::domain::MessageText;

/// A message with its author, as every timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult, Serialize)]
pub struct TimelineMessage {
    pub message_id: i64,
    pub author_id: i64,
    pub username: String,
    pub email: String,
    pub text: String,
    /// Unix seconds.
    pub pub_date: i64,
}

/// Whose messages a timeline holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineScope {
    /// Everyone's.
    Public,
    /// One author's.
    User(i64),
    /// A user's own and those of everyone they follow.
    Home(i64),
}

/// Which slice of a timeline to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The newest `limit` messages with id below `before` (all, if `None`), newest first.
    Newest { limit: u64, before: Option<i64> },
    /// The oldest `limit` messages with id above `since`, oldest first (replay for streams).
    After { since: i64, limit: u64 },
}

impl Store {
    /// Stores a message by `author` at `pub_date` (Unix seconds) and returns it with its id.
    pub async fn post_message(
        &self,
        author: &super::User,
        text: &MessageText,
        pub_date: i64,
    ) -> StoreResult<TimelineMessage> {
        let row = message::ActiveModel {
            author_id: Set(author.id),
            text: Set(text.as_str().to_owned()),
            pub_date: Set(pub_date),
            flagged: Set(false),
            ..Default::default()
        };
        let done = message::Entity::insert(row).exec(&self.write).await?;
        Ok(TimelineMessage {
            message_id: done.last_insert_id,
            author_id: author.id,
            username: author.username.clone(),
            email: author.email.clone(),
            text: text.as_str().to_owned(),
            pub_date,
        })
    }

    pub async fn timeline(
        &self,
        scope: TimelineScope,
        page: Page,
    ) -> StoreResult<Vec<TimelineMessage>> {
        let query = scoped(timeline_select(), scope);
        let query = match page {
            Page::Newest { limit, before } => {
                let query = match before {
                    Some(before) => query.filter(message::Column::MessageId.lt(before)),
                    None => query,
                };
                query.order_by_desc(message::Column::MessageId).limit(limit)
            }
            Page::After { since, limit } => query
                .filter(message::Column::MessageId.gt(since))
                .order_by_asc(message::Column::MessageId)
                .limit(limit),
        };
        Ok(query
            .into_model::<TimelineMessage>()
            .all(&self.read)
            .await?)
    }
}

fn timeline_select() -> Select<message::Entity> {
    message::Entity::find()
        .select_only()
        .columns([
            message::Column::MessageId,
            message::Column::AuthorId,
            message::Column::Text,
            message::Column::PubDate,
        ])
        .column(user::Column::Username)
        .column(user::Column::Email)
        .join(JoinType::InnerJoin, message::Relation::Author.def())
        .filter(message::Column::Flagged.eq(false))
}

fn scoped(query: Select<message::Entity>, scope: TimelineScope) -> Select<message::Entity> {
    match scope {
        TimelineScope::Public => query,
        TimelineScope::User(author) => query.filter(message::Column::AuthorId.eq(author)),
        TimelineScope::Home(reader) => query.filter(
            Condition::any()
                .add(message::Column::AuthorId.eq(reader))
                .add(
                    message::Column::AuthorId.in_subquery(
                        Query::select()
                            .column(follow::Column::WhomId)
                            .from(follow::Entity)
                            .and_where(follow::Column::WhoId.eq(reader))
                            .to_owned(),
                    ),
                ),
        ),
    }
}
