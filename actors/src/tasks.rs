//! Task bodies, selected by Pulp's dotted task name. A body gets a [`TaskContext`] and returns
//! its result (or an error text that becomes `error.description`). Bodies may be aborted at
//! any await point (cancel, SIGINT): they write in transactions so an abort leaves nothing
//! half-made.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use uuid::Uuid;

use pith_entities::{ArtifactStore, Db, WriteOp, Writer};

pub mod content;
pub mod distribution;
mod general;
mod maintenance;
mod orphans;
pub mod publish;
mod purge;
pub mod sync;
mod test_bodies;
pub mod upload;

/// Pulp's name of the orphan cleanup task.
pub const ORPHAN_CLEANUP: &str = "pulpcore.app.tasks.orphan.orphan_cleanup";
/// Pulp's name of the task purge task.
pub const PURGE: &str = "pulpcore.app.tasks.purge.purge";
/// Pulp's name of the generic (immediate) update task.
pub const GENERAL_UPDATE: &str = "pulpcore.app.tasks.base.ageneral_update";
/// Pulp's name of the generic delete task.
pub const GENERAL_DELETE: &str = "pulpcore.app.tasks.base.general_delete";
/// Pulp's name of the generic create task (file content here).
pub const GENERAL_CREATE: &str = "pulpcore.app.tasks.base.general_create";
/// Pulp's name of the modify task.
pub const ADD_AND_REMOVE: &str = "pulpcore.app.tasks.repository.add_and_remove";
/// pulp_file's sync task.
pub const SYNCHRONIZE: &str = "pulp_file.app.tasks.synchronizing.synchronize";
/// pulp_file's publish task.
pub const PUBLISH: &str = "pulp_file.app.tasks.publishing.publish";
/// Deletes a repository version (squashing it into the next).
pub const DELETE_VERSION: &str = "pulpcore.app.tasks.repository.delete_version";
/// Re-downloads a version's missing or corrupted files.
pub const REPAIR_VERSION: &str = "pulpcore.app.tasks.repository.repair_version";
/// Turns a chunked upload into an artifact.
pub const UPLOAD_COMMIT: &str = "pulpcore.app.tasks.upload.commit";
/// Test-only: sleeps, optionally fails or panics (enabled by `PITH_TEST_TASKS`).
pub const TEST_SLEEP: &str = "pith.app.tasks.test.sleep";

/// What bodies share: database, writer, storage, and whether test bodies may run.
#[derive(Debug)]
pub struct TaskDeps {
    /// The database.
    pub db: Db,
    /// The node's batching writer.
    pub writer: Writer,
    /// The artifact store.
    pub store: ArtifactStore,
    /// Allow test-only bodies (benchmarks and tests).
    pub test_tasks: bool,
}

/// What one running body gets.
#[derive(Clone, Debug)]
pub struct TaskContext {
    /// The task's id.
    pub task: Uuid,
    /// Its arguments.
    pub args: serde_json::Value,
    /// Shared dependencies.
    pub deps: Arc<TaskDeps>,
    /// Set once the body records a progress report (so finishing knows whether to close any).
    pub progress_used: Arc<std::sync::atomic::AtomicBool>,
}

impl TaskContext {
    /// A context for `task` with JSON-text arguments (malformed text gives `null` args).
    pub fn new(task: Uuid, args: &str, deps: Arc<TaskDeps>) -> TaskContext {
        TaskContext {
            task,
            args: serde_json::from_str(args).unwrap_or_default(),
            deps,
            progress_used: Arc::default(),
        }
    }

    /// The writer.
    pub fn writer(&self) -> &Writer {
        &self.deps.writer
    }

    /// Records a progress report (Pulp's message, code, state, total, done).
    pub async fn progress(
        &self,
        position: i32,
        message: &str,
        code: &str,
        state: &str,
        total: Option<i64>,
        done: i64,
    ) {
        self.progress_used
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let op = WriteOp::Progress {
            task: self.task,
            position,
            message: message.to_owned(),
            code: code.to_owned(),
            state: state.to_owned(),
            total,
            done,
        };
        // Queued, not awaited: a body may hold other database work in flight (a stream of
        // downloads, each briefly owning the write connection) that is only polled again after
        // this returns; waiting here for a commit that needs that connection would deadlock.
        // The writer's FIFO still keeps reports in order with the task's later writes.
        if let Err(e) = self.deps.writer.submit_nowait(op).await {
            tracing::warn!(task = %self.task, error = %e, "could not record progress");
        }
    }
}

/// What a successful body returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskOutput {
    /// Pulp's `result`.
    pub result: Option<serde_json::Value>,
    /// `(href, prn)` of what the task created.
    pub created: Vec<(String, String)>,
}

/// A running body.
pub type TaskFuture = Pin<Box<dyn Future<Output = Result<TaskOutput, String>> + Send>>;

/// The body for `name`; unknown names fail the task with a message that says so.
///
/// Bodies that can change what the content app serves (distributions, publications, and
/// syncs or modifications that may autopublish) tell its index when they end.
pub fn body(name: &str, ctx: TaskContext) -> TaskFuture {
    let fut = select_body(name, ctx);
    if matches!(
        name,
        GENERAL_UPDATE
            | GENERAL_CREATE
            | GENERAL_DELETE
            | ADD_AND_REMOVE
            | SYNCHRONIZE
            | PUBLISH
            | DELETE_VERSION
    ) {
        Box::pin(async move {
            let out = fut.await;
            pith_entities::content_generation::bump();
            out
        })
    } else {
        fut
    }
}

fn select_body(name: &str, ctx: TaskContext) -> TaskFuture {
    match name {
        ORPHAN_CLEANUP => Box::pin(orphans::cleanup(ctx)),
        PURGE => Box::pin(purge::purge(ctx)),
        GENERAL_UPDATE => Box::pin(general::update(ctx)),
        GENERAL_CREATE
            if ctx.args.get("table").and_then(|t| t.as_str()) == Some("core_distribution") =>
        {
            Box::pin(distribution::create(ctx))
        }
        GENERAL_CREATE => Box::pin(content::create(ctx)),
        ADD_AND_REMOVE => Box::pin(content::modify(ctx)),
        SYNCHRONIZE => Box::pin(sync::synchronize(ctx)),
        PUBLISH => Box::pin(publish::publish(ctx)),
        GENERAL_DELETE => Box::pin(general::delete(ctx)),
        UPLOAD_COMMIT => Box::pin(upload::commit(ctx)),
        DELETE_VERSION => Box::pin(maintenance::delete_version(ctx)),
        REPAIR_VERSION => Box::pin(maintenance::repair_version(ctx)),
        TEST_SLEEP if ctx.deps.test_tasks => Box::pin(test_bodies::sleep(ctx)),
        other => {
            let msg = format!("Pith has no task named {other:?}.");
            Box::pin(async move { Err(msg) })
        }
    }
}

/// Database helper for bodies.
fn db_err(e: impl std::fmt::Display) -> String {
    format!("Database error: {e}")
}

/// Builds `$1,$2,…` for `n` values starting at `from`.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}
