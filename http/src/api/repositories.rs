//! A repository type's viewset (CRUD, labels, versions, modify) and the generic
//! `repositories/` and `repository_versions/` lists. Creating a repository also creates its empty version 0.

use pith_actors::plugin::Detail;
use pith_actors::plugin::Master;
use pith_actors::plugin::Types;
use pith_actors::tasking::TaskSpec;
use pith_actors::tasks::repository::{repository_hrefs, version_href};
use pith_actors::tasks::{GENERAL_DELETE, GENERAL_UPDATE};
use pith_entities::entity::repository_version;
use pith_entities::entity::{remote, repository, repository_version as version};
use pith_entities::repositories::set_field;
use pith_entities::{Db, DbError};

use super::details;
use pith_entities::sea_orm::sea_query::{Condition, Expr, ExprTrait};
use pith_entities::sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use pith_entities::{time, versions};
use serde_json::{Map, Value, json};
use warp::http::{HeaderValue, StatusCode};

use super::{Ctx, accepted, ok, parse_id};
use crate::error::FieldErrors;
use crate::listing::{self, lookup};
use crate::plugin::RepositoryViewSet;
use crate::request::{Response, json as json_resp};
use crate::{ApiError, Req};

pub const FILTERS: [&str; 16] = [
    "with_content",
    "latest_with_content",
    "name",
    "name__iexact",
    "name__in",
    "name__contains",
    "name__icontains",
    "name__startswith",
    "name__istartswith",
    "name__ne",
    "pulp_label_select",
    "remote",
    "pulp_id__in",
    "pulp_href__in",
    "prn__in",
    "retain_repo_versions",
];
pub const ORDERABLE: [&str; 6] = [
    "pk",
    "pulp_id",
    "pulp_created",
    "pulp_last_updated",
    "name",
    "description",
];
pub const VERSION_FILTERS: [&str; 17] = [
    "number",
    "number__lt",
    "number__lte",
    "number__gt",
    "number__gte",
    "number__range",
    "pulp_created",
    "pulp_created__lt",
    "pulp_created__lte",
    "pulp_created__gt",
    "pulp_created__gte",
    "pulp_created__range",
    "pulp_created__isnull",
    "content",
    "content__in",
    "pulp_href__in",
    "prn__in",
];
pub const VERSION_ORDERABLE: [&str; 5] = [
    "pk",
    "pulp_id",
    "pulp_created",
    "pulp_last_updated",
    "number",
];

/// The viewset of a stored repository's type (the first declared one for a row no plugin
/// declares, so that a list never fails on one stray row).
pub fn viewset_of<'a>(ctx: &'a Ctx, pulp_type: &str) -> Option<&'a RepositoryViewSet> {
    let all = &ctx.state.platform.repositories;
    all.iter()
        .find(|v| v.repositories.detail.pulp_type == pulp_type)
        .or(all.first())
}

/// Href of a repository.
pub fn href(ctx: &Ctx, r: &repository::Model) -> String {
    ctx.state
        .platform
        .types
        .repository_href(&ctx.v3(), &r.pulp_type, &r.pulp_id)
}

async fn serialize(ctx: &Ctx, r: &repository::Model) -> Result<Value, ApiError> {
    Ok(serialize_detached(&ctx.state.platform, &ctx.state.db, &ctx.v3(), r).await?)
}

/// A repository's JSON outside a request (a task's `result`).
pub async fn serialize_detached(
    platform: &crate::plugin::Platform,
    db: &Db,
    v3: &str,
    r: &repository::Model,
) -> Result<Value, DbError> {
    let latest = versions::latest_number(db, &db.read, &r.pulp_id).await?;
    let rows = [(r.pulp_id.as_str(), r.pulp_type.as_str())];
    let mut details = details::fields(db, &platform.types, Master::Repository, &rows).await?;
    Ok(serialize_with(
        platform,
        v3,
        r,
        latest,
        details.remove(&r.pulp_id),
    ))
}

