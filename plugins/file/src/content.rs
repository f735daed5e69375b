//! `FileContent`: its queries (load, find or create in batches), Pulp's JSON for it, and its
//! `general_create` task body.

use std::collections::BTreeMap;

use pith_actors::tasks::repository::{after_new_version, created_version, load_repository};
use pith_actors::tasks::repository::{overwrite_refused, overwritten_key};
use pith_actors::tasks::{TaskContext, TaskError, TaskOutput, db_err};
use pith_entities::content::NewContent;
use pith_entities::entity::artifact;
use pith_entities::sea_orm::{ConnectionTrait, EntityTrait, TransactionTrait, Value as DbValue};
use pith_entities::time::to_rfc3339;
use pith_entities::versions::Remove;
use pith_entities::{Db, DbError};
use serde_json::{Value, json};

use crate::models::FILE_CONTENT;

/// One file content unit with its artifact.
#[derive(Clone, Debug)]
pub struct FileContent {
    /// Content id.
    pub id: String,
    /// Creation time.
    pub created: i64,
    /// Last update.
    pub updated: i64,
    /// Labels (JSON text).
    pub labels: String,
    /// Path within a publication.
    pub relative_path: String,
    /// sha256 of the file.
    pub digest: String,
    /// The stored artifact (None for on-demand content).
    pub artifact: Option<artifact::Model>,
}

/// Href of a file content unit.
pub fn content_href(v3: &str, id: &str) -> String {
    FILE_CONTENT.detail.href(v3, id)
}

/// Pulp's JSON for a file content unit.
pub fn content_json(v3: &str, c: &FileContent) -> Value {
    let a = c.artifact.as_ref();
    json!({
        "pulp_href": content_href(v3, &c.id),
        "prn": FILE_CONTENT.detail.prn(&c.id),
        "pulp_created": to_rfc3339(c.created),
        "pulp_last_updated": to_rfc3339(c.updated),
        "pulp_labels": serde_json::from_str::<Value>(&c.labels).unwrap_or_else(|_| json!({})),
        "vuln_report": null,
        "artifact": a.map(|a| format!("{v3}artifacts/{}/", a.pulp_id)),
        "relative_path": c.relative_path,
        "md5": a.and_then(|a| a.md5.clone()),
        "sha1": a.and_then(|a| a.sha1.clone()),
        "sha224": a.and_then(|a| a.sha224.clone()),
        "sha256": a.map(|a| a.sha256.clone()).or(Some(c.digest.clone())),
        "sha384": a.and_then(|a| a.sha384.clone()),
        "sha512": a.and_then(|a| a.sha512.clone()),
    })
}

/// Loads file content units by id (order kept).
pub async fn load(db: &Db, ids: &[String]) -> Result<Vec<FileContent>, DbError> {
    let mut by_id = BTreeMap::new();
    for chunk in ids.chunks(pith_entities::MAX_BIND) {
        let ph: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT c.pulp_id, c.pulp_created, c.pulp_last_updated, c.pulp_labels, f.relative_path, f.digest, ca.artifact_id \
             FROM core_content c JOIN file_filecontent f ON f.content_id = c.pulp_id \
             LEFT JOIN core_contentartifact ca ON ca.content_id = c.pulp_id WHERE c.pulp_id IN ({})",
            ph.join(",")
        );
        let values: Vec<DbValue> = chunk.iter().map(|s| DbValue::from(s.clone())).collect();
        let rows = db.read.query_all_raw(db.stmt(&sql, values)).await?;
        let mut artifact_ids = Vec::new();
        let mut partial = Vec::new();
        for r in rows {
            let aid: Option<String> = r.try_get("", "artifact_id")?;
            if let Some(a) = &aid {
                artifact_ids.push(a.clone());
            }
            partial.push((
                FileContent {
                    id: r.try_get("", "pulp_id")?,
                    created: r.try_get("", "pulp_created")?,
                    updated: r.try_get("", "pulp_last_updated")?,
                    labels: r.try_get("", "pulp_labels")?,
                    relative_path: r.try_get("", "relative_path")?,
                    digest: r.try_get("", "digest")?,
                    artifact: None,
                },
                aid,
            ));
        }
        use pith_entities::sea_orm::{ColumnTrait, QueryFilter};
        let arts: BTreeMap<String, artifact::Model> = artifact::Entity::find()
            .filter(artifact::Column::PulpId.is_in(artifact_ids))
            .all(&db.read)
            .await?
            .into_iter()
            .map(|a| (a.pulp_id.clone(), a))
            .collect();
        for (mut c, aid) in partial {
            c.artifact = aid.and_then(|a| arts.get(&a).cloned());
            by_id.insert(c.id.clone(), c);
        }
    }
    Ok(ids.iter().filter_map(|i| by_id.remove(i)).collect())
}

