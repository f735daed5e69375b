#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! Content guards (Pulp's `ContentGuard` and core's guard types): `core_contentguard` is the
//! master table every type shares (name, description); the header, environment-header and
//! redirect guards keep their fields in their own tables (the declared detail tables); a
//! composite guard's members are rows of `core_compositecontentguard_guards`; a distribution
//! names its guard in `core_distribution.content_guard_id` (deleting the guard forgets it, as
//! Pulp's `SET NULL`).

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

/// A detail table keyed by the guard's id, deleted with it.
fn detail(name: &'static str, cols: Vec<ColumnDef>) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(name).if_not_exists().col(id("contentguard_id"));
    for c in cols {
        t.col(c);
    }
    t.foreign_key(
        ForeignKey::create()
            .from(name, "contentguard_id")
            .to("core_contentguard", "pulp_id")
            .on_delete(ForeignKeyAction::Cascade),
    );
    t.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("core_contentguard")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(text("pulp_type"))
                .col(ColumnDef::new("name").text().not_null().unique_key())
                .col(text_null("description"))
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .to_owned(),
        )
        .await?;
        for t in [
            detail(
                "core_headercontentguard",
                vec![
                    text_null("header_name"),
                    text_null("header_value"),
                    text_null("jq_filter"),
                ],
            ),
            detail(
                "core_envvarheadercontentguard",
                vec![text_null("header_name"), text_null("env_var")],
            ),
            // The secret signing its URLs (hex), never shown by the API.
            detail(
                "core_contentredirectcontentguard",
                vec![text("shared_secret")],
            ),
        ] {
            m.create_table(t).await?;
        }
        m.create_table(
            Table::create()
                .table("core_compositecontentguard_guards")
                .if_not_exists()
                .col(ColumnDef::new("composite_id").string_len(36).not_null())
                .col(ColumnDef::new("guard_id").string_len(36).not_null())
                .primary_key(Index::create().col("composite_id").col("guard_id"))
                .foreign_key(
                    ForeignKey::create()
                        .from("core_compositecontentguard_guards", "composite_id")
                        .to("core_contentguard", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("core_compositecontentguard_guards", "guard_id")
                        .to("core_contentguard", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        if !m
            .has_column("core_distribution", "content_guard_id")
            .await?
        {
            m.alter_table(
                Table::alter()
                    .table("core_distribution")
                    .add_column(fk("content_guard_id"))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("core_distribution")
                .drop_column("content_guard_id")
                .to_owned(),
        )
        .await?;
        for t in [
            "core_compositecontentguard_guards",
            "core_contentredirectcontentguard",
            "core_envvarheadercontentguard",
            "core_headercontentguard",
            "core_contentguard",
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
