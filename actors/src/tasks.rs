//! Core's task bodies (pulpcore's tasks), registered with the plugins' in a
//! [`TaskBodies`] table by Pulp's dotted task name. A body gets a [`TaskContext`] and returns
//! its result or a [`TaskError`] (whose text becomes `error.description`). Bodies may be aborted at
//! any await point (cancel, SIGINT): they write in transactions so an abort leaves nothing
//! half-made.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use uuid::Uuid;

use pith_entities::{ArtifactStore, Db, WriteOp, Writer};

pub mod distribution;
mod error;
mod general;
mod maintenance;
mod orphans;
mod purge;
pub mod repository;
mod test_bodies;
pub mod upload;

use crate::plugin::{Creator, TaskBodies, TaskBody, Types};
pub use error::TaskError;

/// Pulp's name of the orphan cleanup task.
pub const ORPHAN_CLEANUP: &str = "pulpcore.app.tasks.orphan.orphan_cleanup";
/// Pulp's name of the task purge task.
pub const PURGE: &str = "pulpcore.app.tasks.purge.purge";
/// Pulp's name of the generic (immediate) update task.
pub const GENERAL_UPDATE: &str = "pulpcore.app.tasks.base.ageneral_update";
/// Pulp's name of the generic delete task.
pub const GENERAL_DELETE: &str = "pulpcore.app.tasks.base.general_delete";
/// Pulp's name of the generic create task (the body is chosen by the `table` argument).
pub const GENERAL_CREATE: &str = "pulpcore.app.tasks.base.general_create";
/// Pulp's name of the modify task.
pub const ADD_AND_REMOVE: &str = "pulpcore.app.tasks.repository.add_and_remove";
/// Deletes a repository version (squashing it into the next).
pub const DELETE_VERSION: &str = "pulpcore.app.tasks.repository.delete_version";
/// Re-downloads a version's missing or corrupted files.
pub const REPAIR_VERSION: &str = "pulpcore.app.tasks.repository.repair_version";
/// Turns a chunked upload into an artifact.
pub const UPLOAD_COMMIT: &str = "pulpcore.app.tasks.upload.commit";
/// Pulp's message when a version to delete is served by a distribution (Pulp's
/// `PROTECTED_REPO_VERSION_MESSAGE`).
pub const PROTECTED_VERSION_MESSAGE: &str = "The repository version cannot be deleted because it (or its publications) are currently being used to distribute content. Please update the necessary distributions first.";
/// Test-only: sleeps, optionally fails or panics (enabled by `PITH_TEST_TASKS`).
pub const TEST_SLEEP: &str = "pith.app.tasks.test.sleep";

/// What bodies share: database, writer, storage, the plugins' types and every body, and
/// whether test bodies may run.
#[derive(Debug)]
pub struct TaskDeps {
    /// Every detail type of the running plugins.
    pub types: Types,
    /// Every task body, core's and the plugins'.
    pub bodies: TaskBodies,
    /// The database.
    pub db: Db,
    /// The node's batching writer.
    pub writer: Writer,
    /// The artifact store.
    pub store: ArtifactStore,
    /// Allow test-only bodies (benchmarks and tests).
    pub test_tasks: bool,
    /// Core's serializers, for bodies whose result is what they made.
    pub serializers: Arc<dyn Serializers>,
}

