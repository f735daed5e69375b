//! `tasks/`: list (Pulp's filters), show, cancel, delete, and `tasks/purge/`.

use std::collections::BTreeMap;

use pith_actors::tasking::{CancelOutcome, TaskSpec};
use pith_actors::tasks::PURGE;
use pith_entities::entity::{created_resource, progress_report, task, task_resource};
use pith_entities::sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use pith_entities::sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use pith_entities::{TaskState, time};
use serde_json::{Value, json};
use warp::http::StatusCode;

use super::{Ctx, accepted, ok, parse_id};
use crate::error::FieldErrors;
use crate::listing::{self, ListParams, id_from_ref, lookup};
use crate::request::{Response, empty};
use crate::{ApiError, Req};

const TIME_LOOKUPS: [&str; 6] = ["", "__lt", "__lte", "__gt", "__gte", "__range"];

/// Every filter `tasks/` accepts.
pub fn filter_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "state",
        "state__in",
        "state__ne",
        "name",
        "name__contains",
        "name__in",
        "name__ne",
        "logging_cid",
        "logging_cid__contains",
        "parent_task",
        "child_tasks",
        "task_group",
        "created_resources",
        "worker",
        "worker__in",
        "reserved_resources",
        "reserved_resources__in",
        "exclusive_resources",
        "exclusive_resources__in",
        "shared_resources",
        "shared_resources__in",
        "pulp_id__in",
        "pulp_href__in",
        "prn__in",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for f in ["pulp_created", "started_at", "finished_at", "unblocked_at"] {
        v.extend(TIME_LOOKUPS.iter().map(|l| format!("{f}{l}")));
    }
    v
}

pub const ORDERABLE: [&str; 10] = [
    "pk",
    "pulp_id",
    "pulp_created",
    "pulp_last_updated",
    "state",
    "name",
    "logging_cid",
    "unblocked_at",
    "started_at",
    "finished_at",
];

fn href(v3: &str, id: &str) -> String {
    format!("{v3}tasks/{id}/")
}

/// Builds the filter condition of a task list.
fn condition(ctx: &Ctx, p: &ListParams) -> Result<Condition, ApiError> {
    let v3 = ctx.v3();
    let mut cond = Condition::all();
    let res_sub = |value: &str, exclusive: Option<bool>| {
        let mut q = Query::select();
        q.column("task_id").from("core_taskresource").and_where(
            Expr::col("resource").is_in(
                value
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .collect::<Vec<_>>(),
            ),
        );
        if let Some(x) = exclusive {
            q.and_where(Expr::col("exclusive").eq(x));
        }
        Expr::col("pulp_id").in_subquery(q.to_owned())
    };
    for (name, value) in &p.filters {
        let (field, lk) = lookup(name);
        let expr = match field {
            "state" => {
                for s in value.split(',') {
                    if TaskState::parse(s.trim()).is_none() {
                        return Err(ApiError::field(
                            name,
                            format!(
                                "Select a valid choice. {} is not one of the available choices.",
                                s.trim()
                            ),
                        ));
                    }
                }
                listing::text("state", lk, value)?
            }
            "name" => listing::text("name", lk, value)?,
            "logging_cid" => listing::text("logging_cid", lk, value)?,
            "pulp_created" | "started_at" | "finished_at" | "unblocked_at" => {
                let col: &'static str = match field {
                    "pulp_created" => "pulp_created",
                    "started_at" => "started_at",
                    "finished_at" => "finished_at",
                    _ => "unblocked_at",
                };
                listing::time(name, col, lk, value)?
            }
            "parent_task" | "task_group" => {
                let col: &'static str = if field == "parent_task" {
                    "parent_task"
                } else {
                    "task_group"
                };
                let coll = if field == "parent_task" {
                    "tasks"
                } else {
                    "task-groups"
                };
                let prn = if field == "parent_task" {
                    "core.task"
                } else {
                    "core.taskgroup"
                };
                match id_from_ref(&v3, coll, prn, value) {
                    Some(id) => Expr::col(col).eq(id),
                    None => return Err(ApiError::field(name, "Invalid href or PRN.")),
                }
            }
            "child_tasks" => match id_from_ref(&v3, "tasks", "core.task", value) {
                Some(id) => {
                    let q = Query::select()
                        .column("parent_task")
                        .from("core_task")
                        .and_where(Expr::col("pulp_id").eq(id))
                        .to_owned();
                    Expr::col("pulp_id").in_subquery(q)
                }
                None => return Err(ApiError::field(name, "Invalid href or PRN.")),
            },
            "created_resources" => {
                if !names_a_resource(&v3, value.trim()) {
                    return Err(ApiError::field(
                        name,
                        format!("URI not valid: {}", value.trim()),
                    ));
                }
                let q = Query::select()
                    .column("task_id")
                    .from("core_createdresource")
                    .and_where(
                        Expr::col("href")
                            .eq(value.trim())
                            .or(Expr::col("prn").eq(value.trim())),
                    )
                    .to_owned();
                Expr::col("pulp_id").in_subquery(q)
            }
            // Pulp no longer links tasks to workers; any value matches nothing.
            "worker" => Expr::val(1).eq(0),
            "reserved_resources" => res_sub(value, None),
            "exclusive_resources" => res_sub(value, Some(true)),
            "shared_resources" => res_sub(value, Some(false)),
            "pulp_id" | "pulp_href" | "prn" => {
                listing::identity_filter(field, value, &v3, "tasks", "core.task")?
            }
            _ => {
                return Err(ApiError::BadRequest(
                    json!({ "errors": [format!("Invalid Filter: '{name}'")] }),
                ));
            }
        };
        cond = cond.add(expr);
    }
    Ok(cond)
}

