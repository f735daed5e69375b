#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! Chunked uploads: an upload of a declared size and its chunks (files under `upload/`).

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("core_upload")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(big("size"))
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("core_uploadchunk")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("upload_id").string_len(36).not_null())
                // `offset` is an SQL keyword.
                .col(big("chunk_offset"))
                .col(big("size"))
                .col(text("file"))
                .foreign_key(
                    ForeignKey::create()
                        .from("core_uploadchunk", "upload_id")
                        .to("core_upload", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("core_uploadchunk_offset_uniq")
                .table("core_uploadchunk")
                .col("upload_id")
                .col("chunk_offset")
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["core_uploadchunk", "core_upload"] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
