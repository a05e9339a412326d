//! Follows: one row per (who, whom) pair; following is idempotent.

use sea_orm::{
    ColumnTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    RelationDef,
};

use super::entities::{follow, user};
use super::group_commit::Change;
use super::{Store, StoreResult};

impl Store {
    /// Records that `who` follows `whom`; a pair already recorded is left as it is.
    /// `latest` (the simulator's) is committed with it.
    pub async fn follow(&self, who: i64, whom: i64, latest: Option<i64>) -> StoreResult<()> {
        let done = self
            .writes
            .write(Change::Follow { who, whom }, latest)
            .await;
        // Stale even if the write failed: it may have committed before the error.
        self.follows_changed(who);
        done?;
        Ok(())
    }

    /// Removes the pair if present; unfollowing someone not followed is not an error.
    /// `latest` (the simulator's) is committed with it.
    pub async fn unfollow(&self, who: i64, whom: i64, latest: Option<i64>) -> StoreResult<()> {
        let done = self
            .writes
            .write(Change::Unfollow { who, whom }, latest)
            .await;
        self.follows_changed(who);
        done?;
        Ok(())
    }

    pub async fn is_following(&self, who: i64, whom: i64) -> StoreResult<bool> {
        Ok(follow::Entity::find()
            .filter(follow::Column::WhoId.eq(who))
            .filter(follow::Column::WhomId.eq(whom))
            .count(self.pools.read())
            .await?
            > 0)
    }

    /// Usernames `who` follows, at most `limit`, in the order they registered.
    pub async fn followee_names(&self, who: i64, limit: u64) -> StoreResult<Vec<String>> {
        Ok(follow::Entity::find()
            .select_only()
            .column(user::Column::Username)
            .join(JoinType::InnerJoin, followee_relation())
            .filter(follow::Column::WhoId.eq(who))
            .order_by_asc(follow::Column::WhomId)
            .limit(limit)
            .into_tuple::<String>()
            .all(self.pools.read())
            .await?)
    }

    /// Ids of everyone `who` follows (for a live `home` stream).
    pub async fn followee_ids(&self, who: i64) -> StoreResult<Vec<i64>> {
        Ok(follow::Entity::find()
            .select_only()
            .column(follow::Column::WhomId)
            .filter(follow::Column::WhoId.eq(who))
            .into_tuple::<i64>()
            .all(self.pools.read())
            .await?)
    }
}

fn followee_relation() -> RelationDef {
    follow::Entity::belongs_to(user::Entity)
        .from(follow::Column::WhomId)
        .to(user::Column::UserId)
        .into()
}
