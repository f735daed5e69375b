//! `contentguards/` and each guard type's `contentguards/<app>/<type>/` (Pulp's
//! `ContentGuardViewSet`s): synchronous create (201), read, update, delete (204), lists with
//! Pulp's filters including `q`; the generic list adds `pulp_type` and `pulp_type__in`.

use pith_entities::content_guards::GuardFields;
use pith_entities::entity::content_guard;
use pith_entities::sea_orm::sea_query::{Condition, Expr, ExprTrait, SimpleExpr};
use pith_entities::time::to_rfc3339;
use serde_json::{Map, Value, json};
use warp::http::StatusCode;

use super::{Ctx, ok};
use crate::error::FieldErrors;
use crate::expression::{self, Expr as Q, Refused};
use crate::listing::{self, lookup};
use crate::plugin::ContentGuardType;
use crate::request::{Response, empty, json as json_resp};
use crate::{ApiError, Req};

/// Filters of every guard list.
pub const FILTERS: [&str; 13] = [
    "name",
    "name__contains",
    "name__icontains",
    "name__iexact",
    "name__in",
    "name__iregex",
    "name__istartswith",
    "name__regex",
    "name__startswith",
    "q",
    "pulp_href__in",
    "pulp_id__in",
    "prn__in",
];

/// Filters of the generic `contentguards/` list: those and the type.
pub const GENERIC_FILTERS: [&str; 15] = {
    let mut all = [""; 15];
    let mut i = 0;
    while i < FILTERS.len() {
        all[i] = FILTERS[i];
        i += 1;
    }
    all[13] = "pulp_type";
    all[14] = "pulp_type__in";
    all
};

/// Orderable fields.
pub const ORDERABLE: [&str; 7] = [
    "pulp_id",
    "pulp_created",
    "pulp_last_updated",
    "pulp_type",
    "name",
    "description",
    "pk",
];

fn types(ctx: &Ctx) -> &[ContentGuardType] {
    &ctx.state.platform.content_guards
}

fn details(ctx: &Ctx) -> Vec<pith_actors::plugin::Detail> {
    types(ctx).iter().map(|t| t.viewset.detail).collect()
}

/// One filter as a condition (also what a `q` term is).
fn condition(
    ctx: &Ctx,
    name: &str,
    value: &str,
    only: Option<&ContentGuardType>,
) -> Result<SimpleExpr, ApiError> {
    let v3 = ctx.v3();
    let (field, lk) = lookup(name);
    let own = match only {
        Some(t) => vec![t.viewset.detail],
        None => details(ctx),
    };
    match field {
        "name" => listing::text_on(ctx.state.db.backend, "name", lk, value),
        "pulp_type" if only.is_none() => {
            let given: Vec<&str> = if lk == "in" {
                value.split(',').map(str::trim).collect()
            } else {
                vec![value.trim()]
            };
            for t in &given {
                if !own.iter().any(|d| d.pulp_type == *t) {
                    return Err(ApiError::field(
                        name,
                        format!("Select a valid choice. {t} is not one of the available choices."),
                    ));
                }
            }
            Ok(Expr::col("pulp_type").is_in(given))
        }
        _ => listing::identity_filter_any(field, value, &v3, &own),
    }
}

/// The list's condition: the type, then every filter (`q` parsed against the same filters).
fn list_condition(
    ctx: &Ctx,
    p: &listing::ListParams,
    only: Option<&ContentGuardType>,
    filters: &[&str],
) -> Result<Condition, ApiError> {
    let mut cond = Condition::all();
    if let Some(t) = only {
        cond = cond.add(Expr::col("pulp_type").eq(t.viewset.detail.pulp_type));
    }
    for (name, value) in &p.filters {
        if name == "q" {
            let e = expression::parse(value, |k, v| {
                if k == "q" || !filters.contains(&k) {
                    return Err(Refused::Unknown(k.to_owned()));
                }
                condition(ctx, k, v, only).map_err(|e| match e {
                    ApiError::BadRequest(body) => Refused::Invalid(body),
                    other => Refused::Invalid(json!({ k: [other.to_string()] })),
                })
            })
            .map_err(Refused::into_error)?;
            cond = cond.add(to_condition(e));
        } else {
            cond = cond.add(condition(ctx, name, value, only)?);
        }
    }
    Ok(cond)
}

