#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! Cluster membership: each app-status row carries its process's advertised cluster address
//! (NULL for processes that run no cluster node), which is how nodes find each other; and the
//! fingerprint of the cluster's secret (salted SHA-256), so a node started with another secret
//! is refused before it can take the lock-service lease.

use sea_orm_migration::prelude::*;

use super::columns::*;

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
        .await?;
        m.create_table(
            Table::create()
                .table("pith_cluster")
                .if_not_exists()
                .col(ColumnDef::new("id").integer().not_null().primary_key())
                .col(text("salt"))
                .col(text("fingerprint"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("pith_cluster").if_exists().to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table("core_appstatus")
                .drop_column("cluster_addr")
                .to_owned(),
        )
        .await
    }
}
