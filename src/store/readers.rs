//! The read connections, kept between queries instead of given back to sqlx's pool, so a
//! read costs the database one round trip: sqlx pings every connection given back to its
//! pool (`PoolConnection`'s release, unconditionally), which is a second round trip per
//! read on PostgreSQL and a second hand-off to the driver's thread on SQLite.
//!
//! [`Readers`] runs SeaORM's queries (it is a [`ConnectionTrait`]) on at most `slots`
//! connections taken from the pool as needed. A connection goes back to its slot only after
//! a query that completed; one whose query failed or was cancelled midway (a client that
//! hung up) is given back to the pool instead, whose ping closes it if it is broken. Every
//! [`KEEP_FOR`] a kept connection is given back too, so that the pool's own limits (its
//! maximum lifetime, 30 minutes by default) still recycle it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, Database, Executor, IntoArguments, Pool, Postgres, Sqlite};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
};
use sea_query_binder::SqlxValues;
use tokio::sync::Semaphore;

/// How long a connection is kept before it goes back to the pool once (and is taken
/// again, unless the pool closed it).
pub const KEEP_FOR: Duration = Duration::from_secs(10 * 60);

/// The read connections of one backend; cheap to clone.
#[derive(Clone)]
pub enum Readers {
    Sqlite(Arc<Kept<Sqlite>>),
    Postgres(Arc<Kept<Postgres>>),
}

impl Readers {
    /// Reads on SQLite `pool`, on at most `slots` of its connections.
    pub fn sqlite(pool: Pool<Sqlite>, slots: usize, acquire_timeout: Duration) -> Readers {
        Readers::Sqlite(Arc::new(Kept::new(pool, slots, acquire_timeout, KEEP_FOR)))
    }

    /// Reads on PostgreSQL `pool`, on at most `slots` of its connections (the rest are left
    /// to writes).
    pub fn postgres(pool: Pool<Postgres>, slots: usize, acquire_timeout: Duration) -> Readers {
        Readers::Postgres(Arc::new(Kept::new(pool, slots, acquire_timeout, KEEP_FOR)))
    }

    /// Gives every kept connection back to the pool, and each one still in use once its
    /// query ends, so that the pool can close.
    pub fn let_go(&self) {
        match self {
            Readers::Sqlite(kept) => kept.let_go(),
            Readers::Postgres(kept) => kept.let_go(),
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Readers {
    fn get_database_backend(&self) -> DatabaseBackend {
        match self {
            Readers::Sqlite(_) => DatabaseBackend::Sqlite,
            Readers::Postgres(_) => DatabaseBackend::Postgres,
        }
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Readers::Sqlite(kept) => kept.execute(stmt).await,
            Readers::Postgres(kept) => kept.execute(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Readers::Sqlite(kept) => kept.execute_unprepared(sql).await,
            Readers::Postgres(kept) => kept.execute_unprepared(sql).await,
        }
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Readers::Sqlite(kept) => kept.query_one(stmt).await,
            Readers::Postgres(kept) => kept.query_one(stmt).await,
        }
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Readers::Sqlite(kept) => kept.query_all(stmt).await,
            Readers::Postgres(kept) => kept.query_all(stmt).await,
        }
    }
}

/// Connections of one pool kept in slots: a slot is empty until a query needs a
/// connection, and empty again after a connection went back to the pool.
pub struct Kept<DB: Database> {
    pool: Pool<DB>,
    /// The free slots; `free` has a permit for each.
    slots: Mutex<Vec<Option<Taken<DB>>>>,
    free: Semaphore,
    acquire_timeout: Duration,
    keep_for: Duration,
}

/// A connection out of the pool, and since when.
struct Taken<DB: Database> {
    conn: PoolConnection<DB>,
    since: Instant,
}

impl<DB: Database> Kept<DB> {
    fn new(
        pool: Pool<DB>,
        slots: usize,
        acquire_timeout: Duration,
        keep_for: Duration,
    ) -> Kept<DB> {
        Kept {
            pool,
            slots: Mutex::new((0..slots).map(|_| None).collect()),
            free: Semaphore::new(slots),
            acquire_timeout,
            keep_for,
        }
    }

