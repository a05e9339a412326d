//! Messages by (author, flagged, id) instead of (author, id): a user's newest unflagged
//! messages are then one ordered, covering range scan (`author_id = ? AND flagged = false
//! ORDER BY message_id DESC LIMIT n`), with no table lookups to test `flagged` and no sort.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    MessageId,
    AuthorId,
    Flagged,
}

const NEW_INDEX: &str = "idx_messages_author_flagged_id";
const OLD_INDEX: &str = "idx_messages_author_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NEW_INDEX)
                    .table(Messages::Table)
                    .col(Messages::AuthorId)
                    .col(Messages::Flagged)
                    .col(Messages::MessageId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_INDEX)
                    .table(Messages::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OLD_INDEX)
                    .table(Messages::Table)
                    .col(Messages::AuthorId)
                    .col(Messages::MessageId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(NEW_INDEX)
                    .table(Messages::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
