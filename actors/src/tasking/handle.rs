//! [`Tasking`]: what the API uses to dispatch and cancel tasks. Dispatch commits the task row
//! first and only then wakes the lock service: the table is the queue, the message a hint.

use std::sync::Arc;
use std::time::Duration;

use ractor::rpc::CallResult;
use serde_json::json;
use uuid::Uuid;

use pith_entities::sea_orm::EntityTrait;
use pith_entities::{
    DbError, NewTask, ResourceClaim, TaskState, WriteOp, entity, time::now_micros,
};

use super::host::HostMsg;
use super::lock_service::LockServiceMsg;
use super::node::NodeIdentity;
use super::routes::{hosts, lock_services, to_lock_services};
use super::wire::{Claim, ImmediateDecision, TaskKey, TaskSummary, WakeUp};
use crate::tasks::{TaskContext, TaskDeps};

/// Pulp's `IMMEDIATE_TIMEOUT`: an immediate task that runs longer fails.
const IMMEDIATE_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors of dispatch and cancel.
#[derive(Debug, thiserror::Error)]
pub enum TaskingError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What to dispatch.
#[derive(Clone, Debug, Default)]
pub struct TaskSpec {
    /// Pulp's dotted task name (selects the body).
    pub name: String,
    /// Body arguments.
    pub args: serde_json::Value,
    /// Exclusively reserved resources.
    pub exclusive: Vec<String>,
    /// Shared resources.
    pub shared: Vec<String>,
    /// Try to run inline in the request.
    pub immediate: bool,
    /// When immediate and blocked: leave it to workers (`true`) or cancel it.
    pub deferred: bool,
    /// The request's correlation id.
    pub logging_cid: String,
    /// Href of the dispatching user.
    pub created_by: Option<String>,
}

/// Result of a cancel request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// No such task.
    NotFound,
    /// It had already finished (409 in the API).
    AlreadyFinal,
    /// Canceled, or canceling (a running task's worker finalises it).
    Requested,
}

/// The API's handle to the tasking runtime.
#[derive(Clone, Debug)]
pub struct Tasking {
    /// Dependencies shared with task bodies (database, writer, storage).
    pub deps: Arc<TaskDeps>,
    identity: NodeIdentity,
    owner: String,
}

impl Tasking {
    /// A handle for a process identified by `identity`; `owner` is the app-status name under
    /// which immediate tasks run inline (the API app's name).
    pub fn new(deps: Arc<TaskDeps>, identity: NodeIdentity, owner: String) -> Tasking {
        Tasking {
            deps,
            identity,
            owner,
        }
    }

    /// Commits a task and wakes the lock service. Immediate tasks run inline here when every
    /// resource is free (the returned task is then already final).
    pub async fn dispatch(&self, spec: TaskSpec) -> Result<Uuid, TaskingError> {
        let id = Uuid::now_v7();
        let resources = ResourceClaim::normalise(&spec.exclusive, &spec.shared);
        let claims: Vec<Claim> = resources.iter().map(Claim::from).collect();
        let new = NewTask {
            id,
            name: spec.name.clone(),
            args: spec.args.clone(),
            resources,
            logging_cid: spec.logging_cid.clone(),
            created_by: spec.created_by.clone(),
            immediate: spec.immediate,
            deferred: spec.deferred,
            created: now_micros(),
        };
        self.deps.writer.submit(WriteOp::InsertTask(new)).await?;
        let summary = TaskSummary {
            v: 1,
            id,
            name: spec.name.clone(),
            args: spec.args.to_string(),
            resources: claims,
        };
        // The lock service may run on another node; none reachable (it is moving) means the
        // next one finds the task in the table when it starts.
        let services = lock_services();
        if !spec.immediate {
            for l in &services {
                let _ = l.cast(LockServiceMsg::Wake(WakeUp(vec![summary.clone()])));
            }
            return Ok(id);
        }
        let Some(lock) = services.into_iter().next() else {
            return Ok(id);
        };
        let decision = lock
            .call(
                |r| LockServiceMsg::Immediate(summary, r),
                Some(Duration::from_secs(10)),
            )
            .await;
        match decision {
            Ok(CallResult::Success(ImmediateDecision::Granted { epoch })) => {
                self.run_inline(id, &spec, epoch).await?
            }
            Ok(CallResult::Success(ImmediateDecision::Deferred)) if !spec.deferred => {
                // Pulp cancels a blocked immediate task that may not be deferred.
                let op = WriteOp::CancelWaiting {
                    task: id,
                    at: now_micros(),
                };
                let canceled = self.deps.writer.submit(op).await? == 1;
                if canceled {
                    to_lock_services(|| LockServiceMsg::Canceled(TaskKey(id)));
                }
            }
            // Deferred (or no answer): the lock service keeps it queued for a worker.
            _ => {}
        }
        Ok(id)
    }

