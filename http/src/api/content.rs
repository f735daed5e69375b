//! `content/file/files/`: create (multipart `file` or `artifact`, optional `repository`) as a
//! `general_create` task, list with repository-version filters, show. And `modify/`.

use pith_actors::tasking::TaskSpec;
use pith_actors::tasks::upload;
use pith_actors::tasks::{ADD_AND_REMOVE, GENERAL_CREATE};
use pith_entities::entity::artifact;
use pith_entities::sea_orm::{ConnectionTrait, EntityTrait, Value as DbValue};
use pith_entities::time;
use pith_file::content::{content_json, find_or_create, load, set_labels};
use serde_json::{Value, json};

use super::{Ctx, accepted, ok, parse_id};
use crate::error::FieldErrors;
use crate::listing::{self, id_from_ref, lookup};
use crate::request::Response;
use crate::{ApiError, Req};

pub const FILTERS: [&str; 13] = [
    "relative_path",
    "relative_path__in",
    "relative_path__contains",
    "relative_path__startswith",
    "sha256",
    "digest",
    "repository_version",
    "repository_version_added",
    "repository_version_removed",
    "pulp_id__in",
    "pulp_href__in",
    "prn__in",
    "orphaned_for",
];

/// Orderable fields of `content/file/files/`.
pub const ORDERABLE: [&str; 4] = ["pk", "pulp_id", "pulp_created", "pulp_last_updated"];

/// Pulp's canonical relative path: no leading/trailing `/`, no empty, `.` or `..` segment, no
/// whitespace, `?` or `#`.
pub fn check_relative_path(p: &str) -> Result<(), String> {
    let bad = p.is_empty()
        || p.starts_with('/')
        || p.ends_with('/')
        || p.chars()
            .any(|c| c.is_whitespace() || c == '?' || c == '#' || c == '\\')
        || p.split('/').any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        Err(format!("The path {p:?} is not a canonical relative path."))
    } else {
        Ok(())
    }
}

/// Resolves a repository version href to `(repository id, number)`.
pub fn parse_version_href(v3: &str, href: &str) -> Option<(String, i64)> {
    let rest = href
        .trim()
        .strip_prefix(&format!("{v3}repositories/file/file/"))?;
    let mut parts = rest.trim_end_matches('/').split('/');
    let (repo, kw, n) = (parts.next()?, parts.next()?, parts.next()?);
    (kw == "versions" && parts.next().is_none()).then_some(())?;
    Some((
        uuid::Uuid::parse_str(repo).ok()?.to_string(),
        n.parse().ok()?,
    ))
}

/// Where a new content unit's bytes come from.
enum Source {
    /// A file sent with the request (hashed, not yet stored).
    File(Box<pith_entities::store::TempArtifact>),
    /// A stored artifact (its id).
    Artifact(String),
    /// A chunked upload (its id).
    Upload(String),
    /// A URL to download, with a remote's options.
    Url(String, Value),
}

/// A validated content-create form.
struct NewContent {
    relative_path: String,
    source: Source,
    repository: Option<String>,
    overwrite: bool,
    labels: Option<Value>,
}

