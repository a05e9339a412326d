//! Group commit: every post, follow, unfollow and simulator `latest` goes through one
//! writer task per instance, which commits whatever queued up meanwhile in one transaction.
//!
//! Why: SQLite has one writer and PostgreSQL flushes its WAL once per commit, so one
//! commit per request caps writes at one commit latency each. Here a request's write waits
//! for the batch that holds it, and is acknowledged only after that batch committed
//! ("acknowledged = durable" is unchanged); under load many writes share one commit.
//! A simulator request's `latest` rides in the same transaction as its action, so each
//! simulator action is one commit, alone or in a batch.
//!
//! A batch that fails is rolled back and its writes are retried one by one, so one bad
//! write (a foreign key, a broken row) fails only its own request.

use std::sync::{Arc, OnceLock};

use prometheus::Histogram;
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::postgres::PgArguments;
use sea_orm::sqlx::sqlite::SqliteArguments;
use sea_orm::sqlx::{self, Arguments, Connection, Postgres, Row, Sqlite};
use sea_orm::{DbErr, RuntimeErr};
use tokio::sync::{mpsc, oneshot};

use super::{Pools, StoreError, StoreResult};

/// Most writes one transaction takes: bounds a batch's statement and its retry cost.
const MAX_BATCH: usize = 128;
/// Writes waiting for the writer before senders wait too (backpressure, bounded memory).
const QUEUE: usize = 4096;

/// One change to the database.
#[derive(Debug, Clone)]
pub(super) enum Change {
    Post {
        author_id: i64,
        text: String,
        pub_date: i64,
    },
    Follow {
        who: i64,
        whom: i64,
    },
    Unfollow {
        who: i64,
        whom: i64,
    },
    /// Nothing but the `latest` that came with it (the action failed or reads only).
    Nothing,
}

/// What a committed change produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Written {
    /// The new message's id.
    Posted(i64),
    Done,
}

struct Job {
    change: Change,
    /// The simulator's `latest` that arrived with this change, if any.
    latest: Option<i64>,
    reply: oneshot::Sender<StoreResult<Written>>,
}

/// Sends writes to the writer task; cheap to clone.
#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
    /// Where the writer reports how many writes each commit held, once metrics exist.
    commits: Commits,
}

/// The histogram of writes per commit, set after the store is built (metrics come later).
type Commits = Arc<OnceLock<Histogram>>;

impl GroupCommit {
    /// Starts the writer task on the current runtime; it ends when every handle is gone.
    pub fn start(pools: Pools) -> GroupCommit {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let commits = Commits::default();
        tokio::spawn(run(pools, queue, commits.clone()));
        GroupCommit { jobs, commits }
    }

    /// Reports each commit's number of writes to `histogram` from now on (first call wins).
    pub fn count_commits_in(&self, histogram: Histogram) {
        let _ = self.commits.set(histogram);
    }

    /// Commits `change` (with `latest`, if given) and answers once it is durable.
    pub async fn write(&self, change: Change, latest: Option<i64>) -> StoreResult<Written> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            change,
            latest,
            reply,
        };
        if self.jobs.send(job).await.is_err() {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable(DbErr::Custom("the database writer stopped".into()))
}

fn store_error(err: sqlx::Error) -> StoreError {
    StoreError::from(DbErr::Exec(RuntimeErr::SqlxError(err)))
}

/// The writer's connection, kept from one batch to the next: taking a pooled connection
/// and giving it back costs a ping each way.
enum Held {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

async fn run(pools: Pools, mut queue: mpsc::Receiver<Job>, commits: Commits) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut held = None;
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit(&pools, &mut held, &commits, std::mem::take(&mut batch)).await;
        if matches!(held, Some(Held::Sqlite(_))) && queue.is_empty() {
            // SQLite's one write connection also serves registrations, sessions and
            // moderation: hand it back whenever no post or follow is waiting.
            held = None;
        }
    }
}

