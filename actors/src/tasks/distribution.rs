//! Distributions: the create and update task bodies.

use crate::tasks::TaskError;
use pith_entities::Db;
use pith_entities::entity::distribution;
use pith_entities::sea_orm::{
    ActiveModelTrait, EntityTrait, IntoActiveModel, Set, TransactionTrait,
};
use pith_entities::time::now_micros;
use serde_json::{Map, Value};

use super::{TaskContext, TaskOutput, db_err};
use crate::plugin::{Master, Types, unknown};

/// Sets one (validated) field; references are ids.
pub fn set_field(
    am: &mut distribution::ActiveModel,
    key: &str,
    v: &Value,
) -> Result<(), TaskError> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    match key {
        "name" => am.name = Set(text(v).unwrap_or_default()),
        "base_path" => am.base_path = Set(text(v).unwrap_or_default()),
        "pulp_labels" => {
            am.pulp_labels = Set(if v.is_null() {
                "{}".into()
            } else {
                v.to_string()
            })
        }
        "hidden" => am.hidden = Set(v.as_bool().unwrap_or(false)),
        "repository" => am.repository_id = Set(text(v)),
        "repository_version" => am.repository_version_id = Set(text(v)),
        "publication" => am.publication_id = Set(text(v)),
        "remote" => am.remote_id = Set(text(v)),
        "checkpoint" => am.checkpoint = Set(v.as_bool().unwrap_or(false)),
        "content_guard" => am.content_guard_id = Set(text(v)),
        other => {
            return Err(TaskError::Invalid(format!(
                "unknown distribution field {other:?}"
            )));
        }
    }
    Ok(())
}

/// `general_create` of a distribution: `{table, pulp_type, v3, content_base, fields}`.
pub(super) async fn create(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let db = &ctx.deps.db;
    let v3 = ctx
        .args
        .get("v3")
        .and_then(Value::as_str)
        .unwrap_or("/pulp/api/v3/")
        .to_owned();
    let base = ctx
        .args
        .get("content_base")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let empty = Map::new();
    let fields = ctx
        .args
        .get("fields")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let pulp_type = ctx
        .args
        .get("pulp_type")
        .and_then(Value::as_str)
        .ok_or_else(|| TaskError::invalid("Missing argument 'pulp_type'."))?;
    let ty = *ctx
        .deps
        .types
        .distribution(pulp_type)
        .ok_or_else(|| TaskError::Invalid(unknown("distribution", pulp_type)))?;
    let now = now_micros();
    let mut am = distribution::ActiveModel {
        pulp_id: Set(uuid::Uuid::now_v7().to_string()),
        pulp_type: Set(pulp_type.to_owned()),
        pulp_labels: Set("{}".into()),
        hidden: Set(false),
        repository_id: Set(None),
        repository_version_id: Set(None),
        publication_id: Set(None),
        remote_id: Set(None),
        checkpoint: Set(false),
        content_guard_id: Set(None),
        pulp_created: Set(now),
        pulp_last_updated: Set(now),
        ..Default::default()
    };
    let (table, detail, core) =
        ctx.deps
            .types
            .split_fields(Master::Distribution, pulp_type, fields);
    for (k, v) in &core {
        set_field(&mut am, k, v)?;
    }
    // The unique indexes settle races between two creates of the same name or base path.
    let txn = db.write.begin().await?;
    let d = am.insert(&txn).await.map_err(|e| {
        TaskError::Invalid(format!(
            "Could not create the distribution (name and base_path must be unique): {e}"
        ))
    })?;
    if let Some(t) = &table {
        pith_entities::detail::save(db, &txn, t, &d.pulp_id, &detail).await?;
    }
    txn.commit().await?;
    pith_entities::distributions::record_served(db, &d.pulp_id).await?;
    let json = ctx
        .deps
        .serializers
        .distribution(&ctx.deps, &v3, &base, &d)
        .await
        .map_err(db_err)?;
    Ok(TaskOutput {
        result: Some(json),
        created: vec![(ty.href(&v3, &d.pulp_id), ty.prn(&d.pulp_id))],
    })
}

/// Applies validated fields (used by `ageneral_update`).
pub(super) async fn update(
    db: &Db,
    types: &Types,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<(), TaskError> {
    let row = distribution::Entity::find_by_id(id.to_owned())
        .one(&db.read)
        .await
        .map_err(db_err)?;
    let row =
        row.ok_or_else(|| TaskError::Invalid(format!("Distribution {id} no longer exists.")))?;
    let (table, detail, core) = types.split_fields(Master::Distribution, &row.pulp_type, fields);
    let mut am = row.into_active_model();
    for (k, v) in &core {
        set_field(&mut am, k, v)?;
    }
    am.pulp_last_updated = Set(now_micros());
    let txn = db.write.begin().await?;
    am.update(&txn).await?;
    if let Some(t) = &table {
        pith_entities::detail::save(db, &txn, t, id, &detail).await?;
    }
    txn.commit().await?;
    pith_entities::distributions::record_served(db, id).await?;
    Ok(())
}
