//! `orphan_cleanup`: deletes content that belongs to no repository version (and that no other
//! unit refers to) and artifacts that belong to no content, when older than the protection
//! time; then removes their files. Given `content_pks`, only those units (if orphans) and
//! their artifacts (if then orphans) go.

use crate::tasks::TaskError;
use pith_entities::sea_orm::TransactionTrait;
use pith_entities::time::now_micros;

use super::{TaskContext, TaskOutput};

/// Pulp's default `ORPHAN_PROTECTION_TIME` in minutes.
const DEFAULT_PROTECTION_MINUTES: i64 = 1440;
const BATCH: usize = pith_entities::MAX_BIND;

pub(super) async fn cleanup(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let minutes = ctx
        .args
        .get("orphan_protection_time")
        .and_then(|v| v.as_i64())
        .unwrap_or(DEFAULT_PROTECTION_MINUTES);
    let cutoff = now_micros() - minutes.max(0) * 60_000_000;
    let only: Option<Vec<String>> = ctx
        .args
        .get("content_pks")
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let db = &ctx.deps.db;
    let refs = ctx.deps.types.references();

    let content = pith_entities::content::orphans(db, cutoff, only.as_deref(), &refs).await?;
    // Given units, only their artifacts are candidates (Pulp's `content_pks`): captured before
    // the units, and so their links, go.
    let their_artifacts: Option<std::collections::HashSet<String>> = match &only {
        Some(_) => Some(
            pith_entities::content::content_artifacts(db, &content)
                .await?
                .into_iter()
                .filter_map(|(_, _, a)| a)
                .collect(),
        ),
        None => None,
    };
    let total = content.len() as i64;
    ctx.progress(
        0,
        "Clean up orphan Content",
        "clean-up.content",
        "running",
        Some(total),
        0,
    )
    .await;
    let mut done = 0;
    for chunk in content.chunks(BATCH) {
        let txn = db.write.begin().await?;
        let n = pith_entities::content::delete_orphans(db, &txn, chunk, &refs).await?;
        txn.commit().await?;
        done += n as i64;
        ctx.progress(
            0,
            "Clean up orphan Content",
            "clean-up.content",
            "running",
            Some(total),
            done,
        )
        .await;
    }
    ctx.progress(
        0,
        "Clean up orphan Content",
        "clean-up.content",
        "completed",
        Some(total),
        done,
    )
    .await;

    let mut artifacts = pith_entities::artifacts::orphans(db, cutoff).await?;
    if let Some(keep) = &their_artifacts {
        artifacts.retain(|(id, _)| keep.contains(id));
    }
    let total = artifacts.len() as i64;
    ctx.progress(
        1,
        "Clean up orphan Artifacts",
        "clean-up.artifacts",
        "running",
        Some(total),
        0,
    )
    .await;
    let mut done = 0;
    for chunk in artifacts.chunks(BATCH) {
        let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
        let txn = db.write.begin().await?;
        let gone = pith_entities::artifacts::delete_orphans(db, &txn, &ids).await?;
        txn.commit().await?;
        // Files go only after the rows are committed away.
        for (id, file) in chunk.iter().filter(|(id, _)| gone.contains(id)) {
            if let Err(e) = ctx.deps.store.remove(file).await {
                tracing::warn!(artifact = %id, error = %e, "could not remove an orphaned artifact's file");
            }
            done += 1;
        }
        ctx.progress(
            1,
            "Clean up orphan Artifacts",
            "clean-up.artifacts",
            "running",
            Some(total),
            done,
        )
        .await;
    }
    ctx.progress(
        1,
        "Clean up orphan Artifacts",
        "clean-up.artifacts",
        "completed",
        Some(total),
        done,
    )
    .await;
    Ok(TaskOutput::default())
}