/// Serializes task rows with their progress reports, created and reserved resources
/// (three queries for the whole page, whatever its size).
pub async fn serialize(
    ctx: &Ctx,
    rows: Vec<task::Model>,
    minimal: bool,
) -> Result<Vec<Value>, ApiError> {
    let v3 = ctx.v3();
    let db = &ctx.state.db.read;
    let ids: Vec<String> = rows.iter().map(|t| t.pulp_id.clone()).collect();
    let mut progress: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut created: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut reserved: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if !minimal && !ids.is_empty() {
        for chunk in ids.chunks(pith_entities::MAX_BIND) {
            for r in progress_report::Entity::find()
                .filter(progress_report::Column::TaskId.is_in(chunk.to_vec()))
                .order_by_asc(progress_report::Column::Position)
                .all(db)
                .await?
            {
                progress.entry(r.task_id).or_default().push(json!({
                    "message": r.message, "code": r.code, "state": r.state, "total": r.total, "done": r.done, "suffix": r.suffix,
                }));
            }
            for r in created_resource::Entity::find()
                .filter(created_resource::Column::TaskId.is_in(chunk.to_vec()))
                .order_by_asc(created_resource::Column::Position)
                .all(db)
                .await?
            {
                created.entry(r.task_id).or_default().push((r.href, r.prn));
            }
            for r in task_resource::Entity::find()
                .filter(task_resource::Column::TaskId.is_in(chunk.to_vec()))
                .order_by_desc(task_resource::Column::Exclusive)
                .order_by_asc(task_resource::Column::Resource)
                .all(db)
                .await?
            {
                let rec = if r.exclusive {
                    r.resource
                } else {
                    format!("shared:{}", r.resource)
                };
                reserved.entry(r.task_id).or_default().push(rec);
            }
        }
    }
    let ts = |t: Option<i64>| t.map(time::to_rfc3339);
    let out = rows
        .into_iter()
        .map(|t| {
            let id = t.pulp_id.clone();
            if minimal {
                return json!({
                    "pulp_href": href(&v3, &id), "prn": format!("prn:core.task:{id}"),
                    "pulp_created": time::to_rfc3339(t.pulp_created), "pulp_last_updated": time::to_rfc3339(t.pulp_last_updated),
                    "name": t.name, "state": t.state, "unblocked_at": ts(t.unblocked_at), "started_at": ts(t.started_at),
                    "finished_at": ts(t.finished_at), "worker": null,
                });
            }
            let c = created.remove(&id).unwrap_or_default();
            json!({
                "pulp_href": href(&v3, &id),
                "prn": format!("prn:core.task:{id}"),
                "pulp_created": time::to_rfc3339(t.pulp_created),
                "pulp_last_updated": time::to_rfc3339(t.pulp_last_updated),
                "state": t.state,
                "name": t.name,
                "logging_cid": t.logging_cid,
                "created_by": t.created_by,
                "unblocked_at": ts(t.unblocked_at),
                "started_at": ts(t.started_at),
                "finished_at": ts(t.finished_at),
                "error": t.error.as_deref().and_then(|e| serde_json::from_str::<Value>(e).ok()),
                "worker": null,
                "parent_task": t.parent_task.map(|p| href(&v3, &p)),
                "child_tasks": [],
                "task_group": t.task_group.map(|g| format!("{v3}task-groups/{g}/")),
                "progress_reports": progress.remove(&id).unwrap_or_default(),
                "created_resources": c.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>(),
                "created_resource_prns": c.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>(),
                "reserved_resources_record": reserved.remove(&id).unwrap_or_default(),
                "result": t.result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()),
                "pulp_api_version": "v3",
            })
        })
        .collect();
    Ok(out)
}

/// `GET tasks/`.
pub async fn list(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let names = filter_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = listing::parse(req, &names, &ORDERABLE)?;
    let cond = listing::scoped(condition(ctx, &p)?, &ctx.scope);
    let (count, rows) = listing::fetch_page::<task::Entity>(&ctx.state.db.read, cond, &p).await?;
    let results = serialize(ctx, rows, p.minimal).await?;
    Ok(ok(&listing::page(req, &p, count, results)))
}

