//! OAuth for the Mastodon-compatible API (docs/mastodon.md): client apps, authorization
//! codes and access tokens. Secrets, codes and tokens are handed out once and stored as
//! their SHA-256 only.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QuerySelect, RelationDef,
};
use subtle::ConstantTimeEq;

use super::digest::{random_token, sha256_hex};
use super::entities::{oauth_app, oauth_code, oauth_token, status_idempotency, user};
use super::{Store, StoreResult, User};

/// A registered client app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OauthApp {
    pub app_id: i64,
    pub client_id: String,
    pub name: String,
    pub website: Option<String>,
    /// The redirect URIs it registered, in order.
    pub redirect_uris: Vec<String>,
    /// Space-separated scopes it may ask for.
    pub scopes: String,
    secret_hash: String,
}

impl OauthApp {
    /// Whether `secret` is this app's client secret (compared in constant time).
    pub fn secret_matches(&self, secret: &str) -> bool {
        bool::from(
            sha256_hex(secret)
                .as_bytes()
                .ct_eq(self.secret_hash.as_bytes()),
        )
    }
}

impl From<oauth_app::Model> for OauthApp {
    fn from(m: oauth_app::Model) -> Self {
        OauthApp {
            app_id: m.app_id,
            client_id: m.client_id,
            name: m.name,
            website: m.website,
            redirect_uris: m.redirect_uris.lines().map(str::to_owned).collect(),
            scopes: m.scopes,
            secret_hash: m.secret_hash,
        }
    }
}

/// What registering an app asks for.
pub struct NewApp<'a> {
    pub name: &'a str,
    pub website: Option<&'a str>,
    pub redirect_uris: &'a [String],
    pub scopes: &'a str,
}

/// An authorization code, once taken (it cannot be taken again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub app_id: i64,
    pub user_id: i64,
    pub redirect_uri: String,
    pub scopes: String,
    /// The PKCE S256 challenge it was asked with, if any.
    pub challenge: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

/// What an access token grants: whose it is (none for an app's own token) and the scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub user: Option<User>,
    pub app_id: Option<i64>,
    /// Space-separated.
    pub scopes: String,
    /// The token's key (its SHA-256): what open streams keep to learn it was revoked.
    pub key: String,
}

/// The token row with its user's columns (null for an app's own token).
#[derive(Debug, FromQueryResult)]
struct TokenRow {
    app_id: Option<i64>,
    scopes: String,
    password_stamp: Option<String>,
    user_id: Option<i64>,
    username: Option<String>,
    email: Option<String>,
    pw_hash: Option<String>,
}

/// A fingerprint of a password hash: a token remembers the one it was issued under, so a
/// new password voids it. A prefix of a digest, so the table does not copy the hash.
pub fn password_stamp(pw_hash: &str) -> String {
    sha256_hex(pw_hash)[..16].to_owned()
}

fn token_user() -> RelationDef {
    oauth_token::Entity::belongs_to(user::Entity)
        .from(oauth_token::Column::UserId)
        .to(user::Column::UserId)
        .into()
}

impl Store {
    /// Registers a client app; returns it and its client secret (shown to the client once).
    pub async fn create_app(&self, app: NewApp<'_>) -> StoreResult<(OauthApp, String)> {
        let secret = random_token();
        let row = oauth_app::ActiveModel {
            client_id: Set(random_token()),
            secret_hash: Set(sha256_hex(&secret)),
            name: Set(app.name.to_owned()),
            website: Set(app.website.map(str::to_owned)),
            redirect_uris: Set(app.redirect_uris.join("\n")),
            scopes: Set(app.scopes.to_owned()),
            created_at: Set(crate::clock::unix_now()),
            ..Default::default()
        };
        let model = oauth_app::Entity::insert(row)
            .exec_with_returning(self.pools.write())
            .await?;
        Ok((model.into(), secret))
    }

    /// The app with `client_id`. Client ids are hex: one with a NUL names no app, without
    /// a query (PostgreSQL would answer it with an error), whichever door it came through
    /// (the consent page reads it straight from its query string).
    pub async fn app_by_client_id(&self, client_id: &str) -> StoreResult<Option<OauthApp>> {
        if client_id.contains('\0') {
            return Ok(None);
        }
        Ok(oauth_app::Entity::find()
            .filter(oauth_app::Column::ClientId.eq(client_id))
            .one(self.pools.read())
            .await?
            .map(OauthApp::from))
    }

    /// Stores a new authorization code and returns it.
    pub async fn create_code(&self, code: AuthorizationCode) -> StoreResult<String> {
        let secret = random_token();
        let row = oauth_code::ActiveModel {
            code_hash: Set(sha256_hex(&secret)),
            app_id: Set(code.app_id),
            user_id: Set(code.user_id),
            redirect_uri: Set(code.redirect_uri),
            scopes: Set(code.scopes),
            challenge: Set(code.challenge),
            expires_at: Set(code.expires_at),
        };
        oauth_code::Entity::insert(row)
            .exec_without_returning(self.pools.write())
            .await?;
        Ok(secret)
    }

    /// Takes `code` out of the store: of two requests exchanging one code, one gets it.
    /// Expired codes are taken too (and refused by the caller).
    pub async fn take_code(&self, code: &str) -> StoreResult<Option<AuthorizationCode>> {
        let hash = sha256_hex(code);
        let Some(row) = oauth_code::Entity::find_by_id(hash.clone())
            .one(self.pools.write())
            .await?
        else {
            return Ok(None);
        };
        let deleted = oauth_code::Entity::delete_by_id(hash)
            .exec(self.pools.write())
            .await?;
        if deleted.rows_affected == 0 {
            return Ok(None);
        }
        Ok(Some(AuthorizationCode {
            app_id: row.app_id,
            user_id: row.user_id,
            redirect_uri: row.redirect_uri,
            scopes: row.scopes,
            challenge: row.challenge,
            expires_at: row.expires_at,
        }))
    }

