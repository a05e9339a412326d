//! The first schema: users, messages, follows and the simulator's latest action id.
//!
//! Indexes keep every timeline query an index range scan: messages by id (primary key)
//! and by (author, id); follows by (who, whom) (primary key) and by whom.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    UserId,
    Username,
    Email,
    PwHash,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    MessageId,
    AuthorId,
    Text,
    PubDate,
    Flagged,
}

#[derive(DeriveIden)]
enum Follows {
    Table,
    WhoId,
    WhomId,
}

#[derive(DeriveIden)]
enum SimLatest {
    Table,
    Id,
    Latest,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Users::UserId)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    // Unique, so two concurrent registrations of one name give one winner.
                    .col(
                        ColumnDef::new(Users::Username)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Users::Email).string().not_null())
                    .col(ColumnDef::new(Users::PwHash).string().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Messages::MessageId)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Messages::AuthorId).big_integer().not_null())
                    .col(ColumnDef::new(Messages::Text).text().not_null())
                    .col(ColumnDef::new(Messages::PubDate).big_integer().not_null())
                    .col(
                        ColumnDef::new(Messages::Flagged)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::AuthorId)
                            .to(Users::Table, Users::UserId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_messages_author_id")
                    .table(Messages::Table)
                    .col(Messages::AuthorId)
                    .col(Messages::MessageId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Follows::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Follows::WhoId).big_integer().not_null())
                    .col(ColumnDef::new(Follows::WhomId).big_integer().not_null())
                    // One row per pair: following twice is a no-op, not a duplicate.
                    .primary_key(Index::create().col(Follows::WhoId).col(Follows::WhomId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Follows::Table, Follows::WhoId)
                            .to(Users::Table, Users::UserId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Follows::Table, Follows::WhomId)
                            .to(Users::Table, Users::UserId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_follows_whom_who")
                    .table(Follows::Table)
                    .col(Follows::WhomId)
                    .col(Follows::WhoId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SimLatest::Table)
                    .if_not_exists()
                    // A single row (id = 1): the newest `latest` the simulator sent.
                    .col(
                        ColumnDef::new(SimLatest::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(SimLatest::Latest).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SimLatest::Table.into_iden(),
            Follows::Table.into_iden(),
            Messages::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