/// Serializes a repository whose latest version number and detail fields are known.
fn serialize_with(
    platform: &crate::plugin::Platform,
    v3: &str,
    r: &repository::Model,
    latest: i64,
    details: Option<Map<String, Value>>,
) -> Value {
    let v3 = v3.to_owned();
    let h = platform
        .types
        .repository_href(&v3, &r.pulp_type, &r.pulp_id);
    let vs = platform
        .repositories
        .iter()
        .find(|v| v.repositories.detail.pulp_type == r.pulp_type)
        .or(platform.repositories.first());
    let remote_href = |id: &str| match vs.and_then(|v| v.remote_types.first()) {
        Some(t) => t.href(&v3, id),
        None => format!("{v3}remotes/{id}/"),
    };
    let mut j = json!({
        "pulp_href": h,
        "prn": vs.map(|v| v.repositories.detail.prn(&r.pulp_id)),
        "pulp_created": time::to_rfc3339(r.pulp_created),
        "pulp_last_updated": time::to_rfc3339(r.pulp_last_updated),
        "versions_href": format!("{h}versions/"),
        "pulp_labels": serde_json::from_str::<Value>(&r.pulp_labels).unwrap_or_else(|_| json!({})),
        "latest_version_href": version_href(&h, latest),
        "name": r.name,
        "description": r.description,
        "retain_repo_versions": r.retain_repo_versions,
        "retain_checkpoints": r.retain_checkpoints,
        "remote": r.remote_id.as_deref().map(remote_href),
    });
    if let (Some(obj), Some(d)) = (j.as_object_mut(), details) {
        obj.extend(d);
    }
    j
}

/// Serializes a version with its content summary (the same JSON task results carry).
pub async fn serialize_version(
    ctx: &Ctx,
    repo_href: &str,
    v: &version::Model,
) -> Result<Value, ApiError> {
    let p = &ctx.state.platform;
    Ok(version_json(&ctx.state.db, &p.types, &ctx.v3(), repo_href, v).await?)
}

async fn validate(
    ctx: &Ctx,
    body: &Map<String, Value>,
    existing: Option<&repository::Model>,
    partial: bool,
    vs: &RepositoryViewSet,
) -> Result<Map<String, Value>, ApiError> {
    let v3 = ctx.v3();
    let mut errs = FieldErrors::default();
    let mut out = Map::new();
    for (k, v) in body {
        let norm: Result<Value, String> = match k.as_str() {
            "name" => match v {
                Value::String(s) if s.trim().is_empty() => {
                    Err("This field may not be blank.".into())
                }
                Value::String(s) => Ok(json!(s.trim())),
                Value::Null => Err("This field may not be null.".into()),
                _ => Err("Not a valid string.".into()),
            },
            "description" => match v {
                Value::Null | Value::String(_) => Ok(v.clone()),
                _ => Err("Not a valid string.".into()),
            },
            "retain_repo_versions" | "retain_checkpoints" => match v {
                Value::Null => Ok(Value::Null),
                _ => match v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                {
                    Some(n) if n < 1 => {
                        Err("Ensure this value is greater than or equal to 1.".into())
                    }
                    Some(n) => Ok(json!(n)),
                    None => Err("A valid integer is required.".into()),
                },
            },
            "pulp_labels" => listing::validate_labels(v).map(|_| v.clone()),
            "remote" => match v {
                // An empty string is null, as for every DRF relational field.
                Value::Null => Ok(Value::Null),
                Value::String(s) if s.is_empty() => Ok(Value::Null),
                Value::String(s) => match listing::id_from_any(&v3, vs.remote_types, s) {
                    Some(id) => match remote::Entity::find_by_id(id.clone())
                        .one(&ctx.state.db.read)
                        .await?
                    {
                        Some(_) => Ok(json!(id)),
                        None => Err("Invalid hyperlink - Object does not exist.".into()),
                    },
                    None if s.contains("/remotes/") => {
                        Err(format!("Type for Remote '{s}' does not match Repository."))
                    }
                    None => Err("Invalid hyperlink - No URL match.".into()),
                },
                _ => Err("Incorrect type. Expected URL string, received dict.".into()),
            },
            other => match details::validate(
                ctx,
                Master::Repository,
                vs.repositories.detail.pulp_type,
                other,
                v,
            ) {
                Some(r) => r,
                None => {
                    errs.add(k, "Unexpected field");
                    continue;
                }
            },
        };
        match norm {
            Ok(n) => {
                out.insert(k.clone(), n);
            }
            Err(m) => errs.add(k, m),
        }
    }
    if !partial && !body.contains_key("name") {
        errs.add("name", "This field is required.");
    }
    if let Some(Value::String(name)) = out.get("name")
        && listing::name_taken::<repository::Entity>(
            &ctx.state.db.read,
            name,
            existing.map(|e| e.pulp_id.as_str()),
        )
        .await?
    {
        errs.add("name", "This field must be unique.");
    }
    errs.into_result()?;
    Ok(out)
}

