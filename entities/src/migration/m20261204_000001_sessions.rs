#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! `django_session`: the sessions `login/` opens (Django's session table, holding the user
//! directly instead of encoded session data), so a session cookie works on every API node.

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("django_session")
                .if_not_exists()
                .col(id("session_key"))
                .col(big("user_id"))
                .col(big("expire_date"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("django_session").if_exists().to_owned())
            .await
    }
}
