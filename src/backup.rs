//! Backups of the embedded SQLite database: the `minitwit backup PATH` command, and the
//! timestamped copies the server keeps in `MINITWIT_BACKUP_DIR` every
//! `MINITWIT_BACKUP_EVERY`, pruned to the newest `MINITWIT_BACKUP_KEEP`.
//!
//! The copy itself is `Store::backup_to` (`VACUUM INTO`). PostgreSQL is backed up with
//! `pg_dump` (the stack's `pg_backup` service); README.md, "Backups", says how to restore.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::store::{BackupError, Store};

/// What `minitwit backup` prints on PostgreSQL instead of a backup.
pub const PG_DUMP_HINT: &str = "minitwit backup copies SQLite databases; DATABASE_URL is \
PostgreSQL, so use pg_dump: pg_dump --format=custom --file=minitwit.dump \"$DATABASE_URL\" \
(restore with: pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" minitwit.dump)";

/// `minitwit backup PATH`: one consistent copy, or why there is none.
pub async fn backup_command(database_url: &str, target: &Path) -> Result<(), String> {
    // Decided from the URL, so the hint needs no reachable PostgreSQL.
    if !database_url.starts_with("sqlite:") {
        return Err(PG_DUMP_HINT.to_owned());
    }
    let store = Store::connect(database_url).await?;
    let result = store.backup_to(target).await;
    store.close().await;
    result.map_err(|e| e.to_string())?;
    println!("backup written to {}", target.display());
    Ok(())
}

/// `30s`, `15m`, `1h`, `2d` (or plain seconds): how often the server takes a backup.
pub fn parse_every(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{raw}` is not a duration like 30s, 15m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{raw}`: the unit must be s, m, h or d")),
    };
    if secs == 0 {
        return Err("the backup interval must be at least 1s".into());
    }
    Ok(Duration::from_secs(secs))
}

/// Where and how often the server keeps backups.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub dir: PathBuf,
    pub every: Duration,
    /// How many of the newest backups stay; older ones are removed.
    pub keep: usize,
}

const PREFIX: &str = "minitwit-";
const SUFFIX: &str = ".db";

/// Starts the backup task on SQLite; `None` on PostgreSQL (with a warning: pg_dump's job).
pub fn spawn_scheduled(store: &Store, schedule: Schedule) -> Option<tokio::task::JoinHandle<()>> {
    if store.backend() != sea_orm::DatabaseBackend::Sqlite {
        tracing::warn!("MINITWIT_BACKUP_DIR is ignored on PostgreSQL: back it up with pg_dump");
        return None;
    }
    let store = store.clone();
    Some(tokio::spawn(async move {
        let start = tokio::time::Instant::now() + schedule.every;
        let mut every = tokio::time::interval_at(start, schedule.every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match take_one(&store, &schedule).await {
                Ok(path) => tracing::info!(path = %path.display(), "backup written"),
                Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
            }
        }
    }))
}

/// One timestamped backup, written beside its final name and renamed when complete (so a
/// file named `minitwit-*.db` is always a whole backup), then the old ones pruned.
async fn take_one(store: &Store, schedule: &Schedule) -> Result<PathBuf, String> {
    tokio::fs::create_dir_all(&schedule.dir)
        .await
        .map_err(|e| format!("cannot create {}: {e}", schedule.dir.display()))?;
    // Sortable by name: the newest is the last.
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let done = schedule.dir.join(format!("{PREFIX}{stamp}{SUFFIX}"));
    let partial = schedule
        .dir
        .join(format!("{PREFIX}{stamp}{SUFFIX}.partial"));
    let _ = tokio::fs::remove_file(&partial).await;
    store
        .backup_to(&partial)
        .await
        .map_err(|e: BackupError| e.to_string())?;
    tokio::fs::rename(&partial, &done)
        .await
        .map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    prune(&schedule.dir, schedule.keep).await?;
    Ok(done)
}

/// Removes all but the newest `keep` backups (and any partial file a crash left behind).
async fn prune(dir: &Path, keep: usize) -> Result<(), String> {
    let mut entries = tokio::fs::read_dir(dir)
        .await
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut backups = Vec::new();
    let mut stale = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(PREFIX) {
            continue;
        }
        if name.ends_with(SUFFIX) {
            backups.push(name);
        } else if name.ends_with(".partial") {
            stale.push(name);
        }
    }
    backups.sort();
    let surplus = backups.len().saturating_sub(keep.max(1));
    for name in backups.into_iter().take(surplus).chain(stale) {
        if let Err(e) = tokio::fs::remove_file(dir.join(&name)).await {
            tracing::warn!(file = %name, error = %e, "cannot remove an old backup");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_like_people_write_them() {
        assert_eq!(parse_every("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_every("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_every("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_every("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_every("45"), Ok(Duration::from_secs(45)));
        assert!(parse_every("0s").is_err());
        assert!(parse_every("1w").is_err());
        assert!(parse_every("h").is_err());
        assert!(parse_every("").is_err());
    }
}
