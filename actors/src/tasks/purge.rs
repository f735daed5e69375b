//! `purge`: deletes finished tasks older than a date, in bounded batches, reporting counts the
//! way Pulp does (`purge.tasks.total`, `purge.tasks.key.core.Task`).

use crate::tasks::TaskError;
use pith_entities::sea_orm::TransactionTrait;
use pith_entities::tasks::PurgeFilter;
use pith_entities::time::now_micros;

use super::{TaskContext, TaskOutput};

const BATCH: u64 = 1000;

pub(super) async fn purge(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let before = ctx
        .args
        .get("finished_before")
        .and_then(|v| v.as_i64())
        .unwrap_or_else(now_micros);
    let states: Vec<String> = ctx
        .args
        .get("states")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_else(|| vec!["completed".to_owned()]);
    let states: Vec<String> = states
        .into_iter()
        .filter(|s| matches!(s.as_str(), "completed" | "failed" | "canceled" | "skipped"))
        .collect();
    if states.is_empty() {
        return Ok(TaskOutput::default());
    }
    let db = &ctx.deps.db;
    let filter = PurgeFilter { before, states };
    let expected = pith_entities::tasks::purge_count(db, &filter).await?;
    ctx.progress(
        0,
        "Purged task-related-objects total",
        "purge.tasks.total",
        "running",
        None,
        0,
    )
    .await;
    ctx.progress(
        1,
        "Purged task-objects of type core.Task",
        "purge.tasks.key.core.Task",
        "running",
        Some(expected),
        0,
    )
    .await;

    let mut deleted = 0i64;
    let mut related = 0i64;
    loop {
        let txn = db.write.begin().await?;
        let (n, r) = pith_entities::tasks::purge_batch(db, &txn, &filter, BATCH).await?;
        if n == 0 {
            break;
        }
        txn.commit().await?;
        related += r;
        deleted += n;
        ctx.progress(
            1,
            "Purged task-objects of type core.Task",
            "purge.tasks.key.core.Task",
            "running",
            Some(expected),
            deleted,
        )
        .await;
    }
    let total = deleted + related;
    ctx.progress(
        0,
        "Purged task-related-objects total",
        "purge.tasks.total",
        "completed",
        Some(total),
        total,
    )
    .await;
    ctx.progress(
        1,
        "Purged task-objects of type core.Task",
        "purge.tasks.key.core.Task",
        "completed",
        Some(deleted),
        deleted,
    )
    .await;
    Ok(TaskOutput::default())
}
