//! `publish` for file repositories: a pass-through publication of a version, with a
//! `PULP_MANIFEST` (`relative_path,sha256,size` per unit) stored as a published metadata file.

use pith_actors::tasks::{TaskContext, TaskError, TaskOutput, db_err};
use pith_entities::entity::{repository, repository_version as version};
use pith_entities::publications::NewPublication;
use pith_entities::sea_orm::EntityTrait;
use serde_json::Value;

use crate::models::FILE_PUBLICATION;

/// Publishes version `version` (an id) with manifest file name `manifest` (or none), as one
/// of the repository's checkpoints if `checkpoint`.
pub async fn publish_version(
    ctx: &TaskContext,
    v3: &str,
    version_id: &str,
    manifest: Option<&str>,
    checkpoint: bool,
) -> Result<(String, Value), TaskError> {
    let db = &ctx.deps.db;
    let v = version::Entity::find_by_id(version_id.to_owned())
        .one(&db.read)
        .await
        .map_err(db_err)?
        .ok_or_else(|| TaskError::invalid("The repository version no longer exists."))?;
    let mut manifest_artifact = None;
    if let Some(name) = manifest {
        let text = crate::content::manifest_text(db, &v.repository_id, v.number)
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
            details: Some((
                crate::models::FILE_PUBLICATION_TABLE,
                [("manifest".to_owned(), serde_json::json!(manifest))]
                    .into_iter()
                    .collect(),
            )),
            pass_through: true,
            checkpoint,
            metadata: manifest_artifact.into_iter().collect(),
            published_artifacts: Vec::new(),
        },
    )
    .await?;
    let json = ctx
        .deps
        .serializers
        .publication(&ctx.deps, v3, &id)
        .await
        .map_err(db_err)?
        .ok_or_else(|| TaskError::invalid("The publication vanished."))?;
    Ok((id, json))
}

/// The task body: `{v3, repository_version (id), manifest, checkpoint}`.
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
    let checkpoint = ctx.args.get("checkpoint").and_then(Value::as_bool) == Some(true);
    let (id, json) = publish_version(&ctx, &v3, &vid, manifest.as_deref(), checkpoint).await?;
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
    let fields = crate::models::repository_fields(&ctx.deps.db, &repo.pulp_id).await?;
    if fields.get("autopublish").and_then(Value::as_bool) == Some(true) {
        let manifest = fields.get("manifest").and_then(Value::as_str);
        publish_version(ctx, v3, version_id, manifest, false).await?;
    }
    Ok(())
}
