//! Messages and the three timelines (public, one user's, a user's home), paged by id.
//!
//! Every page is a keyset query on the message id, never OFFSET, so page N costs what
//! page 1 costs: an index range scan on `messages` (by id, or by (author, flagged, id)).

use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult,
    JoinType, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait, Select, Statement,
};
use serde::{Deserialize, Serialize};

use super::entities::{follow, message, user};
use super::group_commit::{Change, Written};
use super::{user_pages, NewestPage, Store, StoreResult};
use crate::domain::MessageText;

/// A message with its author, as every timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult, Serialize, Deserialize)]
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
    /// `latest` (the simulator's) is committed with it.
    pub async fn post_message(
        &self,
        author: &super::User,
        text: &MessageText,
        pub_date: i64,
        latest: Option<i64>,
    ) -> StoreResult<TimelineMessage> {
        let change = Change::Post {
            author_id: author.id,
            text: text.as_str().to_owned(),
            pub_date,
        };
        let done = self.writes.write(change, latest).await;
        // Stale even if the insert failed: it may have committed before the error.
        self.messages_changed(Some(author.id));
        let Written::Posted(message_id) = done? else {
            let missing = sea_orm::DbErr::Custom("a post committed without its id".into());
            return Err(super::StoreError::Db(missing));
        };
        Ok(TimelineMessage {
            message_id,
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
        match (scope, page) {
            (
                _,
                Page::Newest {
                    limit,
                    before: None,
                },
            ) => Ok(self.newest_page(scope, limit).await?.to_vec()),
            _ => self.query_timeline(scope, page).await,
        }
    }

    /// The newest `limit` messages of `scope`, newest first. The public page and users'
    /// pages come from memory while no message of theirs was posted, hidden or shown since
    /// they were read (see [`Store::messages_changed`]); home pages while no message at all
    /// changed and their reader's follows did not (see [`Store::follows_changed`]).
    pub async fn newest_page(&self, scope: TimelineScope, limit: u64) -> StoreResult<NewestPage> {
        let page = Page::Newest {
            limit,
            before: None,
        };
        match scope {
            TimelineScope::Public => {
                if let Some(cached) = self.public_page.get(limit) {
                    return Ok(cached);
                }
                // Taken before the query: a post racing it makes the page stale at once.
                let generation = self.public_page.generation();
                let rows = self.query_timeline(scope, page).await?;
                Ok(self.public_page.store(generation, limit, rows))
            }
            TimelineScope::User(author) if limit <= user_pages::MOST_ROWS => {
                self.kept_page(&self.user_pages, author, scope, limit).await
            }
            TimelineScope::Home(reader) if limit <= user_pages::MOST_ROWS => {
                self.kept_page(&self.home_pages, reader, scope, limit).await
            }
            _ => Ok(NewestPage::uncached(
                self.query_timeline(scope, page).await?,
            )),
        }
    }

    /// The newest `limit` messages of `scope` from `pages`, where it is kept under `key`
    /// (its author or its reader), or read and kept there.
    async fn kept_page(
        &self,
        pages: &user_pages::UserPages,
        key: i64,
        scope: TimelineScope,
        limit: u64,
    ) -> StoreResult<NewestPage> {
        if let Some(cached) = pages.get(key, limit) {
            return Ok(cached);
        }
        let generation = pages.generation(key);
        let page = Page::Newest {
            limit,
            before: None,
        };
        let rows = self.query_timeline(scope, page).await?;
        Ok(pages.store(key, generation, limit, rows))
    }

    async fn query_timeline(
        &self,
        scope: TimelineScope,
        page: Page,
    ) -> StoreResult<Vec<TimelineMessage>> {
        Ok(
            TimelineMessage::find_by_statement(self.timeline_statement(scope, page).await?)
                .all(self.pools.read())
                .await?,
        )
    }

    /// The newest message id committed (hidden ones too), or 0 with no messages: the
    /// realtime dispatcher compares it with what the bus brought.
    pub async fn newest_message_id(&self) -> StoreResult<i64> {
        let newest: Option<Option<i64>> = message::Entity::find()
            .select_only()
            .column_as(message::Column::MessageId.max(), "newest")
            .into_tuple()
            .one(self.pools.read())
            .await?;
        Ok(newest.flatten().unwrap_or(0))
    }

    /// The visible messages among `ids`, by id: what the realtime dispatcher asks for when
    /// the bus lost or delayed them.
    pub async fn visible_messages(&self, ids: &[i64]) -> StoreResult<Vec<TimelineMessage>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let query = timeline_select()
            .filter(message::Column::MessageId.is_in(ids.iter().copied()))
            .order_by_asc(message::Column::MessageId);
        Ok(
            TimelineMessage::find_by_statement(query.build(self.backend()))
                .all(self.pools.read())
                .await?,
        )
    }

    /// A message of `author` (of anyone, when `None`) was posted, hidden or shown, here or
    /// on another instance: the cached pages that could show it are stale. Called for every
    /// such event the realtime bus carries, after its change committed.
    pub fn messages_changed(&self, author: Option<i64>) {
        self.public_page.invalidate();
        self.user_pages.invalidate(author);
        // Whose home shows the author's messages is not known here: every home page.
        self.home_pages.invalidate(None);
    }

    /// `who` followed or unfollowed someone, here or on another instance: their cached
    /// home page is stale. Called after the change committed, as for messages.
    pub fn follows_changed(&self, who: i64) {
        self.home_pages.invalidate(Some(who));
    }

    /// The database's plan for a timeline query, one line per step, to show that it is an
    /// index range scan (used by the scale benchmark).
    pub async fn explain_timeline(
        &self,
        scope: TimelineScope,
        page: Page,
    ) -> StoreResult<Vec<String>> {
        let statement = self.timeline_statement(scope, page).await?;
        let backend = self.backend();
        let prefix = match backend {
            DatabaseBackend::Sqlite => "EXPLAIN QUERY PLAN ",
            _ => "EXPLAIN ",
        };
        let explain = Statement {
            sql: format!("{prefix}{}", statement.sql),
            ..statement
        };
        let rows = self.pools.read().query_all(explain).await?;
        Ok(rows
            .iter()
            .map(|row| match backend {
                DatabaseBackend::Sqlite => row.try_get::<String>("", "detail").unwrap_or_default(),
                _ => row.try_get::<String>("", "QUERY PLAN").unwrap_or_default(),
            })
            .collect())
    }

    async fn timeline_statement(&self, scope: TimelineScope, page: Page) -> StoreResult<Statement> {
        let backend = self.backend();
        match (scope, backend) {
            (TimelineScope::Home(reader), DatabaseBackend::Postgres) => {
                return Ok(postgres_home_statement(reader, page));
            }
            (TimelineScope::Home(reader), DatabaseBackend::Sqlite) => {
                let mut authors = self.followee_ids(reader).await?;
                authors.push(reader);
                authors.sort_unstable();
                authors.dedup();
                if authors.len() <= SQLITE_MAX_UNION_AUTHORS {
                    return Ok(sqlite_home_statement(&authors, page));
                }
            }
            _ => {}
        }
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
        Ok(query.build(backend))
    }
}