fn to_condition(e: Q<SimpleExpr>) -> Condition {
    match e {
        Q::Term(t) => Condition::all().add(t),
        Q::Not(inner) => to_condition(*inner).not(),
        Q::And(all) => all
            .into_iter()
            .fold(Condition::all(), |c, e| c.add(to_condition(e))),
        Q::Or(any) => any
            .into_iter()
            .fold(Condition::any(), |c, e| c.add(to_condition(e))),
    }
}

/// Pulp's JSON for guards `rows`: each as its own type (the generic list as the base
/// serializer: only the fields every guard has).
async fn serialize(
    ctx: &Ctx,
    rows: &[content_guard::Model],
    generic: bool,
) -> Result<Vec<Value>, ApiError> {
    let v3 = ctx.v3();
    let db = &ctx.state.db;
    let mut fields: std::collections::HashMap<String, Map<String, Value>> = Default::default();
    let mut members = std::collections::HashMap::new();
    if !generic {
        for t in types(ctx) {
            let ids: Vec<String> = rows
                .iter()
                .filter(|r| r.pulp_type == t.viewset.detail.pulp_type)
                .map(|r| r.pulp_id.clone())
                .collect();
            if ids.is_empty() {
                continue;
            }
            if let Some(table) = t.table {
                fields.extend(pith_entities::detail::load(db, &db.read, &table, &ids).await?);
            }
            if t.members {
                members.extend(pith_entities::content_guards::members(db, &ids).await?);
            }
        }
    }
    // Who may download through each RBAC guard: users and groups with a role on it that
    // grants the download (superusers are not listed, as in Pulp).
    let mut downloaders: std::collections::HashMap<String, (Value, Value)> = Default::default();
    let rbac = crate::content_guard::RBAC.detail;
    for r in rows
        .iter()
        .filter(|r| !generic && r.pulp_type == rbac.pulp_type)
    {
        let (users, groups) = pith_entities::rbac::holders_on(
            db,
            crate::content_guard::DOWNLOAD,
            (rbac.prn_type, &r.pulp_id),
        )
        .await?;
        let mut u = Vec::new();
        for id in users {
            if let Some(row) = super::users::user_row(ctx, id).await? {
                u.push(json!({"username": row.username, "pulp_href": format!("{v3}users/{id}/"), "prn": format!("prn:auth.user:{id}")}));
            }
        }
        let mut g = Vec::new();
        for id in groups {
            if let Some(row) = pith_entities::rbac::group(db, id).await? {
                g.push(json!({"name": row.name, "pulp_href": format!("{v3}groups/{id}/"), "prn": format!("prn:core.group:{id}")}));
            }
        }
        downloaders.insert(r.pulp_id.clone(), (json!(u), json!(g)));
    }
    let member_rows = {
        let all: Vec<String> = members.values().flatten().cloned().collect();
        pith_entities::content_guards::rows(db, &all).await?
    };
    let href_of = |id: &str| {
        member_rows
            .iter()
            .find(|m| m.pulp_id == id)
            .and_then(|m| ctx.state.platform.content_guard(&m.pulp_type))
            .map(|t| t.viewset.detail.href(&v3, id))
    };
    Ok(rows
        .iter()
        .map(|r| {
            let ty = ctx.state.platform.content_guard(&r.pulp_type);
            let detail = ty.map(|t| t.viewset.detail);
            let mut j = json!({
                "pulp_href": detail.map(|d| d.href(&v3, &r.pulp_id)),
                "prn": detail.map(|d| d.prn(&r.pulp_id)),
                "pulp_created": to_rfc3339(r.pulp_created),
                "pulp_last_updated": to_rfc3339(r.pulp_last_updated),
                "name": r.name,
                "description": r.description,
            });
            if let (false, Some(t), Some(obj)) = (generic, ty, j.as_object_mut()) {
                if let Some(f) = fields.remove(&r.pulp_id) {
                    obj.extend(f);
                }
                if t.members {
                    let hrefs: Vec<String> = members
                        .get(&r.pulp_id)
                        .into_iter()
                        .flatten()
                        .filter_map(|m| href_of(m))
                        .collect();
                    obj.insert("guards".into(), json!(hrefs));
                }
                if let Some((users, groups)) = downloaders.remove(&r.pulp_id) {
                    obj.insert("users".into(), users);
                    obj.insert("groups".into(), groups);
                }
            }
            j
        })
        .collect())
}

