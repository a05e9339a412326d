//! What the Mastodon-compatible API asks of users and messages beyond the timelines: users
//! by id, an account's counts, relationships, one message by id whatever its visibility,
//! and timeline slices between two ids (docs/mastodon.md, "Conventions").

use sea_orm::{
    ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect, QueryTrait, Statement,
};

use super::entities::{follow, message, user};
use super::messages::message_select;
use super::{NewestPage, Page, Store, StoreResult, TimelineMessage, TimelineScope, User};

/// An account's counts and the dates around them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, FromQueryResult)]
pub struct AccountStats {
    /// Visible messages.
    pub statuses: i64,
    pub followers: i64,
    pub following: i64,
    /// Unix seconds of the first and newest visible message, if any.
    pub first_status_at: Option<i64>,
    pub last_status_at: Option<i64>,
}

/// Whether the reader follows an account, and whether it follows the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relationship {
    pub id: i64,
    pub following: bool,
    pub followed_by: bool,
}

/// A slice of a timeline between two message ids (both excluded), as Mastodon clients
/// page: newest first below `max_id` and above `since_id`, or, with `min_id`, the `limit`
/// messages just above `min_id` (still answered newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub max_id: Option<i64>,
    pub since_id: Option<i64>,
    pub min_id: Option<i64>,
    pub limit: u64,
}

/// A message with whether a moderator (or its author's delete) hid it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub message: TimelineMessage,
    pub hidden: bool,
}

#[derive(Debug, FromQueryResult)]
struct MessageRow {
    message_id: i64,
    author_id: i64,
    username: String,
    email: String,
    text: String,
    pub_date: i64,
    flagged: bool,
}

impl Store {
    pub async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        Ok(user::Entity::find_by_id(id)
            .one(self.pools.read())
            .await?
            .map(User::from))
    }

    /// Counts and dates of `user_id`'s account, in one query.
    pub async fn account_stats(&self, user_id: i64) -> StoreResult<AccountStats> {
        let visible = "FROM messages WHERE author_id = $1 AND flagged = false";
        let sql = format!(
            "SELECT (SELECT count(*) {visible}) AS statuses, \
                    (SELECT count(*) FROM follows WHERE whom_id = $1) AS followers, \
                    (SELECT count(*) FROM follows WHERE who_id = $1) AS following, \
                    (SELECT min(pub_date) {visible}) AS first_status_at, \
                    (SELECT max(pub_date) {visible}) AS last_status_at"
        );
        let backend = self.backend();
        let sql = match backend {
            // SQLite numbers its parameters `?1` and stores booleans as integers.
            sea_orm::DatabaseBackend::Sqlite => sql.replace("$1", "?1").replace("false", "0"),
            _ => sql,
        };
        let statement = Statement::from_sql_and_values(backend, sql, [user_id.into()]);
        Ok(AccountStats::find_by_statement(statement)
            .one(self.pools.read())
            .await?
            .unwrap_or_default())
    }

    /// How `reader` and each of `ids` relate, in the order of `ids` (unknown ids too: they
    /// follow nobody).
    pub async fn relationships(&self, reader: i64, ids: &[i64]) -> StoreResult<Vec<Relationship>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, i64)> = follow::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(
                        follow::Column::WhoId
                            .eq(reader)
                            .and(follow::Column::WhomId.is_in(ids.iter().copied())),
                    )
                    .add(
                        follow::Column::WhomId
                            .eq(reader)
                            .and(follow::Column::WhoId.is_in(ids.iter().copied())),
                    ),
            )
            .into_tuple()
            .all(self.pools.read())
            .await?;
        Ok(ids
            .iter()
            .map(|&id| Relationship {
                id,
                following: rows.contains(&(reader, id)),
                followed_by: rows.contains(&(id, reader)),
            })
            .collect())
    }

    /// Message `id` with its author, hidden or not.
    pub async fn message_by_id(&self, id: i64) -> StoreResult<Option<StoredMessage>> {
        let query = message_select()
            .column(message::Column::Flagged)
            .filter(message::Column::MessageId.eq(id));
        let row = MessageRow::find_by_statement(query.build(self.backend()))
            .one(self.pools.read())
            .await?;
        Ok(row.map(|row| StoredMessage {
            hidden: row.flagged,
            message: TimelineMessage {
                message_id: row.message_id,
                author_id: row.author_id,
                username: row.username,
                email: row.email,
                text: row.text,
                pub_date: row.pub_date,
            },
        }))
    }

    /// The visible messages of `scope` within `range`, newest first. Keyset-paged on the
    /// message id like every timeline ([`Store::timeline`]), so a page deep in the past
    /// costs what the first does; the second bound, if any, only trims the page. The
    /// newest page (no bound at all) is the one the caches keep ([`Store::newest_page`]).
    pub async fn timeline_range(
        &self,
        scope: TimelineScope,
        range: IdRange,
    ) -> StoreResult<NewestPage> {
        if range.max_id.is_none() && range.since_id.is_none() && range.min_id.is_none() {
            return self.newest_page(scope, range.limit).await;
        }
        let mut page = match range.min_id {
            Some(min_id) => {
                let mut rows = self
                    .timeline(
                        scope,
                        Page::After {
                            since: min_id,
                            limit: range.limit,
                        },
                    )
                    .await?;
                rows.reverse();
                rows
            }
            None => {
                self.timeline(
                    scope,
                    Page::Newest {
                        limit: range.limit,
                        before: range.max_id,
                    },
                )
                .await?
            }
        };
        page.retain(|m| {
            range.max_id.is_none_or(|max| m.message_id < max)
                && range.since_id.is_none_or(|since| m.message_id > since)
        });
        Ok(NewestPage::uncached(page))
    }
}
