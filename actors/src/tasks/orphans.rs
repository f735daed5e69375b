//! `orphan_cleanup`: deletes content that belongs to no repository version and artifacts that
//! belong to no content, when older than the protection time; then removes their files.

use crate::tasks::TaskError;
use pith_entities::sea_orm::{ConnectionTrait, TransactionTrait, Value};
use pith_entities::time::now_micros;

use super::{TaskContext, TaskOutput, db_err, placeholders};

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

    // Content in no repository version (published metadata is never an orphan).
    let mut sql = String::from(
        "SELECT c.pulp_id FROM core_content c WHERE c.timestamp_of_interest < $1 AND c.pulp_type <> 'core.publishedmetadata' \
         AND NOT EXISTS (SELECT 1 FROM core_repositorycontent rc WHERE rc.content_id = c.pulp_id)",
    );
    let mut values: Vec<Value> = vec![cutoff.into()];
    if let Some(ids) = &only {
        sql.push_str(&format!(
            " AND c.pulp_id IN ({})",
            placeholders(2, ids.len().max(1))
        ));
        values.extend(ids.iter().map(|s| Value::from(s.clone())));
        if ids.is_empty() {
            values.push(Value::from(String::new()));
        }
    }
    let content: Vec<String> = db
        .read
        .query_all_raw(db.stmt(&sql, values))
        .await
        .map_err(db_err)?
        .into_iter()
        .filter_map(|r| r.try_get::<String>("", "pulp_id").ok())
        .collect();
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
        let txn = db.write.begin().await.map_err(db_err)?;
        let ph = placeholders(1, chunk.len());
        let vals: Vec<Value> = chunk.iter().map(|s| Value::from(s.clone())).collect();
        // Re-check membership inside the transaction: a concurrent task may have added it.
        let sql = format!(
            "DELETE FROM core_content WHERE pulp_id IN ({ph}) AND NOT EXISTS \
             (SELECT 1 FROM core_repositorycontent rc WHERE rc.content_id = core_content.pulp_id)"
        );
        let n = txn
            .execute_raw(db.stmt(&sql, vals))
            .await
            .map_err(db_err)?
            .rows_affected();
        txn.commit().await.map_err(db_err)?;
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

    // Artifacts no content refers to.
    let rows = db
        .read
        .query_all_raw(db.stmt(
            "SELECT a.pulp_id, a.file FROM core_artifact a WHERE a.timestamp_of_interest < $1 \
             AND NOT EXISTS (SELECT 1 FROM core_contentartifact ca WHERE ca.artifact_id = a.pulp_id) \
             AND NOT EXISTS (SELECT 1 FROM core_publishedmetadata pm WHERE pm.artifact_id = a.pulp_id)",
            vec![cutoff.into()],
        ))
        .await
        .map_err(db_err)?;
    let artifacts: Vec<(String, String)> = rows
        .into_iter()
        .filter_map(|r| {
            Some((
                r.try_get::<String>("", "pulp_id").ok()?,
                r.try_get::<String>("", "file").ok()?,
            ))
        })
        .collect();
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
        let txn = db.write.begin().await.map_err(db_err)?;
        let ph = placeholders(1, chunk.len());
        let vals: Vec<Value> = chunk
            .iter()
            .map(|(id, _)| Value::from(id.clone()))
            .collect();
        let sql = format!(
            "DELETE FROM core_artifact WHERE pulp_id IN ({ph}) AND NOT EXISTS \
             (SELECT 1 FROM core_contentartifact ca WHERE ca.artifact_id = core_artifact.pulp_id) \
             AND NOT EXISTS (SELECT 1 FROM core_publishedmetadata pm WHERE pm.artifact_id = core_artifact.pulp_id)"
        );
        txn.execute_raw(db.stmt(&sql, vals)).await.map_err(db_err)?;
        // Which of them are really gone (a concurrent upload may have claimed one)?
        let ph = placeholders(1, chunk.len());
        let vals: Vec<Value> = chunk
            .iter()
            .map(|(id, _)| Value::from(id.clone()))
            .collect();
        let still: Vec<String> = txn
            .query_all_raw(db.stmt(
                &format!("SELECT pulp_id FROM core_artifact WHERE pulp_id IN ({ph})"),
                vals,
            ))
            .await
            .map_err(db_err)?
            .into_iter()
            .filter_map(|r| r.try_get::<String>("", "pulp_id").ok())
            .collect();
        txn.commit().await.map_err(db_err)?;
        // Files go only after the rows are committed away.
        for (id, file) in chunk.iter().filter(|(id, _)| !still.contains(id)) {
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
