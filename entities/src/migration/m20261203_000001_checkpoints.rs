#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! `checkpoint` on publications and distributions (Pulp's checkpoints): a checkpoint
//! publication is one of a repository's dated snapshots; a checkpoint distribution serves them
//! all, each under `<base_path>/<timestamp>/`, instead of the latest publication.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

const TABLES: [&str; 2] = ["core_publication", "core_distribution"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            if m.has_column(table, "checkpoint").await? {
                continue;
            }
            m.alter_table(
                Table::alter()
                    .table(table)
                    .add_column(
                        ColumnDef::new("checkpoint")
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            m.alter_table(
                Table::alter()
                    .table(table)
                    .drop_column("checkpoint")
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
