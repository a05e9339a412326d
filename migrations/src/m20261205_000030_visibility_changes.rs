//! Every hide and unhide of a message as a numbered row, so a change of visibility is as
//! durable as a message: an instance that missed its event on the bus (cut off from
//! Redis) finds it by asking for the change ids it has not seen, and a stream that
//! resumes gets the changes made while it was away (docs/delivery.md).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum VisibilityChanges {
    Table,
    ChangeId,
    MessageId,
    Hidden,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    MessageId,
}

const BY_MESSAGE: &str = "idx_visibility_changes_message_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(VisibilityChanges::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(VisibilityChanges::ChangeId)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(VisibilityChanges::MessageId)
                            .big_integer()
                            .not_null(),
                    )
                    // true: the message was hidden; false: shown again.
                    .col(
                        ColumnDef::new(VisibilityChanges::Hidden)
                            .boolean()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(VisibilityChanges::Table, VisibilityChanges::MessageId)
                            .to(Messages::Table, Messages::MessageId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The cascade from a deleted message looks its changes up by message.
        manager
            .create_index(
                Index::create()
                    .name(BY_MESSAGE)
                    .table(VisibilityChanges::Table)
                    .col(VisibilityChanges::MessageId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(VisibilityChanges::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