/// Validates the fields of `content/file/files/` (and of its `upload/`, without `repository`).
async fn parse_new(ctx: &Ctx, req: &mut Req, with_repo: bool) -> Result<NewContent, ApiError> {
    let v3 = ctx.v3();
    let form = crate::form::read_any(req, &ctx.state.store, 65536).await?;
    let fields = form.fields;
    let mut errs = FieldErrors::default();
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let rel = get("relative_path");
    match &rel {
        None => errs.add("relative_path", "This field is required."),
        Some(p) => {
            if let Err(m) = check_relative_path(p) {
                errs.add("relative_path", m);
            }
        }
    }
    let mut sources = Vec::new();
    if let Some(t) = form.file {
        sources.push(Source::File(Box::new(t)));
    }
    if let Some(h) = get("artifact") {
        match id_from_ref(&v3, "artifacts", "core.artifact", &h) {
            Some(id)
                if artifact::Entity::find_by_id(id.clone())
                    .one(&ctx.state.db.read)
                    .await?
                    .is_some() =>
            {
                sources.push(Source::Artifact(id))
            }
            _ => errs.add("artifact", "Invalid hyperlink - Object does not exist."),
        }
    }
    if let Some(h) = get("upload") {
        match super::uploads::resolve(ctx, &h).await {
            Some(id) => sources.push(Source::Upload(id)),
            None => errs.add("upload", "Invalid hyperlink - Object does not exist."),
        }
    }
    let config = match get("downloader_config") {
        None => Value::Null,
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => Value::Object(super::remotes::validate_options(ctx, &m).await?),
            _ => {
                errs.add("downloader_config", "Value must be valid JSON.");
                Value::Null
            }
        },
    };
    if let Some(url) = get("file_url") {
        let url = url.trim().to_owned();
        if url.starts_with("http://") || url.starts_with("https://") {
            sources.push(Source::Url(url, config));
        } else {
            errs.add("file_url", "Enter a valid URL.");
        }
    }
    let mut repo = None;
    if let Some(h) = get("repository").filter(|h| !h.is_empty() && with_repo) {
        match id_from_ref(&v3, "repositories/file/file", "file.filerepository", &h) {
            Some(id) if super::repositories::load(ctx, &id).await.is_ok() => repo = Some(id),
            _ => errs.add("repository", "Invalid hyperlink - Object does not exist."),
        }
    }
    let overwrite = match get("overwrite").as_deref() {
        None | Some("true" | "True") => true,
        Some("false" | "False") => false,
        Some(_) => {
            errs.add("overwrite", "Must be a valid boolean.");
            true
        }
    };
    let labels = match get("pulp_labels") {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v) => match listing::validate_labels(&v) {
                Ok(()) => Some(v),
                Err(e) => {
                    errs.add("pulp_labels", e);
                    None
                }
            },
            Err(_) => {
                errs.add("pulp_labels", "Value must be valid JSON.");
                None
            }
        },
    };
    for (k, _) in &fields {
        match k.as_str() {
            "relative_path" | "artifact" | "upload" | "file_url" | "downloader_config"
            | "pulp_labels" => {}
            "repository" | "overwrite" if with_repo => {}
            other => errs.add(other, "Unexpected field"),
        }
    }
    if sources.len() != 1 {
        errs.add(
            "non_field_errors",
            "Exactly one of 'file', 'artifact', 'upload' or 'file_url' must be specified.",
        );
    }
    errs.into_result()?;
    let (Some(relative_path), Some(source)) = (rel, sources.pop()) else {
        return Err(ApiError::Internal(
            "validated form without its fields".into(),
        ));
    };
    Ok(NewContent {
        relative_path,
        source,
        repository: repo,
        overwrite,
        labels,
    })
}

/// `POST content/file/files/` → 202: a `general_create` task (a sent file is stored as an
/// artifact first, as Pulp does; an upload or URL is turned into one by the task).
pub async fn create(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let new = parse_new(ctx, req, true).await?;
    let v3 = ctx.v3();
    let mut args = json!({ "table": pith_file::models::FILE_CONTENT.table, "v3": v3,
                           "relative_path": new.relative_path, "repository": new.repository,
                           "overwrite": new.overwrite, "pulp_labels": new.labels });
    let mut exclusive: Vec<String> = new
        .repository
        .iter()
        .map(|r| format!("prn:file.filerepository:{r}"))
        .collect();
    match new.source {
        Source::File(mut t) => {
            let d = t.finish().await?;
            let (a, _) =
                pith_entities::artifacts::store(&ctx.state.db, &ctx.state.store, *t, &d).await?;
            args["artifact"] = json!(a.pulp_id);
        }
        Source::Artifact(id) => args["artifact"] = json!(id),
        Source::Upload(id) => {
            exclusive.push(format!("prn:core.upload:{id}"));
            args["upload"] = json!(id);
        }
        Source::Url(url, config) => {
            args["file_url"] = json!(url);
            args["downloader_config"] = config;
        }
    }
    let domain = super::domain_id(&ctx.state).await?;
    let spec = TaskSpec {
        name: GENERAL_CREATE.into(),
        args,
        exclusive,
        shared: vec![format!("prn:core.domain:{domain}")],
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.state.tasking.dispatch(spec).await?))
}