/// `POST repositories/<plugin>/<type>/`.
pub async fn create(ctx: &Ctx, req: &mut Req, vs: RepositoryViewSet) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let fields = validate(ctx, &body, None, false, &vs).await?;
    let now = time::now_micros();
    let id = uuid::Uuid::now_v7().to_string();
    let mut am = repository::ActiveModel {
        pulp_id: Set(id.clone()),
        pulp_type: Set(vs.repositories.detail.pulp_type.into()),
        description: Set(None),
        pulp_labels: Set("{}".into()),
        retain_repo_versions: Set(None),
        retain_checkpoints: Set(None),
        remote_id: Set(None),
        next_version: Set(1),
        pulp_created: Set(now),
        pulp_last_updated: Set(now),
        ..Default::default()
    };
    let (table, detail_values, core) = ctx.state.platform.types.split_fields(
        Master::Repository,
        vs.repositories.detail.pulp_type,
        &fields,
    );
    for (k, v) in &core {
        set_field(&mut am, k, v).map_err(ApiError::Internal)?;
    }
    let db = &ctx.state.db;
    let txn = db.write.begin().await?;
    if let Err(e) = am.insert(&txn).await {
        drop(txn);
        let taken = repository::Entity::find()
            .filter(Expr::col("name").eq(fields["name"].clone()))
            .one(&db.read)
            .await?;
        return Err(if taken.is_some() {
            ApiError::field("name", "This field must be unique.")
        } else {
            e.into()
        });
    }
    versions::create_version_zero(db, &txn, &id).await?;
    if let Some(t) = &table {
        pith_entities::detail::save(db, &txn, t, &id, &detail_values).await?;
    }
    txn.commit().await?;
    super::access_policies::created(ctx, vs.repositories.detail.collection, &id).await?;
    let r = load(ctx, &id, &vs).await?;
    let body = serialize(ctx, &r).await?;
    let mut resp = json_resp(StatusCode::CREATED, &body);
    if let Ok(h) = HeaderValue::from_str(&href(ctx, &r)) {
        resp.headers_mut().insert("location", h);
    }
    Ok(resp)
}

/// `GET repositories/<plugin>/<type>/` and `GET repositories/` (`vs` `None`: every type).
pub async fn list(
    ctx: &Ctx,
    req: &Req,
    vs: Option<RepositoryViewSet>,
) -> Result<Response, ApiError> {
    let p = listing::parse(req, &FILTERS, &ORDERABLE)?;
    let v3 = ctx.v3();
    let platform = &ctx.state.platform;
    let (types, remote_types): (Vec<Detail>, Vec<Detail>) = match &vs {
        Some(v) => (vec![v.repositories.detail], v.remote_types.to_vec()),
        None => (
            platform
                .repositories
                .iter()
                .map(|v| v.repositories.detail)
                .collect(),
            platform.types.remotes.clone(),
        ),
    };
    let mut cond = listing::scoped(Condition::all(), &ctx.scope);
    if let Some(v) = &vs {
        cond = cond.add(Expr::col("pulp_type").eq(v.repositories.detail.pulp_type));
    }
    for (name, value) in &p.filters {
        let (field, lk) = lookup(name);
        let e = match field {
            "name" => listing::text("name", lk, value)?,
            "pulp_label_select" => continue,
            "remote" => listing::related(
                ctx.state.db.backend,
                name,
                "remote_id",
                "core_remote",
                &remote_types,
                &v3,
                value,
                true,
            )?,
            "with_content" | "latest_with_content" => {
                let ids = super::content::content_refs(ctx, name, value).await?;
                let [id] = ids.as_slice() else {
                    return Err(ApiError::field(name, "Enter one content unit."));
                };
                pith_entities::repositories::with_content(
                    ctx.state.db.backend,
                    id,
                    field == "latest_with_content",
                )
            }
            "retain_repo_versions" => Expr::col("retain_repo_versions").eq(value
                .parse::<i64>()
                .map_err(|_| ApiError::field(name, "Enter a number."))?),
            f => listing::identity_filter_any(f, value, &v3, &types)?,
        };
        cond = cond.add(e);
    }
    let (count, rows) =
        listing::fetch_page_labelled::<repository::Entity>(&ctx.state.db.read, cond, &p, |r| {
            &r.pulp_labels
        })
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.pulp_id.clone()).collect();
    let latest = versions::latest_numbers(&ctx.state.db, &ids).await?;
    let typed: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.pulp_id.as_str(), r.pulp_type.as_str()))
        .collect();
    let mut details = details::load(ctx, Master::Repository, &typed).await?;
    let mut results = Vec::with_capacity(rows.len());
    for r in &rows {
        results.push(serialize_with(
            &ctx.state.platform,
            &ctx.v3(),
            r,
            latest.get(&r.pulp_id).copied().unwrap_or(0),
            details.remove(&r.pulp_id),
        ));
    }
    Ok(ok(&listing::page(req, &p, count, results)))
}

