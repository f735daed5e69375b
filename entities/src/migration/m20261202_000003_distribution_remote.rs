#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! `core_distribution.remote_id` (Pulp's `Distribution.remote`): the remote a distribution's
//! content app pulls content through from when it has nothing at a path (pull-through caching).
//! Deleting the remote forgets it (Pulp: `SET NULL`, done by `remotes::delete`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.has_column("core_distribution", "remote_id").await? {
            return Ok(());
        }
        m.alter_table(
            Table::alter()
                .table("core_distribution")
                .add_column(ColumnDef::new("remote_id").string_len(36).null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("core_distribution")
                .drop_column("remote_id")
                .to_owned(),
        )
        .await
    }
}
