//! The cluster's dispatcher, beside the lock service on the lease holder: wraps
//! [`Dispatcher`] and hands ready tasks to idle workers of any node, through that node's
//! worker host. Workers are known by `(incarnation, index)`; a node learns of us through its
//! host's hello and reports each worker that becomes idle.
//!
//! Nothing here is durable: a task's locks are held by the lock service until its final
//! state is in the table, and its start is fenced there, so sending a task twice (after a
//! rejection or a lost node) can at worst make one start fail.

use std::collections::{BTreeMap, BTreeSet};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster_derive::RactorMessage;
use uuid::Uuid;

use super::host::HostMsg;
use super::routes::host_of;
use super::wire::{HostHello, ReadyTask, Rejected, RunOrder, TaskKey, WorkerNote};
use crate::machine::dispatcher::{DispatchIn, DispatchOut, Dispatcher, WorkerId};

/// Messages.
#[derive(Debug, RactorMessage)]
pub enum DispatcherMsg {
    /// A task holds all its resources.
    Ready(ReadyTask),
    /// A node's host lists its idle workers.
    Hello(HostHello),
    /// A worker is idle.
    Idle(WorkerNote),
    /// A node could not take a task.
    Rejected(Rejected),
    /// Cancel a task.
    Cancel(Uuid),
    /// Forget the workers of every node not in this set (their heartbeat stopped).
    Prune(BTreeSet<String>),
    /// How many ready tasks wait for a worker.
    QueueDepth(RpcReplyPort<u64>),
}

/// Start-up arguments.
#[derive(Debug)]
pub struct DispatcherArgs {
    /// The lock-service epoch: only orders of this epoch are re-sent after a rejection.
    pub epoch: i64,
}

/// State.
#[derive(Debug)]
pub struct DispatcherState {
    machine: Dispatcher,
    payloads: BTreeMap<Uuid, ReadyTask>,
    seats: BTreeMap<(String, u32), WorkerId>,
    seat_of: BTreeMap<WorkerId, (String, u32)>,
    epoch: i64,
}

/// The actor.
#[derive(Debug)]
pub struct DispatcherActor;

impl DispatcherState {
    fn seat(&mut self, incarnation: &str, n: u32) -> WorkerId {
        let key = (incarnation.to_owned(), n);
        if let Some(w) = self.seats.get(&key) {
            return *w;
        }
        let w = self.seat_of.len() as WorkerId + 1;
        self.seats.insert(key.clone(), w);
        self.seat_of.insert(w, key);
        w
    }

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
                    let sent = match (self.payloads.get(&task), self.seat_of.get(&worker)) {
                        (Some(p), Some((inc, n))) => host_of(inc).is_some_and(|h| {
                            h.cast(HostMsg::Run(RunOrder {
                                worker: *n,
                                task: p.clone(),
                            }))
                            .is_ok()
                        }),
                        _ => false,
                    };
                    if !sent {
                        // Its node is gone (or not connected): the task goes elsewhere.
                        self.step(me, DispatchIn::WorkerLost(worker))?;
                    }
                }
                DispatchOut::CancelOn { task, worker } => {
                    if let Some(h) = self.seat_of.get(&worker).and_then(|(inc, _)| host_of(inc)) {
                        let _ = h.cast(HostMsg::Cancel(TaskKey(task)));
                    }
                }
                DispatchOut::Dropped(task) => {
                    self.payloads.remove(&task);
                }
                DispatchOut::Orphaned { task, .. } => {
                    // The worker's node is gone or refused: the task still holds its locks;
                    // if it had started there, the start fence stops a second start and the
                    // lock service's sweep fails it once that node's heartbeat is stale.
                    if let Some(p) = self.payloads.get(&task).cloned() {
                        me.cast(DispatcherMsg::Ready(p))?;
                    }
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
            seats: BTreeMap::new(),
            seat_of: BTreeMap::new(),
            epoch: args.epoch,
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
            DispatcherMsg::Hello(HostHello { incarnation, idle }) => {
                // The host knows best: a worker it calls idle is idle. One we believed busy
                // lost its order with a dropped session (or the order is still on its way;
                // then the host rejects whichever comes second): its task goes back in line.
                for n in idle {
                    let w = st.seat(&incarnation, n);
                    if st.machine.task_of(w).is_some() {
                        st.step(&me, DispatchIn::WorkerLost(w))?;
                    }
                    st.step(&me, DispatchIn::Idle(w))?;
                }
            }
            DispatcherMsg::Idle(WorkerNote {
                incarnation,
                worker,
                done,
            }) => {
                let w = st.seat(&incarnation, worker);
                match (st.machine.task_of(w), done) {
                    // About an order some other (deposed) lock service gave: not ours.
                    (Some(t), Some(d)) if t != d => return Ok(()),
                    (Some(t), _) => {
                        st.payloads.remove(&t);
                    }
                    _ => {}
                }
                st.step(&me, DispatchIn::Idle(w))?;
            }
            DispatcherMsg::Rejected(Rejected { incarnation, order }) => {
                let w = st.seat(&incarnation, order.worker);
                if st.machine.task_of(w) == Some(order.task.id) {
                    // The worker is busy elsewhere (or its node stopping): it reports idle
                    // again when it can; the task goes back in line.
                    st.step(&me, DispatchIn::WorkerLost(w))?;
                } else if order.task.epoch == st.epoch {
                    // An order of ours whose worker died before starting it.
                    me.cast(DispatcherMsg::Ready(order.task))?;
                }
            }
            DispatcherMsg::Cancel(t) => st.step(&me, DispatchIn::Cancel(t))?,
            DispatcherMsg::Prune(live) => {
                let gone: Vec<WorkerId> = st
                    .seat_of
                    .iter()
                    .filter(|(_, (inc, _))| !live.contains(inc))
                    .map(|(w, _)| *w)
                    .collect();
                for w in gone {
                    st.step(&me, DispatchIn::WorkerLost(w))?;
                }
            }
            DispatcherMsg::QueueDepth(r) => {
                let _ = r.send(st.machine.queued() as u64);
            }
        }
        Ok(())
    }
}