/// Loads a repository of the viewset's type or answers Pulp's 404.
pub async fn load(
    ctx: &Ctx,
    id: &str,
    vs: &RepositoryViewSet,
) -> Result<repository::Model, ApiError> {
    let d = vs.repositories.detail;
    let id = parse_id(id, d.model)?;
    repository::Entity::find_by_id(id.to_string())
        .one(&ctx.state.db.read)
        .await?
        .filter(|r| r.pulp_type == d.pulp_type)
        .ok_or_else(|| ApiError::not_found(d.model))
}

/// `GET repositories/<plugin>/<type>/<id>/`.
pub async fn read(
    ctx: &Ctx,
    req: &Req,
    id: &str,
    vs: RepositoryViewSet,
) -> Result<Response, ApiError> {
    let r = load(ctx, id, &vs).await?;
    Ok(ok(&listing::select_from_query(
        serialize(ctx, &r).await?,
        req,
    )))
}

/// The shared resources of every repository task: the default domain.
pub async fn domain_shared(ctx: &Ctx) -> Result<Vec<String>, ApiError> {
    Ok(vec![format!(
        "prn:core.domain:{}",
        super::domain_id(&ctx.state).await?
    )])
}

/// `PUT`/`PATCH`: 200 when nothing changes, else 202 (immediate update task, repository held
/// exclusively).
pub async fn update(
    ctx: &Ctx,
    req: &mut Req,
    id: &str,
    partial: bool,
    vs: RepositoryViewSet,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let r = load(ctx, id, &vs).await?;
    let fields = validate(ctx, &body, Some(&r), partial, &vs).await?;
    let current = serialize(ctx, &r).await?;
    let v3 = ctx.v3();
    let changed: Map<String, Value> = fields
        .into_iter()
        .filter(|(k, v)| {
            let now = if k == "remote" {
                v.as_str()
                    .zip(vs.remote_types.first())
                    .map(|(id, t)| json!(t.href(&v3, id)))
                    .unwrap_or(Value::Null)
            } else {
                v.clone()
            };
            current.get(k) != Some(&now)
        })
        .collect();
    if changed.is_empty() {
        return Ok(ok(&current));
    }
    let spec = TaskSpec {
        name: GENERAL_UPDATE.into(),
        args: json!({ "table": "core_repository", "id": r.pulp_id, "fields": changed, "v3": ctx.v3() }),
        exclusive: vec![vs.repositories.detail.prn(&r.pulp_id)],
        shared: domain_shared(ctx).await?,
        immediate: true,
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
    };
    Ok(accepted(&v3, ctx.dispatch(spec).await?))
}

/// `DELETE`: 202 with a deferred delete task.
pub async fn delete(ctx: &Ctx, id: &str, vs: RepositoryViewSet) -> Result<Response, ApiError> {
    let r = load(ctx, id, &vs).await?;
    let spec = TaskSpec {
        name: GENERAL_DELETE.into(),
        args: json!({ "table": "core_repository", "id": r.pulp_id }),
        exclusive: vec![vs.repositories.detail.prn(&r.pulp_id)],
        shared: domain_shared(ctx).await?,
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.dispatch(spec).await?))
}

/// `POST …/set_label/`, `…/unset_label/`.
pub async fn label(
    ctx: &Ctx,
    req: &mut Req,
    id: &str,
    set: bool,
    vs: RepositoryViewSet,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let r = load(ctx, id, &vs).await?;
    let (labels, answer) = crate::labels::apply(&body, &r.pulp_labels, set)?;
    let mut am: repository::ActiveModel = r.into();
    am.pulp_labels = Set(labels);
    am.pulp_last_updated = Set(time::now_micros());
    am.update(&ctx.state.db.write).await?;
    Ok(json_resp(StatusCode::CREATED, &answer))
}

