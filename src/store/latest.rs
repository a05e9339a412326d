//! The simulator's latest processed action id, kept in the database so that it survives
//! restarts and is shared by replicas.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

use super::entities::sim_latest;
use super::group_commit::Change;
use super::{Store, StoreResult};

/// The one row of `sim_latest`.
const ROW_ID: i32 = 1;

impl Store {
    /// Records `latest` on its own: for a request whose action wrote nothing (a read, or
    /// one refused before it reached the database). Writes take theirs along instead.
    pub async fn set_latest(&self, latest: i64) -> StoreResult<()> {
        self.writes.write(Change::Nothing, Some(latest)).await?;
        Ok(())
    }

    /// The latest action id recorded, if any was.
    pub async fn latest(&self) -> StoreResult<Option<i64>> {
        Ok(sim_latest::Entity::find_by_id(ROW_ID)
            .one(self.pools.read())
            .await?
            .map(|row| row.latest))
    }
}

/// Records `latest` on `db` (a transaction that commits it with something else).
pub(super) async fn record(db: &impl ConnectionTrait, latest: i64) -> Result<(), DbErr> {
    let row = sim_latest::ActiveModel {
        id: Set(ROW_ID),
        latest: Set(latest),
    };
    sim_latest::Entity::insert(row)
        .on_conflict(
            OnConflict::column(sim_latest::Column::Id)
                .update_column(sim_latest::Column::Latest)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
