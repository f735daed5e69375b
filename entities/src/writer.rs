//! The node's batching writer: every write on the task path goes through it, and each batch is
//! one transaction, so a burst of N dispatches costs one commit (one fsync on SQLite), not N.
//!
//! Ops are data (the pure tasking machines emit them as commands). Conditional updates report
//! how many rows they changed instead of failing, so one op cannot poison a batch; if a batch
//! fails anyway (a real database error), each op is retried alone so only the culprit fails.
//! Ops are applied in the order they were submitted: a task's queue position is always
//! committed before (or with) its start.

use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait, Value};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::{Db, DbError, NewTask, TaskState, time::Micros};

/// How many ops one transaction takes at most.
const MAX_BATCH: usize = 512;
/// Scheduler turns the writer waits for more ops before committing a batch.
const YIELDS: usize = 4;
/// How many ops may wait for the writer before submitters are slowed down.
const QUEUE: usize = 8192;

/// A write on the task path.
#[derive(Clone, Debug)]
pub enum WriteOp {
    /// Insert a `waiting` task and its resources.
    InsertTask(NewTask),
    /// Record the durable queue position the lock service gave a task. Fenced like a start:
    /// a deposed lock service must not give positions (a task with one is invisible to the
    /// current lock service's scan for unqueued tasks).
    AssignQueue {
        /// The task.
        task: Uuid,
        /// Its position.
        seq: i64,
        /// The lock service's lease epoch.
        epoch: i64,
    },
    /// `waiting → running`, fenced: only if the task is still waiting and the lock-service
    /// lease still has `epoch`. Also records the owner (a worker's current task is derived
    /// from this: it costs no extra write).
    StartTask {
        /// The task.
        task: Uuid,
        /// Owner name (worker name, or the API app for immediate tasks).
        owner: String,
        /// The owner's process incarnation.
        incarnation: String,
        /// The lock-service epoch the grant was made under.
        epoch: i64,
        /// Start time.
        at: Micros,
    },
    /// `running|canceling → final`, only by the owner.
    FinishTask {
        /// The task.
        task: Uuid,
        /// Owner name.
        owner: String,
        /// The owner's process incarnation.
        incarnation: String,
        /// Completed, failed or canceled.
        state: TaskState,
        /// Pulp's error object.
        error: Option<serde_json::Value>,
        /// The body's result.
        result: Option<serde_json::Value>,
        /// Hrefs and PRNs of what the task created.
        created: Vec<(String, String)>,
        /// The body recorded progress reports (which end with the task).
        had_progress: bool,
        /// Finish time.
        at: Micros,
    },
    /// `waiting → canceled` (nobody runs it yet).
    CancelWaiting {
        /// The task.
        task: Uuid,
        /// When.
        at: Micros,
    },
    /// `running → canceling`; the owner finalises it.
    MarkCanceling {
        /// The task.
        task: Uuid,
        /// When.
        at: Micros,
    },
    /// A task whose owner is gone: `running → failed` with `reason`, `canceling → canceled`.
    /// Only if the owner incarnation still matches.
    FailAbandoned {
        /// The task.
        task: Uuid,
        /// The incarnation that owned it.
        incarnation: String,
        /// Pulp's reason text, e.g. "Worker has gone missing.".
        reason: String,
        /// When.
        at: Micros,
    },
    /// Bump `last_heartbeat` of the given app-status rows.
    Heartbeat {
        /// Row names.
        names: Vec<String>,
        /// Time.
        at: Micros,
    },
    /// Insert or replace a progress report of a task.
    Progress {
        /// The task.
        task: Uuid,
        /// Report position within the task.
        position: i32,
        /// Human message.
        message: String,
        /// Machine code.
        code: String,
        /// Report state.
        state: String,
        /// Expected total.
        total: Option<i64>,
        /// Done so far.
        done: i64,
    },
}

type Reply = oneshot::Sender<Result<u64, DbError>>;

/// Handle to the batching writer. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<(WriteOp, Option<Reply>)>,
}

