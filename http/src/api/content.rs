//! Content lists: the filters every content list has (Pulp's `ContentFilter`: repository
//! version membership, orphans, identity, type), the paged query they build, and the generic
//! `content/` list over every content type, each unit as Pulp's `MultipleArtifactContent`
//! (its href by its own type, and its artifacts by relative path). A plugin's content list adds
//! its own filters and detail table to the same query.

use std::collections::HashMap;

use pith_actors::plugin::Detail;
use pith_entities::sea_orm::{ConnectionTrait, Value as DbValue};
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

/// A content list's conditions on `core_content c` (and a detail table `f`), with their bound
/// values.
#[derive(Debug, Default)]
pub struct ContentQuery {
    conds: Vec<String>,
    values: Vec<DbValue>,
}

impl ContentQuery {
    /// Content of these types only.
    pub fn of_types(types: &[Detail]) -> ContentQuery {
        let mut q = ContentQuery::default();
        let ps: Vec<String> = types
            .iter()
            .map(|t| q.param(t.pulp_type.to_owned().into()))
            .collect();
        q.conds.push(if ps.is_empty() {
            "1 = 0".into()
        } else {
            format!("c.pulp_type IN ({})", ps.join(","))
        });
        q
    }

    /// Binds a value; returns its placeholder.
    pub fn param(&mut self, v: DbValue) -> String {
        self.values.push(v);
        format!("${}", self.values.len())
    }

    /// Adds a condition (written with placeholders from [`ContentQuery::param`]).
    pub fn and(&mut self, cond: String) {
        self.conds.push(cond);
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
        let v3 = ctx.v3();
        let (field, lk) = lookup(name);
        let cond = match (field, lk) {
            (
                "repository_version" | "repository_version_added" | "repository_version_removed",
                _,
            ) => {
                let (repo, n) = parse_version_href(&v3, &repository_types(ctx), value)
                    .ok_or_else(|| ApiError::field(name, "Invalid repository version href."))?;
                let (r, n) = (self.param(repo.into()), self.param(n.into()));
                let range = match field {
                    "repository_version" => format!(
                        "version_added <= {n} AND (version_removed IS NULL OR version_removed > {n})"
                    ),
                    "repository_version_added" => format!("version_added = {n}"),
                    _ => format!("version_removed = {n}"),
                };
                format!(
                    "c.pulp_id IN (SELECT content_id FROM core_repositorycontent WHERE repository_id = {r} AND {range})"
                )
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
                let cutoff =
                    self.param((time::now_micros() - (minutes * 60_000_000.0) as i64).into());
                format!(
                    "c.timestamp_of_interest < {cutoff} AND NOT EXISTS (SELECT 1 FROM core_repositorycontent rc WHERE rc.content_id = c.pulp_id)"
                )
            }
            ("pulp_type", "exact" | "in") => {
                let mut ps = Vec::new();
                for t in value.split(',').map(str::trim) {
                    if !own.iter().any(|d| d.pulp_type == t) {
                        return Err(ApiError::field(
                            name,
                            format!(
                                "Select a valid choice. {t} is not one of the available choices."
                            ),
                        ));
                    }
                    ps.push(self.param(t.to_owned().into()));
                }
                format!("c.pulp_type IN ({})", ps.join(","))
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
                if ids.is_empty() {
                    "1 = 0".to_owned()
                } else {
                    let ps: Vec<String> = ids.into_iter().map(|i| self.param(i.into())).collect();
                    format!("c.pulp_id IN ({})", ps.join(","))
                }
            }
            _ => return Ok(false),
        };
        self.conds.push(cond);
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
        let db = &ctx.state.db;
        let join = join
            .map(|t| format!("JOIN {t} f ON f.content_id = c.pulp_id "))
            .unwrap_or_default();
        let from = format!(
            "FROM core_content c {join}WHERE {}",
            if self.conds.is_empty() {
                "1 = 1".to_owned()
            } else {
                self.conds.join(" AND ")
            }
        );
        let count = db
            .read
            .query_all_raw(db.stmt(&format!("SELECT COUNT(*) AS n {from}"), self.values.clone()))
            .await?
            .into_iter()
            .next()
            .and_then(|r| r.try_get::<i64>("", "n").ok())
            .unwrap_or(0) as u64;
        let order = match p.ordering.first() {
            Some((f, desc)) => format!(
                "c.{} {}",
                if f == "pk" { "pulp_id" } else { f.as_str() },
                if *desc { "DESC" } else { "ASC" }
            ),
            None => "c.pulp_created DESC".to_owned(),
        };
        let sql = format!(
            "SELECT c.pulp_id {from} ORDER BY {order}, c.pulp_id DESC LIMIT {} OFFSET {}",
            p.limit, p.offset
        );
        let ids = db
            .read
            .query_all_raw(db.stmt(&sql, self.values))
            .await?
            .into_iter()
            .filter_map(|r| r.try_get::<String>("", "pulp_id").ok())
            .collect();
        Ok((count, ids))
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
    let ph = pith_actors::tasks::placeholders(1, ids.len());
    let values: Vec<DbValue> = ids.iter().map(|i| i.clone().into()).collect();
    let mut artifacts: HashMap<String, Map<String, Value>> = HashMap::new();
    for r in db
        .read
        .query_all_raw(db.stmt(
            &format!(
                "SELECT content_id, relative_path, artifact_id FROM core_contentartifact WHERE content_id IN ({ph})"
            ),
            values.clone(),
        ))
        .await?
    {
        let artifact: Option<String> = r.try_get("", "artifact_id")?;
        artifacts
            .entry(r.try_get("", "content_id")?)
            .or_default()
            .insert(
                r.try_get("", "relative_path")?,
                json!(artifact.map(|a| format!("{v3}artifacts/{a}/"))),
            );
    }
    let mut by_id = HashMap::new();
    for r in db
        .read
        .query_all_raw(db.stmt(
            &format!(
                "SELECT pulp_id, pulp_type, pulp_created, pulp_last_updated, pulp_labels FROM core_content WHERE pulp_id IN ({ph})"
            ),
            values,
        ))
        .await?
    {
        let id: String = r.try_get("", "pulp_id")?;
        let t: String = r.try_get("", "pulp_type")?;
        let detail = types.content(&t).map(|c| c.detail);
        let labels: String = r.try_get("", "pulp_labels")?;
        let j = json!({
            "pulp_href": detail.map(|d| d.href(&v3, &id)),
            "prn": detail.map(|d| d.prn(&id)),
            "pulp_created": time::to_rfc3339(r.try_get("", "pulp_created")?),
            "pulp_last_updated": time::to_rfc3339(r.try_get("", "pulp_last_updated")?),
            "pulp_labels": serde_json::from_str::<Value>(&labels).unwrap_or_else(|_| json!({})),
            "vuln_report": null,
            "artifacts": artifacts.remove(&id).unwrap_or_default(),
        });
        by_id.insert(id, j);
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
