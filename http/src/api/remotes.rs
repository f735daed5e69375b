//! A remote type's viewset (create, list, show, update, delete, labels) and the generic
//! `remotes/` list. Create is synchronous; updates run as Pulp's immediate `ageneral_update`
//! task (200 when nothing changes); deletes as a deferred `general_delete` task.

use pith_actors::plugin::Detail;
use pith_actors::plugin::Master;
use pith_actors::tasking::TaskSpec;
use pith_actors::tasks::{GENERAL_DELETE, GENERAL_UPDATE};
use pith_entities::entity::remote;
use pith_entities::remotes::set_field;

use super::details;
use pith_entities::sea_orm::sea_query::{Condition, Expr, ExprTrait};
use pith_entities::sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, Set};
use pith_entities::time;
use serde_json::{Map, Value, json};
use warp::http::{HeaderValue, StatusCode};

use super::{Ctx, accepted, ok, parse_id};
use crate::error::FieldErrors;
use crate::listing::{self, json_type, lookup};
use crate::plugin::ViewSet;
use crate::request::{Response, json as json_resp};
use crate::{ApiError, Req};

const NULLABLE_TEXT: [&str; 8] = [
    "ca_cert",
    "client_cert",
    "client_key",
    "proxy_url",
    "proxy_username",
    "proxy_password",
    "username",
    "password",
];
const SECRETS: [&str; 5] = [
    "client_key",
    "proxy_username",
    "proxy_password",
    "username",
    "password",
];
const TIMEOUTS: [&str; 4] = [
    "total_timeout",
    "connect_timeout",
    "sock_connect_timeout",
    "sock_read_timeout",
];
pub const FILTERS: [&str; 18] = [
    "name",
    "name__iexact",
    "name__in",
    "name__contains",
    "name__icontains",
    "name__startswith",
    "name__istartswith",
    "name__ne",
    "pulp_label_select",
    "pulp_last_updated",
    "pulp_last_updated__lt",
    "pulp_last_updated__lte",
    "pulp_last_updated__gt",
    "pulp_last_updated__gte",
    "pulp_last_updated__range",
    "pulp_id__in",
    "pulp_href__in",
    "prn__in",
];
pub const ORDERABLE: [&str; 7] = [
    "pk",
    "pulp_id",
    "pulp_created",
    "pulp_last_updated",
    "name",
    "url",
    "policy",
];

/// The remote types a list shows: one (its detail list) or all (`remotes/`).
fn types_of(ctx: &Ctx, vs: Option<&ViewSet>) -> Vec<Detail> {
    match vs {
        Some(v) => vec![v.detail],
        None => ctx.state.platform.types.remotes.clone(),
    }
}

/// The type of a stored remote (the first declared one for a row no plugin declares).
fn type_of(types: &pith_actors::plugin::Types, r: &remote::Model) -> Option<Detail> {
    types
        .remote(&r.pulp_type)
        .or(types.remotes.first())
        .copied()
}

/// Serializes a remote in Pulp's field order; secrets only appear as `hidden_fields`.
pub fn serialize(
    types: &pith_actors::plugin::Types,
    v3: &str,
    r: &remote::Model,
    details: Option<Map<String, Value>>,
) -> Value {
    let t = type_of(types, r);
    let hidden: Vec<Value> = SECRETS
        .iter()
        .map(|f| {
            let set = match *f {
                "client_key" => r.client_key.is_some(),
                "proxy_username" => r.proxy_username.is_some(),
                "proxy_password" => r.proxy_password.is_some(),
                "username" => r.username.is_some(),
                _ => r.password.is_some(),
            };
            json!({ "name": f, "is_set": set })
        })
        .collect();
    let mut j = json!({
        "pulp_href": t.map(|t| t.href(v3, &r.pulp_id)),
        "prn": t.map(|t| t.prn(&r.pulp_id)),
        "pulp_created": time::to_rfc3339(r.pulp_created),
        "pulp_last_updated": time::to_rfc3339(r.pulp_last_updated),
        "name": r.name,
        "url": r.url,
        "pulp_labels": serde_json::from_str::<Value>(&r.pulp_labels).unwrap_or_else(|_| json!({})),
        "policy": r.policy,
        "hidden_fields": hidden,
        "ca_cert": r.ca_cert,
        "client_cert": r.client_cert,
        "tls_validation": r.tls_validation,
        "proxy_url": r.proxy_url,
        "max_retries": r.max_retries,
        "total_timeout": r.total_timeout,
        "connect_timeout": r.connect_timeout,
        "sock_connect_timeout": r.sock_connect_timeout,
        "sock_read_timeout": r.sock_read_timeout,
        "headers": serde_json::from_str::<Value>(&r.headers).unwrap_or_else(|_| json!([])),
        "download_concurrency": r.download_concurrency,
        "rate_limit": r.rate_limit,
    });
    if let (Some(obj), Some(d)) = (j.as_object_mut(), details) {
        obj.extend(d);
    }
    j
}

