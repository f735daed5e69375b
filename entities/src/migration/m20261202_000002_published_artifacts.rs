#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! Published artifacts (Pulp's `PublishedArtifact`): the content a publication that is not a
//! pass-through serves, each at the path the plugin chose (rpm's `Packages/x/…`).

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("core_publishedartifact")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("publication_id").string_len(36).not_null())
                .col(text("relative_path"))
                .col(
                    ColumnDef::new("content_artifact_id")
                        .string_len(36)
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("core_publishedartifact", "publication_id")
                        .to("core_publication", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("core_publishedartifact", "content_artifact_id")
                        .to("core_contentartifact", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("core_publishedartifact_path")
                .table("core_publishedartifact")
                .col("publication_id")
                .col("relative_path")
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table("core_publishedartifact")
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