/// `GET contentguards/` (`ty` `None`) and `GET contentguards/<app>/<type>/`.
pub async fn list(
    ctx: &Ctx,
    req: &Req,
    ty: Option<ContentGuardType>,
) -> Result<Response, ApiError> {
    let filters: &[&str] = if ty.is_some() {
        &FILTERS
    } else {
        &GENERIC_FILTERS
    };
    let p = listing::parse(req, filters, &ORDERABLE)?;
    let cond = listing::scoped(list_condition(ctx, &p, ty.as_ref(), filters)?, &ctx.scope);
    let (count, rows) =
        listing::fetch_page::<content_guard::Entity>(&ctx.state.db.read, cond, &p).await?;
    let results = serialize(ctx, &rows, ty.is_none()).await?;
    Ok(ok(&listing::page(req, &p, count, results)))
}

async fn load(
    ctx: &Ctx,
    id: &str,
    ty: &ContentGuardType,
) -> Result<content_guard::Model, ApiError> {
    let model = ty.viewset.detail.model;
    let id = super::parse_id(id, model)?.to_string();
    pith_entities::content_guards::rows(&ctx.state.db, &[id])
        .await?
        .pop()
        .filter(|g| g.pulp_type == ty.viewset.detail.pulp_type)
        .ok_or_else(|| ApiError::not_found(model))
}

async fn one(ctx: &Ctx, row: &content_guard::Model) -> Result<Value, ApiError> {
    Ok(serialize(ctx, std::slice::from_ref(row), false)
        .await?
        .pop()
        .unwrap_or(Value::Null))
}

/// `GET contentguards/<app>/<type>/<id>/`.
pub async fn read(
    ctx: &Ctx,
    req: &Req,
    id: &str,
    ty: ContentGuardType,
) -> Result<Response, ApiError> {
    let row = load(ctx, id, &ty).await?;
    Ok(ok(&listing::select_from_query(one(ctx, &row).await?, req)))
}

/// Validates a create (`existing` `None`) or an update body.
async fn validate(
    ctx: &Ctx,
    body: &Map<String, Value>,
    ty: &ContentGuardType,
    existing: Option<&content_guard::Model>,
    partial: bool,
) -> Result<GuardFields, ApiError> {
    let mut errs = FieldErrors::default();
    let mut f = GuardFields::default();
    let mut detail = Map::new();
    let v3 = ctx.v3();
    for (k, v) in body {
        match (k.as_str(), v) {
            ("name", Value::String(s)) if !s.trim().is_empty() => {
                f.name = Some(s.trim().to_owned())
            }
            ("name", Value::String(_)) => errs.add(k, "This field may not be blank."),
            ("name", Value::Null) => errs.add(k, "This field may not be null."),
            ("name", _) => errs.add(k, "Not a valid string."),
            ("description", Value::String(s)) => f.description = Some(Some(s.clone())),
            ("description", Value::Null) => f.description = Some(None),
            ("description", _) => errs.add(k, "Not a valid string."),
            ("guards", _) if ty.members => match members(ctx, &v3, v).await? {
                Ok(ids) => f.members = Some(ids),
                Err(m) => errs.add(k, m),
            },
            (other, _) => match ty.table.and_then(|t| t.field(other).copied()) {
                Some(field) if !field.read_only => {
                    let checked = field.validate(v).and_then(|v| match ty.validate {
                        Some(check) => check(&ctx.state, other, &v).map(|_| v),
                        None => Ok(v),
                    });
                    match checked {
                        Ok(v) => {
                            detail.insert(other.to_owned(), v);
                        }
                        Err(m) => errs.add(k, m),
                    }
                }
                _ => errs.add(k, "Unexpected field"),
            },
        }
    }
    if !partial {
        if !body.contains_key("name") {
            errs.add("name", "This field is required.");
        }
        for r in ty.required {
            if !body.contains_key(*r) {
                errs.add(r, "This field is required.");
            }
        }
    }
    if let Some(name) = &f.name
        && listing::name_taken::<content_guard::Entity>(
            &ctx.state.db.read,
            name,
            existing.map(|e| e.pulp_id.as_str()),
        )
        .await?
    {
        errs.add("name", "This field must be unique.");
    }
    errs.into_result()?;
    if let Some(t) = ty.table
        && (!detail.is_empty() || existing.is_none())
    {
        f.detail = Some((t, detail));
    }
    Ok(f)
}