/// Serializes one remote with its type's detail fields.
async fn serialize_one(ctx: &Ctx, r: &remote::Model) -> Result<Value, ApiError> {
    let types = &ctx.state.platform.types;
    Ok(serialize_detached(&ctx.state.db, types, &ctx.v3(), r).await?)
}

/// A remote's JSON with its detail fields, outside a request too (a task's `result`).
pub async fn serialize_detached(
    db: &pith_entities::Db,
    types: &pith_actors::plugin::Types,
    v3: &str,
    r: &remote::Model,
) -> Result<Value, pith_entities::DbError> {
    let rows = [(r.pulp_id.as_str(), r.pulp_type.as_str())];
    let mut d = details::fields(db, types, Master::Remote, &rows).await?;
    Ok(serialize(types, v3, r, d.remove(&r.pulp_id)))
}

/// Keeps just the certificate blocks of a PEM text, as Pulp does.
fn certificates(which: &str, pem: &str) -> Result<String, String> {
    use base64::Engine;
    let mut certs = Vec::new();
    let mut cur: Option<Vec<&str>> = None;
    for line in pem.lines() {
        let l = line.trim();
        if l == "-----BEGIN CERTIFICATE-----" {
            cur = Some(vec![l]);
        } else if l == "-----END CERTIFICATE-----" {
            if let Some(mut c) = cur.take() {
                let body: String = c[1..].concat();
                if base64::engine::general_purpose::STANDARD
                    .decode(body.as_bytes())
                    .is_err()
                {
                    return Err(format!(
                        "Invalid {which} specified, error 'the certificate is not valid base64'"
                    ));
                }
                c.push(l);
                certs.push(c.join("\n"));
            }
        } else if let Some(c) = cur.as_mut() {
            c.push(l);
        }
    }
    if certs.is_empty() {
        return Err(format!("No {which} specified in string {pem}"));
    }
    Ok(certs.join("\n") + "\n")
}

/// Validates a `downloader_config` (content from a `file_url`): a remote's connection options.
pub async fn validate_options(
    ctx: &Ctx,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    if let Some(k) = body
        .keys()
        .find(|k| matches!(k.as_str(), "name" | "url" | "policy" | "pulp_labels"))
    {
        return Err(ApiError::field(
            "downloader_config",
            format!("{k}: Unexpected field"),
        ));
    }
    validate(ctx, body, None, true, None).await
}

