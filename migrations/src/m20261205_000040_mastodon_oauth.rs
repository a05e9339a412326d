//! What the Mastodon-compatible API (docs/mastodon.md) keeps: registered client apps,
//! authorization codes waiting to be exchanged, access tokens, and the statuses posted
//! under an `Idempotency-Key`. Secrets, codes, tokens and keys are stored as their SHA-256
//! (hex), as login sessions are, so a copy of these tables cannot be replayed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OauthApps {
    Table,
    AppId,
    ClientId,
    SecretHash,
    Name,
    Website,
    RedirectUris,
    Scopes,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OauthCodes {
    Table,
    CodeHash,
    AppId,
    UserId,
    RedirectUri,
    Scopes,
    Challenge,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OauthTokens {
    Table,
    TokenHash,
    AppId,
    UserId,
    Scopes,
    PasswordStamp,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StatusIdempotency {
    Table,
    UserId,
    KeyHash,
    MessageId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    UserId,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    MessageId,
}

/// A SHA-256 in hex.
fn hash_column(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string_len(64).not_null().to_owned()
}

fn cascade(
    from: (impl IntoIden + 'static, impl IntoIden + 'static),
    to: (impl IntoIden + 'static, impl IntoIden + 'static),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthApps::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(OauthApps::AppId)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OauthApps::ClientId)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(hash_column(OauthApps::SecretHash))
                    .col(ColumnDef::new(OauthApps::Name).text().not_null())
                    .col(ColumnDef::new(OauthApps::Website).text().null())
                    // Newline-separated, as Mastodon takes them.
                    .col(ColumnDef::new(OauthApps::RedirectUris).text().not_null())
                    .col(ColumnDef::new(OauthApps::Scopes).text().not_null())
                    .col(
                        ColumnDef::new(OauthApps::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthCodes::Table)
                    .if_not_exists()
                    .col(hash_column(OauthCodes::CodeHash).primary_key())
                    .col(ColumnDef::new(OauthCodes::AppId).big_integer().not_null())
                    .col(ColumnDef::new(OauthCodes::UserId).big_integer().not_null())
                    .col(ColumnDef::new(OauthCodes::RedirectUri).text().not_null())
                    .col(ColumnDef::new(OauthCodes::Scopes).text().not_null())
                    // The PKCE S256 challenge, when the client sent one.
                    .col(ColumnDef::new(OauthCodes::Challenge).text().null())
                    // Unix seconds; a code is good for minutes, once.
                    .col(
                        ColumnDef::new(OauthCodes::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(&mut cascade(
                        (OauthCodes::Table, OauthCodes::AppId),
                        (OauthApps::Table, OauthApps::AppId),
                    ))
                    .foreign_key(&mut cascade(
                        (OauthCodes::Table, OauthCodes::UserId),
                        (Users::Table, Users::UserId),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthTokens::Table)
                    .if_not_exists()
                    .col(hash_column(OauthTokens::TokenHash).primary_key())
                    .col(ColumnDef::new(OauthTokens::AppId).big_integer().null())
                    // None for an app's own token (the client-credentials grant).
                    .col(ColumnDef::new(OauthTokens::UserId).big_integer().null())
                    .col(ColumnDef::new(OauthTokens::Scopes).text().not_null())
                    // A fingerprint of the user's password hash when the token was issued:
                    // a new password makes every older token void.
                    .col(
                        ColumnDef::new(OauthTokens::PasswordStamp)
                            .string_len(16)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OauthTokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(&mut cascade(
                        (OauthTokens::Table, OauthTokens::AppId),
                        (OauthApps::Table, OauthApps::AppId),
                    ))
                    .foreign_key(&mut cascade(
                        (OauthTokens::Table, OauthTokens::UserId),
                        (Users::Table, Users::UserId),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StatusIdempotency::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(StatusIdempotency::UserId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(hash_column(StatusIdempotency::KeyHash))
                    .col(
                        ColumnDef::new(StatusIdempotency::MessageId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StatusIdempotency::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(StatusIdempotency::UserId)
                            .col(StatusIdempotency::KeyHash),
                    )
                    .foreign_key(&mut cascade(
                        (StatusIdempotency::Table, StatusIdempotency::UserId),
                        (Users::Table, Users::UserId),
                    ))
                    .foreign_key(&mut cascade(
                        (StatusIdempotency::Table, StatusIdempotency::MessageId),
                        (Messages::Table, Messages::MessageId),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            StatusIdempotency::Table.into_iden(),
            OauthTokens::Table.into_iden(),
            OauthCodes::Table.into_iden(),
            OauthApps::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
