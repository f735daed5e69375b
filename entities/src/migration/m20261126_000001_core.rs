#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! The core tables: tasks and their resources, progress and created resources, app status
//! (workers, API and content apps), the lock-service lease, artifacts, content, users.

use sea_orm_migration::prelude::*;

use super::columns::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("core_task")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .col(text("state"))
                .col(text("name"))
                .col(text("logging_cid"))
                .col(text_null("created_by"))
                .col(big_null("unblocked_at"))
                .col(big_null("started_at"))
                .col(big_null("finished_at"))
                .col(text_null("error"))
                .col(text_null("result"))
                .col(text("args"))
                .col(big_null("queue_seq"))
                .col(text_null("owner"))
                .col(text_null("owner_incarnation"))
                .col(boolean("immediate", false))
                .col(boolean("deferred", true))
                .col(text_null("parent_task"))
                .col(text_null("task_group"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("core_task", "core_task_state_idx", &["state"]))
            .await?;
        m.create_index(index(
            "core_task",
            "core_task_created_idx",
            &["pulp_created"],
        ))
        .await?;
        m.create_index(index("core_task", "core_task_queue_idx", &["queue_seq"]))
            .await?;

        m.create_table(
            Table::create()
                .table("core_taskresource")
                .if_not_exists()
                .col(ColumnDef::new("task_id").string_len(36).not_null())
                .col(text("resource"))
                .col(boolean("exclusive", true))
                .primary_key(Index::create().col("task_id").col("resource"))
                .foreign_key(
                    ForeignKey::create()
                        .from("core_taskresource", "task_id")
                        .to("core_task", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "core_taskresource",
            "core_taskresource_res_idx",
            &["resource"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("core_progressreport")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("task_id").string_len(36).not_null())
                .col(ColumnDef::new("position").integer().not_null())
                .col(text("message"))
                .col(text("code"))
                .col(text("state"))
                .col(big_null("total"))
                .col(big("done"))
                .col(text_null("suffix"))
                .foreign_key(
                    ForeignKey::create()
                        .from("core_progressreport", "task_id")
                        .to("core_task", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "core_progressreport",
            "core_progressreport_task_idx",
            &["task_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("core_createdresource")
                .if_not_exists()
                .col(ColumnDef::new("task_id").string_len(36).not_null())
                .col(ColumnDef::new("position").integer().not_null())
                .col(text("href"))
                .col(text("prn"))
                .primary_key(Index::create().col("task_id").col("position"))
                .foreign_key(
                    ForeignKey::create()
                        .from("core_createdresource", "task_id")
                        .to("core_task", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "core_createdresource",
            "core_createdresource_href_idx",
            &["href"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("core_appstatus")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("name").text().not_null().unique_key())
                .col(text("app_type"))
                .col(text("node"))
                .col(text("incarnation"))
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .col(big("last_heartbeat"))
                .col(big("ttl"))
                .col(text_null("current_task"))
                .col(text("versions"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("core_locklease")
                .if_not_exists()
                .col(ColumnDef::new("id").integer().not_null().primary_key())
                .col(big("epoch"))
                .col(text_null("holder"))
                .col(big("renewed_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("core_artifact")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .col(text("file"))
                .col(big("size"))
                .col(text_null("md5"))
                .col(text_null("sha1"))
                .col(text_null("sha224"))
                .col(ColumnDef::new("sha256").text().not_null().unique_key())
                .col(text_null("sha384"))
                .col(text_null("sha512"))
                .col(big("timestamp_of_interest"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("core_content")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(text("pulp_type"))
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .col(big("timestamp_of_interest"))
                .col(text("pulp_labels"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "core_content",
            "core_content_type_idx",
            &["pulp_type"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("core_contentartifact")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("content_id").string_len(36).not_null())
                .col(ColumnDef::new("artifact_id").string_len(36).null())
                .col(text("relative_path"))
                .foreign_key(
                    ForeignKey::create()
                        .from("core_contentartifact", "content_id")
                        .to("core_content", "pulp_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("core_contentartifact", "artifact_id")
                        .to("core_artifact", "pulp_id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "core_contentartifact",
            "core_contentartifact_content_idx",
            &["content_id"],
        ))
        .await?;
        m.create_index(index(
            "core_contentartifact",
            "core_contentartifact_artifact_idx",
            &["artifact_id"],
        ))
        .await?;

        // Version membership as ranges (Pulp's core_repositorycontent): content is in version N
        // of a repository when version_added <= N < version_removed (or removed is null).
        m.create_table(
            Table::create()
                .table("core_repositorycontent")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("repository_id").string_len(36).not_null())
                .col(ColumnDef::new("content_id").string_len(36).not_null())
                .col(big("version_added"))
                .col(big_null("version_removed"))
                .foreign_key(
                    ForeignKey::create()
                        .from("core_repositorycontent", "content_id")
                        .to("core_content", "pulp_id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "core_repositorycontent",
            "core_repositorycontent_content_idx",
            &["content_id"],
        ))
        .await?;
        m.create_index(index(
            "core_repositorycontent",
            "core_repositorycontent_repo_idx",
            &["repository_id", "version_added"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("auth_user")
                .if_not_exists()
                .col(
                    ColumnDef::new("id")
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new("username").text().not_null().unique_key())
                .col(text("password"))
                .col(boolean("is_superuser", false))
                .col(big("pulp_created"))
                .col(big("pulp_last_updated"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("core_systemid")
                .if_not_exists()
                .col(id("pulp_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("core_domain")
                .if_not_exists()
                .col(id("pulp_id"))
                .col(ColumnDef::new("name").text().not_null().unique_key())
                .col(big("pulp_created"))
                .to_owned(),
        )
        .await?;
        // Pulp always has a default domain; tasks reserve resources named after it.
        let now = chrono::Utc::now().timestamp_micros();
        let domain = Query::insert()
            .into_table("core_domain")
            .columns(["pulp_id", "name", "pulp_created"])
            .values([
                uuid::Uuid::now_v7().to_string().into(),
                "default".into(),
                now.into(),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .to_owned();
        m.exec_stmt(domain).await?;
        let system = Query::insert()
            .into_table("core_systemid")
            .columns(["pulp_id"])
            .values([uuid::Uuid::new_v4().to_string().into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .to_owned();
        m.exec_stmt(system).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "core_domain",
            "core_systemid",
            "auth_user",
            "core_repositorycontent",
            "core_contentartifact",
            "core_content",
            "core_artifact",
            "core_locklease",
            "core_appstatus",
            "core_createdresource",
            "core_progressreport",
            "core_taskresource",
            "core_task",
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