/// `GET …/versions/` (one repository) and `GET repository_versions/` (all, `repo = None`).
pub async fn list_versions(
    ctx: &Ctx,
    req: &Req,
    repo: Option<(&str, RepositoryViewSet)>,
) -> Result<Response, ApiError> {
    let p = listing::parse(req, &VERSION_FILTERS, &VERSION_ORDERABLE)?;
    let mut cond = Condition::all().add(Expr::col("complete").eq(true));
    if let Some((id, vs)) = repo {
        let r = load(ctx, id, &vs).await?;
        cond = cond.add(Expr::col("repository_id").eq(r.pulp_id));
    }
    for (name, value) in &p.filters {
        let (field, lk) = lookup(name);
        let num = |s: &str| {
            s.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::field(name, "Enter a number."))
        };
        let e = match (field, lk) {
            ("number", "exact") => Expr::col("number").eq(num(value)?),
            ("number", "lt") => Expr::col("number").lt(num(value)?),
            ("number", "lte") => Expr::col("number").lte(num(value)?),
            ("number", "gt") => Expr::col("number").gt(num(value)?),
            ("number", "gte") => Expr::col("number").gte(num(value)?),
            ("number", "range") => {
                let (a, b) = value
                    .split_once(',')
                    .ok_or_else(|| ApiError::field(name, "Enter a range."))?;
                Expr::col("number")
                    .gte(num(a)?)
                    .and(Expr::col("number").lte(num(b)?))
            }
            ("pulp_created", _) => listing::time(name, "pulp_created", lk, value)?,
            ("content", _) => {
                let content = super::content::content_refs(ctx, name, value).await?;
                let ids = versions::with_content(&ctx.state.db, &content).await?;
                Expr::col("pulp_id").is_in(ids)
            }
            ("prn", _) => {
                let ids: Vec<String> = value
                    .split(',')
                    .filter_map(|p| p.trim().strip_prefix("prn:core.repositoryversion:"))
                    .map(str::to_owned)
                    .collect();
                Expr::col("pulp_id").is_in(ids)
            }
            _ => {
                let v3 = ctx.v3();
                let mut ids = Vec::new();
                for h in value.split(',') {
                    let parts: Vec<&str> = h.trim().trim_end_matches('/').rsplitn(3, '/').collect();
                    if let [n, "versions", rest] = parts.as_slice() {
                        let repo_id = rest.rsplit('/').next().unwrap_or("");
                        if rest.starts_with(&format!("{v3}repositories/"))
                            && let Ok(n) = n.parse::<i64>()
                        {
                            ids.push((repo_id.to_owned(), n));
                        }
                    }
                }
                let mut any = Condition::any();
                for (r, n) in ids {
                    any = any.add(
                        Expr::col("repository_id")
                            .eq(r)
                            .and(Expr::col("number").eq(n)),
                    );
                }
                any.add(Expr::val(1).eq(0)).into()
            }
        };
        cond = cond.add(e);
    }
    let mut p2 = p.clone();
    if p2.ordering.is_empty() {
        p2.ordering = vec![("number".into(), true)];
    }
    let (count, rows) =
        listing::fetch_page::<version::Entity>(&ctx.state.db.read, cond, &p2).await?;
    let mut repo_ids: Vec<String> = rows.iter().map(|v| v.repository_id.clone()).collect();
    repo_ids.sort();
    repo_ids.dedup();
    let hrefs = repository_hrefs(
        &ctx.state.db,
        &ctx.state.platform.types,
        &ctx.v3(),
        &repo_ids,
    )
    .await?;
    let mut results = Vec::with_capacity(rows.len());
    for v in &rows {
        let repo_href = hrefs.get(&v.repository_id).cloned().unwrap_or_default();
        results.push(serialize_version(ctx, &repo_href, v).await?);
    }
    Ok(ok(&listing::page(req, &p, count, results)))
}

