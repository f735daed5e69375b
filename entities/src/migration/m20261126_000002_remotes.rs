#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! Remotes (Pulp's `core_remote` with the file plugin's type in `pulp_type`).

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("core_remote")
                .if_not_exists()
                .col(
                    ColumnDef::new("pulp_id")
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new("pulp_type").text().not_null())
                .col(ColumnDef::new("name").text().not_null().unique_key())
                .col(ColumnDef::new("url").text().not_null())
                .col(ColumnDef::new("pulp_created").big_integer().not_null())
                .col(ColumnDef::new("pulp_last_updated").big_integer().not_null())
                .col(ColumnDef::new("pulp_labels").text().not_null())
                .col(ColumnDef::new("policy").text().not_null())
                .col(text_null("ca_cert"))
                .col(text_null("client_cert"))
                .col(text_null("client_key"))
                .col(
                    ColumnDef::new("tls_validation")
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(text_null("proxy_url"))
                .col(text_null("proxy_username"))
                .col(text_null("proxy_password"))
                .col(text_null("username"))
                .col(text_null("password"))
                .col(big_null("max_retries"))
                .col(double_null("total_timeout"))
                .col(double_null("connect_timeout"))
                .col(double_null("sock_connect_timeout"))
                .col(double_null("sock_read_timeout"))
                .col(ColumnDef::new("headers").text().not_null())
                .col(big_null("download_concurrency"))
                .col(big_null("rate_limit"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("core_remote").if_exists().to_owned())
            .await
    }
}
