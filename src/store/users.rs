//! Users: registration and lookups by name.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::entities::user;
use super::{is_unique_violation, Store, StoreError, StoreResult};
use crate::domain::{Email, Username};

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
    /// Inserts a user; the unique constraint decides races between registrations of one name.
    pub async fn create_user(
        &self,
        username: &Username,
        email: &Email,
        pw_hash: &str,
    ) -> Result<i64, CreateUserError> {
        let row = user::ActiveModel {
            username: Set(username.as_str().to_owned()),
            email: Set(email.as_str().to_owned()),
            pw_hash: Set(pw_hash.to_owned()),
            ..Default::default()
        };
        match user::Entity::insert(row).exec(&self.write).await {
            Ok(done) => Ok(done.last_insert_id),
            Err(e) if is_unique_violation(&e) => Err(CreateUserError::Taken),
            Err(e) => Err(CreateUserError::Store(e.into())),
        }
    }

    pub async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(&self.read)
            .await?
            .map(User::from))
    }

    /// The logged-in user of a session.
    pub async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        Ok(user::Entity::find_by_id(id)
            .one(&self.read)
            .await?
            .map(User::from))
    }

    pub async fn user_id_by_name(&self, username: &str) -> StoreResult<Option<i64>> {
        Ok(user::Entity::find()
            .select_only()
            .column(user::Column::UserId)
            .filter(user::Column::Username.eq(username))
            .into_tuple::<i64>()
            .one(&self.read)
            .await?)
    }

    pub async fn username_taken(&self, username: &str) -> StoreResult<bool> {
        Ok(self.user_id_by_name(username).await?.is_some())
    }
}
