#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! Cluster membership: each app-status row carries its process's advertised cluster address
//! (NULL for processes that run no cluster node), which is how nodes find each other.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("core_appstatus")
                .add_column(ColumnDef::new("cluster_addr").text().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("core_appstatus")
                .drop_column("cluster_addr")
                .to_owned(),
        )
        .await
    }
}