fn arg<'a>(ctx: &'a TaskContext, name: &str) -> Result<&'a str, TaskError> {
    ctx.args
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| TaskError::Invalid(format!("Missing argument '{name}'.")))
}

/// Finds or creates the content unit `(relative_path, artifact)`; returns its id. A unit
/// created now gets `labels`; one that exists keeps its own (Pulp ignores the labels of a
/// duplicate upload).
pub async fn find_or_create(
    db: &Db,
    conn: &impl ConnectionTrait,
    relative_path: &str,
    artifact: &artifact::Model,
    labels: Option<&Value>,
) -> Result<String, DbError> {
    let unit = Unit {
        relative_path,
        digest: &artifact.sha256,
        artifact: Some(&artifact.pulp_id),
        labels,
    };
    let mut ids = find_or_create_many(db, conn, &[unit]).await?;
    ids.pop()
        .ok_or_else(|| DbError::Corrupt("no content id".into()))
}

/// The `PULP_MANIFEST` text of a version (`relative_path,sha256,size` per unit), newest
/// content first.
pub async fn manifest_text(db: &Db, repo: &str, number: i64) -> Result<String, DbError> {
    let rows = db
        .read
        .query_all_raw(db.stmt(
            // Content not downloaded yet (on demand) has no artifact: its size comes from
            // where it would be fetched.
            &format!(
                "SELECT f.relative_path, f.digest AS sha256, COALESCE(a.size, \
                 (SELECT MAX(ra.size) FROM core_remoteartifact ra WHERE ra.content_artifact_id = ca.pulp_id), 0) AS size \
                 FROM core_repositorycontent rc \
                 JOIN file_filecontent f ON f.content_id = rc.content_id \
                 JOIN core_contentartifact ca ON ca.content_id = rc.content_id \
                 LEFT JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
                 WHERE rc.repository_id = $1 AND {} \
                 ORDER BY rc.version_added DESC, f.relative_path",
                pith_entities::versions::in_version("rc", "$2")
            ),
            vec![repo.to_owned().into(), number.into()],
        ))
        .await?;
    let mut out = String::new();
    for r in rows {
        let (p, d, s): (String, String, i64) = (
            r.try_get("", "relative_path")?,
            r.try_get("", "sha256")?,
            r.try_get("", "size")?,
        );
        out.push_str(&format!("{p},{d},{s}\n"));
    }
    Ok(out)
}

/// A file content unit to find or create.
#[derive(Clone, Copy, Debug)]
pub struct Unit<'a> {
    /// Its path.
    pub relative_path: &'a str,
    /// The sha256 of its bytes.
    pub digest: &'a str,
    /// The stored artifact with those bytes (`None`: not downloaded, on-demand).
    pub artifact: Option<&'a str>,
    /// Labels for a unit created now.
    pub labels: Option<&'a Value>,
}