    /// A slot and its connection (the pool's, if the slot had none), for one query.
    async fn lease(&self) -> Result<Lease<'_, DB>, DbErr> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.free.acquire())
            .await
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))?;
        // The permit now belongs to the slot taken; `Lease` hands both back together.
        permit.forget();
        let mut lease = Lease {
            conn: None,
            completed: false,
            home: self,
        };
        // LIFO: the connection used last is the one whose caches are warm.
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        // One kept too long goes back to the pool here (dropped): the pool tests it, and
        // closes it past its lifetime.
        let kept = slot
            .flatten()
            .filter(|kept| kept.since.elapsed() < self.keep_for);
        lease.conn = match kept {
            Some(kept) => Some(kept),
            None => Some(Taken {
                conn: self.pool.acquire().await.map_err(acquire_error)?,
                since: Instant::now(),
            }),
        };
        Ok(lease)
    }

    fn let_go(&self) {
        self.free.close();
        let kept: Vec<_> = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        drop(kept);
    }
}

impl<DB> Kept<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> SqlxValues: IntoArguments<'q, DB>,
    QueryResult: From<DB::Row>,
    ExecResult: From<DB::QueryResult>,
{
    async fn execute(&self, mut stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut lease = self.lease().await?;
        let done = bound(&mut stmt).execute(lease.connection()).await;
        lease.finish(done.map(ExecResult::from), DbErr::Exec)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut lease = self.lease().await?;
        let done = lease.connection().execute(sql).await;
        lease.finish(done.map(ExecResult::from), DbErr::Exec)
    }

    async fn query_one(&self, mut stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut lease = self.lease().await?;
        let done = bound(&mut stmt).fetch_optional(lease.connection()).await;
        lease.finish(done.map(|row| row.map(QueryResult::from)), DbErr::Query)
    }

    async fn query_all(&self, mut stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut lease = self.lease().await?;
        let done = bound(&mut stmt).fetch_all(lease.connection()).await;
        let rows = done.map(|rows| rows.into_iter().map(QueryResult::from).collect());
        lease.finish(rows, DbErr::Query)
    }
}

/// `stmt` as an sqlx query with its values bound (moved out of it, not copied).
fn bound<DB>(stmt: &mut Statement) -> sqlx::query::Query<'_, DB, SqlxValues>
where
    DB: Database,
    for<'q> SqlxValues: IntoArguments<'q, DB>,
{
    let values = stmt.values.take().unwrap_or(sea_orm::Values(Vec::new()));
    sqlx::query_with(&stmt.sql, SqlxValues(values))
}

fn acquire_error(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(other)),
    }
}

/// One query's slot and connection. Dropped without [`Lease::finish`] (the query's future
/// was cancelled), or finished with an error, it gives the connection back to the pool and
/// leaves the slot empty.
struct Lease<'a, DB: Database> {
    conn: Option<Taken<DB>>,
    /// Whether the query ran to the end without an error.
    completed: bool,
    home: &'a Kept<DB>,
}

impl<DB: Database> Lease<'_, DB> {
    fn connection(&mut self) -> &mut DB::Connection {
        &mut self
            .conn
            .as_mut()
            .expect("a lease holds its connection until it ends")
            .conn
    }

    /// Keeps the connection for the next query if `done` succeeded, and maps its error.
    fn finish<T>(
        mut self,
        done: Result<T, sqlx::Error>,
        kind: fn(RuntimeErr) -> DbErr,
    ) -> Result<T, DbErr> {
        self.completed = done.is_ok();
        done.map_err(|err| kind(RuntimeErr::SqlxError(err)))
    }
}

