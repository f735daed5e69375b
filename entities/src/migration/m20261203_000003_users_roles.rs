#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! Users, groups and roles (Pulp's RBAC data): the rest of Django's user fields on
//! `auth_user`, `auth_group` with its members, `core_role` with its permissions (Pulp's
//! `<app>.<codename>` names), and the roles given to users and groups, model-wide (no object)
//! or on one object (`content_type` is the object's PRN type, `object_id` its id).

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

fn assignment(table: &'static str, who: &'static str, whom: &'static str) -> TableCreateStatement {
    Table::create()
        .table(table)
        .if_not_exists()
        .col(id("pulp_id"))
        .col(big(who))
        .col(ColumnDef::new("role_id").string_len(36).not_null())
        .col(text_null("content_type"))
        .col(text_null("object_id"))
        .col(big("pulp_created"))
        .foreign_key(
            ForeignKey::create()
                .from(table, who)
                .to(whom, "id")
                .on_delete(ForeignKeyAction::Cascade),
        )
        .foreign_key(
            ForeignKey::create()
                .from(table, "role_id")
                .to("core_role", "pulp_id")
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (col, def) in [
            (
                "first_name",
                ColumnDef::new("first_name")
                    .text()
                    .not_null()
                    .default("")
                    .to_owned(),
            ),
            (
                "last_name",
                ColumnDef::new("last_name")
                    .text()
                    .not_null()
                    .default("")
                    .to_owned(),
            ),
            (
                "email",
                ColumnDef::new("email")
                    .text()
                    .not_null()
                    .default("")
                    .to_owned(),
            ),
            ("is_staff", boolean("is_staff", false)),
            ("is_active", boolean("is_active", true)),
        ] {
            if !m.has_column("auth_user", col).await? {
                m.alter_table(Table::alter().table("auth_user").add_column(def).to_owned())
                    .await?;
            }
        }
        m.create_table(
            Table::create()
                .table("auth_group")
                .if_not_exists()
                .col(
                    ColumnDef::new("id")
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new("name").text().not_null().unique_key())
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("auth_user_groups")
                .if_not_exists()
                .col(big("user_id"))
                .col(big("group_id"))
                .primary_key(Index::create().col("user_id").col("group_id"))
                .foreign_key(
                    ForeignKey::create()
                        .from("auth_user_groups", "user_id")
                        .to("auth_user", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("auth_user_groups", "group_id")
                        .to("auth_group", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("core_role")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("name").text().not_null().unique_key())
                .col(text_null("description"))
                .col(boolean("locked", false))
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("core_role_permissions")
                .if_not_exists()
                .col(ColumnDef::new("role_id").string_len(36).not_null())
                .col(text("permission"))
                .primary_key(Index::create().col("role_id").col("permission"))
                .foreign_key(
                    ForeignKey::create()
                        .from("core_role_permissions", "role_id")
                        .to("core_role", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(assignment("core_userrole", "user_id", "auth_user"))
            .await?;
        m.create_table(assignment("core_grouprole", "group_id", "auth_group"))
            .await?;
        for (table, who) in [("core_userrole", "user_id"), ("core_grouprole", "group_id")] {
            m.create_index(
                Index::create()
                    .name(format!("{table}_who"))
                    .table(table)
                    .col(who)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "core_grouprole",
            "core_userrole",
            "core_role_permissions",
            "core_role",
            "auth_user_groups",
            "auth_group",
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