/// Commits `batch` in one transaction and answers each job; on failure, retries each job
/// alone so that only the failing ones fail.
async fn commit(pools: &Pools, held: &mut Option<Held>, commits: &Commits, batch: Vec<Job>) {
    let changes: Vec<(&Change, Option<i64>)> =
        batch.iter().map(|job| (&job.change, job.latest)).collect();
    let done = execute(pools, held, &changes).await;
    if done.is_err() {
        // Perhaps broken: giving it back lets the pool test it and drop it if so.
        *held = None;
    }
    match done {
        Ok(written) => {
            if let Some(histogram) = commits.get() {
                histogram.observe(batch.len() as f64);
            }
            for (job, written) in batch.into_iter().zip(written) {
                let _ = job.reply.send(Ok(written));
            }
        }
        Err(err) if batch.len() == 1 => {
            // The caller records its `latest` alone when its write failed.
            if let Some(job) = batch.into_iter().next() {
                let _ = job.reply.send(Err(err));
            }
        }
        Err(err) => {
            tracing::debug!(error = %err, jobs = batch.len(), "batch failed; retrying alone");
            for job in batch {
                Box::pin(commit(pools, held, commits, vec![job])).await;
            }
        }
    }
}

/// The one `latest` a batch records: the last one that arrived, as if applied in order.
fn batch_latest(changes: &[(&Change, Option<i64>)]) -> Option<i64> {
    changes.iter().rev().find_map(|(_, latest)| *latest)
}

/// Runs `changes` in one transaction on the held connection (taken from the pool first if
/// none is held); one [`Written`] per change, in order.
async fn execute(
    pools: &Pools,
    held: &mut Option<Held>,
    changes: &[(&Change, Option<i64>)],
) -> StoreResult<Vec<Written>> {
    let conn = match held.take() {
        Some(conn) => conn,
        None => match pools {
            Pools::Sqlite { write, .. } => Held::Sqlite(
                write
                    .get_sqlite_connection_pool()
                    .acquire()
                    .await
                    .map_err(store_error)?,
            ),
            Pools::Postgres { main } => Held::Postgres(
                main.get_postgres_connection_pool()
                    .acquire()
                    .await
                    .map_err(store_error)?,
            ),
        },
    };
    let conn = held.insert(conn);
    match conn {
        Held::Sqlite(conn) => sqlite::execute(conn, changes).await,
        Held::Postgres(conn) => postgres::execute(conn, changes).await,
    }
    .map_err(store_error)
}

/// SQLite: the whole batch is one multi-statement string (`BEGIN IMMEDIATE; …; COMMIT`),
/// so it costs one hand-off to the driver's worker thread, not one per statement.
mod sqlite {
    use super::*;

    pub async fn execute(
        conn: &mut sqlx::SqliteConnection,
        changes: &[(&Change, Option<i64>)],
    ) -> Result<Vec<Written>, sqlx::Error> {
        // Parameters are plain `?`, bound in the order they appear across all statements.
        // Numbered ones (`?N`) cannot be used here: sqlx binds each statement of a
        // multi-statement string from its own offset, and a statement numbered from
        // `?5` on reads its four gaps as parameters of its own, so past the first few
        // statements the values run out and are bound as NULL.
        let mut sql = String::new();
        let mut args = SqliteArguments::default();
        let statements = changes
            .iter()
            .filter(|(c, _)| !matches!(c, Change::Nothing))
            .count()
            + usize::from(batch_latest(changes).is_some());
        let transaction = statements > 1;
        if transaction {
            sql.push_str("BEGIN IMMEDIATE;\n");
        }
        let encode = sqlx::Error::Encode;
        if let Some(latest) = batch_latest(changes) {
            args.add(latest).map_err(encode)?;
            sql.push_str(
                "INSERT INTO sim_latest (id, latest) VALUES (1, ?) \
                 ON CONFLICT (id) DO UPDATE SET latest = excluded.latest;\n",
            );
        }
        for (change, _) in changes {
            match change {
                Change::Post {
                    author_id,
                    text,
                    pub_date,
                } => {
                    args.add(*author_id).map_err(encode)?;
                    args.add(text.clone()).map_err(encode)?;
                    args.add(*pub_date).map_err(encode)?;
                    sql.push_str(
                        "INSERT INTO messages (author_id, text, pub_date, flagged) \
                         VALUES (?, ?, ?, 0) RETURNING message_id;\n",
                    );
                }
                Change::Follow { who, whom } => {
                    args.add(*who).map_err(encode)?;
                    args.add(*whom).map_err(encode)?;
                    sql.push_str(
                        "INSERT INTO follows (who_id, whom_id) VALUES (?, ?) \
                         ON CONFLICT DO NOTHING;\n",
                    );
                }
                Change::Unfollow { who, whom } => {
                    args.add(*who).map_err(encode)?;
                    args.add(*whom).map_err(encode)?;
                    sql.push_str("DELETE FROM follows WHERE who_id = ? AND whom_id = ?;\n");
                }
                Change::Nothing => {}
            }
        }
        if transaction {
            sql.push_str("COMMIT;");
        }
        // A statement cached per batch shape would churn the connection's cache: only
        // the shapes of a single write (few, and the commonest) are kept prepared.
        let query = sqlx::query_with(&sql, args).persistent(changes.len() == 1);
        let rows = match query.fetch_all(&mut *conn).await {
            Ok(rows) => rows,
            Err(err) => {
                if transaction {
                    // The failing statement left the transaction open on this connection.
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                }
                return Err(err);
            }
        };
        let mut ids = rows.iter().map(|row| row.try_get::<i64, _>(0));
        changes
            .iter()
            .map(|(change, _)| match change {
                Change::Post { .. } => match ids.next() {
                    Some(id) => Ok(Written::Posted(id?)),
                    None => Err(sqlx::Error::RowNotFound),
                },
                _ => Ok(Written::Done),
            })
            .collect()
    }
}

