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

use super::repositories::{parse_version_href, repository_types};
use super::{Ctx, ok};
use crate::listing::{self, ListParams, lookup};
use crate::request::Response;
use crate::{ApiError, Req};

/// The filters of the generic `content/` list.
pub const FILTERS: [&str; 9] = [
    "repository_version",
    "repository_version_added",
    "repository_version_removed",
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

    /// Adds the condition of a filter every content list has; `Ok(false)` when `name` is not
    /// one (the caller's own filter). `own` are the list's content types (identity filters
    /// resolve hrefs and PRNs of those).
    pub fn generic_filter(
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
                let (repo, n) = parse_version_href(&v3, &repository_types(ctx), value)
                    .ok_or_else(|| ApiError::field(name, "Invalid repository version href."))?;
                let m = match field {
                    "repository_version" => Membership::Present,
                    "repository_version_added" => Membership::Added,
                    _ => Membership::Removed,
                };
                self.0.in_version(repo, n, m);
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

    /// The total count and one page of content ids (newest first unless ordered), joining the
    /// detail table `join` as `f` when given.
    pub async fn page(
        self,
        ctx: &Ctx,
        p: &ListParams,
        join: Option<&str>,
    ) -> Result<(u64, Vec<String>), ApiError> {
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
        if !q.generic_filter(ctx, name, value, &own)? {
            return Err(ApiError::field(name, "Unknown filter."));
        }
    }
    let (count, ids) = q.page(ctx, &p, None).await?;
    let results = multiple_artifact_json(ctx, &ids).await?;
    Ok(ok(&listing::page(req, &p, count, results)))
}
