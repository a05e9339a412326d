//! The store: SeaORM connections, migrations and every query the app runs. No HTTP types here.
//!
//! SQLite gets two pools: many readers (WAL lets them run beside a writer) and a single
//! writer, so writes queue in-process in FIFO order instead of spinning in SQLite's busy
//! handler, whose sleeps would dominate tail latency. PostgreSQL uses one pool for both.

mod backup;
mod bulk;
mod entities;
mod follows;
mod latest;
mod messages;
mod moderation;
mod public_cache;
mod sessions;
mod stats;
mod users;

use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::sqlx::{Connection, PgConnection};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, RuntimeErr, SqlErr,
    SqlxPostgresConnector, SqlxSqliteConnector, Statement,
};

pub use backup::BackupError;
pub use bulk::BulkMessage;
pub use messages::{Page, TimelineMessage, TimelineScope};
pub use moderation::ModeratedMessage;
pub use sessions::SessionToken;
pub use stats::{Counts, Totals};
pub use users::{CreateUserError, User};

/// How long a request waits for a pooled connection before it is answered with 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long SQLite waits on a lock held by another process before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the WAL is checkpointed in the background.
const SQLITE_CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Any fixed key works, as long as every replica uses the same one.
const MIGRATION_LOCK_KEY: i64 = 0x6d69_6e69_7477_6974; // "minitwit"

/// A failed store operation.
#[derive(Debug)]
pub enum StoreError {
    /// The database could not be reached in time: worth a 503 and a retry.
    Unavailable(DbErr),
    /// Anything else: a bug or a broken database, worth a 500 and a log line.
    Db(DbErr),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unavailable(e) => write!(f, "database unavailable: {e}"),
            StoreError::Db(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        let unavailable = match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                use sea_orm::sqlx::Error as E;
                matches!(
                    e,
                    E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Tls(_)
                )
            }
            _ => false,
        };
        if unavailable {
            StoreError::Unavailable(err)
        } else {
            StoreError::Db(err)
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Whether an error is a unique-constraint violation (a user error, not a server error).
fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    read: DatabaseConnection,
    write: DatabaseConnection,
    /// Where the simulator's `latest` is written: the writer on SQLite; on PostgreSQL a
    /// small pool that commits asynchronously (see `connect`).
    latest_write: DatabaseConnection,
    url: String,
    /// Users by name. Users are never renamed or deleted, so an entry never goes stale;
    /// it saves a query on every simulator tweet and follow.
    users_by_name: users::UserCache,
    /// The newest public page, shared by every reader until the next post.
    public_page: public_cache::PublicCache,
}

impl Store {
    /// Opens pools for `url` and checks that the database answers.
    pub async fn connect(url: &str) -> Result<Store, String> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| format!("bad DATABASE_URL: {e}"))?
                .journal_mode(SqliteJournalMode::Wal)
                // In WAL mode NORMAL loses nothing on a process crash (kill -9): a commit is
                // in the WAL file before it is acknowledged. Only an OS crash could lose the
                // newest commits.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .pragma("cache_size", "-16000")
                .pragma("temp_store", "memory")
                // No checkpoint inside a committing request: the checkpoint's fsync would
                // stall that request for milliseconds. `spawn_sqlite_checkpointer` runs
                // them in the background instead.
                .pragma("wal_autocheckpoint", "0");
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
                .await
                .map_err(|e| format!("cannot open SQLite database {url}: {e}"))?;
            let read = SqlitePoolOptions::new()
                .max_connections(4)
                .min_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.read_only(false))
                .await
                .map_err(|e| format!("cannot open SQLite database {url}: {e}"))?;
            let write = SqlxSqliteConnector::from_sqlx_sqlite_pool(write);
            Ok(Store {
                read: SqlxSqliteConnector::from_sqlx_sqlite_pool(read),
                latest_write: write.clone(),
                write,
                url: url.to_owned(),
                users_by_name: Default::default(),
                public_page: Default::default(),
            })
        } else {
            let options =
                PgConnectOptions::from_str(url).map_err(|e| format!("bad DATABASE_URL: {e}"))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .min_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
                .await
                .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
            // `latest` is a progress marker written on every simulator request: committing
            // it without waiting for the WAL flush halves the fsyncs per request. It is
            // visible to every replica at once and survives an app crash; only a crash of
            // PostgreSQL itself could lose the last fraction of a second of it.
            let latest_pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.options([("synchronous_commit", "off")]))
                .await
                .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
            let db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
            Ok(Store {
                read: db.clone(),
                latest_write: SqlxPostgresConnector::from_sqlx_postgres_pool(latest_pool),
                write: db,
                url: url.to_owned(),
                users_by_name: Default::default(),
                public_page: Default::default(),
            })
        }
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.read.get_database_backend()
    }

    /// Applies pending migrations. On PostgreSQL, under an advisory lock so that replicas
    /// starting together apply them once (sea-orm-migration takes no lock of its own).
    pub async fn migrate(&self) -> Result<(), String> {
        match self.backend() {
            DatabaseBackend::Postgres => {
                let mut lock_conn = PgConnection::connect(&self.url)
                    .await
                    .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
                sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(MIGRATION_LOCK_KEY)
                    .execute(&mut lock_conn)
                    .await
                    .map_err(|e| format!("cannot take the migration lock: {e}"))?;
                let result = Migrator::up(&self.write, None).await;
                // Closing the session releases the lock even if the unlock fails.
                let _ = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(MIGRATION_LOCK_KEY)
                    .execute(&mut lock_conn)
                    .await;
                let _ = lock_conn.close().await;
                result.map_err(|e| format!("migration failed: {e}"))
            }
            _ => Migrator::up(&self.write, None)
                .await
                .map_err(|e| format!("migration failed: {e}")),
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> StoreResult<()> {
        self.read
            .execute(Statement::from_string(self.backend(), "SELECT 1"))
            .await?;
        Ok(())
    }

    /// On SQLite, checkpoints the WAL into the database every second on a reader
    /// connection, off the request path (PASSIVE: never waits for, nor blocks, the writer or
    /// readers). Returns `None` on PostgreSQL.
    pub fn spawn_sqlite_checkpointer(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.backend() != DatabaseBackend::Sqlite {
            return None;
        }
        let read = self.read.clone();
        Some(tokio::spawn(async move {
            let mut every = tokio::time::interval(SQLITE_CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = read
                    .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                    .await
                {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        }))
    }

    /// Runs a maintenance statement (such as `ANALYZE`) on the writer.
    pub async fn execute_raw(&self, sql: &str) -> StoreResult<()> {
        self.write.execute_unprepared(sql).await?;
        Ok(())
    }

    /// Connections currently open in the pools, for the `minitwit_db_pool_connections` gauge.
    pub fn pool_connections(&self) -> u32 {
        match self.backend() {
            DatabaseBackend::Sqlite => {
                self.read.get_sqlite_connection_pool().size()
                    + self.write.get_sqlite_connection_pool().size()
            }
            _ => {
                self.read.get_postgres_connection_pool().size()
                    + self.latest_write.get_postgres_connection_pool().size()
            }
        }
    }

    /// Closes the pools, so a restart on the same SQLite file sees a clean WAL.
    pub async fn close(self) {
        // Every pool is one of these two: on SQLite the writer is `latest_write`, on
        // PostgreSQL the writer is `read`.
        let _ = self.read.close().await;
        let _ = self.latest_write.close().await;
    }
}
