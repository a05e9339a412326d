//! Why the store could not be opened or migrated. Each variant names the step that failed
//! and keeps the driver's error as its source, so the binary prints one line that reads
//! as a chain: "cannot connect to PostgreSQL: pool timed out while waiting for an open
//! connection".

use sea_orm::sqlx;
use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("bad DATABASE_URL")]
    BadUrl(#[source] sqlx::Error),
    #[error("cannot open SQLite database {url}")]
    Sqlite {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot connect to PostgreSQL")]
    Postgres(#[source] sqlx::Error),
    #[error("cannot take the migration lock")]
    MigrationLock(#[source] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[source] DbErr),
}

/// For the commands and tools whose errors are still one line of text.
impl From<SetupError> for String {
    fn from(err: SetupError) -> String {
        crate::error_chain::one_line(&err)
    }
}
