#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! `core_accesspolicy` (Pulp's `AccessPolicy`): each viewset's current policy as JSON, and
//! whether an admin customized it (then a new default does not replace it).

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("core_accesspolicy")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(
                    ColumnDef::new("viewset_name")
                        .text()
                        .not_null()
                        .unique_key(),
                )
                .col(text("statements"))
                .col(text("creation_hooks"))
                .col(text_null("queryset_scoping"))
                .col(boolean("customized", false))
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table("core_accesspolicy")
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