    /// Issues an access token with `scopes` for `user` (none: the app's own token).
    pub async fn create_token(
        &self,
        app_id: Option<i64>,
        user: Option<&User>,
        scopes: &str,
    ) -> StoreResult<String> {
        let token = random_token();
        let row = oauth_token::ActiveModel {
            token_hash: Set(sha256_hex(&token)),
            app_id: Set(app_id),
            user_id: Set(user.map(|u| u.id)),
            scopes: Set(scopes.to_owned()),
            password_stamp: Set(user.map(|u| password_stamp(&u.pw_hash))),
            created_at: Set(crate::clock::unix_now()),
        };
        oauth_token::Entity::insert(row)
            .exec_without_returning(self.pools.write())
            .await?;
        Ok(token)
    }

    /// What `token` grants; `None` for an unknown or revoked token, or one issued before
    /// its user's password changed. A grant read in the last second is not read again
    /// (`grant_cache`): a revocation here holds at once, one elsewhere within that second.
    pub async fn token_grant(&self, token: &str) -> StoreResult<Option<Grant>> {
        let key = sha256_hex(token);
        if let Some(grant) = self.grants.get(&key) {
            return Ok(Some(grant));
        }
        let generation = self.grants.generation();
        let row = oauth_token::Entity::find()
            .select_only()
            .columns([
                oauth_token::Column::AppId,
                oauth_token::Column::Scopes,
                oauth_token::Column::PasswordStamp,
                oauth_token::Column::UserId,
            ])
            .column(user::Column::Username)
            .column(user::Column::Email)
            .column(user::Column::PwHash)
            .join(JoinType::LeftJoin, token_user())
            .filter(oauth_token::Column::TokenHash.eq(key.as_str()))
            .into_model::<TokenRow>()
            .one(self.pools.read())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = match (row.user_id, row.username, row.email, row.pw_hash) {
            (Some(id), Some(username), Some(email), Some(pw_hash)) => {
                if row.password_stamp.as_deref() != Some(password_stamp(&pw_hash).as_str()) {
                    return Ok(None);
                }
                Some(User {
                    id,
                    username,
                    email,
                    pw_hash,
                })
            }
            // A user token whose user is gone (the foreign key removes it too).
            (Some(_), ..) => return Ok(None),
            _ => None,
        };
        let grant = Grant {
            user,
            app_id: row.app_id,
            scopes: row.scopes,
            key,
        };
        self.grants.store(generation, &grant);
        Ok(Some(grant))
    }

    /// Revokes `token`; `false` if there was no such token.
    pub async fn revoke_token(&self, token: &str) -> StoreResult<bool> {
        let key = sha256_hex(token);
        let done = oauth_token::Entity::delete_by_id(key.as_str())
            .exec(self.pools.write())
            .await;
        // Forgotten even if the delete failed: it may have committed before the error.
        self.grants.revoked(&key);
        Ok(done?.rows_affected > 0)
    }

    /// Of `keys` (token keys, see [`Grant::key`]), those still valid: not revoked, and
    /// not issued before their user's password changed (as [`Store::token_grant`] checks).
    pub async fn live_tokens(&self, keys: &[String]) -> StoreResult<Vec<String>> {
        let mut live = Vec::new();
        for chunk in keys.chunks(1000) {
            let found: Vec<(String, Option<String>, Option<String>)> = oauth_token::Entity::find()
                .select_only()
                .column(oauth_token::Column::TokenHash)
                .column(oauth_token::Column::PasswordStamp)
                .column(user::Column::PwHash)
                .join(JoinType::LeftJoin, token_user())
                .filter(oauth_token::Column::TokenHash.is_in(chunk.iter().map(String::as_str)))
                .into_tuple()
                .all(self.pools.read())
                .await?;
            live.extend(found.into_iter().filter_map(|(key, stamp, pw_hash)| {
                // An app's own token has no user, and no stamp to outlive.
                let valid = match pw_hash {
                    Some(pw_hash) => stamp.as_deref() == Some(password_stamp(&pw_hash).as_str()),
                    None => true,
                };
                valid.then_some(key)
            }));
        }
        Ok(live)
    }

    /// The status `user_id` posted under the idempotency key `key`, if any.
    pub async fn idempotent_status(&self, user_id: i64, key: &str) -> StoreResult<Option<i64>> {
        Ok(
            status_idempotency::Entity::find_by_id((user_id, sha256_hex(key)))
                .one(self.pools.write())
                .await?
                .map(|row| row.message_id),
        )
    }

    /// Waits until no other request of this instance is posting for `user_id` under
    /// `key`; hold the guard across [`Store::idempotent_status`], the post and
    /// [`Store::remember_idempotent_status`].
    pub async fn lock_idempotency_key(&self, user_id: i64, key: &str) -> super::KeyGuard {
        self.idempotency_keys.lock(user_id, key).await
    }

    /// Remembers that `user_id` posted `message_id` under `key`; `false` if another
    /// request with the same key got there first.
    pub async fn remember_idempotent_status(
        &self,
        user_id: i64,
        key: &str,
        message_id: i64,
    ) -> StoreResult<bool> {
        let row = status_idempotency::ActiveModel {
            user_id: Set(user_id),
            key_hash: Set(sha256_hex(key)),
            message_id: Set(message_id),
            created_at: Set(crate::clock::unix_now()),
        };
        match status_idempotency::Entity::insert(row)
            .exec_without_returning(self.pools.write())
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if super::is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
