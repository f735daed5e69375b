//! The cluster's dispatcher, owned by the lock service (no actor of its own: one hop less on
//! every task's way): wraps [`Dispatcher`] and hands ready tasks to idle workers of any node,
//! through that node's worker host. Workers are known by `(incarnation, index)`; a node
//! learns of us through its host's hello and reports each worker that becomes idle.
//!
//! Nothing here is durable: a task's locks are held by the lock service until its final
//! state is in the table, and its start is fenced there, so sending a task twice (after a
//! rejection or a lost node) can at worst make one start fail.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::host::HostMsg;
use super::routes::host_of;
use super::wire::{HostHello, ReadyTask, Rejected, RunOrder, TaskKey, WorkerNote};
use crate::machine::dispatcher::{DispatchIn, DispatchOut, Dispatcher, WorkerId};

/// The dispatcher of one lock service.
#[derive(Debug)]
pub struct ClusterDispatcher {
    machine: Dispatcher,
    payloads: BTreeMap<Uuid, ReadyTask>,
    seats: BTreeMap<(String, u32), WorkerId>,
    seat_of: BTreeMap<WorkerId, (String, u32)>,
    epoch: i64,
}

impl ClusterDispatcher {
    /// For the lock service of `epoch` (only its own orders are re-sent after a rejection).
    pub fn new(epoch: i64) -> ClusterDispatcher {
        ClusterDispatcher {
            machine: Dispatcher::default(),
            payloads: BTreeMap::new(),
            seats: BTreeMap::new(),
            seat_of: BTreeMap::new(),
            epoch,
        }
    }

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

    fn step(&mut self, input: DispatchIn) {
        let mut inputs = vec![input];
        while let Some(input) = inputs.pop() {
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
                            inputs.push(DispatchIn::WorkerLost(worker));
                        }
                    }
                    DispatchOut::CancelOn { task, worker } => {
                        if let Some(h) = self.seat_of.get(&worker).and_then(|(inc, _)| host_of(inc))
                        {
                            let _ = h.cast(HostMsg::Cancel(TaskKey(task)));
                        }
                    }
                    DispatchOut::Dropped(task) => {
                        self.payloads.remove(&task);
                    }
                    DispatchOut::Orphaned { task, .. } => {
                        // The worker's node is gone or refused: the task still holds its
                        // locks; if it had started there, the start fence stops a second
                        // start and the lock service's sweep fails it once that node's
                        // heartbeat is stale.
                        if self.payloads.contains_key(&task) {
                            inputs.push(DispatchIn::Ready(task));
                        }
                    }
                }
            }
        }
    }

    /// A task holds all its resources.
    pub fn ready(&mut self, t: ReadyTask) {
        let id = t.id;
        self.payloads.insert(id, t);
        self.step(DispatchIn::Ready(id));
    }

    /// A node's host lists its idle workers. The host knows best: a worker it calls idle is
    /// idle. One we believed busy lost its order with a dropped session (or the order is still
    /// on its way; then the host rejects whichever comes second): its task goes back in line.
    pub fn hello(&mut self, HostHello { incarnation, idle }: HostHello) {
        for n in idle {
            let w = self.seat(&incarnation, n);
            if self.machine.task_of(w).is_some() {
                self.step(DispatchIn::WorkerLost(w));
            }
            self.step(DispatchIn::Idle(w));
        }
    }

    /// A worker is idle.
    pub fn idle(&mut self, note: WorkerNote) {
        let w = self.seat(&note.incarnation, note.worker);
        match (self.machine.task_of(w), note.done) {
            // About an order some other (deposed) lock service gave: not ours.
            (Some(t), Some(d)) if t != d => return,
            (Some(t), _) => {
                self.payloads.remove(&t);
            }
            _ => {}
        }
        self.step(DispatchIn::Idle(w));
    }

    /// A node could not take a task.
    pub fn rejected(&mut self, Rejected { incarnation, order }: Rejected) {
        let w = self.seat(&incarnation, order.worker);
        if self.machine.task_of(w) == Some(order.task.id) {
            // The worker is busy elsewhere (or its node stopping): it reports idle again when
            // it can; the task goes back in line.
            self.step(DispatchIn::WorkerLost(w));
        } else if order.task.epoch == self.epoch {
            // An order of ours whose worker died before starting it.
            self.ready(order.task);
        }
    }

    /// Cancel a task (drop it if queued, else tell its worker's host).
    pub fn cancel(&mut self, t: Uuid) {
        self.step(DispatchIn::Cancel(t));
    }

    /// Forgets the workers of every node not in `live` (their heartbeat stopped).
    pub fn prune(&mut self, live: &BTreeSet<String>) {
        let gone: Vec<WorkerId> = self
            .seat_of
            .iter()
            .filter(|(_, (inc, _))| !live.contains(inc))
            .map(|(w, _)| *w)
            .collect();
        for w in gone {
            self.step(DispatchIn::WorkerLost(w));
        }
    }

    /// Ready tasks waiting for a worker.
    pub fn queued(&self) -> usize {
        self.machine.queued()
    }
}
