//! Counts behind the business gauges (`minitwit_users`, `minitwit_messages`,
//! `minitwit_follows`), read from the database so that every replica reports the same totals.
//!
//! Users and messages are never deleted, so they are counted incrementally and a refresh
//! costs an index range scan on the primary key whatever the table's size. Ids are handed out
//! before commit, so a row with a lower id can appear after a higher one: the last
//! [`SETTLE_IDS`] ids are therefore recounted every time and only older rows are folded
//! into the running base. Follows can be removed, so they are counted in full; the table is
//! a narrow primary-key index.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use super::entities::{follow, message, user};
use super::{Store, StoreResult};

/// How far behind the highest id a row may still be committing. Our write transactions
/// are single statements, so a thousand ids is far more than can be in flight.
const SETTLE_IDS: i64 = 1000;

/// Running count of one append-only table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    /// Rows with id <= `settled`, counted once and for all.
    base: i64,
    settled: i64,
}

/// Running totals of users and messages, advanced by [`Store::count_totals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    users: Tally,
    messages: Tally,
}

/// What [`Store::count_totals`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub users: i64,
    pub messages: i64,
    pub follows: i64,
}

impl Store {
    /// Current counts of users, messages and follows; `totals` carries the settled part of
    /// the append-only tables from one call to the next.
    pub async fn count_totals(&self, totals: &mut Totals) -> StoreResult<Counts> {
        let users = self
            .tally::<user::Entity, _>(user::Column::UserId, &mut totals.users)
            .await?;
        let messages = self
            .tally::<message::Entity, _>(message::Column::MessageId, &mut totals.messages)
            .await?;
        let follows = follow::Entity::find().count(self.pools.read()).await? as i64;
        Ok(Counts {
            users,
            messages,
            follows,
        })
    }

    async fn tally<E: EntityTrait, C: ColumnTrait>(
        &self,
        id: C,
        tally: &mut Tally,
    ) -> StoreResult<i64> {
        let (recent, max_id): (i64, Option<i64>) = E::find()
            .select_only()
            .expr(Expr::col(id).count())
            .expr(Expr::col(id).max())
            .filter(id.gt(tally.settled))
            .into_tuple()
            .one(self.pools.read())
            .await?
            .unwrap_or((0, None));
        let total = tally.base + recent;
        if let Some(max_id) = max_id {
            let settle_to = max_id - SETTLE_IDS;
            if settle_to > tally.settled {
                let newly_settled: i64 = E::find()
                    .select_only()
                    .expr(Expr::col(id).count())
                    .filter(id.gt(tally.settled))
                    .filter(id.lte(settle_to))
                    .into_tuple()
                    .one(self.pools.read())
                    .await?
                    .unwrap_or(0);
                tally.base += newly_settled;
                tally.settled = settle_to;
            }
        }
        Ok(total)
    }
}
