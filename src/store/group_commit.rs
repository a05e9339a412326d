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

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use prometheus::Histogram;
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::postgres::PgArguments;
use sea_orm::sqlx::sqlite::SqliteArguments;
use sea_orm::sqlx::{self, Arguments, Postgres, Row, Sqlite};
use sea_orm::{DbErr, RuntimeErr};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::{Pools, StoreError, StoreResult};

/// Most writes one transaction takes: bounds a batch's statement and its retry cost.
const MAX_BATCH: usize = 128;
/// Writes waiting for the writer before senders wait too (backpressure, bounded memory).
const QUEUE: usize = 4096;
/// How long the SQLite writer keeps its connection once no write is queued.
const SQLITE_IDLE_HOLD: Duration = Duration::from_millis(2);
/// How long the SQLite writer keeps its connection at most while writes keep coming,
/// before the other users of the one write connection (registrations, sessions) get it.
const SQLITE_MAX_HOLD: Duration = Duration::from_millis(10);

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
    stop: Arc<Stop>,
}

/// How the store stops the writer before closing its pools.
struct Stop {
    asked: watch::Sender<bool>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// The histogram of writes per commit, set after the store is built (metrics come later).
type Commits = Arc<OnceLock<Histogram>>;

impl GroupCommit {
    /// Starts the writer task on the current runtime; it ends when every handle is gone
    /// or [`GroupCommit::stop`] is called.
    pub fn start(pools: Pools) -> GroupCommit {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let commits = Commits::default();
        let (asked, stopping) = watch::channel(false);
        let writer = tokio::spawn(run(pools, queue, commits.clone(), stopping));
        GroupCommit {
            jobs,
            commits,
            stop: Arc::new(Stop {
                asked,
                writer: Mutex::new(Some(writer)),
            }),
        }
    }

