//! The viewsets of publication and distribution types (list, show, delete; distributions also
//! create and update), and the generic `publications/` and `distributions/` lists. Creating
//! a publication is the plugin's (its publish task).

use pith_actors::plugin::Detail;
use pith_actors::plugin::{Master, Types};
use pith_actors::tasking::TaskSpec;
use pith_actors::tasks::repository::{repository_hrefs, version_href};
use pith_actors::tasks::{GENERAL_CREATE, GENERAL_DELETE, GENERAL_UPDATE};
use pith_entities::entity::{distribution, repository, repository_version as version};
use pith_entities::sea_orm::sea_query::{Condition, Expr, ExprTrait};
use pith_entities::sea_orm::{EntityTrait, QueryFilter};
use pith_entities::time::to_rfc3339;
use pith_entities::{Db, DbError};
use serde_json::{Map, Value, json};
use warp::http::StatusCode;

use super::repositories::repository_types;
use super::{Ctx, accepted, check_relative_path, ok, parse_id};
use crate::error::FieldErrors;
use crate::listing::{self, lookup};
use crate::plugin::ViewSet;
use crate::request::{Response, empty};
use crate::{ApiError, Req};

fn types(ctx: &Ctx) -> &pith_actors::plugin::Types {
    &ctx.state.platform.types
}

/// `CONTENT_ORIGIN` + `CONTENT_PATH_PREFIX`: where distributions are served.
pub fn content_base(ctx: &Ctx) -> String {
    let c = &ctx.state.config;
    format!(
        "{}{}",
        c.content_origin.clone().unwrap_or_default(),
        c.content_path_prefix
    )
}

/// The default domain's PRN, shared by publication and distribution tasks.
pub async fn domain_shared(ctx: &Ctx) -> Result<String, ApiError> {
    Ok(format!(
        "prn:core.domain:{}",
        super::domain_id(&ctx.state).await?
    ))
}

/// The id of version `number` of repository `repo`.
pub async fn version_id(ctx: &Ctx, repo: &str, number: i64) -> Result<Option<String>, ApiError> {
    Ok(version::Entity::find()
        .filter(Expr::col("repository_id").eq(repo.to_owned()))
        .filter(Expr::col("number").eq(number))
        .one(&ctx.state.db.read)
        .await?
        .map(|v| v.pulp_id))
}

/// The id of the repository an href or PRN of any repository type names.
fn repository_id(ctx: &Ctx, value: &str) -> Option<String> {
    listing::id_from_any(&ctx.v3(), &repository_types(ctx), value)
}

/// `GET publications/<plugin>/<type>/` and `GET publications/` (`vs` `None`: every type).
pub async fn list_publications(
    ctx: &Ctx,
    req: &Req,
    vs: Option<ViewSet>,
) -> Result<Response, ApiError> {
    let p = listing::parse(req, &PUBLICATION_FILTERS, &PUBLICATION_ORDERABLE)?;
    let v3 = ctx.v3();
    let db = &ctx.state.db;
    let mut q = pith_entities::publications::PublicationQuery {
        limit: p.limit,
        offset: p.offset,
        ..Default::default()
    };
    let own: Vec<Detail> = match &vs {
        Some(v) => {
            q.pulp_types.push(v.detail.pulp_type.to_owned());
            vec![v.detail]
        }
        None => types(ctx).publications.clone(),
    };
    match &ctx.scope {
        super::Scope::All => {}
        super::Scope::Only(ids) => q.only(ids.clone()),
        super::Scope::InRepositories(_) => q.only(Vec::new()),
        super::Scope::Among(seen) => q.visible = Some((seen.types.clone(), seen.ids.clone())),
    }
    for (k, v) in &p.filters {
        match k.as_str() {
            "repository" => {
                let id = repository_id(ctx, v)
                    .ok_or_else(|| ApiError::field(k, "Invalid hyperlink."))?;
                q.repository = Some(id);
            }
            "repository_version" => {
                let (r, n) = super::repositories::version_or_latest(ctx, k, v).await?;
                let id = version_id(ctx, &r, n).await?.ok_or_else(|| {
                    ApiError::field(k, "Invalid hyperlink - Object does not exist.")
                })?;
                q.version = Some(id);
            }
            "content" | "content__in" => {
                let content = super::content::content_refs(ctx, k, v).await?;
                let ids = pith_entities::publications::with_content(db, &content).await?;
                q.only(ids);
            }
            "checkpoint" => q.checkpoint = Some(listing::boolean(k, v)?),
            f if f.starts_with("pulp_created") => {
                let (_, lk) = lookup(f);
                q.created.extend(listing::time_bounds(k, lk, v)?);
            }
            _ => {
                let ids: Vec<String> = v
                    .split(',')
                    .filter_map(|h| listing::id_from_any(&v3, &own, h))
                    .collect();
                q.only(ids);
            }
        }
    }
    // `ordering` (validated by `parse`) or newest first.
    q.ordering = p
        .ordering
        .iter()
        .map(|(f, desc)| {
            (
                if f == "pk" { "pulp_id" } else { f.as_str() }.to_owned(),
                *desc,
            )
        })
        .collect();
    let (count, ids) = pith_entities::publications::list(db, &q).await?;
    let results = publications_json(db, types(ctx), &v3, &ids).await?;
    Ok(ok(&listing::page(req, &p, count, results)))
}

