//! The node's dispatcher: wraps [`Dispatcher`] and talks to the node's workers. Local only.

use std::collections::BTreeMap;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef};
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
    /// A worker (this actor instance) finished its task. Stale ones, from an actor that has
    /// since been replaced, are ignored.
    Idle(WorkerId, ActorId),
    /// A worker actor died (ignored if that id has a newer actor already).
    WorkerLost(WorkerId, ActorId),
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
                    // Kept until the worker is idle again: an orphaned task is re-dispatched.
                    let payload = self.payloads.get(&task).cloned();
                    match (payload, self.workers.get(&worker)) {
                        (Some(p), Some(w)) => w.cast(WorkerMsg::Run(p))?,
                        (p, _) => {
                            // No such worker (cannot happen: only registered workers are idle).
                            if let Some(p) = p {
                                self.payloads.insert(task, p);
                            }
                            self.step(me, DispatchIn::WorkerLost(worker))?;
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
                    let me = me.clone();
                    let ready = self.payloads.get(&task).cloned();
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
                            // It never started (or was canceled meanwhile): it still holds its
                            // locks, so hand it to another worker; the fenced start decides.
                            Ok(_) => {
                                if let Some(r) = ready {
                                    let _ = me.cast(DispatcherMsg::Ready(r));
                                }
                            }
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
                // A new actor for an id whose old actor is not reported lost yet: it is.
                if st
                    .workers
                    .get(&id)
                    .is_some_and(|old| old.get_id() != w.get_id())
                {
                    st.step(&me, DispatchIn::WorkerLost(id))?;
                }
                st.workers.insert(id, w);
                st.step(&me, DispatchIn::Idle(id))?;
            }
            DispatcherMsg::Idle(id, actor) => {
                // Only from the current actor: a dead one's late Idle would hand work to a
                // mailbox nobody reads (found by the simulator).
                if st.workers.get(&id).is_some_and(|w| w.get_id() == actor) {
                    if let Some(done) = st.machine.task_of(id) {
                        st.payloads.remove(&done);
                    }
                    st.step(&me, DispatchIn::Idle(id))?
                }
            }
            DispatcherMsg::WorkerLost(id, actor) => {
                if st.workers.get(&id).is_some_and(|w| w.get_id() == actor) {
                    st.step(&me, DispatchIn::WorkerLost(id))?
                }
            }
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