impl Writer {
    /// Starts the writer task on `db.write`.
    pub fn start(db: Db) -> Writer {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, rx));
        Writer { tx }
    }

    /// Submits `op` and waits for its commit; returns the rows its main statement changed.
    pub async fn submit(&self, op: WriteOp) -> Result<u64, DbError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((op, Some(tx)))
            .await
            .map_err(|_| DbError::WriterGone)?;
        rx.await.map_err(|_| DbError::WriterGone)?
    }

    /// Queues `op` now, synchronously, and returns a receiver for its outcome. Use it when the
    /// op must be ordered before anything the caller's peers submit after this call returns
    /// (the queue is FIFO). Fails only when the queue is full or the writer is gone.
    pub fn enqueue(&self, op: WriteOp) -> Result<oneshot::Receiver<Result<u64, DbError>>, DbError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .try_send((op, Some(tx)))
            .map_err(|_| DbError::WriterGone)?;
        Ok(rx)
    }

    /// Submits `op` without waiting for its commit. Order relative to later ops is kept.
    pub async fn submit_nowait(&self, op: WriteOp) -> Result<(), DbError> {
        self.tx
            .send((op, None))
            .await
            .map_err(|_| DbError::WriterGone)
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<(WriteOp, Option<Reply>)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Give the actors that are about to write (a worker starting its next task right
        // after its last one finished) a moment to join this commit rather than wait for the
        // next fsync. A few scheduler turns cost microseconds; a missed batch costs an fsync.
        for _ in 0..YIELDS {
            if batch.len() >= MAX_BATCH {
                break;
            }
            tokio::task::yield_now().await;
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
        }
        match apply_batch(&db, &batch).await {
            Ok(counts) => {
                for ((_, reply), n) in batch.drain(..).zip(counts) {
                    if let Some(r) = reply {
                        let _ = r.send(Ok(n));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, size = batch.len(), "write batch failed; retrying its ops one by one");
                for (op, reply) in batch.drain(..) {
                    let res = apply_batch(&db, std::slice::from_ref(&(op, None)))
                        .await
                        .map(|v| v[0]);
                    if let Err(e) = &res {
                        tracing::error!(error = %e, "write failed");
                    }
                    if let Some(r) = reply {
                        let _ = r.send(res);
                    }
                }
            }
        }
    }
}

async fn apply_batch(db: &Db, batch: &[(WriteOp, Option<Reply>)]) -> Result<Vec<u64>, DbError> {
    let txn = db.write.begin().await?;
    let mut counts = Vec::with_capacity(batch.len());
    for (op, _) in batch {
        counts.push(apply(db, &txn, op).await?);
    }
    txn.commit().await?;
    Ok(counts)
}

fn s(v: impl Into<String>) -> Value {
    Value::from(v.into())
}

async fn exec(
    db: &Db,
    txn: &DatabaseTransaction,
    sql: &str,
    values: Vec<Value>,
) -> Result<u64, DbError> {
    Ok(txn.execute_raw(db.stmt(sql, values)).await?.rows_affected())
}

async fn apply(db: &Db, txn: &DatabaseTransaction, op: &WriteOp) -> Result<u64, DbError> {
    match op {
        WriteOp::InsertTask(t) => {
            let n = exec(
                db,
                txn,
                "INSERT INTO core_task (pulp_id, pulp_created, pulp_last_updated, state, name, logging_cid, \
                 created_by, args, immediate, deferred) VALUES ($1,$2,$2,'waiting',$3,$4,$5,$6,$7,$8)",
                vec![
                    s(t.id.to_string()),
                    t.created.into(),
                    s(t.name.clone()),
                    s(t.logging_cid.clone()),
                    t.created_by.clone().into(),
                    s(t.args.to_string()),
                    t.immediate.into(),
                    t.deferred.into(),
                ],
            )
            .await?;
            if !t.resources.is_empty() {
                let mut sql = String::from("INSERT INTO core_taskresource (task_id, resource, exclusive) VALUES ");
                let mut values = Vec::with_capacity(t.resources.len() * 3);
                for (i, r) in t.resources.iter().enumerate() {
                    if i > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("(${},${},${})", i * 3 + 1, i * 3 + 2, i * 3 + 3));
                    values.extend([s(t.id.to_string()), s(r.resource.clone()), r.exclusive.into()]);
                }
                exec(db, txn, &sql, values).await?;
            }
            Ok(n)
        }
        WriteOp::AssignQueue { task, seq, epoch } => {
            exec(
                db,
                txn,
                "UPDATE core_task SET queue_seq = $1 WHERE pulp_id = $2 AND queue_seq IS NULL \
                 AND (SELECT epoch FROM core_locklease WHERE id = 1) = $3",
                vec![(*seq).into(), s(task.to_string()), (*epoch).into()],
            )
            .await
        }
        WriteOp::StartTask { task, owner, incarnation, epoch, at } => {
            let n = exec(
                db,
                txn,
                "UPDATE core_task SET state = 'running', started_at = $1, pulp_last_updated = $1, \
                 unblocked_at = COALESCE(unblocked_at, $1), owner = $2, owner_incarnation = $3 \
                 WHERE pulp_id = $4 AND state = 'waiting' \
                 AND (SELECT epoch FROM core_locklease WHERE id = 1) = $5",
                vec![(*at).into(), s(owner.clone()), s(incarnation.clone()), s(task.to_string()), (*epoch).into()],
            )
            .await?;
            Ok(n)
        }
        WriteOp::FinishTask { task, owner, incarnation, state, error, result, created, had_progress, at } => {
            let n = exec(
                db,
                txn,
                "UPDATE core_task SET state = $1, finished_at = $2, pulp_last_updated = $2, error = $3, result = $4 \
                 WHERE pulp_id = $5 AND owner = $6 AND owner_incarnation = $7 AND state IN ('running','canceling')",
                vec![
                    s(state.as_str()),
                    (*at).into(),
                    error.as_ref().map(|e| e.to_string()).into(),
                    result.as_ref().map(|r| r.to_string()).into(),
                    s(task.to_string()),
                    s(owner.clone()),
                    s(incarnation.clone()),
                ],
            )
            .await?;
            if n == 1 {
                for (i, (href, prn)) in created.iter().enumerate() {
                    exec(
                        db,
                        txn,
                        "INSERT INTO core_createdresource (task_id, position, href, prn) VALUES ($1,$2,$3,$4)",
                        vec![s(task.to_string()), (i as i32).into(), s(href.clone()), s(prn.clone())],
                    )
                    .await?;
                }
                // Running progress reports end with the task.
                if *had_progress {
                    exec(db, txn, "UPDATE core_progressreport SET state = $1 WHERE task_id = $2 AND state IN ('waiting','running')", vec![
                    s(state.as_str()),
                    s(task.to_string()),
                ])
                .await?;
                }
            }
            Ok(n)
        }
        WriteOp::CancelWaiting { task, at } => {
            exec(
                db,
                txn,
                "UPDATE core_task SET state = 'canceled', finished_at = $1, pulp_last_updated = $1 \
                 WHERE pulp_id = $2 AND state = 'waiting'",
                vec![(*at).into(), s(task.to_string())],
            )
            .await
        }
        WriteOp::MarkCanceling { task, at } => {
            exec(
                db,
                txn,
                "UPDATE core_task SET state = 'canceling', pulp_last_updated = $1 WHERE pulp_id = $2 AND state = 'running'",
                vec![(*at).into(), s(task.to_string())],
            )
            .await
        }
        WriteOp::FailAbandoned { task, incarnation, reason, at } => {
            let error = serde_json::json!({ "reason": reason }).to_string();
            exec(
                db,
                txn,
                "UPDATE core_task SET state = CASE WHEN state = 'canceling' THEN 'canceled' ELSE 'failed' END, \
                 error = CASE WHEN state = 'canceling' THEN error ELSE $1 END, \
                 finished_at = $2, pulp_last_updated = $2 \
                 WHERE pulp_id = $3 AND owner_incarnation = $4 AND state IN ('running','canceling')",
                vec![s(error), (*at).into(), s(task.to_string()), s(incarnation.clone())],
            )
            .await
        }
        WriteOp::Heartbeat { names, at } => {
            let mut n = 0;
            for name in names {
                // The database's clock, not ours: liveness is judged on one clock.
                let _ = at;
                let sql = format!("UPDATE core_appstatus SET last_heartbeat = {} WHERE name = $1", db.now_sql());
                n += exec(db, txn, &sql, vec![s(name.clone())]).await?;
            }
            Ok(n)
        }
        WriteOp::Progress { task, position, message, code, state, total, done } => {
            let n = exec(
                db,
                txn,
                "UPDATE core_progressreport SET message = $1, code = $2, state = $3, total = $4, done = $5 \
                 WHERE task_id = $6 AND position = $7",
                vec![
                    s(message.clone()),
                    s(code.clone()),
                    s(state.clone()),
                    (*total).into(),
                    (*done).into(),
                    s(task.to_string()),
                    (*position).into(),
                ],
            )
            .await?;
            if n == 0 {
                exec(
                    db,
                    txn,
                    "INSERT INTO core_progressreport (pulp_id, task_id, position, message, code, state, total, done) \
                     VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                    vec![
                        s(Uuid::now_v7().to_string()),
                        s(task.to_string()),
                        (*position).into(),
                        s(message.clone()),
                        s(code.clone()),
                        s(state.clone()),
                        (*total).into(),
                        (*done).into(),
                    ],
                )
                .await
            } else {
                Ok(n)
            }
        }
    }
}