/// Loads version `number` of a repository (with the repository) or answers 404.
pub async fn load_version(
    ctx: &Ctx,
    repo: &str,
    number: &str,
    vs: &RepositoryViewSet,
) -> Result<(repository::Model, version::Model), ApiError> {
    let r = load(ctx, repo, vs).await?;
    let n: i64 = number
        .parse()
        .map_err(|_| ApiError::not_found("RepositoryVersion"))?;
    let v = version::Entity::find()
        .filter(Expr::col("repository_id").eq(r.pulp_id.clone()))
        .filter(Expr::col("number").eq(n))
        .filter(Expr::col("complete").eq(true))
        .one(&ctx.state.db.read)
        .await?
        .ok_or_else(|| ApiError::not_found("RepositoryVersion"))?;
    Ok((r, v))
}

/// `GET …/versions/<n>/`.
pub async fn read_version(
    ctx: &Ctx,
    req: &Req,
    repo: &str,
    number: &str,
    vs: RepositoryViewSet,
) -> Result<Response, ApiError> {
    let (r, v) = load_version(ctx, repo, number, &vs).await?;
    Ok(ok(&listing::select_from_query(
        serialize_version(ctx, &href(ctx, &r), &v).await?,
        req,
    )))
}

/// `DELETE …/versions/<n>/` → 202: a task that squashes the version into the next one (400 in
/// the task when it is the repository's only version, as in Pulp).
pub async fn delete_version(
    ctx: &Ctx,
    repo: &str,
    number: &str,
    vs: RepositoryViewSet,
) -> Result<Response, ApiError> {
    let (_, v) = load_version(ctx, repo, number, &vs).await?;
    let db = &ctx.state.db;
    if versions::protected(db, &db.read, &v.repository_id)
        .await?
        .contains(&v.pulp_id)
    {
        return Err(ApiError::BadRequest(json!([
            pith_actors::tasks::PROTECTED_VERSION_MESSAGE
        ])));
    }
    let spec = TaskSpec {
        name: pith_actors::tasks::DELETE_VERSION.into(),
        args: json!({ "repository": v.repository_id, "number": v.number }),
        exclusive: vec![vs.repositories.detail.prn(&v.repository_id)],
        shared: domain_shared(ctx).await?,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.dispatch(spec).await?))
}

/// `POST …/versions/<n>/repair/ {"verify_checksums"?: bool}` → 202.
pub async fn repair_version(
    ctx: &Ctx,
    req: &mut Req,
    repo: &str,
    number: &str,
    vs: RepositoryViewSet,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let (_, v) = load_version(ctx, repo, number, &vs).await?;
    let mut verify = true;
    for (k, val) in &body {
        match (k.as_str(), val) {
            ("verify_checksums", Value::Bool(b)) => verify = *b,
            ("verify_checksums", Value::String(s)) if s == "true" || s == "false" => {
                verify = s == "true"
            }
            ("verify_checksums", _) => {
                return Err(ApiError::field(
                    "verify_checksums",
                    "Must be a valid boolean.",
                ));
            }
            (other, _) => return Err(ApiError::field(other, "Unexpected field")),
        }
    }
    let mut shared = domain_shared(ctx).await?;
    shared.insert(0, vs.repositories.detail.prn(&v.repository_id));
    let spec = TaskSpec {
        name: pith_actors::tasks::REPAIR_VERSION.into(),
        args: json!({ "repository": v.repository_id, "number": v.number, "verify_checksums": verify }),
        shared,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.dispatch(spec).await?))
}

/// Splits a repository version href (`<repository collection>/<id>/versions/<n>/`) of any of
/// `types` into the repository id and the number.
pub fn parse_version_href(v3: &str, types: &[Detail], href: &str) -> Option<(String, i64)> {
    let h = href.trim();
    types.iter().find_map(|t| {
        let rest = h.strip_prefix(&t.list_href(v3))?;
        let mut parts = rest.trim_end_matches('/').split('/');
        let (repo, kw, n) = (parts.next()?, parts.next()?, parts.next()?);
        (kw == "versions" && parts.next().is_none()).then_some(())?;
        Some((
            uuid::Uuid::parse_str(repo).ok()?.to_string(),
            n.parse().ok()?,
        ))
    })
}

/// Why a reference to a repository version does not name one (Pulp's related-field messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRef {
    /// Not an href or PRN of a repository version.
    NoMatch,
    /// Well formed, but no such version.
    Missing,
}

impl BadRef {
    /// Pulp's message.
    pub fn message(self) -> &'static str {
        match self {
            BadRef::NoMatch => "Invalid hyperlink - No URL match.",
            BadRef::Missing => "Invalid hyperlink - Object does not exist.",
        }
    }
}

