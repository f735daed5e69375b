//! `purge`: deletes finished tasks older than a date, in bounded batches, reporting counts the
//! way Pulp does (`purge.tasks.total`, `purge.tasks.key.core.Task`).

use crate::tasks::TaskError;
use pith_entities::sea_orm::{ConnectionTrait, TransactionTrait, Value};
use pith_entities::time::now_micros;

use super::{TaskContext, TaskOutput, db_err, placeholders};

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
    let where_ = format!(
        "finished_at < $1 AND state IN ({})",
        placeholders(2, states.len())
    );
    let mut values: Vec<Value> = vec![before.into()];
    values.extend(states.iter().map(|s| Value::from(s.clone())));

    let count_sql = format!("SELECT COUNT(*) AS n FROM core_task WHERE {where_}");
    let expected = db
        .read
        .query_one_raw(db.stmt(&count_sql, values.clone()))
        .await
        .map_err(db_err)?
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0);
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
        let txn = db.write.begin().await.map_err(db_err)?;
        let ids: Vec<String> = txn
            .query_all_raw(db.stmt(&format!("SELECT pulp_id FROM core_task WHERE {where_} ORDER BY pulp_created LIMIT {BATCH}"), values.clone()))
            .await
            .map_err(db_err)?
            .into_iter()
            .filter_map(|r| r.try_get::<String>("", "pulp_id").ok())
            .collect();
        if ids.is_empty() {
            break;
        }
        let ph = placeholders(1, ids.len());
        let vals: Vec<Value> = ids.iter().map(|s| Value::from(s.clone())).collect();
        for table in [
            "core_progressreport",
            "core_createdresource",
            "core_taskresource",
        ] {
            let sql = format!("DELETE FROM {table} WHERE task_id IN ({ph})");
            related += txn
                .execute_raw(db.stmt(&sql, vals.clone()))
                .await
                .map_err(db_err)?
                .rows_affected() as i64;
        }
        let n = txn
            .execute_raw(db.stmt(
                &format!("DELETE FROM core_task WHERE pulp_id IN ({ph})"),
                vals,
            ))
            .await
            .map_err(db_err)?
            .rows_affected() as i64;
        txn.commit().await.map_err(db_err)?;
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
