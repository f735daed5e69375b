//! The node's dispatcher: wraps [`Dispatcher`] and talks to the node's workers. Local only.

use std::collections::BTreeMap;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster_derive::RactorMessage;
use uuid::Uuid;

use pith_entities::{WriteOp, Writer, time::now_micros};

use super::lock_service::LockServiceMsg;
use super::wire::TaskKey;
use super::worker::WorkerMsg;
use crate::machine::dispatcher::{DispatchIn, DispatchOut, Dispatcher, WorkerId};
use crate::machine::recovery::WORKER_MISSING;

/// A task ready to run, with what its body needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyTask {
    /// The task.
    pub id: Uuid,
    /// Pulp's dotted name.
    pub name: String,
    /// Body arguments (JSON text).
    pub args: String,
    /// The lock-service epoch it was granted under.
    pub epoch: i64,
}

/// Messages.
#[derive(Debug, RactorMessage)]
pub enum DispatcherMsg {
    /// A task holds all its resources.
    Ready(ReadyTask),
    /// A worker (re)started and can take work.
    Register(WorkerId, String, ActorRef<WorkerMsg>),
    /// A worker finished its task.
    Idle(WorkerId),
    /// A worker died.
    WorkerLost(WorkerId),
    /// Cancel a task.
    Cancel(Uuid),
    /// Stop handing out work.
    Drain,
    /// The lock service to release orphaned tasks through (set once it runs).
    SetLockService(ActorRef<LockServiceMsg>),
    /// How many ready tasks wait for a worker.
    QueueDepth(ractor::RpcReplyPort<usize>),
}

/// Start-up arguments.
#[derive(Debug)]
pub struct DispatcherArgs {
    /// The node's writer (to fail orphaned tasks).
    pub writer: Writer,
    /// This process's incarnation (owner of its workers' tasks).
    pub incarnation: String,
}

/// State.
#[derive(Debug)]
pub struct DispatcherState {
    machine: Dispatcher,
    payloads: BTreeMap<Uuid, ReadyTask>,
    workers: BTreeMap<WorkerId, ActorRef<WorkerMsg>>,
    lock: Option<ActorRef<LockServiceMsg>>,
    args: DispatcherArgs,
}

/// The actor.
#[derive(Debug)]
pub struct DispatcherActor;

impl DispatcherState {
    fn step(
        &mut self,
        me: &ActorRef<DispatcherMsg>,
        input: DispatchIn,
    ) -> Result<(), ActorProcessingErr> {
        let mut out = Vec::new();
        self.machine.handle(input, &mut out);
        for o in out {
            match o {
                DispatchOut::Assign { task, worker } => {
                    let payload = self.payloads.remove(&task);
                    match (payload, self.workers.get(&worker)) {
                        (Some(p), Some(w)) => w.cast(WorkerMsg::Run(p))?,
                        (p, _) => {
                            // The worker vanished between idle and assign: put the task back.
                            if let Some(p) = p {
                                self.payloads.insert(task, p);
                            }
                            me.cast(DispatcherMsg::WorkerLost(worker))?;
                        }
                    }
                }
                DispatchOut::CancelOn { task, worker } => {
                    if let Some(w) = self.workers.get(&worker) {
                        w.cast(WorkerMsg::Cancel(task))?;
                    }
                }
                DispatchOut::Dropped(task) => {
                    self.payloads.remove(&task);
                }
                DispatchOut::Orphaned { task, worker } => {
                    self.workers.remove(&worker);
                    let writer = self.args.writer.clone();
                    let inc = self.args.incarnation.clone();
                    let lock = self.lock.clone();
                    tokio::spawn(async move {
                        let op = WriteOp::FailAbandoned {
                            task,
                            incarnation: inc,
                            reason: WORKER_MISSING.into(),
                            at: now_micros(),
                        };
                        match writer.submit(op).await {
                            Ok(1) => {
                                if let Some(l) = lock {
                                    let _ = l.cast(LockServiceMsg::Release(TaskKey(task)));
                                }
                            }
                            // Not started yet: it stays waiting; the next scan after a lock
                            // service restart re-queues it. Rare (a worker died mid-start).
                            Ok(_) => tracing::warn!(%task, "worker lost before its task started"),
                            Err(e) => {
                                tracing::error!(%task, error = %e, "could not fail an orphaned task")
                            }
                        }
                    });
                }
            }
        }
        Ok(())
    }
}

impl Actor for DispatcherActor {
    type Msg = DispatcherMsg;
    type State = DispatcherState;
    type Arguments = DispatcherArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<Self::Msg>,
        args: DispatcherArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(DispatcherState {
            machine: Dispatcher::default(),
            payloads: BTreeMap::new(),
            workers: BTreeMap::new(),
            lock: None,
            args,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DispatcherMsg::Ready(t) => {
                let id = t.id;
                st.payloads.insert(id, t);
                st.step(&me, DispatchIn::Ready(id))?;
            }
            DispatcherMsg::Register(id, _name, w) => {
                st.workers.insert(id, w);
                st.step(&me, DispatchIn::Idle(id))?;
            }
            DispatcherMsg::Idle(id) => st.step(&me, DispatchIn::Idle(id))?,
            DispatcherMsg::WorkerLost(id) => st.step(&me, DispatchIn::WorkerLost(id))?,
            DispatcherMsg::Cancel(t) => st.step(&me, DispatchIn::Cancel(t))?,
            DispatcherMsg::Drain => st.step(&me, DispatchIn::Drain)?,
            DispatcherMsg::SetLockService(l) => st.lock = Some(l),
            DispatcherMsg::QueueDepth(r) => {
                let _ = r.send(st.machine.queued());
            }
        }
        Ok(())
    }
}
