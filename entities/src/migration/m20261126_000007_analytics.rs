#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! When the analytics reporter posts next (one row; 0 means "at the next start").

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("pith_analytics")
                .if_not_exists()
                .col(ColumnDef::new("id").big_integer().not_null().primary_key())
                .col(big("next_post_at"))
                .to_owned(),
        )
        .await?;
        let row = Query::insert()
            .into_table("pith_analytics")
            .columns(["id", "next_post_at"])
            .values([1i64.into(), 0i64.into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .to_owned();
        m.exec_stmt(row).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("pith_analytics").if_exists().to_owned())
            .await
    }
}