/// Core's serializers as task bodies need them: a body that makes a version, publication or
/// distribution returns its JSON as the task's `result`, as Pulp's `general_create` returns
/// `serializer.data`. The serializers live beside their viewsets in `pith-http`, which the
/// tasking runtime does not depend on; the binary hands them in here.
#[async_trait::async_trait]
pub trait Serializers: Send + Sync + std::fmt::Debug {
    /// A repository version of the repository at `repo_href`.
    async fn version(
        &self,
        deps: &TaskDeps,
        v3: &str,
        repo_href: &str,
        v: &pith_entities::entity::repository_version::Model,
    ) -> Result<serde_json::Value, pith_entities::DbError>;
    /// The publication `id` (None once it is gone).
    async fn publication(
        &self,
        deps: &TaskDeps,
        v3: &str,
        id: &str,
    ) -> Result<Option<serde_json::Value>, pith_entities::DbError>;
    /// The object `ageneral_update` just changed (a row of `table`: `core_remote`,
    /// `core_repository`, `core_distribution`), as the task's `result` (None once it is gone).
    async fn updated(
        &self,
        deps: &TaskDeps,
        v3: &str,
        content_base: &str,
        table: &str,
        id: &str,
    ) -> Result<Option<serde_json::Value>, pith_entities::DbError>;
    /// A distribution; `content_base` is `CONTENT_ORIGIN` + `CONTENT_PATH_PREFIX`.
    async fn distribution(
        &self,
        deps: &TaskDeps,
        v3: &str,
        content_base: &str,
        d: &pith_entities::entity::distribution::Model,
    ) -> Result<serde_json::Value, pith_entities::DbError>;
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
pub type TaskFuture = Pin<Box<dyn Future<Output = Result<TaskOutput, TaskError>> + Send>>;

/// Core's task bodies (pulpcore's tasks), and its `general_create` for distributions.
pub fn core_bodies(test_tasks: bool) -> TaskBodies {
    fn body(name: &'static str, run: crate::plugin::BodyFn, changes: bool) -> TaskBody {
        TaskBody {
            name,
            run,
            changes_served_content: changes,
        }
    }
    let mut b = TaskBodies::default();
    b.add([
        body(ORPHAN_CLEANUP, |c| Box::pin(orphans::cleanup(c)), false),
        body(PURGE, |c| Box::pin(purge::purge(c)), false),
        body(GENERAL_UPDATE, |c| Box::pin(general::update(c)), true),
        body(GENERAL_CREATE, |c| Box::pin(general::create(c)), true),
        body(GENERAL_DELETE, |c| Box::pin(general::delete(c)), true),
        body(ADD_AND_REMOVE, |c| Box::pin(repository::modify(c)), true),
        body(UPLOAD_COMMIT, |c| Box::pin(upload::commit(c)), false),
        body(
            DELETE_VERSION,
            |c| Box::pin(maintenance::delete_version(c)),
            true,
        ),
        body(
            REPAIR_VERSION,
            |c| Box::pin(maintenance::repair_version(c)),
            false,
        ),
    ]);
    if test_tasks {
        b.add([body(TEST_SLEEP, |c| Box::pin(test_bodies::sleep(c)), false)]);
    }
    b.add_creators([Creator {
        table: "core_distribution",
        run: |c| Box::pin(distribution::create(c)),
    }]);
    b
}

/// The body for `name` from the context's table; unknown names fail the task with a message
/// that says so.
/// A task runs as the user who dispatched it: what it creates gets the creation hooks of its
/// viewset for that user (Pulp's `AutoAddObjPermsMixin` with the task's user as the current
/// one), here, where the objects were made, before the task counts as completed.
pub fn body(name: &str, ctx: TaskContext) -> TaskFuture {
    let deps = ctx.deps.clone();
    let task = ctx.task;
    let run = deps.bodies.body(name, ctx);
    Box::pin(async move {
        let out = run.await?;
        if !out.created.is_empty() {
            creation_hooks(&deps.db, task, &out.created).await?;
        }
        Ok(out)
    })
}

/// Runs creation hooks for what task `task` created (`(href, prn)`) on behalf of the user
/// named by its `created_by`; a superuser gets none, as through the API.
async fn creation_hooks(
    db: &Db,
    task: Uuid,
    created: &[(String, String)],
) -> Result<(), TaskError> {
    use pith_entities::entity::{task as task_row, user};
    use pith_entities::sea_orm::EntityTrait;
    let row = task_row::Entity::find_by_id(task.to_string())
        .one(&db.read)
        .await
        .map_err(db_err)?;
    let Some(user_id) = row
        .and_then(|t| t.created_by)
        .and_then(|href| user_of_href(&href))
    else {
        return Ok(());
    };
    let superuser = user::Entity::find_by_id(user_id)
        .one(&db.read)
        .await
        .map_err(db_err)?
        .is_none_or(|u| u.is_superuser);
    if superuser {
        return Ok(());
    }
    for (href, prn) in created {
        let (Some(viewset), Some((prn_type, id))) = (viewset_of_href(href), object_of_prn(prn))
        else {
            continue;
        };
        pith_entities::access_policies::run_creation_hooks(db, &viewset, user_id, (prn_type, id))
            .await?;
    }
    Ok(())
}

/// The user id of a user href (`…/api/v3/users/3/`).
fn user_of_href(href: &str) -> Option<i64> {
    let rest = &href[href.find("/users/")? + "/users/".len()..];
    rest.trim_end_matches('/').parse().ok()
}

/// The viewset an object href belongs to, as access policies name it: the path below
/// `api/v3/` without its ids (`repositories/file/file/<id>/versions/2/` →
/// `repositories/file/file/versions`).
fn viewset_of_href(href: &str) -> Option<String> {
    let rest = &href[href.find("/api/v3/")? + "/api/v3/".len()..];
    let names: Vec<&str> = rest
        .split('/')
        .filter(|s| !s.is_empty() && Uuid::parse_str(s).is_err() && s.parse::<i64>().is_err())
        .collect();
    (!names.is_empty()).then(|| names.join("/"))
}

/// `(type, id)` of a PRN (`prn:file.filedistribution:<id>`).
fn object_of_prn(prn: &str) -> Option<(&str, &str)> {
    prn.strip_prefix("prn:")?.split_once(':')
}

/// A database failure as a task error (for `map_err` where `?` cannot convert).
pub fn db_err(e: impl std::fmt::Display) -> TaskError {
    TaskError::Database(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_objects_name_their_viewset_and_user() {
        let id = "0199b2a1-6b02-70f5-bd0f-0b9100488732";
        let v3 = "/pulp/api/v3/";
        assert_eq!(
            viewset_of_href(&format!("{v3}distributions/file/file/{id}/")).as_deref(),
            Some("distributions/file/file")
        );
        assert_eq!(
            viewset_of_href(&format!(
                "http://h/pulp/default/api/v3/repositories/file/file/{id}/versions/2/"
            ))
            .as_deref(),
            Some("repositories/file/file/versions")
        );
        assert_eq!(viewset_of_href("/pulp/content/x/"), None);
        assert_eq!(
            object_of_prn(&format!("prn:file.filepublication:{id}")),
            Some(("file.filepublication", id))
        );
        assert_eq!(object_of_prn("file.filepublication"), None);
        assert_eq!(user_of_href("/pulp/api/v3/users/12/"), Some(12));
        assert_eq!(user_of_href("/pulp/api/v3/groups/12/"), None);
    }
}