    async fn run_inline(&self, id: Uuid, spec: &TaskSpec, epoch: i64) -> Result<(), TaskingError> {
        let start = WriteOp::StartTask {
            task: id,
            owner: self.owner.clone(),
            incarnation: self.identity.incarnation.clone(),
            epoch,
            at: now_micros(),
        };
        if self.deps.writer.submit(start).await? != 1 {
            return Ok(());
        }
        let ctx = TaskContext::new(id, &spec.args.to_string(), self.deps.clone());
        let progress = ctx.progress_used.clone();
        let outcome =
            tokio::time::timeout(IMMEDIATE_TIMEOUT, crate::tasks::body(&spec.name, ctx)).await;
        let (state, error, out) = match outcome {
            Ok(Ok(out)) => (TaskState::Completed, None, out),
            Ok(Err(e)) => (
                TaskState::Failed,
                Some(json!({ "description": e.description() })),
                Default::default(),
            ),
            Err(_) => (
                TaskState::Failed,
                Some(json!({ "description": "Immediate task timed out after 5 seconds." })),
                Default::default(),
            ),
        };
        let finish = WriteOp::FinishTask {
            task: id,
            owner: self.owner.clone(),
            incarnation: self.identity.incarnation.clone(),
            state,
            error,
            result: out.result,
            created: out.created,
            had_progress: progress.load(std::sync::atomic::Ordering::Relaxed),
            at: now_micros(),
        };
        self.deps.writer.submit(finish).await?;
        to_lock_services(|| LockServiceMsg::Release(TaskKey(id)));
        Ok(())
    }

    /// Cancels a waiting or running task.
    pub async fn cancel(&self, id: Uuid) -> Result<CancelOutcome, TaskingError> {
        for _ in 0..3 {
            let Some(task) = entity::task::Entity::find_by_id(id.to_string())
                .one(&self.deps.db.read)
                .await
                .map_err(DbError::from)?
            else {
                return Ok(CancelOutcome::NotFound);
            };
            match TaskState::parse(&task.state) {
                Some(s) if s.is_final() => return Ok(CancelOutcome::AlreadyFinal),
                Some(TaskState::Waiting) => {
                    if self
                        .deps
                        .writer
                        .submit(WriteOp::CancelWaiting {
                            task: id,
                            at: now_micros(),
                        })
                        .await?
                        == 1
                    {
                        to_lock_services(|| LockServiceMsg::Canceled(TaskKey(id)));
                        return Ok(CancelOutcome::Requested);
                    }
                }
                Some(TaskState::Running) => {
                    if self
                        .deps
                        .writer
                        .submit(WriteOp::MarkCanceling {
                            task: id,
                            at: now_micros(),
                        })
                        .await?
                        == 1
                    {
                        // Whichever node runs it: every worker host checks its workers.
                        for h in hosts() {
                            let _ = h.cast(HostMsg::Cancel(TaskKey(id)));
                        }
                        return Ok(CancelOutcome::Requested);
                    }
                }
                _ => return Ok(CancelOutcome::Requested),
            }
            // The state moved under us (started or finished): look again.
        }
        Ok(CancelOutcome::Requested)
    }

    /// Ready tasks waiting for a free worker in the cluster (0 when no lock service answers).
    pub async fn queue_depth(&self) -> usize {
        let Some(l) = lock_services().into_iter().next() else {
            return 0;
        };
        match l
            .call(LockServiceMsg::QueueDepth, Some(Duration::from_secs(1)))
            .await
        {
            Ok(CallResult::Success(n)) => n as usize,
            _ => 0,
        }
    }
}
