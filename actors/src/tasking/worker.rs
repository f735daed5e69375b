//! A worker: runs one task at a time. Wraps [`WorkerSlot`]; every database write and the body
//! itself run in spawned tasks that report back as messages, so the mailbox stays responsive
//! (a cancel is handled while the body runs).

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster_derive::RactorMessage;
use serde_json::json;
use tokio::task::AbortHandle;
use uuid::Uuid;

use pith_entities::{TaskState, WriteOp, time::now_micros};

use super::host::{HostMsg, LocalIdle};
use super::lock_service::LockServiceMsg;
use super::routes::to_lock_services;
use super::wire::{ReadyTask, TaskKey};
use crate::machine::dispatcher::WorkerId;
use crate::machine::worker_slot::{Final, Outcome, SlotIn, SlotOut, WorkerSlot};
use crate::tasks::{TaskContext, TaskDeps, TaskOutput};

/// Messages.
#[derive(Debug, RactorMessage)]
pub enum WorkerMsg {
    /// Run a task.
    Run(ReadyTask),
    /// The fenced start was (not) written.
    StartWritten(bool),
    /// The body ended.
    BodyDone(Outcome, Option<TaskOutput>),
    /// Cancel the task if it is ours.
    Cancel(Uuid),
    /// A final state was committed (and the task's locks released).
    FinishWritten,
    /// Stop (SIGTERM: drain; SIGINT: abort).
    Shutdown {
        /// Abort the running task.
        abort: bool,
    },
}

/// Start-up arguments.
#[derive(Clone, Debug)]
pub struct WorkerArgs {
    /// Index within the node.
    pub id: WorkerId,
    /// Which actor this is for that index (the host ignores a replaced one's messages).
    pub generation: u64,
    /// Pulp-style name, e.g. `4711.1@host`.
    pub name: String,
    /// The process incarnation.
    pub incarnation: String,
    /// Shared dependencies of task bodies (database, writer, storage).
    pub deps: Arc<TaskDeps>,
    /// The node's worker host (to become idle).
    pub host: ActorRef<HostMsg>,
}

/// State.
#[derive(Debug)]
pub struct WorkerState {
    args: WorkerArgs,
    slot: WorkerSlot,
    task: Option<ReadyTask>,
    body: Option<AbortHandle>,
    output: Option<TaskOutput>,
    /// Whether the running body recorded progress reports.
    progress: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Final-state writes not yet committed; the worker only stops once they are.
    pending_finishes: usize,
    exiting: bool,
}

/// The actor.
#[derive(Debug)]
pub struct Worker;

impl WorkerState {
    fn step(&mut self, me: &ActorRef<WorkerMsg>, input: SlotIn) -> Result<(), ActorProcessingErr> {
        let mut out = Vec::new();
        self.slot.handle(input, &mut out);
        for o in out {
            self.perform(me, o)?;
        }
        Ok(())
    }