    /// Stops the writer once its current batch is committed, and waits until it has let go
    /// of its connection (a pool being closed waits for every connection handed out).
    /// Writes still queued, and any sent afterwards, fail as "the database writer stopped".
    pub async fn stop(&self) {
        self.stop.asked.send_replace(true);
        let writer = self
            .stop
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
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

async fn run(
    pools: Pools,
    mut queue: mpsc::Receiver<Job>,
    commits: Commits,
    mut stopping: watch::Receiver<bool>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut held = None;
    let mut held_since = Instant::now();
    loop {
        // SQLite's one write connection also serves registrations, sessions and
        // moderation, so the writer gives it back when writes pause. Not after every
        // batch: sqlx pings a connection through the driver's thread each time it is given
        // back, two more thread hand-offs for a write that came alone, and a client's next
        // write usually arrives within SQLITE_IDLE_HOLD.
        let holds_sqlite = matches!(held, Some(Held::Sqlite(_)));
        let received = tokio::select! {
            biased;
            _ = stopping.wait_for(|asked| *asked) => return,
            // Cancel-safe: nothing is taken from the queue unless this branch completes.
            received = queue.recv_many(&mut batch, MAX_BATCH) => received,
            _ = tokio::time::sleep(SQLITE_IDLE_HOLD), if holds_sqlite => {
                held = None;
                continue;
            }
        };
        if received == 0 {
            return;
        }
        if holds_sqlite && held_since.elapsed() >= SQLITE_MAX_HOLD {
            // Under steady writes the queue never pauses: give the connection back now
            // and then, so that a registration waiting for it goes first.
            held = None;
        }
        let was_held = held.is_some();
        commit(&pools, &mut held, &commits, std::mem::take(&mut batch)).await;
        if !was_held {
            held_since = Instant::now();
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
            Pools::Postgres { main, .. } => Held::Postgres(
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
                    args.add(text.as_str()).map_err(encode)?;
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

/// PostgreSQL: a whole batch is one statement, so one round trip and one commit. Posts
/// are one `INSERT ... SELECT FROM unnest(...)` in arrival order; follows and unfollows
/// come down to each pair's last one (the state a sequence of them leaves), inserted and
/// deleted in data-modifying CTEs beside it, as is the batch's `latest`. The CTEs share one
/// snapshot, which is safe because no pair is both inserted and deleted.
mod postgres {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;

    use super::*;

    const LATEST: &str = "INSERT INTO sim_latest (id, latest) VALUES (1, $1) \
                          ON CONFLICT (id) DO UPDATE SET latest = EXCLUDED.latest";

    pub async fn execute(
        conn: &mut sqlx::PgConnection,
        changes: &[(&Change, Option<i64>)],
    ) -> Result<Vec<Written>, sqlx::Error> {
        let mut args = Params::default();
        let mut ctes = Vec::new();
        if let Some(latest) = batch_latest(changes) {
            // `latest` is always the first parameter, `$1`.
            args.bind(latest)?;
            ctes.push(format!("latest AS ({LATEST})"));
        }
        // Each pair's last follow (true) or unfollow (false) in the batch.
        let mut pairs = BTreeMap::new();
        let (mut authors, mut texts, mut dates) = (Vec::new(), Vec::new(), Vec::new());
        for (change, _) in changes {
            match change {
                Change::Post {
                    author_id,
                    text,
                    pub_date,
                } => {
                    authors.push(*author_id);
                    texts.push(text.as_str());
                    dates.push(*pub_date);
                }
                Change::Follow { who, whom } => {
                    pairs.insert((*who, *whom), true);
                }
                Change::Unfollow { who, whom } => {
                    pairs.insert((*who, *whom), false);
                }
                Change::Nothing => {}
            }
        }
        for (follow, name) in [(true, "followed"), (false, "unfollowed")] {
            let (who, whom): (Vec<i64>, Vec<i64>) = pairs
                .iter()
                .filter(|(_, f)| **f == follow)
                .map(|(pair, _)| *pair)
                .unzip();
            if who.is_empty() {
                continue;
            }
            let w = args.bind(who)?;
            let m = args.bind(whom)?;
            let pairs = format!("unnest(${w}::bigint[], ${m}::bigint[]) AS x(w, m)");
            ctes.push(match follow {
                true => format!(
                    "{name} AS (INSERT INTO follows (who_id, whom_id) SELECT w, m FROM {pairs} \
                     ON CONFLICT DO NOTHING)"
                ),
                false => format!(
                    "{name} AS (DELETE FROM follows USING {pairs} \
                     WHERE who_id = x.w AND whom_id = x.m)"
                ),
            });
        }
        let mut sql = String::new();
        if !ctes.is_empty() {
            let _ = write!(sql, "WITH {} ", ctes.join(", "));
        }
        if authors.is_empty() {
            if ctes.is_empty() {
                return Ok(vec![Written::Done; changes.len()]);
            }
            // The CTEs run to completion whatever the main query reads.
            sql.push_str("SELECT 1 WHERE false");
            sqlx::query_with(&sql, args.values)
                .execute(&mut *conn)
                .await?;
            return Ok(vec![Written::Done; changes.len()]);
        }
        let count = authors.len();
        let a = args.bind(authors)?;
        let t = args.bind(texts)?;
        let d = args.bind(dates)?;
        // Rows are inserted in the arrays' order, so ids come from the sequence in that
        // order: sorted, the returned ids match the posts one to one.
        let _ = write!(
            sql,
            "INSERT INTO messages (author_id, text, pub_date, flagged) SELECT a, t, d, false \
             FROM unnest(${a}::bigint[], ${t}::text[], ${d}::bigint[]) \
             WITH ORDINALITY AS x(a, t, d, n) ORDER BY n RETURNING message_id"
        );
        let rows = sqlx::query_with(&sql, args.values)
            .fetch_all(&mut *conn)
            .await?;
        let mut ids = rows
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
        if ids.len() != count {
            return Err(sqlx::Error::RowNotFound);
        }
        ids.sort_unstable();
        let mut ids = ids.into_iter();
        changes
            .iter()
            .map(|(change, _)| match change {
                Change::Post { .. } => ids
                    .next()
                    .map(Written::Posted)
                    .ok_or(sqlx::Error::RowNotFound),
                _ => Ok(Written::Done),
            })
            .collect()
    }

    /// Bound values and how many: `$n` names the n-th.
    #[derive(Default)]
    struct Params {
        values: PgArguments,
        count: usize,
    }

    impl Params {
        /// Binds `value` and returns its parameter number.
        fn bind<'q, T>(&mut self, value: T) -> Result<usize, sqlx::Error>
        where
            T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>,
        {
            self.values.add(value).map_err(sqlx::Error::Encode)?;
            self.count += 1;
            Ok(self.count)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use testkit::{Backend, TestDb};

    /// A fresh, migrated store with users named `names`, and their ids in order.
    async fn store_with_users(backend: Backend, names: &[&str]) -> (TestDb, Store, Vec<i64>) {
        let db = TestDb::new(backend).await;
        let store = Store::connect(&db.url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let users = names
            .iter()
            .map(|name| (name.to_string(), format!("{name}@x"), "hash".to_owned()))
            .collect();
        let ids = store.insert_users_bulk(users).await.expect("users");
        (db, store, ids)
    }

    fn post(author_id: i64, text: &str) -> Change {
        Change::Post {
            author_id,
            text: text.to_owned(),
            pub_date: 1_700_000_000,
        }
    }

    /// One mixed batch straight through [`execute`]: follows and unfollows of the same pair
    /// apply in arrival order, each post gets its own id, `Nothing` is done with the
    /// batch, and the batch records the last `latest` that came.
    async fn a_mixed_batch_applies_in_arrival_order(backend: Backend) {
        let (db, store, ids) = store_with_users(backend, &["a", "b", "c"]).await;
        let (a, b, c) = (ids[0], ids[1], ids[2]);
        let follow = |who, whom| Change::Follow { who, whom };
        let unfollow = |who, whom| Change::Unfollow { who, whom };
        let batch = [
            (post(a, "one"), Some(1)),
            (follow(a, b), Some(2)),
            (unfollow(a, b), None),
            (follow(a, c), None),
            (follow(a, b), None),
            (Change::Nothing, Some(6)),
            (unfollow(a, c), None),
            (post(b, "two"), Some(8)),
            (post(a, "three"), None),
        ];
        let changes: Vec<(&Change, Option<i64>)> = batch.iter().map(|(c, l)| (c, *l)).collect();
        let written = execute(&store.pools, &mut None, &changes)
            .await
            .expect("the batch commits");

        let posted: Vec<i64> = written
            .iter()
            .filter_map(|w| match w {
                Written::Posted(id) => Some(*id),
                Written::Done => None,
            })
            .collect();
        assert_eq!(written.len(), batch.len());
        assert_eq!(posted.len(), 3, "{written:?}");
        let stored = store.visible_messages(&posted).await.expect("messages");
        let text_of = |id: i64| {
            stored
                .iter()
                .find(|m| m.message_id == id)
                .map(|m| (m.author_id, m.text.clone()))
        };
        assert_eq!(text_of(posted[0]), Some((a, "one".to_owned())));
        assert_eq!(text_of(posted[1]), Some((b, "two".to_owned())));
        assert_eq!(text_of(posted[2]), Some((a, "three".to_owned())));
        assert_eq!(store.followee_ids(a).await.expect("follows"), vec![b]);
        assert_eq!(store.latest().await.expect("latest"), Some(8));
        store.close().await;
        db.drop_db().await;
    }

    /// A batch holding one write that cannot commit (a post by no one: the foreign key
    /// refuses it) fails that write alone; the others are committed and acknowledged.
    async fn a_failing_write_fails_alone(backend: Backend) {
        let (db, store, ids) = store_with_users(backend, &["a", "b"]).await;
        let (a, b) = (ids[0], ids[1]);
        let changes = [
            (post(a, "kept"), Some(1)),
            (post(i64::from(i32::MAX), "by no one"), Some(2)),
            (Change::Follow { who: a, whom: b }, Some(3)),
        ];
        let mut answers = Vec::new();
        let mut batch = Vec::new();
        for (change, latest) in changes {
            let (reply, answer) = oneshot::channel();
            answers.push(answer);
            batch.push(Job {
                change,
                latest,
                reply,
            });
        }
        let commits = Commits::default();
        commit(&store.pools, &mut None, &commits, batch).await;
        let mut results = Vec::new();
        for answer in answers {
            results.push(answer.await.expect("answered"));
        }
        assert!(matches!(results[0], Ok(Written::Posted(_))), "{results:?}");
        assert!(results[1].is_err(), "{results:?}");
        assert_eq!(results[2].as_ref().ok(), Some(&Written::Done));
        let page = store
            .newest_page(crate::store::TimelineScope::Public, 10)
            .await
            .expect("public");
        let texts: Vec<&str> = page.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, vec!["kept"]);
        assert_eq!(store.followee_ids(a).await.expect("follows"), vec![b]);
        store.close().await;
        db.drop_db().await;
    }

    /// Closing the store after writes finishes promptly: the writer lets go of the
    /// connection it keeps between batches, or the pool would wait for it forever.
    async fn the_store_closes_after_writes(backend: Backend) {
        let (db, store, _) = store_with_users(backend, &[]).await;
        store.set_latest(5).await.expect("a write");
        let still_held = store.clone();
        let closed = tokio::time::timeout(std::time::Duration::from_secs(10), store.close()).await;
        assert!(closed.is_ok(), "the store did not close within 10 s");
        assert!(
            still_held.set_latest(6).await.is_err(),
            "a write after close is refused"
        );
        db.drop_db().await;
    }

    /// The writer keeps SQLite's one write connection while writes keep coming, but a
    /// registration (which needs that connection too) still gets it in time: under
    /// back-to-back posts from eight clients, every registration succeeds, none waits for
    /// the pool's acquire timeout.
    async fn registrations_get_the_write_connection_under_steady_posts(backend: Backend) {
        use crate::domain::{Email, Username};

        let (db, store, ids) = store_with_users(backend, &["poster"]).await;
        let poster = ids[0];
        let posting = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let mut clients = Vec::new();
        for _ in 0..8 {
            let (store, posting) = (store.clone(), posting.clone());
            clients.push(tokio::spawn(async move {
                let mut posted = 0u32;
                while posting.load(std::sync::atomic::Ordering::Relaxed) {
                    store
                        .writes
                        .write(post(poster, "steady"), None)
                        .await
                        .expect("a post");
                    posted += 1;
                }
                posted
            }));
        }
        for i in 0..20 {
            let name = Username::parse(&format!("newcomer{i}")).expect("name");
            let email = Email::parse(&format!("newcomer{i}@example.com")).expect("email");
            let started = Instant::now();
            let created = store.create_user(&name, &email, "hash", None).await;
            assert!(
                created.is_ok(),
                "registration {i} failed after {:?} while posts kept coming",
                started.elapsed()
            );
        }
        posting.store(false, std::sync::atomic::Ordering::Relaxed);
        let mut posted = 0;
        for client in clients {
            posted += client.await.expect("client");
        }
        assert!(posted > 0, "the posts ran beside the registrations");
        store.close().await;
        db.drop_db().await;
    }

    /// `sqlite` and `postgres` variants of an async `fn name(backend: Backend)` (the
    /// latter skipped, saying why, without `TEST_DATABASE_URL`).
    macro_rules! on_both_backends {
        ($name:ident) => {
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(backend) = Backend::postgres_or_skip(stringify!($name)) {
                        super::$name(backend).await;
                    }
                }
            }
        };
    }

    on_both_backends!(the_store_closes_after_writes);
    on_both_backends!(registrations_get_the_write_connection_under_steady_posts);
    on_both_backends!(a_failing_write_fails_alone);
    on_both_backends!(a_mixed_batch_applies_in_arrival_order);

    #[test]
    fn a_batch_records_the_latest_that_arrived_last() {
        let post = Change::Nothing;
        assert_eq!(batch_latest(&[(&post, Some(5)), (&post, Some(3))]), Some(3));
        assert_eq!(batch_latest(&[(&post, Some(5)), (&post, None)]), Some(5));
        assert_eq!(batch_latest(&[(&post, None)]), None);
    }
}
