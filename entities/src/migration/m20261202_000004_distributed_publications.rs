#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! `core_distributedpublication` (Pulp's `DistributedPublication`): the publications each
//! distribution has served, so a superseded one keeps serving for
//! `DISTRIBUTED_PUBLICATION_RETENTION_PERIOD` after a switch (clients halfway through a
//! download of the old metadata still find its files).

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("core_distributedpublication")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("distribution_id").string_len(36).not_null())
                .col(ColumnDef::new("publication_id").string_len(36).not_null())
                .col(ColumnDef::new("pulp_created").big_integer().not_null())
                // NULL while it is the one the distribution serves.
                .col(ColumnDef::new("superseded_at").big_integer().null())
                .foreign_key(
                    ForeignKey::create()
                        .from("core_distributedpublication", "distribution_id")
                        .to("core_distribution", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("core_distributedpublication", "publication_id")
                        .to("core_publication", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("core_distributedpublication_pair")
                .table("core_distributedpublication")
                .col("distribution_id")
                .col("publication_id")
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table("core_distributedpublication")
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