/// PostgreSQL: a single write is one statement (its `latest` in a data-modifying CTE), so
/// one round trip and one commit; a batch is one transaction of one statement per write.
mod postgres {
    use super::*;

    const LATEST: &str = "INSERT INTO sim_latest (id, latest) VALUES (1, $1) \
                          ON CONFLICT (id) DO UPDATE SET latest = EXCLUDED.latest";

    pub async fn execute(
        conn: &mut sqlx::PgConnection,
        changes: &[(&Change, Option<i64>)],
    ) -> Result<Vec<Written>, sqlx::Error> {
        if let [(change, latest)] = changes {
            return Ok(vec![single(conn, change, *latest).await?]);
        }
        let mut tx = Connection::begin(&mut *conn).await?;
        if let Some(latest) = batch_latest(changes) {
            sqlx::query(LATEST).bind(latest).execute(&mut *tx).await?;
        }
        let mut written = Vec::with_capacity(changes.len());
        for (change, _) in changes {
            written.push(single(&mut tx, change, None).await?);
        }
        tx.commit().await?;
        Ok(written)
    }

    /// One change, with its `latest` (as `$1`) in the same statement when given.
    async fn single(
        conn: &mut sqlx::PgConnection,
        change: &Change,
        latest: Option<i64>,
    ) -> Result<Written, sqlx::Error> {
        let mut args = PgArguments::default();
        let mut n = 0;
        let prefix = match latest {
            Some(latest) => {
                args.add(latest).map_err(sqlx::Error::Encode)?;
                n += 1;
                format!("WITH latest AS ({LATEST}) ")
            }
            None => String::new(),
        };
        let mut param = |args: &mut PgArguments, value: i64| {
            n += 1;
            let p = n;
            args.add(value).map(|()| p).map_err(sqlx::Error::Encode)
        };
        let sql = match change {
            Change::Post {
                author_id,
                text,
                pub_date,
            } => {
                let a = param(&mut args, *author_id)?;
                let d = param(&mut args, *pub_date)?;
                args.add(text.as_str()).map_err(sqlx::Error::Encode)?;
                let t = d + 1;
                let sql = format!(
                    "{prefix}INSERT INTO messages (author_id, text, pub_date, flagged) \
                     VALUES (${a}, ${t}, ${d}, false) RETURNING message_id"
                );
                let row = sqlx::query_with(&sql, args).fetch_one(&mut *conn).await?;
                return Ok(Written::Posted(row.try_get(0)?));
            }
            Change::Follow { who, whom } => {
                let w = param(&mut args, *who)?;
                let m = param(&mut args, *whom)?;
                format!(
                    "{prefix}INSERT INTO follows (who_id, whom_id) VALUES (${w}, ${m}) \
                     ON CONFLICT DO NOTHING"
                )
            }
            Change::Unfollow { who, whom } => {
                let w = param(&mut args, *who)?;
                let m = param(&mut args, *whom)?;
                format!("{prefix}DELETE FROM follows WHERE who_id = ${w} AND whom_id = ${m}")
            }
            Change::Nothing => match latest {
                Some(_) => LATEST.to_owned(),
                None => return Ok(Written::Done),
            },
        };
        sqlx::query_with(&sql, args).execute(&mut *conn).await?;
        Ok(Written::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_records_the_latest_that_arrived_last() {
        let post = Change::Nothing;
        assert_eq!(batch_latest(&[(&post, Some(5)), (&post, Some(3))]), Some(3));
        assert_eq!(batch_latest(&[(&post, Some(5)), (&post, None)]), Some(5));
        assert_eq!(batch_latest(&[(&post, None)]), None);
    }
}
