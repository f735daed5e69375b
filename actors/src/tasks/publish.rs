//! `publish` for file repositories: a pass-through publication of a version, with a
//! `PULP_MANIFEST` (`relative_path,sha256,size` per unit) stored as a published metadata file.

use pith_entities::entity::repository_version as version;
use pith_entities::sea_orm::{ConnectionTrait, EntityTrait, TransactionTrait};
use pith_entities::time::{now_micros, to_rfc3339};
use pith_entities::{Db, DbError};
use serde_json::{Value, json};

use super::{TaskContext, TaskOutput, db_err};

/// Pulp's JSON for a publication.
pub async fn publication_json(db: &Db, v3: &str, id: &str) -> Result<Option<Value>, DbError> {
    Ok(publications_json(db, v3, &[id.to_owned()]).await?.pop())
}

/// Pulp's JSON for complete publications, in the order of `ids` (missing ones left out): two
/// queries for the whole page.
pub async fn publications_json(db: &Db, v3: &str, ids: &[String]) -> Result<Vec<Value>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ph = super::placeholders(2, ids.len());
    let mut values: Vec<pith_entities::sea_orm::Value> = vec![true.into()];
    values.extend(ids.iter().map(|i| i.clone().into()));
    let rows = db
        .read
        .query_all_raw(db.stmt(
            &format!(
                "SELECT p.pulp_id, p.manifest, p.pulp_created, p.pulp_last_updated, v.repository_id, v.number \
                 FROM core_publication p JOIN core_repositoryversion v ON v.pulp_id = p.repository_version_id \
                 WHERE p.complete = $1 AND p.pulp_id IN ({ph})"
            ),
            values.clone(),
        ))
        .await?;
    let dists = db
        .read
        .query_all_raw(db.stmt(
            &format!(
                "SELECT pulp_id, publication_id FROM core_distribution WHERE publication_id IN ({}) ORDER BY name",
                super::placeholders(1, ids.len())
            ),
            values[1..].to_vec(),
        ))
        .await?;
    let mut by_pub: std::collections::HashMap<String, Vec<String>> = Default::default();
    for d in dists {
        let (id, p): (String, String) =
            (d.try_get("", "pulp_id")?, d.try_get("", "publication_id")?);
        by_pub
            .entry(p)
            .or_default()
            .push(format!("{v3}distributions/file/file/{id}/"));
    }
    let mut found = std::collections::HashMap::new();
    for r in rows {
        let id: String = r.try_get("", "pulp_id")?;
        let repo: String = r.try_get("", "repository_id")?;
        let number: i64 = r.try_get("", "number")?;
        let repo_href = format!("{v3}repositories/file/file/{repo}/");
        let j = json!({
            "pulp_href": format!("{v3}publications/file/file/{id}/"),
            "prn": format!("prn:file.filepublication:{id}"),
            "pulp_created": to_rfc3339(r.try_get("", "pulp_created")?),
            "pulp_last_updated": to_rfc3339(r.try_get("", "pulp_last_updated")?),
            "repository_version": format!("{repo_href}versions/{number}/"),
            "repository": repo_href,
            "distributions": by_pub.remove(&id).unwrap_or_default(),
            "manifest": r.try_get::<Option<String>>("", "manifest")?,
            "checkpoint": false,
        });
        found.insert(id, j);
    }
    Ok(ids.iter().filter_map(|i| found.remove(i)).collect())
}