/// Pulp's JSON for publication `id` of the viewset's type, or its 404.
async fn load_publication(ctx: &Ctx, id: &str, vs: &ViewSet) -> Result<Value, ApiError> {
    let model = vs.detail.model;
    let id = parse_id(id, model)?.to_string();
    publication_json(&ctx.state.db, types(ctx), &ctx.v3(), &id)
        .await?
        .filter(|j| j["pulp_href"] == json!(vs.detail.href(&ctx.v3(), &id)))
        .ok_or_else(|| ApiError::not_found(model))
}

/// `GET publications/<plugin>/<type>/<id>/`.
pub async fn read_publication(
    ctx: &Ctx,
    req: &Req,
    id: &str,
    vs: ViewSet,
) -> Result<Response, ApiError> {
    let j = load_publication(ctx, id, &vs).await?;
    Ok(ok(&listing::select_from_query(j, req)))
}

/// `DELETE publications/<plugin>/<type>/<id>/` (synchronous, 204).
pub async fn delete_publication(ctx: &Ctx, id: &str, vs: ViewSet) -> Result<Response, ApiError> {
    load_publication(ctx, id, &vs).await?;
    let id = parse_id(id, vs.detail.model)?.to_string();
    pith_entities::publications::delete(&ctx.state.db, &id).await?;
    pith_entities::content_generation::changed(&ctx.state.db).await;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Validates a distribution body; returns fields with references resolved to ids.
async fn validate_distribution(
    ctx: &Ctx,
    body: &Map<String, Value>,
    existing: Option<&distribution::Model>,
    partial: bool,
    pulp_type: &str,
) -> Result<Map<String, Value>, ApiError> {
    let v3 = ctx.v3();
    let mut errs = FieldErrors::default();
    let mut out = Map::new();
    for (k, v) in body {
        let norm: Result<Value, String> = match (k.as_str(), v) {
            ("name", Value::String(s)) if !s.trim().is_empty() => Ok(json!(s.trim())),
            ("base_path", Value::String(s)) if !s.trim().is_empty() => {
                check_relative_path(s.trim()).map(|_| json!(s.trim()))
            }
            ("name" | "base_path", Value::String(_)) => Err("This field may not be blank.".into()),
            ("name" | "base_path", _) => Err("Not a valid string.".into()),
            ("hidden", Value::Bool(_)) => Ok(v.clone()),
            ("hidden", _) => Err("Must be a valid boolean.".into()),
            ("pulp_labels", _) => listing::validate_labels(v).map(|_| v.clone()),
            ("content_guard", _) => super::content_guards::reference(ctx, v).await?,
            ("checkpoint", Value::Bool(_)) => Ok(v.clone()),
            ("checkpoint", Value::Null) => Ok(json!(false)),
            ("checkpoint", _) => Err("Must be a valid boolean.".into()),
            // Relational fields take an empty string for null, as DRF's do.
            ("repository" | "repository_version" | "publication", Value::Null) => Ok(Value::Null),
            ("repository" | "repository_version" | "publication", Value::String(h))
                if h.is_empty() =>
            {
                Ok(Value::Null)
            }
            ("repository", Value::String(h)) => match repository_id(ctx, h) {
                Some(id)
                    if repository::Entity::find_by_id(id.clone())
                        .one(&ctx.state.db.read)
                        .await?
                        .is_some() =>
                {
                    Ok(json!(id))
                }
                _ => Err("Invalid hyperlink - Object does not exist.".into()),
            },
            ("repository_version", Value::String(h)) => {
                match super::repositories::version_by_ref(ctx, &repository_types(ctx), h).await? {
                    Ok((_, _, id)) => Ok(json!(id)),
                    Err(bad) => Err(bad.message().into()),
                }
            }
            ("publication", Value::String(h)) => {
                match listing::id_from_any(&v3, &types(ctx).publications, h) {
                    Some(id)
                        if publication_json(&ctx.state.db, types(ctx), &v3, &id)
                            .await?
                            .is_some() =>
                    {
                        Ok(json!(id))
                    }
                    _ => Err("Invalid hyperlink - Object does not exist.".into()),
                }
            }
            ("repository" | "repository_version" | "publication", _) => {
                Err("Incorrect type. Expected URL string.".into())
            }
            ("remote", _) if !pull_through_remotes(ctx, pulp_type).is_empty() => {
                validate_remote(ctx, pulp_type, v).await?
            }
            (other, _) => match super::details::validate(
                ctx,
                pith_actors::plugin::Master::Distribution,
                pulp_type,
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
    if !partial {
        for f in ["name", "base_path"] {
            if !body.contains_key(f) {
                errs.add(f, "This field is required.");
            }
        }
    }
    let mine = existing.map(|e| e.pulp_id.clone());
    if let Some(Value::String(name)) = out.get("name")
        && listing::name_taken::<distribution::Entity>(&ctx.state.db.read, name, mine.as_deref())
            .await?
    {
        errs.add("name", "This field must be unique.");
    }
    errs.into_result()?;
    if let Some(Value::String(bp)) = out.get("base_path") {
        let all = distribution::Entity::find().all(&ctx.state.db.read).await?;
        let overlaps = all
            .iter()
            .filter(|d| Some(&d.pulp_id) != mine.as_ref())
            .any(|d| {
                let (a, b) = (d.base_path.as_str(), bp.as_str());
                a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
            });
        if overlaps {
            return Err(ApiError::BadRequest(
                json!({ "base_path": { "base_path": "Overlaps with an existing distribution." } }),
            ));
        }
    }
    let current = |f: &str, old: Option<&String>| match out.get(f) {
        Some(v) => !v.is_null(),
        None => old.is_some(),
    };
    let set: Vec<&str> = [
        (
            "repository",
            current(
                "repository",
                existing.and_then(|e| e.repository_id.as_ref()),
            ),
        ),
        (
            "repository_version",
            current(
                "repository_version",
                existing.and_then(|e| e.repository_version_id.as_ref()),
            ),
        ),
        (
            "publication",
            current(
                "publication",
                existing.and_then(|e| e.publication_id.as_ref()),
            ),
        ),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(n, _)| n)
    .collect();
    if set.len() > 1 {
        return Err(ApiError::field(
            "non_field_errors",
            format!(
                "Only one of the attributes '{}' and '{}' may be used simultaneously.",
                set[0], set[1]
            ),
        ));
    }
    let checkpoint = match out.get("checkpoint") {
        Some(v) => v.as_bool() == Some(true),
        None => existing.is_some_and(|e| e.checkpoint),
    };
    if checkpoint && set != ["repository"] {
        return Err(ApiError::field(
            "non_field_errors",
            "The 'checkpoint' attribute may only be used with the 'repository' attribute.",
        ));
    }
    Ok(out)
}

/// `POST distributions/<plugin>/<type>/`: validated here, created by a task (as Pulp does).
pub async fn create_distribution(
    ctx: &Ctx,
    req: &mut Req,
    vs: ViewSet,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let fields = validate_distribution(ctx, &body, None, false, vs.detail.pulp_type).await?;
    let spec = TaskSpec {
        name: GENERAL_CREATE.into(),
        args: json!({ "table": "core_distribution", "pulp_type": vs.detail.pulp_type, "v3": ctx.v3(), "content_base": content_base(ctx), "fields": fields }),
        shared: vec![domain_shared(ctx).await?],
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.dispatch(spec).await?))
}

async fn load_distribution(
    ctx: &Ctx,
    id: &str,
    vs: &ViewSet,
) -> Result<distribution::Model, ApiError> {
    let model = vs.detail.model;
    let id = parse_id(id, model)?;
    distribution::Entity::find_by_id(id.to_string())
        .one(&ctx.state.db.read)
        .await?
        .filter(|d| d.pulp_type == vs.detail.pulp_type)
        .ok_or_else(|| ApiError::not_found(model))
}

/// Filters of the publication lists.
pub const PUBLICATION_FILTERS: [&str; 15] = [
    "repository",
    "repository_version",
    "content",
    "content__in",
    "checkpoint",
    "pulp_created",
    "pulp_created__lt",
    "pulp_created__lte",
    "pulp_created__gt",
    "pulp_created__gte",
    "pulp_created__range",
    "pulp_created__isnull",
    "pulp_href__in",
    "pulp_id__in",
    "prn__in",
];
/// Orderable fields of the publication lists.
pub const PUBLICATION_ORDERABLE: [&str; 2] = ["pk", "pulp_created"];
/// Orderable fields of the distribution lists.
pub const DISTRIBUTION_ORDERABLE: [&str; 5] =
    ["pk", "pulp_id", "pulp_created", "name", "base_path"];
/// Filters of the distribution lists.
pub const DISTRIBUTION_FILTERS: [&str; 17] = [
    "repository__in",
    "checkpoint",
    "with_content",
    "pulp_label_select",
    "name",
    "name__contains",
    "name__icontains",
    "name__in",
    "name__startswith",
    "base_path",
    "base_path__contains",
    "base_path__icontains",
    "base_path__in",
    "repository",
    "pulp_href__in",
    "pulp_id__in",
    "prn__in",
];

/// `GET distributions/<plugin>/<type>/` and `GET distributions/` (`vs` `None`: every type).
pub async fn list_distributions(
    ctx: &Ctx,
    req: &Req,
    vs: Option<ViewSet>,
) -> Result<Response, ApiError> {
    let p = listing::parse(req, &DISTRIBUTION_FILTERS, &DISTRIBUTION_ORDERABLE)?;
    let v3 = ctx.v3();
    let mut cond = listing::scoped(Condition::all(), &ctx.scope);
    let own: Vec<Detail> = match &vs {
        Some(v) => {
            cond = cond.add(Expr::col("pulp_type").eq(v.detail.pulp_type));
            vec![v.detail]
        }
        None => types(ctx).distributions.clone(),
    };
    for (name, value) in &p.filters {
        let (field, lk) = lookup(name);
        let e = match field {
            "name" => listing::text("name", lk, value)?,
            "base_path" => listing::text("base_path", lk, value)?,
            "repository" if lk == "in" => {
                let mut ids = Vec::new();
                for h in value.split(',').map(str::trim) {
                    ids.push(repository_id(ctx, h).ok_or_else(|| {
                        ApiError::field(name, format!("URI couldn't be resolved: {h}"))
                    })?);
                }
                Expr::col("repository_id").is_in(ids)
            }
            "repository" => listing::related(
                ctx.state.db.backend,
                name,
                "repository_id",
                "core_repository",
                &repository_types(ctx),
                &v3,
                value,
                false,
            )?,
            "with_content" => {
                let content = super::content::content_refs(ctx, name, value).await?;
                Expr::col("pulp_id").is_in(serving_content(ctx, &content).await?)
            }
            "checkpoint" => Expr::col("checkpoint").eq(listing::boolean(name, value)?),
            // Applied by `fetch_page_labelled`.
            "pulp_label_select" => continue,
            f => listing::identity_filter_any(f, value, &v3, &own)?,
        };
        cond = cond.add(e);
    }
    let (count, rows) =
        listing::fetch_page_labelled::<distribution::Entity>(&ctx.state.db.read, cond, &p, |d| {
            &d.pulp_labels
        })
        .await?;
    let results = distributions_json(
        &ctx.state.db,
        &ctx.state.platform,
        &v3,
        &content_base(ctx),
        &rows,
    )
    .await?;
    Ok(ok(&listing::page(req, &p, count, results)))
}

/// The distributions whose served publication's version holds any of `content` (Pulp's
/// `with_content`).
async fn serving_content(ctx: &Ctx, content: &[String]) -> Result<Vec<String>, ApiError> {
    use pith_entities::publications::Served;
    let db = &ctx.state.db;
    let versions = pith_entities::versions::with_content(db, content).await?;
    let mut out = Vec::new();
    for d in distribution::Entity::find().all(&db.read).await? {
        let Some(what) = Served::of(
            d.publication_id.as_deref(),
            d.repository_version_id.as_deref(),
            d.repository_id.as_deref(),
        ) else {
            continue;
        };
        if let Some((_, version)) = pith_entities::publications::served(db, what).await?
            && versions.contains(&version)
        {
            out.push(d.pulp_id);
        }
    }
    Ok(out)
}

/// `GET distributions/<plugin>/<type>/<id>/`.
pub async fn read_distribution(
    ctx: &Ctx,
    req: &Req,
    id: &str,
    vs: ViewSet,
) -> Result<Response, ApiError> {
    let d = load_distribution(ctx, id, &vs).await?;
    let j = distribution_json(
        &ctx.state.db,
        &ctx.state.platform,
        &ctx.v3(),
        &content_base(ctx),
        &d,
    )
    .await?;
    Ok(ok(&listing::select_from_query(j, req)))
}

/// `PUT`/`PATCH`/`DELETE distributions/<plugin>/<type>/<id>/`: immediate tasks holding it
/// exclusively.
pub async fn change_distribution(
    ctx: &Ctx,
    req: &mut Req,
    id: &str,
    method: &warp::http::Method,
    vs: ViewSet,
) -> Result<Response, ApiError> {
    let d = load_distribution(ctx, id, &vs).await?;
    let (name, args) = if method == warp::http::Method::DELETE {
        (
            GENERAL_DELETE,
            json!({ "table": "core_distribution", "id": d.pulp_id }),
        )
    } else {
        let body = req.object(ctx.state.config.max_json_body).await?;
        let fields = validate_distribution(
            ctx,
            &body,
            Some(&d),
            method == warp::http::Method::PATCH,
            &d.pulp_type,
        )
        .await?;
        let own = super::details::load(
            ctx,
            pith_actors::plugin::Master::Distribution,
            &[(&d.pulp_id, &d.pulp_type)],
        )
        .await?
        .remove(&d.pulp_id)
        .unwrap_or_default();
        let cur = |k: &str| match k {
            "name" => json!(d.name),
            "base_path" => json!(d.base_path),
            "hidden" => json!(d.hidden),
            "pulp_labels" => serde_json::from_str(&d.pulp_labels).unwrap_or(Value::Null),
            "repository" => json!(d.repository_id),
            "repository_version" => json!(d.repository_version_id),
            "publication" => json!(d.publication_id),
            other => own.get(other).cloned().unwrap_or(Value::Null),
        };
        let changed: Map<String, Value> =
            fields.into_iter().filter(|(k, v)| cur(k) != *v).collect();
        if changed.is_empty() {
            return Ok(ok(&distribution_json(
                &ctx.state.db,
                &ctx.state.platform,
                &ctx.v3(),
                &content_base(ctx),
                &d,
            )
            .await?));
        }
        (
            GENERAL_UPDATE,
            json!({ "table": "core_distribution", "id": d.pulp_id, "fields": changed, "v3": ctx.v3(), "content_base": content_base(ctx) }),
        )
    };
    let spec = TaskSpec {
        name: name.into(),
        args,
        exclusive: vec![vs.detail.prn(&d.pulp_id)],
        shared: vec![domain_shared(ctx).await?],
        immediate: true,
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
    };
    Ok(accepted(&ctx.v3(), ctx.dispatch(spec).await?))
}

/// The remote types a distribution of `pulp_type` may pull through from (its `remote` field).
fn pull_through_remotes(ctx: &Ctx, pulp_type: &str) -> Vec<Detail> {
    let t = types(ctx);
    t.pull_through_remotes(pulp_type)
        .into_iter()
        .filter_map(|r| t.remote(r).copied())
        .collect()
}

/// A distribution's `remote`: null, or the href or PRN of an existing remote of a type it
/// pulls through from.
async fn validate_remote(
    ctx: &Ctx,
    pulp_type: &str,
    v: &Value,
) -> Result<Result<Value, String>, ApiError> {
    let h = match v {
        Value::Null => return Ok(Ok(Value::Null)),
        Value::String(h) if h.is_empty() => return Ok(Ok(Value::Null)),
        Value::String(h) => h,
        _ => return Ok(Err("Incorrect type. Expected URL string.".into())),
    };
    let allowed = pull_through_remotes(ctx, pulp_type);
    let Some(id) = listing::id_from_any(&ctx.v3(), &allowed, h) else {
        return Ok(Err("Invalid hyperlink - No URL match.".into()));
    };
    let found = pith_entities::entity::remote::Entity::find_by_id(id.clone())
        .one(&ctx.state.db.read)
        .await?;
    Ok(match found {
        Some(r) if allowed.iter().any(|t| t.pulp_type == r.pulp_type) => Ok(json!(id)),
        _ => Err("Invalid hyperlink - Object does not exist.".into()),
    })
}

/// Pulp's JSON for a publication.
pub async fn publication_json(
    db: &Db,
    types: &Types,
    v3: &str,
    id: &str,
) -> Result<Option<Value>, DbError> {
    Ok(publications_json(db, types, v3, &[id.to_owned()])
        .await?
        .pop())
}

/// Pulp's JSON for complete publications, in the order of `ids` (missing ones left out): two
/// queries for the whole page.
pub async fn publications_json(
    db: &Db,
    types: &Types,
    v3: &str,
    ids: &[String],
) -> Result<Vec<Value>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = pith_entities::publications::complete(db, ids).await?;
    // Each type's own fields (`manifest` of file publications), one query per type.
    let typed: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.id.as_str(), r.pulp_type.as_str()))
        .collect();
    let mut details = super::details::fields(db, types, Master::Publication, &typed).await?;
    let dists = pith_entities::publications::distributions_of(db, ids).await?;
    let mut by_pub: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (id, t, p) in dists {
        if let Some(t) = types.distribution(&t) {
            by_pub.entry(p).or_default().push(t.href(v3, &id));
        }
    }
    let mut found = std::collections::HashMap::new();
    for r in rows {
        let Some(own) = types.publication(&r.pulp_type) else {
            continue;
        };
        let repo_href = types.repository_href(v3, &r.repository_type, &r.repository_id);
        let mut j = json!({
            "pulp_href": own.href(v3, &r.id),
            "prn": own.prn(&r.id),
            "pulp_created": to_rfc3339(r.created),
            "pulp_last_updated": to_rfc3339(r.updated),
            "repository_version": format!("{repo_href}versions/{}/", r.number),
            "repository": repo_href,
            "distributions": by_pub.remove(&r.id).unwrap_or_default(),
            "checkpoint": r.checkpoint,
        });
        if let (Some(obj), Some(d)) = (j.as_object_mut(), details.remove(&r.id)) {
            obj.extend(d);
        }
        found.insert(r.id, j);
    }
    Ok(ids.iter().filter_map(|i| found.remove(i)).collect())
}