/// A repository version named by its href (of one of `types`) or its PRN
/// (`prn:core.repositoryversion:<id>`), as Pulp's related fields take it: its repository,
/// number and id.
pub async fn version_by_ref(
    ctx: &Ctx,
    types: &[Detail],
    value: &str,
) -> Result<Result<(String, i64, String), BadRef>, ApiError> {
    let v3 = ctx.v3();
    let found = if let Some(id) = value.trim().strip_prefix("prn:core.repositoryversion:") {
        let Ok(id) = uuid::Uuid::parse_str(id) else {
            return Ok(Err(BadRef::NoMatch));
        };
        repository_version::Entity::find_by_id(id.to_string())
            .one(&ctx.state.db.read)
            .await?
    } else {
        let Some((repo, n)) = parse_version_href(&v3, types, value) else {
            return Ok(Err(BadRef::NoMatch));
        };
        repository_version::Entity::find()
            .filter(Expr::col("repository_id").eq(repo))
            .filter(Expr::col("number").eq(n))
            .one(&ctx.state.db.read)
            .await?
    };
    Ok(found
        .filter(|v| v.complete)
        .map(|v| (v.repository_id, v.number, v.pulp_id))
        .ok_or(BadRef::Missing))
}

/// What Pulp's repository-version filters take (`repository_version`, `added_between`, …): a
/// version's href or PRN, or a repository's, which stands for its latest version. Returns its
/// repository and number; a 400 naming `field` otherwise.
pub async fn version_or_latest(
    ctx: &Ctx,
    field: &str,
    value: &str,
) -> Result<(String, i64), ApiError> {
    let types = repository_types(ctx);
    match version_by_ref(ctx, &types, value).await? {
        Ok((repo, n, _)) => return Ok((repo, n)),
        Err(BadRef::Missing) => {
            return Err(ApiError::field(
                field,
                format!("URI {value} not found for repositoryversion."),
            ));
        }
        Err(BadRef::NoMatch) => {}
    }
    let repo = listing::id_from_any(&ctx.v3(), &types, value);
    let exists = match &repo {
        Some(id) => repository::Entity::find_by_id(id.clone())
            .one(&ctx.state.db.read)
            .await?
            .is_some(),
        None => false,
    };
    match repo {
        Some(id) if exists => {
            let n = versions::latest_number(&ctx.state.db, &ctx.state.db.read, &id).await?;
            Ok((id, n))
        }
        Some(_) => Err(ApiError::field(
            field,
            format!("URI {value} not found for repository."),
        )),
        None => Err(ApiError::field(
            field,
            format!("URI {value} not found for repositoryversion."),
        )),
    }
}

/// Every repository type's detail.
pub fn repository_types(ctx: &Ctx) -> Vec<Detail> {
    ctx.state
        .platform
        .repositories
        .iter()
        .map(|v| v.repositories.detail)
        .collect()
}

/// The ids of `ids` that are stored content.
async fn existing_content(ctx: &Ctx, ids: &[String]) -> Result<Vec<String>, ApiError> {
    Ok(pith_entities::content::existing(&ctx.state.db, ids).await?)
}

