//! Distributions: Pulp's JSON, and the create / update / delete task bodies.

use crate::tasks::TaskError;
use pith_entities::entity::{distribution, repository_version as version};
use pith_entities::sea_orm::{
    ActiveModelTrait, EntityTrait, IntoActiveModel, Set, TransactionTrait,
};
use pith_entities::time::{now_micros, to_rfc3339};
use pith_entities::{Db, DbError};
use serde_json::{Map, Value, json};

use super::{TaskContext, TaskOutput, db_err};
use crate::plugin::{Master, Types, unknown};

/// Pulp's JSON for a distribution; `content_base` is `CONTENT_ORIGIN` + `CONTENT_PATH_PREFIX`.
pub async fn distribution_json(
    db: &Db,
    types: &Types,
    v3: &str,
    content_base: &str,
    d: &distribution::Model,
) -> Result<Value, DbError> {
    let mut v = distributions_json(db, types, v3, content_base, std::slice::from_ref(d)).await?;
    v.pop()
        .ok_or_else(|| DbError::Corrupt("no distribution JSON".into()))
}

/// Pulp's JSON for distributions, with the hrefs of the repositories and versions they name
/// found in one query each.
pub async fn distributions_json(
    db: &Db,
    types: &Types,
    v3: &str,
    content_base: &str,
    rows: &[distribution::Model],
) -> Result<Vec<Value>, DbError> {
    use pith_entities::sea_orm::{ColumnTrait, QueryFilter};
    let ids: Vec<String> = rows
        .iter()
        .filter_map(|d| d.repository_version_id.clone())
        .collect();
    let versions = if ids.is_empty() {
        Vec::new()
    } else {
        version::Entity::find()
            .filter(version::Column::PulpId.is_in(ids))
            .all(&db.read)
            .await?
    };
    let mut repo_ids: Vec<String> = rows
        .iter()
        .filter_map(|d| d.repository_id.clone())
        .collect();
    repo_ids.extend(versions.iter().map(|v| v.repository_id.clone()));
    repo_ids.sort();
    repo_ids.dedup();
    let repos = super::repository::repository_hrefs(db, types, v3, &repo_ids).await?;
    let versions: std::collections::HashMap<String, String> = versions
        .into_iter()
        .filter_map(|v| {
            let repo = repos.get(&v.repository_id)?;
            Some((v.pulp_id, super::repository::version_href(repo, v.number)))
        })
        .collect();
    let typed: Vec<(&str, &str)> = rows
        .iter()
        .map(|d| (d.pulp_id.as_str(), d.pulp_type.as_str()))
        .collect();
    let mut details = super::detail_fields(db, types, Master::Distribution, &typed).await?;
    Ok(rows
        .iter()
        .map(|d| {
            let version = d
                .repository_version_id
                .as_ref()
                .and_then(|id| versions.get(id).cloned());
            let fixed = d.publication_id.is_some() || d.repository_version_id.is_some();
            let own = types.distribution(&d.pulp_type).or(types.distributions.first());
            let publication = d.publication_id.as_ref().map(|p| {
                match types.publication(&d.pulp_type).or(types.publications.first()) {
                    Some(t) => t.href(v3, p),
                    None => format!("{v3}publications/{p}/"),
                }
            });
            let mut j = json!({
                "pulp_href": own.map(|t| t.href(v3, &d.pulp_id)),
                "prn": own.map(|t| t.prn(&d.pulp_id)),
                "pulp_created": to_rfc3339(d.pulp_created),
                "pulp_last_updated": to_rfc3339(d.pulp_last_updated),
                "base_path": d.base_path,
                "base_url": format!("{content_base}{}/", d.base_path),
                "content_guard": null,
                "content_guard_prn": null,
                "no_content_change_since": fixed.then(|| to_rfc3339(d.pulp_last_updated)),
                "hidden": d.hidden,
                "pulp_labels": serde_json::from_str::<Value>(&d.pulp_labels).unwrap_or_else(|_| json!({})),
                "name": d.name,
                "repository": d.repository_id.as_ref().and_then(|r| repos.get(r)),
                "repository_version": version,
                "publication": publication,
                "checkpoint": false,
            });
            if let (Some(obj), Some(own)) = (j.as_object_mut(), details.remove(&d.pulp_id)) {
                obj.extend(own);
            }
            j
        })
        .collect())
}

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
    let json = distribution_json(db, &ctx.deps.types, &v3, &base, &d)
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
    Ok(())
}
