//! Content lists: the filters every content list has (Pulp's `ContentFilter`: repository
//! version membership, orphans, identity, type), the paged query they build, and the generic
//! `content/` list over every content type, each unit as Pulp's `MultipleArtifactContent`
//! (its href by its own type, and its artifacts by relative path). A plugin's content list adds
//! its own filters and detail table to the same query.

use std::collections::HashMap;

use pith_actors::plugin::Detail;
use pith_entities::sea_orm::Value as DbValue;
use pith_entities::time;
use serde_json::{Map, Value, json};

use super::repositories::version_or_latest;
use super::{Ctx, ok};
use crate::listing::{self, ListParams, lookup};
use crate::request::Response;
use crate::{ApiError, Req};

/// The filters of the generic `content/` list.
pub const FILTERS: [&str; 13] = [
    "q",
    "pulp_label_select",
    "repository_version",
    "repository_version_added",
    "repository_version_removed",
    "added_between",
    "removed_between",
    "orphaned_for",
    "pulp_type",
    "pulp_type__in",
    "pulp_href__in",
    "prn__in",
    "pulp_id__in",
];

/// Orderable fields of the generic `content/` list.
pub const ORDERABLE: [&str; 1] = ["pk"];

/// Minutes `orphaned_for=-1` stands for (Pulp's default `ORPHAN_PROTECTION_TIME`).
const ORPHAN_PROTECTION_MINUTES: f64 = 1440.0;

/// A content list's query (see [`pith_entities::content::ContentQuery`]), with the filters
/// every content list has parsed from the request.
#[derive(Debug, Default)]
pub struct ContentQuery(pith_entities::content::ContentQuery);

impl ContentQuery {
    /// Content of these types only.
    pub fn of_types(types: &[Detail]) -> ContentQuery {
        let names: Vec<&str> = types.iter().map(|t| t.pulp_type).collect();
        ContentQuery(pith_entities::content::ContentQuery::of_types(&names))
    }

    /// Binds a value; returns its placeholder.
    pub fn param(&mut self, v: DbValue) -> String {
        self.0.param(v)
    }

    /// Adds a condition on `c` or the detail table `f` (with placeholders from
    /// [`ContentQuery::param`]).
    pub fn and(&mut self, cond: String) {
        self.0.and(cond);
    }

    /// A text lookup of Pulp's `NAME_FILTER_OPTIONS` on a column of `c` or the detail table
    /// `f` (`f.relative_path`).
    pub fn text(
        &mut self,
        ctx: &Ctx,
        column: &str,
        lookup: &str,
        value: &str,
    ) -> Result<(), ApiError> {
        self.0
            .text(ctx.state.db.backend, column, lookup, value)
            .map_err(|m| ApiError::BadRequest(json!({ "errors": [m] })))
    }