/// The manifest text of a version: newest content first.
async fn manifest_text(db: &Db, repo: &str, number: i64) -> Result<String, DbError> {
    let rows = db
        .read
        .query_all_raw(db.stmt(
            // Content not downloaded yet (on demand) has no artifact: its size comes from
            // where it would be fetched.
            "SELECT f.relative_path, f.digest AS sha256, COALESCE(a.size, \
             (SELECT MAX(ra.size) FROM core_remoteartifact ra WHERE ra.content_artifact_id = ca.pulp_id), 0) AS size \
             FROM core_repositorycontent rc \
             JOIN file_filecontent f ON f.content_id = rc.content_id \
             JOIN core_contentartifact ca ON ca.content_id = rc.content_id \
             LEFT JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
             WHERE rc.repository_id = $1 AND rc.version_added <= $2 AND (rc.version_removed IS NULL OR rc.version_removed > $2) \
             ORDER BY rc.version_added DESC, f.relative_path",
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

/// Publishes version `version` (an id) with manifest file name `manifest` (or none).
pub async fn publish_version(
    ctx: &TaskContext,
    v3: &str,
    version_id: &str,
    manifest: Option<&str>,
) -> Result<(String, Value), String> {
    let db = &ctx.deps.db;
    let v = version::Entity::find_by_id(version_id.to_owned())
        .one(&db.read)
        .await
        .map_err(db_err)?
        .ok_or("The repository version no longer exists.")?;
    let mut manifest_artifact = None;
    if let Some(name) = manifest {
        let text = manifest_text(db, &v.repository_id, v.number)
            .await
            .map_err(db_err)?;
        let mut t = ctx.deps.store.temp().await.map_err(|e| e.to_string())?;
        t.write(text.as_bytes()).await.map_err(|e| e.to_string())?;
        let d = t.finish().await.map_err(|e| e.to_string())?;
        let (a, _) = pith_entities::artifacts::store(db, &ctx.deps.store, t, &d)
            .await
            .map_err(db_err)?;
        manifest_artifact = Some((name.to_owned(), a.pulp_id));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_micros();
    let txn = db.write.begin().await.map_err(db_err)?;
    txn.execute_raw(db.stmt(
        "INSERT INTO core_publication (pulp_id, pulp_type, repository_version_id, manifest, complete, pass_through, pulp_created, pulp_last_updated) \
         VALUES ($1,'file.file',$2,$3,$4,$4,$5,$5)",
        vec![id.clone().into(), v.pulp_id.clone().into(), manifest.map(str::to_owned).into(), true.into(), now.into()],
    ))
    .await
    .map_err(db_err)?;
    if let Some((name, aid)) = manifest_artifact {
        txn.execute_raw(db.stmt(
            "INSERT INTO core_publishedmetadata (pulp_id, publication_id, relative_path, artifact_id) VALUES ($1,$2,$3,$4)",
            vec![uuid::Uuid::now_v7().to_string().into(), id.clone().into(), name.into(), aid.into()],
        ))
        .await
        .map_err(db_err)?;
    }
    txn.commit().await.map_err(db_err)?;
    let json = publication_json(db, v3, &id)
        .await
        .map_err(db_err)?
        .ok_or("The publication vanished.")?;
    Ok((id, json))
}

/// The task body: `{v3, repository_version (id), manifest}`.
pub(super) async fn publish(ctx: TaskContext) -> Result<TaskOutput, String> {
    let v3 = ctx
        .args
        .get("v3")
        .and_then(Value::as_str)
        .ok_or("Missing argument 'v3'.")?
        .to_owned();
    let vid = ctx
        .args
        .get("repository_version")
        .and_then(Value::as_str)
        .ok_or("Missing argument 'repository_version'.")?
        .to_owned();
    let manifest = ctx
        .args
        .get("manifest")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (id, json) = publish_version(&ctx, &v3, &vid, manifest.as_deref()).await?;
    Ok(TaskOutput {
        result: Some(json),
        created: vec![(
            format!("{v3}publications/file/file/{id}/"),
            format!("prn:file.filepublication:{id}"),
        )],
    })
}

/// After a task made a new version: `autopublish` publishes it (Pulp does this inside the same
/// task), then `retain_repo_versions` drops the oldest unprotected versions.
pub async fn after_new_version(
    ctx: &TaskContext,
    v3: &str,
    repo_id: &str,
    version_id: &str,
) -> Result<(), String> {
    use pith_entities::entity::repository;
    let db = &ctx.deps.db;
    let Some(repo) = repository::Entity::find_by_id(repo_id.to_owned())
        .one(&db.read)
        .await
        .map_err(db_err)?
    else {
        return Ok(());
    };
    if repo.autopublish {
        publish_version(ctx, v3, version_id, repo.manifest.as_deref()).await?;
    }
    if let Some(keep) = repo.retain_repo_versions {
        let txn = db.write.begin().await.map_err(db_err)?;
        pith_entities::versions::retain(db, &txn, repo_id, keep)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
    }
    Ok(())
}
