//! The store: SeaORM connections, migrations and every query the app runs. No HTTP types here.
//!
//! [`Pools`] says which pool each kind of query runs on, per backend (`pools`); failures
//! to open or migrate the database are [`SetupError`]s (`setup`). The newest pages of the
//! public timeline, of each user's and of each reader's home are kept in memory
//! ([`NewestPage`]: `public_cache`, `user_pages`) until the events of
//! [`Store::messages_changed`] and [`Store::follows_changed`] make them stale.

mod accounts;
mod backup;
mod bulk;
mod digest;
mod entities;
mod follows;
mod grant_cache;
mod group_commit;
mod key_locks;
mod latest;
mod messages;
mod moderation;
mod newest_page;
mod oauth;
mod pools;
mod public_cache;
mod readers;
mod sessions;
mod setup;
mod stats;
mod user_pages;
mod users;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::{Connection, PgConnection};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, RuntimeErr, SqlErr, Statement};

pub use accounts::{AccountStats, IdRange, Relationship, StoredMessage};
pub use backup::BackupError;
pub use bulk::BulkMessage;
pub use key_locks::KeyGuard;
pub use messages::{Page, TimelineMessage, TimelineScope};
pub use moderation::{NewestIds, VisibilityChange, MAX_CHANGE_REPLAY};
pub use newest_page::{NewestPage, Rendering};
pub use oauth::{password_stamp, AuthorizationCode, Grant, NewApp, OauthApp};
pub use pools::Pools;
pub use sessions::SessionToken;
pub use setup::SetupError;
pub use stats::{Counts, Totals};
pub use users::{CreateUserError, User};

/// How often the WAL is checkpointed in the background.
const SQLITE_CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Longest a shutdown waits for database connections still handed out.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);
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
    /// Which pool each query runs on: `pools.read()`, `pools.write()`.
    pools: Pools,
    /// The writer task that commits posts, follows and `latest` in shared transactions.
    writes: group_commit::GroupCommit,
    url: String,
    /// Users by name. Users are never renamed or deleted, so an entry never goes stale;
    /// it saves a query on every simulator tweet and follow.
    users_by_name: users::UserCache,
    /// The newest public page, shared by every reader until the next post.
    public_page: public_cache::PublicCache,
    /// The newest page of recently read users, each shared until its author's next post.
    user_pages: user_pages::UserPages,
    /// The newest home page of recent readers, by reader: kept until any message changes
    /// or the reader's follows do.
    home_pages: user_pages::UserPages,
    /// What recently used access tokens grant, for a second at most.
    grants: grant_cache::GrantCache,
    /// The `Idempotency-Key`s of posts in progress on this instance.
    idempotency_keys: key_locks::KeyLocks,
}

impl Store {
    /// Opens pools for `url` and checks that the database answers.
    pub async fn connect(url: &str) -> Result<Store, SetupError> {
        let pools = if url.starts_with("sqlite:") {
            Pools::sqlite(url).await?
        } else {
            Pools::postgres(url).await?
        };
        Ok(Store {
            writes: group_commit::GroupCommit::start(pools.clone()),
            pools,
            url: url.to_owned(),
            users_by_name: Default::default(),
            public_page: Default::default(),
            user_pages: Default::default(),
            home_pages: Default::default(),
            grants: Default::default(),
            idempotency_keys: Default::default(),
        })
    }

    /// Reports how many writes each group commit held to `histogram` (the metrics are
    /// built after the store).
    pub fn count_commits_in(&self, histogram: prometheus::Histogram) {
        self.writes.count_commits_in(histogram);
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.pools.read().get_database_backend()
    }

    /// Applies pending migrations. On PostgreSQL, under an advisory lock so that replicas
    /// starting together apply them once (sea-orm-migration takes no lock of its own).
    pub async fn migrate(&self) -> Result<(), SetupError> {
        match self.backend() {
            DatabaseBackend::Postgres => {
                let mut lock_conn = PgConnection::connect(&self.url)
                    .await
                    .map_err(SetupError::Postgres)?;
                sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(MIGRATION_LOCK_KEY)
                    .execute(&mut lock_conn)
                    .await
                    .map_err(SetupError::MigrationLock)?;
                let result = Migrator::up(self.pools.write(), None).await;
                // Closing the session releases the lock even if the unlock fails.
                let _ = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(MIGRATION_LOCK_KEY)
                    .execute(&mut lock_conn)
                    .await;
                let _ = lock_conn.close().await;
                result.map_err(SetupError::Migrate)
            }
            _ => Migrator::up(self.pools.write(), None)
                .await
                .map_err(SetupError::Migrate),
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> StoreResult<()> {
        self.pools
            .read()
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
        let read = self.pools.read().clone();
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
        self.pools.write().execute_unprepared(sql).await?;
        Ok(())
    }

    /// Connections currently open in the pools, for the `minitwit_db_pool_connections` gauge.
    pub fn pool_connections(&self) -> u32 {
        self.pools.connections()
    }

    /// Closes the pools, so a restart on the same SQLite file sees a clean WAL. The writer
    /// stops first: it keeps a connection between batches, and a pool being closed waits
    /// for every connection handed out. A connection stuck elsewhere (a query on a stalled
    /// network) cannot hold the shutdown for longer than [`CLOSE_WITHIN`].
    pub async fn close(self) {
        self.writes.stop().await;
        if tokio::time::timeout(CLOSE_WITHIN, self.pools.close())
            .await
            .is_err()
        {
            tracing::warn!(
                "database connections still in use after {CLOSE_WITHIN:?}; closing without them"
            );
        }
    }
}
