//! MiniTwit's database schema as sea-orm-migration migrations, one file per migration.
//!
//! `Migrator::up` alone takes no lock, so replicas starting together could race; the app
//! runs it through `minitwit::store::migrate`, which holds a PostgreSQL advisory lock.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_tables;
mod m20261122_000002_index_unflagged_by_author;
mod m20261123_000010_moderator_role;
mod m20261123_000020_create_sessions;
mod m20261205_000030_visibility_changes;
mod m20261205_000040_mastodon_oauth;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_tables::Migration),
            Box::new(m20261122_000002_index_unflagged_by_author::Migration),
            Box::new(m20261123_000010_moderator_role::Migration),
            Box::new(m20261123_000020_create_sessions::Migration),
            Box::new(m20261205_000030_visibility_changes::Migration),
            Box::new(m20261205_000040_mastodon_oauth::Migration),
        ]
    }
}