impl Unit<'_> {
    /// The unit as core's content saver takes it: natural key `(relative_path, digest)` and
    /// one artifact at the unit's relative path.
    pub fn declared(&self) -> NewContent {
        NewContent {
            key: vec![self.relative_path.to_owned(), self.digest.to_owned()],
            fields: Vec::new(),
            artifacts: vec![(
                self.relative_path.to_owned(),
                self.artifact.map(str::to_owned),
            )],
            labels: self.labels.map(Value::to_string),
        }
    }
}

/// Finds or creates file content units, in order; returns their ids (see
/// [`pith_entities::content::find_or_create`]).
pub async fn find_or_create_many(
    db: &Db,
    conn: &impl ConnectionTrait,
    units: &[Unit<'_>],
) -> Result<Vec<String>, DbError> {
    let declared: Vec<NewContent> = units.iter().map(Unit::declared).collect();
    pith_entities::content::find_or_create(
        db,
        conn,
        FILE_CONTENT.detail.pulp_type,
        &FILE_CONTENT.table,
        &declared,
    )
    .await
}

/// `general_create` for file content: `{table, v3, relative_path, artifact | upload |
/// file_url, repository?, overwrite?, pulp_labels?}`.
pub async fn create(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let db = &ctx.deps.db;
    let v3 = arg(&ctx, "v3")?.to_owned();
    let rel = arg(&ctx, "relative_path")?.to_owned();
    // The bytes come from a stored artifact, a chunked upload or a URL.
    let art = if let Ok(upload) = arg(&ctx, "upload") {
        pith_actors::tasks::upload::assemble(&(&*ctx.deps).into(), upload, None).await?
    } else if let Ok(url) = arg(&ctx, "file_url") {
        let config = ctx
            .args
            .get("downloader_config")
            .cloned()
            .unwrap_or(Value::Null);
        pith_actors::tasks::upload::fetch_url(&(&*ctx.deps).into(), url, &config).await?
    } else {
        let aid = arg(&ctx, "artifact")?.to_owned();
        artifact::Entity::find_by_id(aid.clone())
            .one(&db.read)
            .await
            .map_err(db_err)?
            .ok_or_else(|| TaskError::Invalid(format!("Artifact {aid} does not exist.")))?
    };
    let repo = ctx
        .args
        .get("repository")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let txn = db.write.begin().await.map_err(db_err)?;
    let labels = ctx.args.get("pulp_labels").filter(|l| l.is_object());
    let id = find_or_create(db, &txn, &rel, &art, labels)
        .await
        .map_err(db_err)?;
    // Pulp lists the new version (made inside the content's creation) before the content.
    let mut created = Vec::new();
    let mut new_version = None;
    let repo_row = match &repo {
        Some(r) => Some(load_repository(&ctx, r).await?),
        None => None,
    };
    if let (Some(r), Some((row, key))) = (&repo, &repo_row) {
        let overwrite = ctx
            .args
            .get("overwrite")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let add = std::slice::from_ref(&id);
        if !overwrite
            && let Some(p) =
                overwritten_key(db, &txn, key, r, None, add, &Remove::Ids(vec![])).await?
        {
            return Err(overwrite_refused(key, &p));
        }
        new_version = pith_actors::tasks::repository::new_version(
            &ctx,
            &txn,
            row,
            None,
            std::slice::from_ref(&id),
            &Remove::Ids(vec![]),
        )
        .await?;
    }
    txn.commit().await.map_err(db_err)?;
    if let (Some((vid, _)), Some((r, _))) = (&new_version, &repo_row) {
        after_new_version(&ctx, &v3, r, vid).await?;
    }
    if let (Some((vid, n)), Some((r, _))) = (new_version, &repo_row) {
        created.push(created_version(&ctx, &v3, r, &vid, n));
    }
    created.push((content_href(&v3, &id), FILE_CONTENT.detail.prn(&id)));
    let c = load(db, std::slice::from_ref(&id)).await.map_err(db_err)?;
    Ok(TaskOutput {
        result: c.first().map(|c| content_json(&v3, c)),
        created,
    })
}