/// The guards a composite guard's `guards` names: hrefs or PRNs of existing guards that are
/// not composite themselves (null or empty: none).
async fn members(ctx: &Ctx, v3: &str, v: &Value) -> Result<Result<Vec<String>, String>, ApiError> {
    let items: Vec<&Value> = match v {
        Value::Null => return Ok(Ok(Vec::new())),
        Value::Array(a) => a.iter().collect(),
        _ => return Ok(Err("Expected a list of items but got type \"str\".".into())),
    };
    let mut ids = Vec::new();
    for item in items {
        let Some(h) = item.as_str() else {
            return Ok(Err("Incorrect type. Expected URL string.".into()));
        };
        let Some(id) = listing::id_from_any(v3, &details(ctx), h) else {
            return Ok(Err("Invalid hyperlink - No URL match.".into()));
        };
        let row = pith_entities::content_guards::rows(&ctx.state.db, std::slice::from_ref(&id))
            .await?
            .pop();
        match row.and_then(|r| ctx.state.platform.content_guard(&r.pulp_type).copied()) {
            Some(t) if t.members => {
                return Ok(Err(
                    "A composite guard cannot contain another composite guard.".into(),
                ));
            }
            Some(_) => ids.push(id),
            None => return Ok(Err("Invalid hyperlink - Object does not exist.".into())),
        }
    }
    Ok(Ok(ids))
}

/// A new guard's secret: 32 random bytes, hex.
fn new_secret() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// `POST contentguards/<app>/<type>/`: 201 with the guard.
pub async fn create(ctx: &Ctx, req: &mut Req, ty: ContentGuardType) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let f = validate(ctx, &body, &ty, None, false).await?;
    let secret = ty.secret.then(new_secret);
    let row = match pith_entities::content_guards::create(
        &ctx.state.db,
        ty.viewset.detail.pulp_type,
        &f,
        secret.as_deref(),
    )
    .await
    {
        Ok(r) => r,
        // A concurrent create of the same name won the unique index.
        Err(e) => {
            let name = f.name.clone().unwrap_or_default();
            return Err(
                if listing::name_taken::<content_guard::Entity>(&ctx.state.db.read, &name, None)
                    .await?
                {
                    ApiError::field("name", "This field must be unique.")
                } else {
                    e.into()
                },
            );
        }
    };
    super::access_policies::created(ctx, ty.viewset.detail.collection, &row.pulp_id).await?;
    Ok(json_resp(StatusCode::CREATED, &one(ctx, &row).await?))
}

/// `PUT`/`PATCH contentguards/<app>/<type>/<id>/`: 200 with the guard.
pub async fn update(
    ctx: &Ctx,
    req: &mut Req,
    id: &str,
    partial: bool,
    ty: ContentGuardType,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let row = load(ctx, id, &ty).await?;
    let f = validate(ctx, &body, &ty, Some(&row), partial).await?;
    if !pith_entities::content_guards::update(&ctx.state.db, &row.pulp_id, &f).await? {
        return Err(ApiError::not_found(ty.viewset.detail.model));
    }
    pith_entities::content_generation::changed(&ctx.state.db).await;
    let row = load(ctx, id, &ty).await?;
    Ok(ok(&one(ctx, &row).await?))
}

/// `DELETE contentguards/<app>/<type>/<id>/`: 204; distributions it guarded are unguarded.
pub async fn delete(ctx: &Ctx, id: &str, ty: ContentGuardType) -> Result<Response, ApiError> {
    let row = load(ctx, id, &ty).await?;
    let tables: Vec<_> = types(ctx).iter().filter_map(|t| t.table).collect();
    pith_entities::content_guards::delete(&ctx.state.db, &row.pulp_id, &tables).await?;
    pith_entities::content_generation::changed(&ctx.state.db).await;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// The guard a distribution's `content_guard` names (href or PRN of any guard type; null or
/// empty: none), or the message refusing it.
pub async fn reference(ctx: &Ctx, v: &Value) -> Result<Result<Value, String>, ApiError> {
    let h = match v {
        Value::Null => return Ok(Ok(Value::Null)),
        Value::String(h) if h.is_empty() => return Ok(Ok(Value::Null)),
        Value::String(h) => h,
        _ => return Ok(Err("Incorrect type. Expected URL string.".into())),
    };
    let Some(id) = listing::id_from_any(&ctx.v3(), &details(ctx), h) else {
        return Ok(Err("Invalid hyperlink - No URL match.".into()));
    };
    let found = pith_entities::content_guards::rows(&ctx.state.db, std::slice::from_ref(&id))
        .await?
        .pop()
        .is_some();
    Ok(if found {
        Ok(json!(id))
    } else {
        Err("Invalid hyperlink - Object does not exist.".into())
    })
}