impl Page {
    /// The page as SQL pieces: the id bound (`<` or `>` and the id), the order, the limit.
    fn keyset(self) -> (Option<(&'static str, i64)>, &'static str, u64) {
        match self {
            Page::Newest { limit, before } => (before.map(|b| ("<", b)), "DESC", limit),
            Page::After { since, limit } => (Some((">", since)), "ASC", limit),
        }
    }
}

/// SQLite allows at most 500 terms in a compound SELECT; past this many followed authors
/// the home timeline falls back to the single-query plan.
const SQLITE_MAX_UNION_AUTHORS: usize = 400;

/// SQLite has no LATERAL, so the home timeline is a per-author top-N spelled out: one
/// covering index range scan on (author, flagged, id) per author, at most `limit` ids each,
/// merged (at 1M messages within 2× of its 10k cost here, unlike on PostgreSQL, whose
/// two-pass form is [`postgres_home_statement`]).
fn sqlite_home_statement(authors: &[i64], page: Page) -> Statement {
    let (bound, order, limit) = page.keyset();
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(authors.len() * 3 + 1);
    let mut parts = Vec::with_capacity(authors.len());
    for &author in authors {
        values.push(author.into());
        let bound_sql = match bound {
            Some((op, id)) => {
                values.push(id.into());
                format!("AND message_id {op} ?")
            }
            None => String::new(),
        };
        values.push((limit as i64).into());
        parts.push(format!(
            "SELECT message_id FROM (SELECT message_id FROM messages \
             WHERE author_id = ? AND flagged = 0 {bound_sql} ORDER BY message_id {order} LIMIT ?)"
        ));
    }
    values.push((limit as i64).into());
    // The page's ids are chosen among the candidates first, so only `limit` rows are
    // fetched from `messages` and `users`.
    let sql = format!(
        "SELECT m.message_id, m.author_id, u.username, u.email, m.text, m.pub_date \
         FROM messages m JOIN users u ON u.user_id = m.author_id \
         WHERE m.message_id IN (SELECT message_id FROM ({}) ORDER BY message_id {order} LIMIT ?) \
         ORDER BY m.message_id {order}",
        parts.join(" UNION ALL ")
    );
    Statement::from_sql_and_values(DatabaseBackend::Sqlite, sql, values)
}

/// PostgreSQL plans `author = me OR author IN (follows)` ordered by id as a backward scan of
/// the whole table, which reads every message when the people followed post rarely. This
/// form reads the (author, flagged, id) index per followed author (LATERAL) and merges, so
/// cost grows with the number followed, not with the table, in two passes:
///
/// 1. each author's first visible id in page order (one index probe each), keeping the
///    `limit` authors whose first id comes first;
/// 2. if there are `limit` of them, the last of their first ids is an edge no page id lies
///    beyond: `limit` visible messages (those first ids) are at or before it. Only those
///    authors can have messages up to the edge, so each is read from its first id to the
///    edge (at most `limit` ids), and the merged candidates give the page. With fewer
///    authors there is no edge and each is read up to `limit` ids.
///
/// Reading each author only up to the edge is what keeps a page at about `limit` + the
/// number followed index entries however many messages each author has (one pass of
/// `limit` ids per author read ~3,000 at 1M messages). `Newest` reads newest first below
/// `before`, `After` oldest first above `since`: the same plan mirrored.
fn postgres_home_statement(reader: i64, page: Page) -> Statement {
    let (bound, order, limit) = page.keyset();
    let mut values: Vec<sea_orm::Value> = vec![reader.into(), (limit as i64).into()];
    let bound = match bound {
        Some((op, id)) => {
            values.push(id.into());
            format!("AND message_id {op} $3")
        }
        None => String::new(),
    };
    // The edge and the range from each author's first id towards it, by direction; with
    // no edge, the far end of bigint, which every id is within.
    let (edge, no_edge, range) = if order == "DESC" {
        ("min", i64::MIN, "BETWEEN edge.id AND a.message_id")
    } else {
        ("max", i64::MAX, "BETWEEN a.message_id AND edge.id")
    };
    // The page's ids are chosen among the candidates first, so only `limit` rows are
    // fetched from `messages` and `users`.
    let sql = format!(
        "WITH firsts AS ( \
             SELECT a.author_id, f.message_id \
             FROM (SELECT $1::bigint AS author_id UNION SELECT whom_id FROM follows WHERE who_id = $1) a \
             CROSS JOIN LATERAL (SELECT message_id FROM messages \
                 WHERE author_id = a.author_id AND flagged = false {bound} \
                 ORDER BY message_id {order} LIMIT 1) f \
             ORDER BY f.message_id {order} LIMIT $2), \
         edge AS (SELECT CASE WHEN count(*) = $2 THEN {edge}(message_id) ELSE CAST({no_edge} AS bigint) END AS id \
                  FROM firsts) \
         SELECT m.message_id, m.author_id, u.username, u.email, m.text, m.pub_date \
         FROM (SELECT ids.message_id \
               FROM firsts a CROSS JOIN edge \
               CROSS JOIN LATERAL (SELECT message_id FROM messages \
                   WHERE author_id = a.author_id AND flagged = false \
                   AND message_id {range} \
                   ORDER BY message_id {order} LIMIT $2) ids \
               ORDER BY ids.message_id {order} LIMIT $2) page \
         JOIN messages m ON m.message_id = page.message_id \
         JOIN users u ON u.user_id = m.author_id \
         ORDER BY m.message_id {order}"
    );
    Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values)
}

/// Visible messages with their authors, as timelines show them.
fn timeline_select() -> Select<message::Entity> {
    message_select().filter(message::Column::Flagged.eq(false))
}

/// Messages with their authors, hidden ones too.
pub(super) fn message_select() -> Select<message::Entity> {
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
}

fn scoped(query: Select<message::Entity>, scope: TimelineScope) -> Select<message::Entity> {
    query.filter(scope_condition(scope))
}

/// Which messages (by `messages.author_id`) belong to `scope`.
pub(super) fn scope_condition(scope: TimelineScope) -> Condition {
    match scope {
        TimelineScope::Public => Condition::all(),
        TimelineScope::User(author) => Condition::all().add(message::Column::AuthorId.eq(author)),
        TimelineScope::Home(reader) => Condition::any()
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
    }
}
