//! Login sessions on the server: created at login, looked up on every request that needs
//! the user, deleted at logout, swept when expired. Shared by every replica through the
//! database, so a logout on one replica is a logout on all of them.

use std::collections::HashSet;

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::digest::{random_token, sha256_hex};
use super::entities::{session, user};
use super::{Store, StoreResult, User};

/// What the cookie carries: 256 random bits, hex. Only its SHA-256 is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

impl SessionToken {
    fn generate() -> SessionToken {
        SessionToken(random_token())
    }

    /// A token as read back from a (signed) cookie.
    pub fn from_cookie(value: String) -> SessionToken {
        SessionToken(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The session's row key (the token's SHA-256): what open streams keep to learn
    /// whether the login still lives, without holding the token itself.
    pub fn key(&self) -> String {
        sha256_hex(&self.0)
    }
}

/// Keys asked about in one query: well under SQLite's and PostgreSQL's caps on bound
/// parameters.
const LIVE_CHUNK: usize = 1000;

impl Store {
    /// Starts a session for `user_id` lasting until `expires_at` (Unix seconds).
    pub async fn create_session(&self, user_id: i64, expires_at: i64) -> StoreResult<SessionToken> {
        let token = SessionToken::generate();
        let row = session::ActiveModel {
            session_id: Set(token.key()),
            user_id: Set(user_id),
            expires_at: Set(expires_at),
        };
        session::Entity::insert(row)
            .exec(self.pools.write())
            .await?;
        Ok(token)
    }

    /// The user of a live session: one that exists (not logged out) and has not expired.
    pub async fn session_user(&self, token: &SessionToken, now: i64) -> StoreResult<Option<User>> {
        Ok(self.session_login(token, now).await?.map(|(user, _)| user))
    }

    /// [`Store::session_user`], with when the session expires (Unix seconds): a `home`
    /// stream ends then (`realtime::logins`).
    pub async fn session_login(
        &self,
        token: &SessionToken,
        now: i64,
    ) -> StoreResult<Option<(User, i64)>> {
        let found = session::Entity::find_by_id(token.key())
            .filter(session::Column::ExpiresAt.gt(now))
            .find_also_related(user::Entity)
            .one(self.pools.read())
            .await?;
        Ok(found.and_then(|(row, user)| user.map(|user| (User::from(user), row.expires_at))))
    }

    /// Which of the session keys `keys` (see [`SessionToken::key`]) are still live at `now`:
    /// one query per [`LIVE_CHUNK`] keys, so every open `home` stream of an instance is
    /// checked in one or a few round trips.
    pub async fn live_sessions(&self, keys: &[String], now: i64) -> StoreResult<HashSet<String>> {
        let mut live = HashSet::new();
        for chunk in keys.chunks(LIVE_CHUNK) {
            let rows = session::Entity::find()
                .select_only()
                .column(session::Column::SessionId)
                .filter(session::Column::SessionId.is_in(chunk.iter().cloned()))
                .filter(session::Column::ExpiresAt.gt(now))
                .into_tuple::<String>()
                .all(self.pools.read())
                .await?;
            live.extend(rows);
        }
        Ok(live)
    }

    /// Ends a session everywhere: its cookie, and every copy of it, is refused from now on.
    pub async fn delete_session(&self, token: &SessionToken) -> StoreResult<()> {
        session::Entity::delete_by_id(token.key())
            .exec(self.pools.write())
            .await?;
        Ok(())
    }

    /// Removes sessions that expired before `now`; they are refused anyway, this only
    /// keeps the table small.
    pub async fn sweep_sessions(&self, now: i64) -> StoreResult<u64> {
        let done = session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lte(now))
            .exec(self.pools.write())
            .await?;
        Ok(done.rows_affected)
    }

    /// Sweeps expired sessions every hour while the returned task lives.
    pub fn spawn_session_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                if let Err(e) = store.sweep_sessions(crate::clock::unix_now()).await {
                    tracing::warn!(error = ?e, "cannot sweep expired sessions");
                }
            }
        })
    }
}