/// `POST content/file/files/upload/` → 201 with the content, synchronously.
pub async fn upload(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let new = parse_new(ctx, req, false).await?;
    let (db, store) = (&ctx.state.db, &ctx.state.store);
    let deps = upload::Deps { db, store };
    let art = match new.source {
        Source::File(mut t) => {
            let d = t.finish().await?;
            pith_entities::artifacts::store(db, store, *t, &d).await?.0
        }
        Source::Artifact(id) => artifact::Entity::find_by_id(id)
            .one(&db.read)
            .await?
            .ok_or_else(|| {
                ApiError::field("artifact", "Invalid hyperlink - Object does not exist.")
            })?,
        Source::Upload(id) => upload::assemble(&deps, &id, None)
            .await
            .map_err(|e| ApiError::field("upload", e))?,
        Source::Url(url, config) => upload::fetch_url(&deps, &url, &config)
            .await
            .map_err(|e| ApiError::field("file_url", e))?,
    };
    let txn = pith_entities::sea_orm::TransactionTrait::begin(&db.write).await?;
    let id = find_or_create(db, &txn, &new.relative_path, &art).await?;
    if let Some(l) = &new.labels {
        set_labels(db, &txn, &id, l).await?;
    }
    txn.commit().await?;
    let c = load(db, std::slice::from_ref(&id)).await?;
    let body = c
        .first()
        .map(|c| content_json(&ctx.v3(), c))
        .ok_or_else(|| ApiError::Internal("the new content vanished".into()))?;
    Ok(crate::request::json(warp::http::StatusCode::CREATED, &body))
}

/// `GET content/file/files/`.
pub async fn list(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let p = listing::parse(req, &FILTERS, &ORDERABLE)?;
    let v3 = ctx.v3();
    let mut conds = vec!["c.pulp_type = 'file.file'".to_owned()];
    let mut values: Vec<DbValue> = Vec::new();
    let param = |values: &mut Vec<DbValue>, v: DbValue| {
        values.push(v);
        format!("${}", values.len())
    };
    for (name, value) in &p.filters {
        let (field, lk) = lookup(name);
        let cond = match (field, lk) {
            ("relative_path", "exact") => format!(
                "f.relative_path = {}",
                param(&mut values, value.clone().into())
            ),
            ("relative_path", "contains") => format!(
                "f.relative_path LIKE {}",
                param(&mut values, format!("%{value}%").into())
            ),
            ("relative_path", "startswith") => format!(
                "f.relative_path LIKE {}",
                param(&mut values, format!("{value}%").into())
            ),
            ("relative_path", "in") => {
                let ps: Vec<String> = value
                    .split(',')
                    .map(|s| param(&mut values, s.trim().to_owned().into()))
                    .collect();
                format!("f.relative_path IN ({})", ps.join(","))
            }
            ("sha256" | "digest", _) => format!(
                "f.digest = {}",
                param(&mut values, value.trim().to_owned().into())
            ),
            (
                "repository_version" | "repository_version_added" | "repository_version_removed",
                _,
            ) => {
                let (repo, n) = parse_version_href(&v3, value)
                    .ok_or_else(|| ApiError::field(name, "Invalid repository version href."))?;
                let (r, n) = (
                    param(&mut values, repo.into()),
                    param(&mut values, n.into()),
                );
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
                let minutes = if minutes < 0.0 { 1440.0 } else { minutes };
                let cutoff = param(
                    &mut values,
                    (time::now_micros() - (minutes * 60_000_000.0) as i64).into(),
                );
                format!(
                    "c.timestamp_of_interest < {cutoff} AND NOT EXISTS (SELECT 1 FROM core_repositorycontent rc WHERE rc.content_id = c.pulp_id)"
                )
            }
            _ => {
                let ids: Vec<String> = if field == "pulp_id" {
                    value.split(',').map(|s| s.trim().to_owned()).collect()
                } else {
                    value
                        .split(',')
                        .filter_map(|h| {
                            id_from_ref(&v3, "content/file/files", "file.filecontent", h)
                        })
                        .collect()
                };
                if ids.is_empty() {
                    "1 = 0".to_owned()
                } else {
                    let ps: Vec<String> = ids
                        .into_iter()
                        .map(|i| param(&mut values, i.into()))
                        .collect();
                    format!("c.pulp_id IN ({})", ps.join(","))
                }
            }
        };
        conds.push(cond);
    }
    let db = &ctx.state.db;
    let from = format!(
        "FROM core_content c JOIN file_filecontent f ON f.content_id = c.pulp_id WHERE {}",
        conds.join(" AND ")
    );
    let count_rows = db
        .read
        .query_all_raw(db.stmt(&format!("SELECT COUNT(*) AS n {from}"), values.clone()))
        .await?;
    let count = count_rows
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
    let ids: Vec<String> = db
        .read
        .query_all_raw(db.stmt(&sql, values))
        .await?
        .into_iter()
        .filter_map(|r| r.try_get::<String>("", "pulp_id").ok())
        .collect();
    let results = load(db, &ids)
        .await?
        .iter()
        .map(|c| content_json(&v3, c))
        .collect();
    Ok(ok(&listing::page(req, &p, count, results)))
}

