#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! Repositories and their immutable versions. (Until plugins had migrations of their own, this
//! one also created the first plugin's content table; that table is now in the plugin's own
//! migrations.)

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("core_repository")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("pulp_type").text().not_null())
                .col(ColumnDef::new("name").text().not_null().unique_key())
                .col(ColumnDef::new("description").text().null())
                .col(ColumnDef::new("pulp_labels").text().not_null())
                .col(ColumnDef::new("retain_repo_versions").big_integer().null())
                .col(ColumnDef::new("retain_checkpoints").big_integer().null())
                .col(ColumnDef::new("remote_id").string_len(36).null())
                .col(
                    ColumnDef::new("autopublish")
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(ColumnDef::new("manifest").text().null())
                .col(big("next_version"))
                .col(ColumnDef::new("last_sync_details").text().not_null())
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("core_repositoryversion")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("repository_id").string_len(36).not_null())
                .col(big("number"))
                .col(
                    ColumnDef::new("complete")
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(ColumnDef::new("base_version_id").string_len(36).null())
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .foreign_key(
                    ForeignKey::create()
                        .from("core_repositoryversion", "repository_id")
                        .to("core_repository", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("core_repositoryversion_number_uniq")
                .table("core_repositoryversion")
                .col("repository_id")
                .col("number")
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["core_repositoryversion", "core_repository"] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
