#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! Remote artifacts: where the bytes of content synced `on_demand` or `streamed` can be
//! fetched (one row per content artifact and remote), and when a fetch last failed.

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("core_remoteartifact")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(
                    ColumnDef::new("content_artifact_id")
                        .string_len(36)
                        .not_null(),
                )
                .col(ColumnDef::new("remote_id").string_len(36).not_null())
                .col(text("url"))
                .col(big_null("size"))
                .col(text_null("sha256"))
                .col(big_null("failed_at"))
                .col(big("pulp_created"))
                .foreign_key(
                    ForeignKey::create()
                        .from("core_remoteartifact", "content_artifact_id")
                        .to("core_contentartifact", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("core_remoteartifact", "remote_id")
                        .to("core_remote", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("core_remoteartifact_ca_remote_uniq")
                .table("core_remoteartifact")
                .col("content_artifact_id")
                .col("remote_id")
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table("core_remoteartifact")
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