/// `POST …/<repo>/modify/ {"add_content_units", "remove_content_units" (or `["*"]`),
/// "base_version", "overwrite"}`: a task holding the repository exclusively. Content hrefs of
/// any content type are accepted, as in Pulp (the repository type's rules apply in the task).
pub async fn modify(
    ctx: &Ctx,
    req: &mut Req,
    repo_id: &str,
    vs: RepositoryViewSet,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let repo = load(ctx, repo_id, &vs).await?;
    let v3 = ctx.v3();
    let content_types: Vec<Detail> = ctx
        .state
        .platform
        .types
        .content
        .iter()
        .map(|t| t.detail)
        .collect();
    let mut errs = FieldErrors::default();
    let mut add: Vec<String> = Vec::new();
    let mut remove: Value = json!([]);
    let mut base = None;
    let mut overwrite = true;
    for (k, v) in &body {
        match k.as_str() {
            "add_content_units" | "remove_content_units" => {
                let Some(list) = v.as_array() else {
                    errs.add(
                        k,
                        format!(
                            "Expected a list of items but got type \"{}\".",
                            listing::json_type(v)
                        ),
                    );
                    continue;
                };
                if k == "remove_content_units" && list == &vec![json!("*")] {
                    remove = json!("*");
                    continue;
                }
                let mut ids = Vec::new();
                let mut hrefs = std::collections::HashMap::new();
                for h in list {
                    match h
                        .as_str()
                        .and_then(|h| listing::id_from_any(&v3, &content_types, h))
                    {
                        Some(id) => {
                            hrefs.insert(id.clone(), h.as_str().unwrap_or_default().to_owned());
                            ids.push(id)
                        }
                        None => errs.add(
                            k,
                            format!("Could not find the following content units: [{h}]"),
                        ),
                    }
                }
                if !ids.is_empty() {
                    let found = existing_content(ctx, &ids).await?;
                    for id in ids.iter().filter(|i| !found.contains(i)) {
                        let h = hrefs.get(id).cloned().unwrap_or_default();
                        errs.add(
                            k,
                            format!("Could not find the following content units: ['{h}']"),
                        );
                    }
                }
                if k == "add_content_units" {
                    add = ids;
                } else {
                    remove = json!(ids);
                }
            }
            "overwrite" => match v.as_bool() {
                Some(b) => overwrite = b,
                None => errs.add(k, "Must be a valid boolean."),
            },
            // Any repository's version, as in Pulp: a repository may start from another's.
            "base_version" => match v.as_str() {
                Some(h) => match version_by_ref(ctx, &repository_types(ctx), h).await? {
                    Ok((r, n, _)) => base = Some((r, n)),
                    Err(bad) => errs.add(k, bad.message()),
                },
                None => errs.add(k, "Incorrect type. Expected URL string."),
            },
            _ => errs.add(k, "Unexpected field"),
        }
    }
    errs.into_result()?;
    let (base_repository, base) = base.unzip();
    let spec = TaskSpec {
        name: pith_actors::tasks::ADD_AND_REMOVE.into(),
        args: json!({ "v3": v3, "repository": repo.pulp_id, "add": add, "remove": remove, "base_version": base, "base_repository": base_repository, "overwrite": overwrite }),
        exclusive: vec![vs.repositories.detail.prn(&repo.pulp_id)],
        shared: domain_shared(ctx).await?,
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.dispatch(spec).await?))
}

/// Pulp's JSON for a repository version of the repository at `repo_href`, with its content
/// summary per content type (each with the href of that type's list filtered to it).
pub async fn version_json(
    db: &Db,
    types: &Types,
    v3: &str,
    repo_href: &str,
    v: &repository_version::Model,
) -> Result<Value, DbError> {
    let counts = versions::summary(db, &v.repository_id, v.number).await?;
    let vh = version_href(repo_href, v.number);
    let mut parts = [Map::new(), Map::new(), Map::new()];
    let filters = [
        "repository_version_added",
        "repository_version_removed",
        "repository_version",
    ];
    for (pulp_type, (added, removed, present)) in &counts {
        let list = types
            .content(pulp_type)
            .map(|t| t.detail.list_href(v3))
            .unwrap_or_else(|| format!("{v3}content/"));
        for (i, n) in [*added, *removed, *present].into_iter().enumerate() {
            if n > 0 {
                parts[i].insert(
                    pulp_type.clone(),
                    json!({ "count": n, "href": format!("{list}?{}={vh}", filters[i]) }),
                );
            }
        }
    }
    // The base may be another repository's version.
    let base = match &v.base_version_id {
        Some(b) => match repository_version::Entity::find_by_id(b.clone())
            .one(&db.read)
            .await?
        {
            Some(b) if b.repository_id == v.repository_id => {
                Some(version_href(repo_href, b.number))
            }
            Some(b) => repository_hrefs(db, types, v3, std::slice::from_ref(&b.repository_id))
                .await?
                .get(&b.repository_id)
                .map(|h| version_href(h, b.number)),
            None => None,
        },
        None => None,
    };
    let [added, removed, present] = parts;
    Ok(json!({
        "pulp_href": vh,
        "prn": format!("prn:core.repositoryversion:{}", v.pulp_id),
        "pulp_created": time::to_rfc3339(v.pulp_created),
        "pulp_last_updated": time::to_rfc3339(v.pulp_last_updated),
        "number": v.number,
        "repository": repo_href,
        "base_version": base,
        "content_summary": {"added": added, "removed": removed, "present": present},
        "vuln_report": format!("{v3}vuln_report/?repo_versions=prn:core.repositoryversion:{}", v.pulp_id),
    }))
}