/// `GET content/file/files/<id>/`.
pub async fn read(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id, "FileContent")?.to_string();
    let c = load(&ctx.state.db, std::slice::from_ref(&id)).await?;
    let c = c
        .first()
        .ok_or_else(|| ApiError::not_found("FileContent"))?;
    Ok(ok(&listing::select_from_query(
        content_json(&ctx.v3(), c),
        req,
    )))
}

/// `POST repositories/file/file/<id>/modify/`.
pub async fn modify(ctx: &Ctx, req: &mut Req, repo_id: &str) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let repo = super::repositories::load(ctx, repo_id).await?;
    let v3 = ctx.v3();
    let mut errs = FieldErrors::default();
    let mut add: Vec<String> = Vec::new();
    let mut remove: Value = json!([]);
    let mut base = None;
    let mut overwrite = true;
    let resolve = |h: &Value| {
        h.as_str()
            .and_then(|h| id_from_ref(&v3, "content/file/files", "file.filecontent", h))
    };
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
                for h in list {
                    match resolve(h) {
                        Some(id) => ids.push(id),
                        None => errs.add(
                            k,
                            format!("Could not find the following content units: [{h}]"),
                        ),
                    }
                }
                if !ids.is_empty() {
                    let found = load(&ctx.state.db, &ids).await?;
                    for id in ids.iter().filter(|i| !found.iter().any(|c| &c.id == *i)) {
                        errs.add(k, format!("Could not find the following content units: ['{v3}content/file/files/{id}/']"));
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
            "base_version" => match v.as_str().and_then(|h| parse_version_href(&v3, h)) {
                Some((r, n)) if r == repo.pulp_id => base = Some(n),
                _ => errs.add(k, "Invalid hyperlink - Object does not exist."),
            },
            _ => errs.add(k, "Unexpected field"),
        }
    }
    errs.into_result()?;
    if let Some(n) = base {
        super::repositories::load_version(ctx, &repo.pulp_id, &n.to_string())
            .await
            .map_err(|_| {
                ApiError::field("base_version", "Invalid hyperlink - Object does not exist.")
            })?;
    }
    let domain = super::domain_id(&ctx.state).await?;
    let spec = TaskSpec {
        name: ADD_AND_REMOVE.into(),
        args: json!({ "v3": v3, "repository": repo.pulp_id, "add": add, "remove": remove, "base_version": base, "overwrite": overwrite }),
        exclusive: vec![format!("prn:file.filerepository:{}", repo.pulp_id)],
        shared: vec![format!("prn:core.domain:{domain}")],
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.state.tasking.dispatch(spec).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_and_version_hrefs() {
        for good in ["a", "a/b.txt", "dir/sub/file,with,commas"] {
            assert!(check_relative_path(good).is_ok(), "{good}");
        }
        for bad in ["", "/a", "a/", "a//b", "a/./b", "../a", "a b", "a?b", "a#b"] {
            assert!(check_relative_path(bad).is_err(), "{bad}");
        }
        let id = "01a2111c-6b02-70f5-bd0f-0b9100488732";
        let v3 = "/pulp/api/v3/";
        assert_eq!(
            parse_version_href(v3, &format!("{v3}repositories/file/file/{id}/versions/3/")),
            Some((id.into(), 3))
        );
        assert_eq!(
            parse_version_href(v3, &format!("{v3}repositories/file/file/{id}/")),
            None
        );
    }
}
