//! Which connection pool does what, on each backend, said in one place.
//!
//! SQLite gets two pools: many readers (WAL lets them run beside a writer) and a single
//! writer, so writes queue in-process in FIFO order instead of spinning in SQLite's busy
//! handler, whose sleeps would dominate tail latency. PostgreSQL uses one pool for reads and
//! writes. Posts, follows and the simulator's `latest` reach either through the group
//! commit writer (`group_commit`); reads go through [`Readers`], which keeps its
//! connections between queries.

use std::str::FromStr;
use std::time::Duration;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};

use super::readers::Readers;
use super::SetupError;

/// How long a request waits for a pooled connection before it is answered with 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long SQLite waits on a lock held by another process before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite's reader connections (WAL lets each read beside the writer).
const SQLITE_READERS: u32 = 4;
/// PostgreSQL's connections in all, and how many of them reads may keep: the rest stay
/// free for the writer, registrations and sessions.
const POSTGRES_CONNECTIONS: u32 = 16;
const POSTGRES_READERS: u32 = 12;

/// The pools of one backend; each role ([`read`](Pools::read), [`write`](Pools::write))
/// names the pool it runs on, and each pool appears here once, so closing and counting
/// cannot miss or double one.
#[derive(Clone)]
pub enum Pools {
    Sqlite {
        /// The readers' pool, beside the writer thanks to WAL.
        read: DatabaseConnection,
        /// Reads on `read`'s connections; also runs the background checkpoints.
        readers: Readers,
        /// The one writer: every write, `latest` included.
        write: DatabaseConnection,
    },
    Postgres {
        /// Writes, and the connections reads take.
        main: DatabaseConnection,
        /// Reads on up to [`POSTGRES_READERS`] of `main`'s connections.
        readers: Readers,
    },
}

impl Pools {
    /// Opens the SQLite pools for `url`.
    pub async fn sqlite(url: &str) -> Result<Pools, SetupError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(SetupError::BadUrl)?
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
        let open = |source| SetupError::Sqlite {
            url: url.to_owned(),
            source,
        };
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            // A ping before every query is a hand-off to the driver's thread and back;
            // an in-process database cannot have hung up (returned ones are pinged still).
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(open)?;
        let read = SqlitePoolOptions::new()
            .max_connections(SQLITE_READERS)
            .test_before_acquire(false)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.read_only(false))
            .await
            .map_err(open)?;
        Ok(Pools::Sqlite {
            readers: Readers::sqlite(read.clone(), SQLITE_READERS as usize, ACQUIRE_TIMEOUT),
            read: SqlxSqliteConnector::from_sqlx_sqlite_pool(read),
            write: SqlxSqliteConnector::from_sqlx_sqlite_pool(write),
        })
    }

    /// Opens the PostgreSQL pools for `url`.
    pub async fn postgres(url: &str) -> Result<Pools, SetupError> {
        let options = PgConnectOptions::from_str(url).map_err(SetupError::BadUrl)?;
        let main = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            // sqlx pings a connection when it goes back to the pool and drops it if broken;
            // a second ping before every query would cost every query a round trip.
            .test_before_acquire(false)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(SetupError::Postgres)?;
        Ok(Pools::Postgres {
            readers: Readers::postgres(main.clone(), POSTGRES_READERS as usize, ACQUIRE_TIMEOUT),
            main: SqlxPostgresConnector::from_sqlx_postgres_pool(main),
        })
    }

    /// Where queries that only read run.
    pub fn read(&self) -> &Readers {
        match self {
            Pools::Sqlite { readers, .. } | Pools::Postgres { readers, .. } => readers,
        }
    }

    /// Where writes (and the reads that must see them at once) run.
    pub fn write(&self) -> &DatabaseConnection {
        match self {
            Pools::Sqlite { write, .. } => write,
            Pools::Postgres { main, .. } => main,
        }
    }

    /// Every pool, once.
    fn each(&self) -> Vec<&DatabaseConnection> {
        match self {
            Pools::Sqlite { read, write, .. } => vec![read, write],
            Pools::Postgres { main, .. } => vec![main],
        }
    }

    /// Connections currently open, over every pool.
    pub fn connections(&self) -> u32 {
        self.each()
            .into_iter()
            .map(|pool| match self {
                Pools::Sqlite { .. } => pool.get_sqlite_connection_pool().size(),
                Pools::Postgres { .. } => pool.get_postgres_connection_pool().size(),
            })
            .sum()
    }

    /// Closes every pool.
    pub async fn close(self) {
        // A pool closes once every connection handed out is back.
        self.read().let_go();
        for pool in self.each() {
            let _ = pool.clone().close().await;
        }
    }
}
