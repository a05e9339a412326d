//! A consistent copy of a SQLite database while it keeps serving: `VACUUM INTO` reads one
//! snapshot in a single read transaction, so writers (WAL mode) go on and the copy holds
//! exactly the commits made before it began, compacted into one self-contained file.

use std::path::Path;

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use super::Store;

/// Why a backup was not made.
#[derive(Debug)]
pub enum BackupError {
    /// The store is PostgreSQL: `pg_dump` is the tool (README, "Backups").
    NotSqlite,
    Failed(String),
}

impl std::fmt::Display for BackupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupError::NotSqlite => f.write_str("backups of PostgreSQL are pg_dump's job"),
            BackupError::Failed(why) => f.write_str(why),
        }
    }
}

impl Store {
    /// Writes a consistent copy of the SQLite database to `target`, which must not exist.
    pub async fn backup_to(&self, target: &Path) -> Result<(), BackupError> {
        if self.backend() != DatabaseBackend::Sqlite {
            return Err(BackupError::NotSqlite);
        }
        if target.exists() {
            return Err(BackupError::Failed(format!(
                "{} exists; give a new file name",
                target.display()
            )));
        }
        let path = target
            .to_str()
            .ok_or_else(|| BackupError::Failed(format!("{} is not UTF-8", target.display())))?;
        // On a reader connection: the copy is a read, and never waits for the writer.
        self.pools
            .read()
            .execute(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "VACUUM INTO ?",
                [path.into()],
            ))
            .await
            .map_err(|e| BackupError::Failed(format!("VACUUM INTO {path} failed: {e}")))?;
        Ok(())
    }
}
