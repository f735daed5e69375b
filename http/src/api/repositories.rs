//! `repositories/file/file/` (CRUD, labels, versions) and the generic `repositories/` and
//! `repository_versions/` lists. Creating a repository also creates its empty version 0.

use pith_actors::tasking::TaskSpec;
use pith_actors::tasks::{GENERAL_DELETE, GENERAL_UPDATE};
use pith_entities::entity::{remote, repository, repository_version as version};
use pith_entities::repositories::set_field;
use pith_entities::sea_orm::sea_query::{Condition, Expr, ExprTrait};
use pith_entities::sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use pith_entities::{time, versions};
use serde_json::{Map, Value, json};
use warp::http::{HeaderValue, StatusCode};

use super::{Ctx, accepted, ok, parse_id};
use crate::error::FieldErrors;
use crate::listing::{self, id_from_ref, lookup};
use crate::request::{Response, json as json_resp};
use crate::{ApiError, Req};

pub const FILTERS: [&str; 14] = [
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
pub const VERSION_FILTERS: [&str; 12] = [
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
    "pulp_href__in",
];
pub const VERSION_ORDERABLE: [&str; 5] = [
    "pk",
    "pulp_id",
    "pulp_created",
    "pulp_last_updated",
    "number",
];

/// Href of a repository.
pub fn href(v3: &str, id: &str) -> String {
    format!("{v3}repositories/file/file/{id}/")
}

/// Href of a repository version.
pub fn version_href(v3: &str, repo: &str, number: i64) -> String {
    format!("{}versions/{number}/", href(v3, repo))
}

fn remote_href(v3: &str, id: &str) -> String {
    format!("{v3}remotes/file/file/{id}/")
}

async fn serialize(ctx: &Ctx, r: &repository::Model) -> Result<Value, ApiError> {
    let latest = versions::latest_number(&ctx.state.db, &ctx.state.db.read, &r.pulp_id).await?;
    Ok(serialize_with(ctx, r, latest))
}

/// Serializes a repository whose latest version number is known.
fn serialize_with(ctx: &Ctx, r: &repository::Model, latest: i64) -> Value {
    let v3 = ctx.v3();
    let h = href(&v3, &r.pulp_id);
    json!({
        "pulp_href": h,
        "prn": format!("prn:file.filerepository:{}", r.pulp_id),
        "pulp_created": time::to_rfc3339(r.pulp_created),
        "pulp_last_updated": time::to_rfc3339(r.pulp_last_updated),
        "versions_href": format!("{h}versions/"),
        "pulp_labels": serde_json::from_str::<Value>(&r.pulp_labels).unwrap_or_else(|_| json!({})),
        "latest_version_href": version_href(&v3, &r.pulp_id, latest),
        "name": r.name,
        "description": r.description,
        "retain_repo_versions": r.retain_repo_versions,
        "retain_checkpoints": r.retain_checkpoints,
        "remote": r.remote_id.as_deref().map(|id| remote_href(&v3, id)),
        "autopublish": r.autopublish,
        "manifest": r.manifest,
        "last_sync_details": serde_json::from_str::<Value>(&r.last_sync_details).unwrap_or_else(|_| json!({})),
    })
}

/// Serializes a version with its content summary (the same JSON task results carry).
pub async fn serialize_version(ctx: &Ctx, v: &version::Model) -> Result<Value, ApiError> {
    let v3 = ctx.v3();
    let repo = href(&v3, &v.repository_id);
    let types = &ctx.state.tasking.deps.types;
    Ok(pith_actors::tasks::repository::version_json(&ctx.state.db, types, &v3, &repo, v).await?)
}

async fn validate(
    ctx: &Ctx,
    body: &Map<String, Value>,
    existing: Option<&repository::Model>,
    partial: bool,
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
            "description" | "manifest" => match v {
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
            "autopublish" => match v {
                Value::Bool(_) => Ok(v.clone()),
                _ => Err("Must be a valid boolean.".into()),
            },
            "pulp_labels" => listing::validate_labels(v).map(|_| v.clone()),
            "remote" => match v {
                Value::Null => Ok(Value::Null),
                Value::String(s) => {
                    match id_from_ref(&v3, "remotes/file/file", "file.fileremote", s) {
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
                    }
                }
                _ => Err("Incorrect type. Expected URL string, received dict.".into()),
            },
            _ => {
                errs.add(k, "Unexpected field");
                continue;
            }
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

/// `POST repositories/file/file/`.
pub async fn create(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let fields = validate(ctx, &body, None, false).await?;
    let now = time::now_micros();
    let id = uuid::Uuid::now_v7().to_string();
    let mut am = repository::ActiveModel {
        pulp_id: Set(id.clone()),
        pulp_type: Set("file.file".into()),
        description: Set(None),
        pulp_labels: Set("{}".into()),
        retain_repo_versions: Set(None),
        retain_checkpoints: Set(None),
        remote_id: Set(None),
        autopublish: Set(false),
        manifest: Set(Some("PULP_MANIFEST".into())),
        next_version: Set(1),
        last_sync_details: Set("{}".into()),
        pulp_created: Set(now),
        pulp_last_updated: Set(now),
        ..Default::default()
    };
    for (k, v) in &fields {
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
    txn.commit().await?;
    let r = load(ctx, &id).await?;
    let body = serialize(ctx, &r).await?;
    let mut resp = json_resp(StatusCode::CREATED, &body);
    if let Ok(h) = HeaderValue::from_str(&href(&ctx.v3(), &id)) {
        resp.headers_mut().insert("location", h);
    }
    Ok(resp)
}

/// `GET repositories/file/file/` and `GET repositories/`.
pub async fn list(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let p = listing::parse(req, &FILTERS, &ORDERABLE)?;
    let v3 = ctx.v3();
    let mut cond = Condition::all();
    for (name, value) in &p.filters {
        let (field, lk) = lookup(name);
        let e = match field {
            "name" => listing::text("name", lk, value)?,
            "pulp_label_select" => continue,
            "remote" if value.is_empty() || value == "null" => Expr::col("remote_id").is_null(),
            "remote" => match id_from_ref(&v3, "remotes/file/file", "file.fileremote", value) {
                Some(id) => Expr::col("remote_id").eq(id),
                None => {
                    return Err(ApiError::field(
                        "remote",
                        "Invalid hyperlink - No URL match.",
                    ));
                }
            },
            "retain_repo_versions" => Expr::col("retain_repo_versions").eq(value
                .parse::<i64>()
                .map_err(|_| ApiError::field(name, "Enter a number."))?),
            f => listing::identity_filter(
                f,
                value,
                &v3,
                "repositories/file/file",
                "file.filerepository",
            ),
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
    let mut results = Vec::with_capacity(rows.len());
    for r in &rows {
        results.push(serialize_with(
            ctx,
            r,
            latest.get(&r.pulp_id).copied().unwrap_or(0),
        ));
    }
    Ok(ok(&listing::page(req, &p, count, results)))
}

/// Loads a repository or answers Pulp's 404.
pub async fn load(ctx: &Ctx, id: &str) -> Result<repository::Model, ApiError> {
    let id = parse_id(id, "FileRepository")?;
    repository::Entity::find_by_id(id.to_string())
        .one(&ctx.state.db.read)
        .await?
        .ok_or_else(|| ApiError::not_found("FileRepository"))
}

/// `GET repositories/file/file/<id>/`.
pub async fn read(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let r = load(ctx, id).await?;
    Ok(ok(&listing::select_from_query(
        serialize(ctx, &r).await?,
        req,
    )))
}

async fn domain_shared(ctx: &Ctx) -> Result<Vec<String>, ApiError> {
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
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let r = load(ctx, id).await?;
    let fields = validate(ctx, &body, Some(&r), partial).await?;
    let current = serialize(ctx, &r).await?;
    let v3 = ctx.v3();
    let changed: Map<String, Value> = fields
        .into_iter()
        .filter(|(k, v)| {
            let now = if k == "remote" {
                v.as_str()
                    .map(|id| json!(remote_href(&v3, id)))
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
        args: json!({ "table": "core_repository", "id": r.pulp_id, "fields": changed }),
        exclusive: vec![format!("prn:file.filerepository:{}", r.pulp_id)],
        shared: domain_shared(ctx).await?,
        immediate: true,
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
    };
    Ok(accepted(&v3, ctx.state.tasking.dispatch(spec).await?))
}

/// `DELETE`: 202 with a deferred delete task.
pub async fn delete(ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let r = load(ctx, id).await?;
    let spec = TaskSpec {
        name: GENERAL_DELETE.into(),
        args: json!({ "table": "core_repository", "id": r.pulp_id }),
        exclusive: vec![format!("prn:file.filerepository:{}", r.pulp_id)],
        shared: domain_shared(ctx).await?,
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.state.tasking.dispatch(spec).await?))
}

/// `POST …/set_label/`, `…/unset_label/`.
pub async fn label(ctx: &Ctx, req: &mut Req, id: &str, set: bool) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let r = load(ctx, id).await?;
    let (labels, answer) = crate::labels::apply(&body, &r.pulp_labels, set)?;
    let mut am: repository::ActiveModel = r.into();
    am.pulp_labels = Set(labels);
    am.pulp_last_updated = Set(time::now_micros());
    am.update(&ctx.state.db.write).await?;
    Ok(json_resp(StatusCode::CREATED, &answer))
}

/// `GET …/versions/` (one repository) and `GET repository_versions/` (all, `repo = None`).
pub async fn list_versions(ctx: &Ctx, req: &Req, repo: Option<&str>) -> Result<Response, ApiError> {
    let p = listing::parse(req, &VERSION_FILTERS, &VERSION_ORDERABLE)?;
    let mut cond = Condition::all().add(Expr::col("complete").eq(true));
    if let Some(id) = repo {
        let r = load(ctx, id).await?;
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
    let mut results = Vec::with_capacity(rows.len());
    for v in &rows {
        results.push(serialize_version(ctx, v).await?);
    }
    Ok(ok(&listing::page(req, &p, count, results)))
}

/// Loads version `number` of a repository or answers 404.
pub async fn load_version(ctx: &Ctx, repo: &str, number: &str) -> Result<version::Model, ApiError> {
    let r = load(ctx, repo).await?;
    let n: i64 = number
        .parse()
        .map_err(|_| ApiError::not_found("RepositoryVersion"))?;
    version::Entity::find()
        .filter(Expr::col("repository_id").eq(r.pulp_id))
        .filter(Expr::col("number").eq(n))
        .filter(Expr::col("complete").eq(true))
        .one(&ctx.state.db.read)
        .await?
        .ok_or_else(|| ApiError::not_found("RepositoryVersion"))
}

/// `GET …/versions/<n>/`.
pub async fn read_version(
    ctx: &Ctx,
    req: &Req,
    repo: &str,
    number: &str,
) -> Result<Response, ApiError> {
    let v = load_version(ctx, repo, number).await?;
    Ok(ok(&listing::select_from_query(
        serialize_version(ctx, &v).await?,
        req,
    )))
}

/// `POST …/sync/ {"remote"?, "mirror"?}`: a sync task holding the repository exclusively and
/// the remote shared. Without a `remote` the repository's own is used (400 when it has none).
pub async fn sync(ctx: &Ctx, req: &mut Req, id: &str) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let repo = load(ctx, id).await?;
    let v3 = ctx.v3();
    let mut errs = FieldErrors::default();
    let mut remote_id = repo.remote_id.clone();
    let mut mirror = false;
    for (k, v) in &body {
        match (k.as_str(), v) {
            ("remote", Value::Null) => {}
            ("remote", Value::String(h)) => {
                match id_from_ref(&v3, "remotes/file/file", "file.fileremote", h) {
                    Some(rid)
                        if remote::Entity::find_by_id(rid.clone())
                            .one(&ctx.state.db.read)
                            .await?
                            .is_some() =>
                    {
                        remote_id = Some(rid)
                    }
                    _ => errs.add(k, "Invalid hyperlink - Object does not exist."),
                }
            }
            ("remote", _) => errs.add(k, "Incorrect type. Expected URL string."),
            ("mirror", Value::Bool(b)) => mirror = *b,
            ("mirror", _) => errs.add(k, "Must be a valid boolean."),
            // Pith never skips work a full sync would do, so there is nothing to optimize away.
            ("optimize", Value::Bool(_)) => {}
            ("optimize", _) => errs.add(k, "Must be a valid boolean."),
            _ => errs.add(k, "Unexpected field"),
        }
    }
    errs.into_result()?;
    let Some(remote_id) = remote_id else {
        return Err(ApiError::field(
            "remote",
            "This field is required since a remote is not set on the repository.",
        ));
    };
    if mirror && repo.autopublish {
        return Err(ApiError::BadRequest(json!([
            "Cannot use mirror mode with autopublished repository."
        ])));
    }
    let mut shared = domain_shared(ctx).await?;
    shared.insert(0, format!("prn:file.fileremote:{remote_id}"));
    let spec = TaskSpec {
        name: pith_file::task_names::SYNCHRONIZE.into(),
        args: json!({ "v3": v3, "repository": repo.pulp_id, "remote": remote_id, "mirror": mirror }),
        exclusive: vec![format!("prn:file.filerepository:{}", repo.pulp_id)],
        shared,
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.state.tasking.dispatch(spec).await?))
}

/// `DELETE …/versions/<n>/` → 202: a task that squashes the version into the next one (400 in
/// the task when it is the repository's only version, as in Pulp).
pub async fn delete_version(ctx: &Ctx, repo: &str, number: &str) -> Result<Response, ApiError> {
    let v = load_version(ctx, repo, number).await?;
    let spec = TaskSpec {
        name: pith_actors::tasks::DELETE_VERSION.into(),
        args: json!({ "repository": v.repository_id, "number": v.number }),
        exclusive: vec![format!("prn:file.filerepository:{}", v.repository_id)],
        shared: domain_shared(ctx).await?,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.state.tasking.dispatch(spec).await?))
}

/// `POST …/versions/<n>/repair/ {"verify_checksums"?: bool}` → 202.
pub async fn repair_version(
    ctx: &Ctx,
    req: &mut Req,
    repo: &str,
    number: &str,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let v = load_version(ctx, repo, number).await?;
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
    shared.insert(0, format!("prn:file.filerepository:{}", v.repository_id));
    let spec = TaskSpec {
        name: pith_actors::tasks::REPAIR_VERSION.into(),
        args: json!({ "repository": v.repository_id, "number": v.number, "verify_checksums": verify }),
        shared,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.state.tasking.dispatch(spec).await?))
}
