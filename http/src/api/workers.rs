//! `workers/`: list and show. Workers are `core_appstatus` rows of type `worker`.

use pith_entities::entity::app_status;
use pith_entities::sea_orm::sea_query::{Condition, Expr, ExprTrait};
use pith_entities::sea_orm::{EntityTrait, QueryFilter};
use pith_entities::time;
use serde_json::{Value, json};

use super::{Ctx, ok, parse_id};
use crate::listing::{self, lookup};
use crate::request::Response;
use crate::{ApiError, Req};

pub const FILTERS: [&str; 20] = [
    "name",
    "name__iexact",
    "name__in",
    "name__contains",
    "name__icontains",
    "name__startswith",
    "name__istartswith",
    "name__ne",
    "last_heartbeat",
    "last_heartbeat__lt",
    "last_heartbeat__lte",
    "last_heartbeat__gt",
    "last_heartbeat__gte",
    "last_heartbeat__range",
    "online",
    "missing",
    "pulp_id__in",
    "pulp_href__in",
    "prn__in",
    "name__regex",
];
pub const ORDERABLE: [&str; 6] = [
    "pk",
    "pulp_id",
    "pulp_created",
    "pulp_last_updated",
    "name",
    "last_heartbeat",
];

/// Each worker's current task, derived from the task table (a task's owner is the worker that
/// runs it), so starting and finishing tasks costs no write to the worker rows.
async fn current_tasks(
    ctx: &Ctx,
    names: Vec<String>,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    use pith_entities::entity::task;
    use pith_entities::sea_orm::ColumnTrait;
    if names.is_empty() {
        return Ok(Default::default());
    }
    let rows = task::Entity::find()
        .filter(task::Column::State.is_in(["running", "canceling"]))
        .filter(task::Column::Owner.is_in(names))
        .all(&ctx.state.db.read)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|t| Some((t.owner?, t.pulp_id)))
        .collect())
}

fn serialize(ctx: &Ctx, w: app_status::Model, current: Option<&String>) -> Value {
    let v3 = ctx.v3();
    json!({
        "pulp_href": format!("{v3}workers/{}/", w.pulp_id),
        "prn": format!("prn:core.appstatus:{}", w.pulp_id),
        "pulp_created": time::to_rfc3339(w.pulp_created),
        "pulp_last_updated": time::to_rfc3339(w.pulp_last_updated),
        "name": w.name,
        "last_heartbeat": time::to_rfc3339(w.last_heartbeat),
        "versions": serde_json::from_str::<Value>(&w.versions).unwrap_or_else(|_| ctx.state.platform.versions.clone()),
        "current_task": current.map(|t| format!("{v3}tasks/{t}/")),
    })
}

/// `GET workers/`.
pub async fn list(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let p = listing::parse(req, &FILTERS, &ORDERABLE)?;
    let v3 = ctx.v3();
    let now = ctx
        .state
        .db
        .clock()
        .await
        .unwrap_or_else(|_| time::now_micros());
    let online =
        || Expr::col("last_heartbeat").gte(Expr::val(now).sub(Expr::col("ttl").mul(1_000_000i64)));
    let mut cond = Condition::all().add(Expr::col("app_type").eq("worker"));
    for (name, value) in &p.filters {
        let truthy = matches!(value.as_str(), "true" | "True" | "1");
        let (field, lk) = lookup(name);
        let e = match field {
            "name" if lk == "regex" => {
                return Err(ApiError::field(
                    name,
                    "Regular expressions are not supported by Pith.",
                ));
            }
            "name" => listing::text("name", lk, value)?,
            "last_heartbeat" => listing::time(name, "last_heartbeat", lk, value)?,
            "online" => {
                if truthy {
                    online()
                } else {
                    online().not()
                }
            }
            "missing" => {
                if truthy {
                    online().not()
                } else {
                    online()
                }
            }
            f => listing::identity_filter(f, value, &v3, "workers", "core.appstatus")?,
        };
        cond = cond.add(e);
    }
    let (count, rows) =
        listing::fetch_page::<app_status::Entity>(&ctx.state.db.read, cond, &p).await?;
    let current = current_tasks(ctx, rows.iter().map(|w| w.name.clone()).collect()).await?;
    let results = rows
        .into_iter()
        .map(|w| {
            let c = current.get(&w.name).cloned();
            serialize(ctx, w, c.as_ref())
        })
        .collect();
    Ok(ok(&listing::page(req, &p, count, results)))
}

/// `GET workers/<id>/`.
pub async fn read(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id, "AppStatus")?;
    let w = app_status::Entity::find_by_id(id.to_string())
        .one(&ctx.state.db.read)
        .await?
        .filter(|w| w.app_type == "worker")
        .ok_or_else(|| ApiError::not_found("AppStatus"))?;
    let current = current_tasks(ctx, vec![w.name.clone()]).await?;
    let c = current.get(&w.name).cloned();
    Ok(ok(&listing::select_from_query(
        serialize(ctx, w, c.as_ref()),
        req,
    )))
}