/// The hrefs of the remotes `rows` pull through from (one query).
async fn remote_hrefs(
    db: &Db,
    types: &Types,
    v3: &str,
    rows: &[distribution::Model],
) -> Result<std::collections::HashMap<String, String>, DbError> {
    use pith_entities::sea_orm::ColumnTrait;
    let ids: Vec<String> = rows.iter().filter_map(|d| d.remote_id.clone()).collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(pith_entities::entity::remote::Entity::find()
        .filter(pith_entities::entity::remote::Column::PulpId.is_in(ids))
        .all(&db.read)
        .await?
        .into_iter()
        .filter_map(|r| {
            let t = types.remote(&r.pulp_type)?;
            Some((r.pulp_id.clone(), t.href(v3, &r.pulp_id)))
        })
        .collect())
}

/// The href and PRN of each guard `rows` name (one query).
async fn guard_refs(
    db: &Db,
    platform: &crate::plugin::Platform,
    v3: &str,
    rows: &[distribution::Model],
) -> Result<std::collections::HashMap<String, (String, String)>, DbError> {
    let ids: Vec<String> = rows
        .iter()
        .filter_map(|d| d.content_guard_id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(pith_entities::content_guards::rows(db, &ids)
        .await?
        .into_iter()
        .filter_map(|g| {
            let t = platform.content_guard(&g.pulp_type)?.viewset.detail;
            Some((
                g.pulp_id.clone(),
                (t.href(v3, &g.pulp_id), t.prn(&g.pulp_id)),
            ))
        })
        .collect())
}

/// Pulp's JSON for a distribution; `content_base` is `CONTENT_ORIGIN` + `CONTENT_PATH_PREFIX`.
pub async fn distribution_json(
    db: &Db,
    platform: &crate::plugin::Platform,
    v3: &str,
    content_base: &str,
    d: &distribution::Model,
) -> Result<Value, DbError> {
    let mut v = distributions_json(db, platform, v3, content_base, std::slice::from_ref(d)).await?;
    v.pop()
        .ok_or_else(|| DbError::Corrupt("no distribution JSON".into()))
}

/// Pulp's JSON for distributions, with the hrefs of the repositories and versions they name
/// found in one query each.
pub async fn distributions_json(
    db: &Db,
    platform: &crate::plugin::Platform,
    v3: &str,
    content_base: &str,
    rows: &[distribution::Model],
) -> Result<Vec<Value>, DbError> {
    use pith_entities::sea_orm::{ColumnTrait, QueryFilter};
    let types = &platform.types;
    let guards = guard_refs(db, platform, v3, rows).await?;
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
    let repos = repository_hrefs(db, types, v3, &repo_ids).await?;
    let remotes = remote_hrefs(db, types, v3, rows).await?;
    let versions: std::collections::HashMap<String, String> = versions
        .into_iter()
        .filter_map(|v| {
            let repo = repos.get(&v.repository_id)?;
            Some((v.pulp_id, version_href(repo, v.number)))
        })
        .collect();
    let typed: Vec<(&str, &str)> = rows
        .iter()
        .map(|d| (d.pulp_id.as_str(), d.pulp_type.as_str()))
        .collect();
    let mut details = super::details::fields(db, types, Master::Distribution, &typed).await?;
    Ok(rows
        .iter()
        .map(|d| {
            let version = d
                .repository_version_id
                .as_ref()
                .and_then(|id| versions.get(id).cloned());
            let fixed = d.publication_id.is_some() || d.repository_version_id.is_some();
            let guard = d.content_guard_id.as_ref().and_then(|g| guards.get(g));
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
                "content_guard": guard.map(|(h, _)| h),
                "content_guard_prn": guard.map(|(_, p)| p),
                "no_content_change_since": fixed.then(|| to_rfc3339(d.pulp_last_updated)),
                "hidden": d.hidden,
                "pulp_labels": serde_json::from_str::<Value>(&d.pulp_labels).unwrap_or_else(|_| json!({})),
                "name": d.name,
                "repository": d.repository_id.as_ref().and_then(|r| repos.get(r)),
                "repository_version": version,
                "publication": publication,
                "checkpoint": d.checkpoint,
            });
            if let (Some(obj), Some(own)) = (j.as_object_mut(), details.remove(&d.pulp_id)) {
                obj.extend(own);
            }
            if !types.pull_through_remotes(&d.pulp_type).is_empty()
                && let Some(obj) = j.as_object_mut()
            {
                let href = d.remote_id.as_ref().map(|r| remotes.get(r).cloned());
                obj.insert("remote".into(), json!(href.flatten()));
            }
            j
        })
        .collect())
}
