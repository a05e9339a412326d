//! Batched inserts for `minitwit seed`: many rows per statement, many statements per
//! transaction, so a million messages take seconds rather than hours.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait, QuerySelect, TransactionTrait};

use super::entities::{follow, message, user};
use super::{Store, StoreResult};

/// Rows per INSERT: under SQLite's limit of bound variables for every table here.
const ROWS_PER_STATEMENT: usize = 1000;

/// A message to insert in bulk: (author id, text, pub_date).
pub type BulkMessage = (i64, String, i64);

impl Store {
    /// Inserts users (username, email, pw_hash) and returns their ids in order.
    pub async fn insert_users_bulk(
        &self,
        users: Vec<(String, String, String)>,
    ) -> StoreResult<Vec<i64>> {
        let names: Vec<String> = users.iter().map(|u| u.0.clone()).collect();
        let txn = self.pools.write().begin().await?;
        for chunk in users.chunks(ROWS_PER_STATEMENT) {
            let rows = chunk
                .iter()
                .map(|(username, email, pw_hash)| user::ActiveModel {
                    username: Set(username.clone()),
                    email: Set(email.clone()),
                    pw_hash: Set(pw_hash.clone()),
                    ..Default::default()
                });
            user::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        let mut ids = Vec::with_capacity(names.len());
        for chunk in names.chunks(ROWS_PER_STATEMENT) {
            use sea_orm::{ColumnTrait, QueryFilter};
            let found: Vec<(i64, String)> = user::Entity::find()
                .select_only()
                .column(user::Column::UserId)
                .column(user::Column::Username)
                .filter(user::Column::Username.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(self.pools.read())
                .await?;
            let by_name: std::collections::HashMap<String, i64> =
                found.into_iter().map(|(id, name)| (name, id)).collect();
            ids.extend(chunk.iter().filter_map(|name| by_name.get(name).copied()));
        }
        Ok(ids)
    }

    pub async fn insert_messages_bulk(&self, messages: &[BulkMessage]) -> StoreResult<()> {
        let txn = self.pools.write().begin().await?;
        for chunk in messages.chunks(ROWS_PER_STATEMENT) {
            let rows = chunk
                .iter()
                .map(|(author, text, pub_date)| message::ActiveModel {
                    author_id: Set(*author),
                    text: Set(text.clone()),
                    pub_date: Set(*pub_date),
                    flagged: Set(false),
                    ..Default::default()
                });
            message::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Inserts (who, whom) pairs; pairs already present are skipped.
    pub async fn insert_follows_bulk(&self, pairs: &[(i64, i64)]) -> StoreResult<()> {
        let txn = self.pools.write().begin().await?;
        for chunk in pairs.chunks(ROWS_PER_STATEMENT) {
            let rows = chunk.iter().map(|(who, whom)| follow::ActiveModel {
                who_id: Set(*who),
                whom_id: Set(*whom),
            });
            follow::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::columns([follow::Column::WhoId, follow::Column::WhomId])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
