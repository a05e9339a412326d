//! The simulator's latest processed action id, kept in the database so that it survives
//! restarts and is shared by replicas.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use super::entities::sim_latest;
use super::{Store, StoreResult};

/// The one row of `sim_latest`.
const ROW_ID: i32 = 1;

impl Store {
    pub async fn set_latest(&self, latest: i64) -> StoreResult<()> {
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
            .exec_without_returning(self.pools.latest_write())
            .await?;
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