/// Validates a create/update body. Returns the normalized values of the fields given.
async fn validate(
    ctx: &Ctx,
    body: &Map<String, Value>,
    existing: Option<&remote::Model>,
    partial: bool,
    pulp_type: Option<&str>,
) -> Result<Map<String, Value>, ApiError> {
    let mut errs = FieldErrors::default();
    let mut out = Map::new();
    for (k, v) in body {
        let k = k.as_str();
        let norm: Result<Value, String> = match k {
            "name" | "url" => match v {
                Value::String(s) if s.trim().is_empty() => {
                    Err("This field may not be blank.".into())
                }
                Value::String(s) => Ok(Value::String(s.trim().to_owned())),
                Value::Null => Err("This field may not be null.".into()),
                _ => Err("Not a valid string.".into()),
            },
            "policy" => match v.as_str() {
                Some(p @ ("immediate" | "on_demand" | "streamed")) => Ok(json!(p)),
                _ => Err(format!(
                    "\"{}\" is not a valid choice.",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )),
            },
            "tls_validation" => match v {
                Value::Bool(b) => Ok(json!(b)),
                Value::String(s) if matches!(s.as_str(), "true" | "True" | "1") => Ok(json!(true)),
                Value::String(s) if matches!(s.as_str(), "false" | "False" | "0") => {
                    Ok(json!(false))
                }
                _ => Err("Must be a valid boolean.".into()),
            },
            k if NULLABLE_TEXT.contains(&k) => match v {
                Value::Null => Ok(Value::Null),
                Value::String(s) if k == "ca_cert" || k == "client_cert" => {
                    certificates(k, s).map(Value::String)
                }
                Value::String(s) if k == "proxy_url" && s.contains('@') => {
                    Err("proxy_url must not contain credentials".into())
                }
                Value::String(s) => Ok(Value::String(s.clone())),
                _ => Err("Not a valid string.".into()),
            },
            "download_concurrency" | "max_retries" | "rate_limit" => match v {
                Value::Null => Ok(Value::Null),
                _ => match v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                {
                    Some(n) if k == "download_concurrency" && n < 1 => {
                        Err("Ensure this value is greater than or equal to 1.".into())
                    }
                    Some(n) => Ok(json!(n)),
                    None => Err("A valid integer is required.".into()),
                },
            },
            k if TIMEOUTS.contains(&k) => match v {
                Value::Null => Ok(Value::Null),
                _ => match v
                    .as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                {
                    Some(f) if f < 0.0 || !f.is_finite() => {
                        Err("Ensure this value is greater than or equal to 0.0.".into())
                    }
                    Some(f) => Ok(json!(f)),
                    None => Err("A valid number is required.".into()),
                },
            },
            "headers" => match v {
                Value::Array(a) if a.iter().all(Value::is_object) => Ok(v.clone()),
                Value::Array(_) => Err("Expected a dictionary of items.".into()),
                _ => Err(format!(
                    "Expected a list of items but got type \"{}\".",
                    json_type(v)
                )),
            },
            "pulp_labels" => listing::validate_labels(v).map(|_| v.clone()),
            other => {
                match pulp_type.and_then(|t| details::validate(ctx, Master::Remote, t, other, v)) {
                    Some(r) => r,
                    None => {
                        errs.add(k, "Unexpected field");
                        continue;
                    }
                }
            }
        };
        match norm {
            Ok(n) => {
                out.insert(k.to_owned(), n);
            }
            Err(m) => errs.add(k, m),
        }
    }
    if !partial {
        for f in ["name", "url"] {
            if !body.contains_key(f) {
                errs.add(f, "This field is required.");
            }
        }
    }
    if let Some(Value::String(url)) = out.get("url") {
        let after = url.split_once("://").map_or("", |(_, r)| r);
        let authority = after.split('/').next().unwrap_or("");
        if authority.contains('@') {
            errs.add("url", "The remote url contains username or password. Please use remote username or password instead.");
        } else if url.to_lowercase().starts_with("file://") {
            errs.add(
                "url",
                format!(
                    "The path '{}' does not start with any of the allowed import paths",
                    &url[7..]
                ),
            );
        }
    }
    if let Some(Value::String(name)) = out.get("name")
        && listing::name_taken::<remote::Entity>(
            &ctx.state.db.read,
            name,
            existing.map(|e| e.pulp_id.as_str()),
        )
        .await?
    {
        errs.add("name", "This field must be unique.");
    }
    errs.into_result()?;
    // Proxy credentials: only together, and only with a proxy (checked on the merged values).
    let pick = |f: &str, old: Option<&String>| match out.get(f) {
        Some(v) => v.as_str().map(str::to_owned),
        None => old.cloned(),
    };
    let proxy_url = pick("proxy_url", existing.and_then(|e| e.proxy_url.as_ref()));
    let pu = pick(
        "proxy_username",
        existing.and_then(|e| e.proxy_username.as_ref()),
    )
    .filter(|s| !s.is_empty());
    let pp = pick(
        "proxy_password",
        existing.and_then(|e| e.proxy_password.as_ref()),
    )
    .filter(|s| !s.is_empty());
    if (pu.is_some() || pp.is_some()) && proxy_url.is_none() {
        return Err(ApiError::field(
            "non_field_errors",
            "proxy credentials cannot be specified without a proxy",
        ));
    }
    if pu.is_some() != pp.is_some() {
        return Err(ApiError::field(
            "non_field_errors",
            "proxy username and password can only be specified together",
        ));
    }
    Ok(out)
}