    fn perform(&mut self, me: &ActorRef<WorkerMsg>, o: SlotOut) -> Result<(), ActorProcessingErr> {
        let a = &self.args;
        match o {
            SlotOut::WriteStart { task, epoch } => {
                let op = WriteOp::StartTask {
                    task,
                    owner: a.name.clone(),
                    incarnation: a.incarnation.clone(),
                    epoch,
                    at: now_micros(),
                };
                // Queued here, synchronously: if this worker dies right after, the
                // dispatcher's "fail the orphan" write is queued after this one, never before
                // (found by the simulator: a late start would leave a task running forever).
                let pending = a.deps.writer.enqueue(op);
                let me = me.clone();
                tokio::spawn(async move {
                    let ok = match pending {
                        Ok(rx) => matches!(rx.await, Ok(Ok(1))),
                        Err(e) => {
                            tracing::error!(%task, error = %e, "could not queue the task's start");
                            false
                        }
                    };
                    let _ = me.cast(WorkerMsg::StartWritten(ok));
                });
            }
            SlotOut::SpawnBody(task) => {
                let Some(t) = self.task.clone() else {
                    return Ok(());
                };
                let ctx = TaskContext::new(task, &t.args, a.deps.clone());
                self.progress = Some(ctx.progress_used.clone());
                let span = tracing::info_span!("task", task.name = %t.name, task.id = %task, worker = %a.name);
                let fut = tracing::Instrument::instrument(crate::tasks::body(&t.name, ctx), span);
                // Time from dispatch to start (queueing and waiting for locks): task ids are
                // UUIDv7, so they carry their creation time.
                if let Some((secs, nanos)) = task.get_timestamp().map(|ts| ts.to_unix()) {
                    let created = std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos);
                    if let Ok(waited) = std::time::SystemTime::now().duration_since(created) {
                        metrics::histogram!("pith_task_wait_seconds").record(waited.as_secs_f64());
                    }
                }
                let started = std::time::Instant::now();
                let name = t.name.clone();
                let handle = tokio::spawn(fut);
                self.body = Some(handle.abort_handle());
                let me = me.clone();
                tokio::spawn(async move {
                    let msg = match handle.await {
                        Ok(Ok(out)) => WorkerMsg::BodyDone(Outcome::Completed, Some(out)),
                        Ok(Err(e)) => {
                            if e.is_infrastructure() {
                                tracing::error!(%task, error = %e, "task failed");
                            } else {
                                tracing::info!(%task, error = %e, "task failed");
                            }
                            WorkerMsg::BodyDone(Outcome::Failed(e.description()), None)
                        }
                        Err(e) if e.is_cancelled() => WorkerMsg::BodyDone(Outcome::Aborted, None),
                        Err(e) => WorkerMsg::BodyDone(Outcome::Failed(panic_text(e)), None),
                    };
                    let outcome = match &msg {
                        WorkerMsg::BodyDone(Outcome::Completed, _) => "completed",
                        WorkerMsg::BodyDone(Outcome::Aborted, _) => "canceled",
                        _ => "failed",
                    };
                    metrics::histogram!("pith_task_duration_seconds", "name" => name.clone())
                        .record(started.elapsed().as_secs_f64());
                    metrics::counter!("pith_tasks_finished", "name" => name, "outcome" => outcome)
                        .increment(1);
                    let _ = me.cast(msg);
                });
            }
            SlotOut::AbortBody(_) => {
                if let Some(h) = self.body.take() {
                    h.abort();
                }
            }
            SlotOut::WriteFinish { task, state } => {
                let out = self.output.take().unwrap_or_default();
                let (st, error) = match state {
                    Final::Completed => (TaskState::Completed, None),
                    Final::Canceled => (TaskState::Canceled, None),
                    Final::Failed(d) => (TaskState::Failed, Some(json!({ "description": d }))),
                    Final::FailedReason(r) => (TaskState::Failed, Some(json!({ "reason": r }))),
                };
                let op = WriteOp::FinishTask {
                    task,
                    owner: a.name.clone(),
                    incarnation: a.incarnation.clone(),
                    state: st,
                    error,
                    result: if st == TaskState::Completed {
                        out.result
                    } else {
                        None
                    },
                    created: if st == TaskState::Completed {
                        out.created
                    } else {
                        Vec::new()
                    },
                    had_progress: self
                        .progress
                        .take()
                        .is_some_and(|p| p.load(std::sync::atomic::Ordering::Relaxed)),
                    at: now_micros(),
                };
                self.pending_finishes += 1;
                let (writer, me) = (a.deps.writer.clone(), me.clone());
                tokio::spawn(async move {
                    // Until it lands: releasing the locks of a task the table still calls
                    // running would let a conflicting task start beside it.
                    let mut attempt = 0u32;
                    while let Err(e) = writer.submit(op.clone()).await {
                        tracing::error!(%task, attempt, error = %e, "could not record the task's final state; retrying");
                        let wait = (100u64 << attempt.min(6)).min(5_000);
                        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                        attempt += 1;
                    }
                    // Locks go only once the final state is durable. Looked up each time: the
                    // lock service may have moved meanwhile (its successor holds the task
                    // until told, or until its sweep finds the task final).
                    to_lock_services(|| LockServiceMsg::Release(TaskKey(task)));
                    let _ = me.cast(WorkerMsg::FinishWritten);
                });
            }
            SlotOut::Idle => {
                let done = self.task.take().map(|t| t.id);
                self.body = None;
                a.host.cast(HostMsg::Idle(LocalIdle {
                    worker: a.id,
                    generation: a.generation,
                    done,
                }))?;
            }
            SlotOut::Exit => {
                self.exiting = true;
                if self.pending_finishes == 0 {
                    me.stop(None);
                }
            }
        }
        Ok(())
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => {
            let text = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            format!("Task panicked: {text}")
        }
        Err(e) => format!("Task body stopped: {e}"),
    }
}

impl Actor for Worker {
    type Msg = WorkerMsg;
    type State = WorkerState;
    type Arguments = WorkerArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<Self::Msg>,
        args: WorkerArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(WorkerState {
            args,
            slot: WorkerSlot::default(),
            task: None,
            body: None,
            output: None,
            progress: None,
            pending_finishes: 0,
            exiting: false,
        })
    }

    async fn post_start(
        &self,
        me: ActorRef<Self::Msg>,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let _ = me;
        st.args.host.cast(HostMsg::Idle(LocalIdle {
            worker: st.args.id,
            generation: st.args.generation,
            done: None,
        }))?;
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WorkerMsg::Run(t) => {
                let input = SlotIn::Assign {
                    task: t.id,
                    epoch: t.epoch,
                };
                if st.slot.current().is_none() {
                    st.task = Some(t);
                }
                st.step(&me, input)?;
            }
            WorkerMsg::StartWritten(ok) => st.step(&me, SlotIn::StartWritten(ok))?,
            WorkerMsg::BodyDone(outcome, output) => {
                st.output = output;
                st.step(&me, SlotIn::BodyDone(outcome))?;
            }
            WorkerMsg::Cancel(t) => st.step(&me, SlotIn::Cancel(t))?,
            WorkerMsg::FinishWritten => {
                st.pending_finishes = st.pending_finishes.saturating_sub(1);
                if st.exiting && st.pending_finishes == 0 {
                    me.stop(None);
                }
            }
            WorkerMsg::Shutdown { abort } => st.step(&me, SlotIn::Shutdown { abort })?,
        }
        Ok(())
    }
}