impl<DB: Database> Drop for Lease<'_, DB> {
    fn drop(&mut self) {
        let conn = self.conn.take();
        if self.home.free.is_closed() {
            // Letting go: the connection goes back to the pool, which is about to close.
            return;
        }
        // A connection is kept only after a completed query; any other goes back to the
        // pool here (dropped), and the slot stays empty.
        let conn = conn.filter(|_| self.completed);
        self.home
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
        self.home.free.add_permits(1);
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;

    async fn readers(connections: u32) -> (Readers, Pool<Sqlite>) {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .connect_with(SqliteConnectOptions::from_str("sqlite::memory:").expect("url"))
            .await
            .expect("pool");
        let readers = Readers::sqlite(pool.clone(), connections as usize, Duration::from_secs(5));
        (readers, pool)
    }

    async fn number(readers: &Readers, sql: &str) -> Result<i64, DbErr> {
        let row = readers
            .query_one(Statement::from_string(DatabaseBackend::Sqlite, sql))
            .await?
            .expect("a row");
        row.try_get_by_index::<i64>(0)
    }

    /// Counts to `n` inside SQLite: a query that takes a while.
    fn slow(n: u64) -> String {
        format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
             SELECT MAX(x) FROM c"
        )
    }

    #[tokio::test]
    async fn a_read_keeps_its_connection_out_of_the_pool() {
        let (readers, pool) = readers(1).await;
        for _ in 0..3 {
            assert_eq!(number(&readers, "SELECT 7").await.expect("read"), 7);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Given back, it would sit idle in the pool (after a ping).
        assert_eq!((pool.size(), pool.num_idle()), (1, 0));
        readers.let_go();
        tokio::time::timeout(Duration::from_secs(5), pool.close())
            .await
            .expect("the pool closes once the readers let go");
    }

    #[tokio::test]
    async fn a_read_cancelled_midway_goes_back_to_the_pool() {
        let (readers, pool) = readers(1).await;
        let cancelled =
            tokio::time::timeout(Duration::from_millis(5), number(&readers, &slow(5_000_000)))
                .await;
        assert!(cancelled.is_err(), "the slow query should still be running");
        // The pool tests it (its ping waits for the cancelled query) and keeps it idle.
        let given_back = async {
            while pool.num_idle() != 1 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), given_back)
            .await
            .expect("the connection of a cancelled read goes back to the pool");
        assert_eq!(number(&readers, "SELECT 42").await.expect("read"), 42);
        assert_eq!(number(&readers, &slow(1000)).await.expect("read"), 1000);
    }

    #[tokio::test]
    async fn a_connection_kept_past_its_time_goes_back_to_the_pool() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .max_lifetime(Duration::from_millis(100))
            .connect_with(SqliteConnectOptions::from_str("sqlite::memory:").expect("url"))
            .await
            .expect("pool");
        let kept = Kept::new(pool, 1, Duration::from_secs(5), Duration::from_millis(100));
        let readers = Readers::Sqlite(Arc::new(kept));
        // Each in-memory connection is a database of its own: the mark shows which one.
        readers
            .execute_unprepared("CREATE TEMP TABLE mark (x)")
            .await
            .expect("mark");
        let count = "SELECT COUNT(*) FROM mark";
        assert_eq!(
            number(&readers, count).await.expect("the same connection"),
            0
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Given back, the pool closed it (past its lifetime): a new one has no mark.
        let err = number(&readers, count).await;
        assert!(err.is_err(), "the old connection is still kept: {err:?}");
    }

    #[tokio::test]
    async fn a_failed_read_fails_alone() {
        let (readers, _pool) = readers(1).await;
        let err = number(&readers, "SELECT * FROM no_such_table").await;
        assert!(matches!(err, Err(DbErr::Query(_))), "{err:?}");
        assert_eq!(number(&readers, "SELECT 5").await.expect("read"), 5);
    }

    #[tokio::test]
    async fn more_reads_than_connections_all_finish() {
        let (readers, pool) = readers(2).await;
        let reads = (0..16).map(|i| {
            let readers = readers.clone();
            async move { number(&readers, &slow(1000 + i)).await }
        });
        let done = tokio::time::timeout(
            Duration::from_secs(10),
            futures_util::future::join_all(reads),
        )
        .await
        .expect("no read waits forever");
        for (i, n) in done.into_iter().enumerate() {
            assert_eq!(n.expect("read"), 1000 + i as i64);
        }
        assert!(pool.size() <= 2);
    }
}
