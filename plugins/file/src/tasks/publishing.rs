//! `publish` for file repositories: a pass-through publication of a version, with a
//! `PULP_MANIFEST` (`relative_path,sha256,size` per unit) stored as a published metadata file.

use pith_actors::tasks::publication::publication_json;
use pith_actors::tasks::{TaskContext, TaskError, TaskOutput, db_err};
use pith_entities::entity::{repository, repository_version as version};
use pith_entities::publications::NewPublication;
use pith_entities::sea_orm::{ConnectionTrait, EntityTrait};
use pith_entities::{Db, DbError};
use serde_json::Value;

use crate::models::FILE_PUBLICATION;

/// The manifest text of a version: newest content first.
async fn manifest_text(db: &Db, repo: &str, number: i64) -> Result<String, DbError> {
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

/// Publishes version `version` (an id) with manifest file name `manifest` (or none).
pub async fn publish_version(
    ctx: &TaskContext,
    v3: &str,
    version_id: &str,
    manifest: Option<&str>,
) -> Result<(String, Value), TaskError> {
    let db = &ctx.deps.db;
    let v = version::Entity::find_by_id(version_id.to_owned())
        .one(&db.read)
        .await
        .map_err(db_err)?
        .ok_or_else(|| TaskError::invalid("The repository version no longer exists."))?;
    let mut manifest_artifact = None;
    if let Some(name) = manifest {
        let text = manifest_text(db, &v.repository_id, v.number)
            .await
            .map_err(db_err)?;
        let mut t = ctx.deps.store.temp().await?;
        t.write(text.as_bytes()).await?;
        let d = t.finish().await?;
        let (a, _) = pith_entities::artifacts::store(db, &ctx.deps.store, t, &d)
            .await
            .map_err(db_err)?;
        manifest_artifact = Some((name.to_owned(), a.pulp_id));
    }
    let id = pith_entities::publications::create(
        db,
        &NewPublication {
            pulp_type: FILE_PUBLICATION.pulp_type.to_owned(),
            version_id: v.pulp_id.clone(),
            manifest: manifest.map(str::to_owned),
            pass_through: true,
            metadata: manifest_artifact.into_iter().collect(),
        },
    )
    .await?;
    let json = publication_json(db, &ctx.deps.types, v3, &id)
        .await
        .map_err(db_err)?
        .ok_or_else(|| TaskError::invalid("The publication vanished."))?;
    Ok((id, json))
}

/// The task body: `{v3, repository_version (id), manifest}`.
pub async fn publish(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let v3 = ctx
        .args
        .get("v3")
        .and_then(Value::as_str)
        .ok_or_else(|| TaskError::invalid("Missing argument 'v3'."))?
        .to_owned();
    let vid = ctx
        .args
        .get("repository_version")
        .and_then(Value::as_str)
        .ok_or_else(|| TaskError::invalid("Missing argument 'repository_version'."))?
        .to_owned();
    let manifest = ctx
        .args
        .get("manifest")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (id, json) = publish_version(&ctx, &v3, &vid, manifest.as_deref()).await?;
    Ok(TaskOutput {
        result: Some(json),
        created: vec![(FILE_PUBLICATION.href(&v3, &id), FILE_PUBLICATION.prn(&id))],
    })
}

/// The file repository's `on_new_version`: with `autopublish`, the new version is published
/// (with the repository's `manifest`) inside the task that made it, as Pulp does.
pub async fn autopublish(
    ctx: &TaskContext,
    v3: &str,
    repo: &repository::Model,
    version_id: &str,
) -> Result<(), TaskError> {
    if repo.autopublish {
        publish_version(ctx, v3, version_id, repo.manifest.as_deref()).await?;
    }
    Ok(())
}
