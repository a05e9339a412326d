//! Users: registration and lookups by name.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};

use super::entities::user;
use super::{is_unique_violation, Store, StoreError, StoreResult};
use crate::domain::{Email, Username, UsernameQuery};

/// A registered user, as the pages and API need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub pw_hash: String,
}

impl From<user::Model> for User {
    fn from(m: user::Model) -> Self {
        User {
            id: m.user_id,
            username: m.username,
            email: m.email,
            pw_hash: m.pw_hash,
        }
    }
}

#[derive(Debug)]
pub enum CreateUserError {
    /// The unique constraint on `username` refused it: someone has the name already.
    Taken,
    Store(StoreError),
}

impl Store {
    /// Inserts a user, with the simulator's `latest` in the same transaction when given;
    /// the unique constraint decides races between registrations of one name.
    pub async fn create_user(
        &self,
        username: &Username,
        email: &Email,
        pw_hash: &str,
        latest: Option<i64>,
    ) -> Result<i64, CreateUserError> {
        let row = user::ActiveModel {
            username: Set(username.as_str().to_owned()),
            email: Set(email.as_str().to_owned()),
            pw_hash: Set(pw_hash.to_owned()),
            ..Default::default()
        };
        let failed = |e: DbErr| match is_unique_violation(&e) {
            true => CreateUserError::Taken,
            false => CreateUserError::Store(e.into()),
        };
        let transaction = self.pools.write().begin().await.map_err(failed)?;
        let id = user::Entity::insert(row)
            .exec(&transaction)
            .await
            .map_err(failed)?
            .last_insert_id;
        if let Some(latest) = latest {
            super::latest::record(&transaction, latest)
                .await
                .map_err(failed)?;
        }
        transaction.commit().await.map_err(failed)?;
        Ok(id)
    }

    /// The user called `username` (as a path, a form or a stream names them). Every lookup by
    /// name, from any door, comes through here: a name no user can have (a NUL, another
    /// control character) is "no such user" without a query, on PostgreSQL as on SQLite.
    pub async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let Some(query) = UsernameQuery::parse(username) else {
            return Ok(None);
        };
        let username = query.as_str();
        if let Some(user) = self.users_by_name.get(username) {
            return Ok(Some(user));
        }
        let found = user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(self.pools.read())
            .await?
            .map(User::from);
        if let Some(user) = &found {
            self.users_by_name.insert(user.clone());
        }
        Ok(found)
    }

    /// The one user whose email is `email`; none when nobody's is, or several share it
    /// (MiniTwit, unlike Mastodon, does not make emails unique).
    pub async fn sole_user_with_email(&self, email: &str) -> StoreResult<Option<User>> {
        let mut found = user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .limit(2)
            .all(self.pools.read())
            .await?;
        Ok(match found.len() {
            1 => found.pop().map(User::from),
            _ => None,
        })
    }

    pub async fn user_id_by_name(&self, username: &str) -> StoreResult<Option<i64>> {
        Ok(self.user_by_name(username).await?.map(|user| user.id))
    }

    pub async fn username_taken(&self, username: &str) -> StoreResult<bool> {
        Ok(self.user_id_by_name(username).await?.is_some())
    }
}

/// Most users kept in [`UserCache`]; past it the cache starts over (users are small, so
/// this bounds it to tens of megabytes).
const MAX_CACHED_USERS: usize = 200_000;

/// Found users by name. Only hits are cached: a name not found yet may be registered by
/// another replica at any moment.
#[derive(Clone, Default)]
pub(super) struct UserCache(Arc<RwLock<HashMap<String, User>>>);

impl UserCache {
    fn get(&self, username: &str) -> Option<User> {
        self.0.read().ok()?.get(username).cloned()
    }

    fn insert(&self, user: User) {
        if let Ok(mut users) = self.0.write() {
            if users.len() >= MAX_CACHED_USERS {
                users.clear();
            }
            users.insert(user.username.clone(), user);
        }
    }
}
