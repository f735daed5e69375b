#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! Drops the type-specific columns core's tables carried before plugins had detail tables
//! (`core_repository.autopublish`, `.manifest`, `.last_sync_details`,
//! `core_publication.manifest`). Runs after every older migration, core's and the plugins'
//! (which copy those values into their own tables first).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

const DROPPED: [(&str, &str); 4] = [
    ("core_repository", "autopublish"),
    ("core_repository", "manifest"),
    ("core_repository", "last_sync_details"),
    ("core_publication", "manifest"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in DROPPED {
            if m.has_column(table, column).await? {
                // One column per statement: SQLite alters one at a time.
                m.alter_table(
                    Table::alter()
                        .table(table.to_owned())
                        .drop_column(column.to_owned())
                        .to_owned(),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // The values live in the plugins' tables now; nothing to restore here.
        Ok(())
    }
}