async fn load(ctx: &Ctx, raw_id: &str) -> Result<task::Model, ApiError> {
    let id = parse_id(raw_id, "Task")?;
    task::Entity::find_by_id(id.to_string())
        .one(&ctx.state.db.read)
        .await?
        .ok_or_else(|| ApiError::not_found("Task"))
}

async fn one(ctx: &Ctx, t: task::Model) -> Result<Value, ApiError> {
    serialize(ctx, vec![t], false)
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("task vanished".into()))
}

/// `GET tasks/<id>/`.
pub async fn read(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let t = load(ctx, id).await?;
    Ok(ok(&listing::select_from_query(one(ctx, t).await?, req)))
}

/// `PATCH tasks/<id>/ {"state": "canceled"}`.
pub async fn cancel(ctx: &Ctx, req: &mut Req, id: &str) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let t = load(ctx, id).await?;
    match body.get("state") {
        Some(Value::String(s)) if s == "canceled" => {}
        Some(Value::String(s)) => {
            return Err(ApiError::field(
                "state",
                format!("\"{s}\" is not a valid choice."),
            ));
        }
        Some(_) => return Err(ApiError::field("state", "\"\" is not a valid choice.")),
        None => return Err(ApiError::field("state", "This field is required.")),
    }
    let task_id = parse_id(&t.pulp_id, "Task")?;
    let outcome = ctx.state.tasking.cancel(task_id).await?;
    let fresh = load(ctx, id).await?;
    let body = one(ctx, fresh).await?;
    match outcome {
        CancelOutcome::NotFound => Err(ApiError::not_found("Task")),
        CancelOutcome::AlreadyFinal => Err(ApiError::Conflict(body)),
        CancelOutcome::Requested => Ok(ok(&body)),
    }
}

/// `DELETE tasks/<id>/`: only finished tasks.
pub async fn delete(ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let t = load(ctx, id).await?;
    if !TaskState::parse(&t.state).is_some_and(TaskState::is_final) {
        return Err(ApiError::Conflict(
            json!({ "detail": "Cannot delete a task that is not finished (waiting, running or canceling)." }),
        ));
    }
    pith_entities::tasks::delete_finished(&ctx.state.db, &t.pulp_id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST tasks/purge/ {"finished_before"?: datetime, "states"?: [final states]}`.
pub async fn purge(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    // Pulp purges only the tasks a user may delete; Pith's purge task knows no user yet, so
    // only superusers purge (rather than anyone purging everyone's tasks).
    if ctx.user.as_ref().is_some_and(|u| !u.is_superuser) {
        return Err(ApiError::Forbidden);
    }
    let body = req.object(ctx.state.config.max_json_body).await?;
    let mut errs = FieldErrors::default();
    let mut finished_before = time::now_micros() - 30 * 86_400_000_000;
    let mut states = vec!["completed".to_owned()];
    for (k, v) in &body {
        match (k.as_str(), v) {
            ("finished_before", Value::String(s)) => match time::parse_rfc3339(s) {
                Some(t) => finished_before = t,
                None => errs.add(k, "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."),
            },
            ("finished_before", _) => errs.add(k, "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."),
            ("states", Value::Array(a)) => {
                states.clear();
                for s in a {
                    match s.as_str() {
                        Some(x @ ("completed" | "failed" | "canceled" | "skipped")) => states.push(x.to_owned()),
                        Some(x) => errs.add(k, format!("\"{x}\" is not a valid choice.")),
                        None => errs.add(k, "Expected a list of items."),
                    }
                }
            }
            ("states", _) => errs.add(k, "Expected a list of items but got type \"{}\"."),
            _ => errs.add(k, "Unexpected field"),
        }
    }
    errs.into_result()?;
    let domain = super::domain_id(&ctx.state).await?;
    let spec = TaskSpec {
        name: PURGE.into(),
        args: json!({ "finished_before": finished_before, "states": states }),
        exclusive: vec![],
        shared: vec![format!("prn:core.domain:{domain}")],
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        deferred: true,
        ..TaskSpec::default()
    };
    let id = ctx.dispatch(spec).await?;
    Ok(accepted(&ctx.v3(), id))
}

/// Whether `value` can name an object, as Pulp resolves a created resource: a PRN
/// (`prn:<type>:<id>`), or an href below `v3` ending in an id or a version number.
fn names_a_resource(v3: &str, value: &str) -> bool {
    if let Some(rest) = value.strip_prefix("prn:") {
        return rest.split(':').count() == 2;
    }
    let Some(path) = value.strip_prefix(v3) else {
        return false;
    };
    let mut parts = path.trim_end_matches('/').rsplit('/');
    match (parts.next(), parts.next()) {
        (Some(n), Some("versions")) => n.parse::<u64>().is_ok(),
        (Some(id), _) => uuid::Uuid::parse_str(id).is_ok(),
        _ => false,
    }
}