    /// Adds the condition of a filter every content list has; `Ok(false)` when `name` is not
    /// one (the caller's own filter). `own` are the list's content types (identity filters
    /// resolve hrefs and PRNs of those).
    pub async fn generic_filter(
        &mut self,
        ctx: &Ctx,
        name: &str,
        value: &str,
        own: &[Detail],
    ) -> Result<bool, ApiError> {
        use pith_entities::content::Membership;
        let v3 = ctx.v3();
        let (field, lk) = lookup(name);
        match (field, lk) {
            (
                "repository_version" | "repository_version_added" | "repository_version_removed",
                _,
            ) => {
                let (repo, n) = version_or_latest(ctx, name, value).await?;
                let m = match field {
                    "repository_version" => Membership::Present,
                    "repository_version_added" => Membership::Added,
                    _ => Membership::Removed,
                };
                self.0.in_version(repo, n, m);
            }
            ("added_between" | "removed_between", _) => {
                let refs: Vec<&str> = value.split(',').map(str::trim).collect();
                let [base, target] = refs.as_slice() else {
                    return Err(ApiError::field(name, "Range query expects two values."));
                };
                let base = version_or_latest(ctx, name, base).await?;
                let target = version_or_latest(ctx, name, target).await?;
                // Added: in the target, not in the base; removed: the other way round.
                let (inside, outside) = if field == "added_between" {
                    (target, base)
                } else {
                    (base, target)
                };
                self.0.in_version(inside.0, inside.1, Membership::Present);
                self.0.in_version(outside.0, outside.1, Membership::Absent);
            }
            ("pulp_label_select", _) => {
                for (key, op, value) in listing::label_terms(value)? {
                    self.0.label(ctx.state.db.backend, key, op, &value);
                }
            }
            ("orphaned_for", _) => {
                let minutes: f64 = value
                    .parse()
                    .map_err(|_| ApiError::field(name, "Enter a number."))?;
                let minutes = if minutes < 0.0 {
                    ORPHAN_PROTECTION_MINUTES
                } else {
                    minutes
                };
                self.0
                    .orphaned_since(time::now_micros() - (minutes * 60_000_000.0) as i64);
            }
            ("pulp_type", "exact" | "in") => {
                let mut types = Vec::new();
                for t in value.split(',').map(str::trim) {
                    if !own.iter().any(|d| d.pulp_type == t) {
                        return Err(ApiError::field(
                            name,
                            format!(
                                "Select a valid choice. {t} is not one of the available choices."
                            ),
                        ));
                    }
                    types.push(t.to_owned());
                }
                self.0.pulp_types(types);
            }
            ("pulp_id" | "pulp_href" | "prn", "in") => {
                let ids: Vec<String> = if field == "pulp_id" {
                    value.split(',').map(|s| s.trim().to_owned()).collect()
                } else {
                    value
                        .split(',')
                        .filter_map(|h| listing::id_from_any(&v3, own, h))
                        .collect()
                };
                self.0.ids(ids);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Pulp's `q`: an expression (`AND`, `OR`, `NOT`, parentheses) over the filters every
    /// content list has.
    pub async fn expression(
        &mut self,
        ctx: &Ctx,
        text: &str,
        own: &[Detail],
    ) -> Result<(), ApiError> {
        use crate::expression::{self, Refused};
        let e = expression::parse(text, |k, v| {
            if k == "q" || !FILTERS.contains(&k) {
                return Err(Refused::Unknown(k.to_owned()));
            }
            Ok((k.to_owned(), v.to_owned()))
        })
        .map_err(Refused::into_error)?;
        let cond = self.condition_of(ctx, &e, own).await?;
        self.0.and(cond);
        Ok(())
    }

    /// One expression's SQL condition, its terms evaluated as the filters they name.
    fn condition_of<'a>(
        &'a mut self,
        ctx: &'a Ctx,
        e: &'a crate::expression::Expr<(String, String)>,
        own: &'a [Detail],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, ApiError>> + Send + 'a>>
    {
        use crate::expression::Expr as E;
        Box::pin(async move {
            Ok(match e {
                E::Term((k, v)) => {
                    let mark = self.0.mark();
                    self.generic_filter(ctx, k, v, own).await?;
                    self.0.take_since(mark)
                }
                E::Not(inner) => format!("NOT {}", self.condition_of(ctx, inner, own).await?),
                E::And(all) | E::Or(all) => {
                    let mut parts = Vec::with_capacity(all.len());
                    for x in all {
                        parts.push(self.condition_of(ctx, x, own).await?);
                    }
                    let join = if matches!(e, E::And(_)) {
                        " AND "
                    } else {
                        " OR "
                    };
                    format!("({})", parts.join(join))
                }
            })
        })
    }

    /// The total count and one page of content ids (newest first unless ordered), joining the
    /// detail table `join` as `f` when given; only what the request's scope shows.
    pub async fn page(
        mut self,
        ctx: &Ctx,
        p: &ListParams,
        join: Option<&str>,
    ) -> Result<(u64, Vec<String>), ApiError> {
        match &ctx.scope {
            super::Scope::All => {}
            super::Scope::Only(ids) => self.0.ids(ids.clone()),
            super::Scope::InRepositories(seen) => self.0.in_repositories(&seen.types, &seen.ids),
            super::Scope::Among(seen) => self.0.among(&seen.types, &seen.ids),
        }
        let order = p
            .ordering
            .first()
            .map(|(f, desc)| (if f == "pk" { "pulp_id" } else { f.as_str() }, *desc));
        Ok(self
            .0
            .page(&ctx.state.db, join, order, p.limit, p.offset)
            .await?)
    }
}

/// Pulp's `MultipleArtifactContent` JSON for content `ids` (order kept): two queries.
async fn multiple_artifact_json(ctx: &Ctx, ids: &[String]) -> Result<Vec<Value>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let db = &ctx.state.db;
    let v3 = ctx.v3();
    let types = &ctx.state.platform.types;
    let mut artifacts: HashMap<String, Map<String, Value>> = HashMap::new();
    for (content, path, artifact) in pith_entities::content::content_artifacts(db, ids).await? {
        artifacts
            .entry(content)
            .or_default()
            .insert(path, json!(artifact.map(|a| format!("{v3}artifacts/{a}/"))));
    }
    let mut by_id = HashMap::new();
    for r in pith_entities::content::rows(db, ids).await? {
        let detail = types.content(&r.pulp_type).map(|c| c.detail);
        let j = json!({
            "pulp_href": detail.map(|d| d.href(&v3, &r.id)),
            "prn": detail.map(|d| d.prn(&r.id)),
            "pulp_created": time::to_rfc3339(r.created),
            "pulp_last_updated": time::to_rfc3339(r.updated),
            "pulp_labels": serde_json::from_str::<Value>(&r.labels).unwrap_or_else(|_| json!({})),
            "vuln_report": null,
            "artifacts": artifacts.remove(&r.id).unwrap_or_default(),
        });
        by_id.insert(r.id, j);
    }
    Ok(ids.iter().filter_map(|i| by_id.remove(i)).collect())
}

/// `POST content/<app>/<type>/<id>/set_label/` and `…/unset_label/` (201): one label of a
/// content unit (`model` names it in a 404).
pub async fn label(
    ctx: &Ctx,
    req: &mut Req,
    id: &str,
    set: bool,
    model: &str,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let id = super::parse_id(id, model)?.to_string();
    let db = &ctx.state.db;
    let rows = pith_entities::content::rows(db, std::slice::from_ref(&id)).await?;
    let row = rows.first().ok_or_else(|| ApiError::not_found(model))?;
    let (labels, answer) = crate::labels::apply(&body, &row.labels, set)?;
    let labels: Value = serde_json::from_str(&labels).unwrap_or_default();
    pith_entities::content::set_labels(db, &db.write, &id, &labels).await?;
    Ok(crate::request::json(
        warp::http::StatusCode::CREATED,
        &answer,
    ))
}

/// `GET content/`: every content unit of every type.
pub async fn list(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let p = listing::parse(req, &FILTERS, &ORDERABLE)?;
    let own: Vec<Detail> = ctx
        .state
        .platform
        .types
        .content
        .iter()
        .map(|t| t.detail)
        .collect();
    let mut q = ContentQuery::of_types(&own);
    for (name, value) in &p.filters {
        if name == "q" {
            q.expression(ctx, value, &own).await?;
        } else if !q.generic_filter(ctx, name, value, &own).await? {
            return Err(ApiError::field(name, "Unknown filter."));
        }
    }
    let (count, ids) = q.page(ctx, &p, None).await?;
    let results = multiple_artifact_json(ctx, &ids).await?;
    Ok(ok(&listing::page(req, &p, count, results)))
}

/// The ids of the content units `value` names (comma-separated hrefs or PRNs of any content
/// type), as Pulp's content filters take them: a 400 for one that is not an href or PRN, or
/// names no stored unit.
pub async fn content_refs(ctx: &Ctx, field: &str, value: &str) -> Result<Vec<String>, ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::field(
            field,
            "No value supplied for content filter",
        ));
    }
    let mut by_id: Vec<(String, String)> = Vec::new();
    for r in value.split(',').map(str::trim) {
        let id = if let Some(prn) = r.strip_prefix("prn:") {
            prn.rsplit(':').next().unwrap_or("").to_owned()
        } else {
            r.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_owned()
        };
        let Ok(id) = uuid::Uuid::parse_str(&id) else {
            return Err(ApiError::field(field, format!("URI not valid: {r}")));
        };
        by_id.push((id.to_string(), r.to_owned()));
    }
    let ids: Vec<String> = by_id.iter().map(|(i, _)| i.clone()).collect();
    let found = pith_entities::content::existing(&ctx.state.db, &ids).await?;
    let missing: Vec<String> = by_id
        .iter()
        .filter(|(i, _)| !found.contains(i))
        .map(|(_, r)| format!("'{r}'"))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::field(
            field,
            format!(
                "Could not find the following content units: [{}]",
                missing.join(", ")
            ),
        ));
    }
    Ok(ids)
}
