#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! Publications (with their published metadata files) and distributions.

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("core_publication")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("pulp_type").text().not_null())
                .col(
                    ColumnDef::new("repository_version_id")
                        .string_len(36)
                        .not_null(),
                )
                .col(ColumnDef::new("manifest").text().null())
                .col(
                    ColumnDef::new("complete")
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(
                    ColumnDef::new("pass_through")
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("core_publishedmetadata")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("publication_id").string_len(36).not_null())
                .col(ColumnDef::new("relative_path").text().not_null())
                .col(ColumnDef::new("artifact_id").string_len(36).not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from("core_publishedmetadata", "publication_id")
                        .to("core_publication", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("core_publishedmetadata", "artifact_id")
                        .to("core_artifact", "pulp_id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("core_distribution")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("pulp_type").text().not_null())
                .col(ColumnDef::new("name").text().not_null().unique_key())
                .col(ColumnDef::new("base_path").text().not_null().unique_key())
                .col(ColumnDef::new("pulp_labels").text().not_null())
                .col(ColumnDef::new("hidden").boolean().not_null().default(false))
                .col(fk("repository_id"))
                .col(fk("repository_version_id"))
                .col(fk("publication_id"))
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "core_distribution",
            "core_publishedmetadata",
            "core_publication",
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