async fn created(ctx: &Ctx, vs: &ViewSet, r: &remote::Model) -> Result<Response, ApiError> {
    let v3 = ctx.v3();
    let body = serialize_one(ctx, r).await?;
    let mut resp = json_resp(StatusCode::CREATED, &body);
    if let Ok(h) = HeaderValue::from_str(&vs.detail.href(&v3, &r.pulp_id)) {
        resp.headers_mut().insert("location", h);
    }
    Ok(resp)
}

/// `POST remotes/<plugin>/<type>/`.
pub async fn create(ctx: &Ctx, req: &mut Req, vs: ViewSet) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let fields = validate(ctx, &body, None, false, Some(vs.detail.pulp_type)).await?;
    let (table, detail_values, fields) =
        ctx.state
            .platform
            .types
            .split_fields(Master::Remote, vs.detail.pulp_type, &fields);
    let now = time::now_micros();
    let mut am = remote::ActiveModel {
        pulp_id: Set(uuid::Uuid::now_v7().to_string()),
        pulp_type: Set(vs.detail.pulp_type.into()),
        pulp_created: Set(now),
        pulp_last_updated: Set(now),
        pulp_labels: Set("{}".into()),
        policy: Set("immediate".into()),
        tls_validation: Set(true),
        headers: Set("[]".into()),
        ..Default::default()
    };
    for f in [
        "ca_cert",
        "client_cert",
        "client_key",
        "proxy_url",
        "proxy_username",
        "proxy_password",
        "username",
        "password",
        "max_retries",
        "total_timeout",
        "connect_timeout",
        "sock_connect_timeout",
        "sock_read_timeout",
        "download_concurrency",
        "rate_limit",
    ] {
        set_field(&mut am, f, &Value::Null).map_err(ApiError::Internal)?;
    }
    for (k, v) in &fields {
        set_field(&mut am, k, v).map_err(ApiError::Internal)?;
    }
    let db = &ctx.state.db;
    let txn = pith_entities::sea_orm::TransactionTrait::begin(&db.write).await?;
    let saved = match am.insert(&txn).await {
        Ok(m) => m,
        Err(e) => {
            drop(txn);
            // A concurrent create with the same name won the unique index.
            let taken = remote::Entity::find()
                .filter(Expr::col("name").eq(fields["name"].clone()))
                .one(&db.read)
                .await?
                .is_some();
            return Err(if taken {
                ApiError::field("name", "This field must be unique.")
            } else {
                e.into()
            });
        }
    };
    if let Some(t) = &table {
        pith_entities::detail::save(db, &txn, t, &saved.pulp_id, &detail_values).await?;
    }
    txn.commit().await?;
    super::access_policies::created(ctx, vs.detail.collection, &saved.pulp_id).await?;
    created(ctx, &vs, &saved).await
}

fn condition(ctx: &Ctx, p: &listing::ListParams, types: &[Detail]) -> Result<Condition, ApiError> {
    let v3 = ctx.v3();
    let mut cond = Condition::all();
    if let [one] = types {
        cond = cond.add(Expr::col("pulp_type").eq(one.pulp_type));
    }
    for (name, value) in &p.filters {
        let (field, lk) = lookup(name);
        let e = match field {
            "name" => listing::text("name", lk, value)?,
            "pulp_last_updated" => listing::time(name, "pulp_last_updated", lk, value)?,
            "pulp_label_select" => continue,
            f => listing::identity_filter_any(f, value, &v3, types)?,
        };
        cond = cond.add(e);
    }
    Ok(cond)
}

/// `GET remotes/<plugin>/<type>/` and `GET remotes/` (`vs` `None`: every type).
pub async fn list(ctx: &Ctx, req: &Req, vs: Option<ViewSet>) -> Result<Response, ApiError> {
    let p = listing::parse(req, &FILTERS, &ORDERABLE)?;
    let cond = listing::scoped(condition(ctx, &p, &types_of(ctx, vs.as_ref()))?, &ctx.scope);
    let v3 = ctx.v3();
    let (count, rows) =
        listing::fetch_page_labelled::<remote::Entity>(&ctx.state.db.read, cond, &p, |r| {
            &r.pulp_labels
        })
        .await?;
    let types = &ctx.state.platform.types;
    let typed: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.pulp_id.as_str(), r.pulp_type.as_str()))
        .collect();
    let mut d = details::load(ctx, Master::Remote, &typed).await?;
    let results = rows
        .iter()
        .map(|r| serialize(types, &v3, r, d.remove(&r.pulp_id)))
        .collect();
    Ok(ok(&listing::page(req, &p, count, results)))
}

