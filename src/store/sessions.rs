//! Login sessions on the server: created at login, looked up on every request that needs
//! the user, deleted at logout, swept when expired. Shared by every replica through the
//! database, so a logout on one replica is a logout on all of them.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

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
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SessionToken(hex(&bytes))
    }

    /// A token as read back from a (signed) cookie.
    pub fn from_cookie(value: String) -> SessionToken {
        SessionToken(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn key(&self) -> String {
        hex(&Sha256::digest(self.0.as_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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
        let found = session::Entity::find_by_id(token.key())
            .filter(session::Column::ExpiresAt.gt(now))
            .find_also_related(user::Entity)
            .one(self.pools.read())
            .await?;
        Ok(found.and_then(|(_, user)| user).map(User::from))
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
