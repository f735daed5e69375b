//! Pulp's generic create, update and delete tasks (`general_create`, `ageneral_update`,
//! `general_delete`), for the tables Pith exposes through them. Arguments: `{"table", "id",
//! "fields"}` (create: `{"table", …}` as the creator of that table reads them).

use crate::tasks::TaskError;
use pith_entities::entity::{remote, repository};
use pith_entities::sea_orm::{
    ActiveModelTrait, EntityTrait, IntoActiveModel, Set, TransactionTrait,
};

use crate::plugin::Master;
use pith_entities::time::now_micros;

use super::{TaskContext, TaskOutput, db_err};

fn arg(ctx: &TaskContext, name: &str) -> Result<String, TaskError> {
    ctx.args
        .get(name)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| TaskError::Invalid(format!("Missing argument '{name}'.")))
}

/// Creates an object with the `general_create` body that core or a plugin declared for the
/// `table` argument.
pub(super) async fn create(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let table = arg(&ctx, "table")?;
    let run = ctx
        .deps
        .bodies
        .creator(&table)
        .ok_or_else(|| TaskError::Invalid(format!("Cannot create rows of {table}.")))?;
    run(ctx).await
}

/// Applies validated field values to a row.
pub(super) async fn update(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let (table, id) = (arg(&ctx, "table")?, arg(&ctx, "id")?);
    let db = &ctx.deps.db;
    let empty = serde_json::Map::new();
    let fields = ctx
        .args
        .get("fields")
        .and_then(|v| v.as_object())
        .unwrap_or(&empty);
    match table.as_str() {
        "core_remote" => {
            let row = remote::Entity::find_by_id(id.clone())
                .one(&db.read)
                .await
                .map_err(db_err)?;
            let row =
                row.ok_or_else(|| TaskError::Invalid(format!("Remote {id} no longer exists.")))?;
            let (table, detail, core) =
                ctx.deps
                    .types
                    .split_fields(Master::Remote, &row.pulp_type, fields);
            let mut am = row.into_active_model();
            for (k, v) in &core {
                pith_entities::remotes::set_field(&mut am, k, v).map_err(TaskError::Invalid)?;
            }
            am.pulp_last_updated = Set(now_micros());
            let txn = db.write.begin().await?;
            am.update(&txn).await?;
            if let Some(t) = &table {
                pith_entities::detail::save(db, &txn, t, &id, &detail).await?;
            }
            txn.commit().await?;
        }
        "core_repository" => {
            let row = repository::Entity::find_by_id(id.clone())
                .one(&db.read)
                .await
                .map_err(db_err)?;
            let row = row
                .ok_or_else(|| TaskError::Invalid(format!("Repository {id} no longer exists.")))?;
            // The type's own fields go to its detail table, the rest to core's.
            let (table, detail, core) =
                ctx.deps
                    .types
                    .split_fields(Master::Repository, &row.pulp_type, fields);
            let mut am = row.into_active_model();
            for (k, v) in &core {
                pith_entities::repositories::set_field(&mut am, k, v)
                    .map_err(TaskError::Invalid)?;
            }
            am.pulp_last_updated = Set(now_micros());
            let txn = db.write.begin().await?;
            am.update(&txn).await?;
            if let Some(t) = &table {
                pith_entities::detail::save(db, &txn, t, &id, &detail).await?;
            }
            // A new `retain_repo_versions` applies at once, as Pulp's update hook does.
            if let Some(keep) = fields.get("retain_repo_versions").and_then(|v| v.as_i64()) {
                pith_entities::versions::retain(db, &txn, &id, keep).await?;
            }
            // So does a new `retain_checkpoints`.
            if fields.contains_key("retain_checkpoints") {
                pith_entities::publications::retain_checkpoints(db, &txn, &id).await?;
            }
            txn.commit().await?;
        }
        "core_distribution" => {
            super::distribution::update(db, &ctx.deps.types, &id, fields).await?
        }
        other => {
            return Err(TaskError::Invalid(format!(
                "Cannot update rows of {other}."
            )));
        }
    }
    // Pulp's `ageneral_update` returns the serialized object.
    let text = |k: &str| ctx.args.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let (v3, base) = (text("v3"), text("content_base"));
    let v3 = if v3.is_empty() { "/pulp/api/v3/" } else { v3 };
    let result = ctx
        .deps
        .serializers
        .updated(&ctx.deps, v3, base, &table, &id)
        .await?;
    Ok(TaskOutput {
        result,
        created: Vec::new(),
    })
}

/// Deletes a row (a repository with its versions and memberships).
pub(super) async fn delete(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let (table, id) = (arg(&ctx, "table")?, arg(&ctx, "id")?);
    let db = &ctx.deps.db;
    let (key, n) = match table.as_str() {
        "core_remote" => {
            let n = pith_entities::remotes::delete(db, &id).await?;
            ("core.Remote", n)
        }
        "core_repository" => {
            let n = pith_entities::repositories::delete(db, &id).await?;
            ("core.Repository", n)
        }
        "core_distribution" => {
            let n = pith_entities::distributions::delete(db, &id).await?;
            ("core.Distribution", n)
        }
        other => {
            return Err(TaskError::Invalid(format!(
                "Cannot delete rows of {other}."
            )));
        }
    };
    Ok(TaskOutput {
        result: Some(serde_json::json!({ key: n })),
        created: Vec::new(),
    })
}