async fn load(ctx: &Ctx, id: &str, vs: &ViewSet) -> Result<remote::Model, ApiError> {
    let model = vs.detail.model;
    let id = parse_id(id, model)?;
    remote::Entity::find_by_id(id.to_string())
        .one(&ctx.state.db.read)
        .await?
        .filter(|r| r.pulp_type == vs.detail.pulp_type)
        .ok_or_else(|| ApiError::not_found(model))
}

/// `GET remotes/<plugin>/<type>/<id>/`.
pub async fn read(ctx: &Ctx, req: &Req, id: &str, vs: ViewSet) -> Result<Response, ApiError> {
    let r = load(ctx, id, &vs).await?;
    Ok(ok(&listing::select_from_query(
        serialize_one(ctx, &r).await?,
        req,
    )))
}

/// `PUT`/`PATCH remotes/<plugin>/<type>/<id>/`: 200 when nothing changes, else 202 with an
/// immediate update task holding the remote exclusively.
pub async fn update(
    ctx: &Ctx,
    req: &mut Req,
    id: &str,
    partial: bool,
    vs: ViewSet,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let r = load(ctx, id, &vs).await?;
    let fields = validate(ctx, &body, Some(&r), partial, Some(vs.detail.pulp_type)).await?;
    let current = serialize_one(ctx, &r).await?;
    let secret = |f: &str| match f {
        "client_key" => r.client_key.clone(),
        "proxy_username" => r.proxy_username.clone(),
        "proxy_password" => r.proxy_password.clone(),
        "username" => r.username.clone(),
        _ => r.password.clone(),
    };
    let changed: Map<String, Value> = fields
        .into_iter()
        .filter(|(k, v)| {
            if SECRETS.contains(&k.as_str()) {
                secret(k).map(Value::String).unwrap_or(Value::Null) != *v
            } else {
                current.get(k) != Some(v)
            }
        })
        .collect();
    if changed.is_empty() {
        return Ok(ok(&current));
    }
    let domain = super::domain_id(&ctx.state).await?;
    let spec = TaskSpec {
        name: GENERAL_UPDATE.into(),
        args: json!({ "table": "core_remote", "id": r.pulp_id, "fields": changed, "v3": ctx.v3() }),
        exclusive: vec![vs.detail.prn(&r.pulp_id)],
        shared: vec![format!("prn:core.domain:{domain}")],
        immediate: true,
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
    };
    let task = ctx.dispatch(spec).await?;
    Ok(accepted(&ctx.v3(), task))
}

/// `DELETE remotes/<plugin>/<type>/<id>/`: 202 with a deferred delete task.
pub async fn delete(ctx: &Ctx, id: &str, vs: ViewSet) -> Result<Response, ApiError> {
    let r = load(ctx, id, &vs).await?;
    let domain = super::domain_id(&ctx.state).await?;
    let spec = TaskSpec {
        name: GENERAL_DELETE.into(),
        args: json!({ "table": "core_remote", "id": r.pulp_id }),
        exclusive: vec![vs.detail.prn(&r.pulp_id)],
        shared: vec![format!("prn:core.domain:{domain}")],
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    let task = ctx.dispatch(spec).await?;
    Ok(accepted(&ctx.v3(), task))
}

/// `POST …/set_label/` and `POST …/unset_label/` (synchronous, 201).
pub async fn label(
    ctx: &Ctx,
    req: &mut Req,
    id: &str,
    set: bool,
    vs: ViewSet,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let r = load(ctx, id, &vs).await?;
    let (labels, answer) = crate::labels::apply(&body, &r.pulp_labels, set)?;
    let mut am: remote::ActiveModel = r.into();
    am.pulp_labels = Set(labels);
    am.pulp_last_updated = Set(time::now_micros());
    am.update(&ctx.state.db.write).await?;
    Ok(json_resp(StatusCode::CREATED, &answer))
}
