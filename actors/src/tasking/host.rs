//! The worker host: this node's one cluster-facing tasking actor. It supervises the node's
//! workers (replacing one that fails), receives run orders and cancels from the lock service
//! wherever that runs, and reports idle workers back. Workers never talk to other nodes.
//!
//! What it promises the lock service:
//! - an order it cannot take (worker busy, node stopping or self-fenced, order from a deposed
//!   lock service) comes back as [`Rejected`], so the task goes to another worker;
//! - a worker that dies mid-task: the task is failed here ("Worker has gone missing.") if it
//!   had started, else rejected; the replacement worker reports itself idle;
//! - a new lock service (first contact, or after a take-over) gets a [`HostHello`] listing the
//!   idle workers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent, pg};
use ractor_cluster_derive::RactorClusterMessage;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use pith_entities::{WriteOp, time::now_micros};

use super::liveness::Liveness;
use super::lock_service::LockServiceMsg;
use super::routes::{HOSTS_GROUP, host_group, lock_services, to_lock_services};
use super::wire::{HostHello, Rejected, RunOrder, TaskKey, WorkerNote};
use super::worker::{Worker, WorkerArgs, WorkerMsg};
use crate::bytes_via_serde;
use crate::machine::recovery::WORKER_MISSING;
use crate::tasks::TaskDeps;

/// A local worker became idle.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LocalIdle {
    /// The worker.
    pub worker: u32,
    /// Which actor of that worker (a dead one's late message is ignored).
    pub generation: u64,
    /// The task it was given, if any.
    pub done: Option<Uuid>,
}

bytes_via_serde!(LocalIdle);

/// Messages. Remotable: the lock service and API nodes reach it from other nodes.
#[derive(Debug, RactorClusterMessage)]
pub enum HostMsg {
    /// Run a task on one of our workers.
    Run(RunOrder),
    /// Cancel a task if one of our workers runs it.
    Cancel(TaskKey),
    /// From a local worker: idle.
    Idle(LocalIdle),
    /// Greet new lock services; re-check self-fencing.
    Tick,
    /// Stop every worker (`true`: abort running tasks), then the host.
    Shutdown(bool),
}

/// Start-up arguments.
#[derive(Clone, Debug)]
pub struct HostArgs {
    /// This process's incarnation (owner identity of its workers' tasks).
    pub incarnation: String,
    /// Pulp-style names of the workers, in order (worker `n` is `names[n-1]`).
    pub names: Vec<String>,
    /// What task bodies need.
    pub deps: Arc<TaskDeps>,
    /// Whether our heartbeat reaches the database.
    pub liveness: Liveness,
    /// How often to look for new lock services.
    pub tick_every: Duration,
}

#[derive(Debug)]
struct Seat {
    args: WorkerArgs,
    actor: Option<ActorRef<WorkerMsg>>,
    busy: Option<RunOrder>,
}

/// State.
#[derive(Debug)]
pub struct HostState {
    args: HostArgs,
    seats: BTreeMap<u32, Seat>,
    by_actor: BTreeMap<ActorId, u32>,
    greeted: BTreeSet<ActorId>,
    max_epoch: i64,
    fenced: bool,
    stopping: bool,
}

/// The actor.
#[derive(Debug)]
pub struct WorkerHost;

impl HostState {
    async fn spawn(&mut self, me: &ActorRef<HostMsg>, n: u32) -> Result<(), ActorProcessingErr> {
        let Some(seat) = self.seats.get_mut(&n) else {
            return Ok(());
        };
        seat.args.generation += 1;
        let (w, _) = Actor::spawn_linked(None, Worker, seat.args.clone(), me.get_cell()).await?;
        self.by_actor.insert(w.get_id(), n);
        seat.actor = Some(w);
        Ok(())
    }

    fn idle_workers(&self) -> Vec<u32> {
        self.seats
            .iter()
            .filter(|(_, s)| s.actor.is_some() && s.busy.is_none())
            .map(|(n, _)| *n)
            .collect()
    }

    fn reject(&self, order: RunOrder) {
        let incarnation = self.args.incarnation.clone();
        to_lock_services(|| {
            LockServiceMsg::Rejected(Rejected {
                incarnation: incarnation.clone(),
                order: order.clone(),
            })
        });
    }

    fn run(&mut self, order: RunOrder) -> Result<(), ActorProcessingErr> {
        let fresh = self.args.liveness.fresh();
        let stale = order.task.epoch < self.max_epoch;
        let seat = self.seats.get_mut(&order.worker);
        match seat {
            Some(Seat {
                actor: Some(w),
                busy: busy @ None,
                ..
            }) if fresh && !stale && !self.stopping => {
                self.max_epoch = order.task.epoch;
                *busy = Some(order.clone());
                w.cast(WorkerMsg::Run(order.task))?;
            }
            _ => self.reject(order),
        }
        Ok(())
    }

    fn greet(&mut self) {
        let fresh = self.args.liveness.fresh();
        if !fresh || self.stopping {
            if !self.fenced && !self.stopping {
                tracing::error!(
                    "this node's heartbeat has not reached the database for most of a ttl: taking no new tasks until it does"
                );
            }
            self.fenced = true;
            return;
        }
        if std::mem::take(&mut self.fenced) {
            tracing::info!("heartbeat restored: taking tasks again");
            // Runs were rejected meanwhile; every lock service gets our idle workers anew.
            self.greeted.clear();
        }
        let services = lock_services();
        let now: BTreeSet<ActorId> = services.iter().map(|s| s.get_id()).collect();
        for s in services {
            if !self.greeted.contains(&s.get_id()) {
                let hello = HostHello {
                    incarnation: self.args.incarnation.clone(),
                    idle: self.idle_workers(),
                };
                let _ = s.cast(LockServiceMsg::Hello(hello));
            }
        }
        self.greeted = now;
    }

    /// A worker died: fail its task if it had started (only this incarnation owns it), else
    /// hand it back; then replace the worker.
    async fn lost(&mut self, me: &ActorRef<HostMsg>, n: u32) -> Result<(), ActorProcessingErr> {
        let Some(seat) = self.seats.get_mut(&n) else {
            return Ok(());
        };
        seat.actor = None;
        if let Some(order) = seat.busy.take() {
            let writer = self.args.deps.writer.clone();
            let incarnation = self.args.incarnation.clone();
            tokio::spawn(async move {
                let task = order.task.id;
                let op = WriteOp::FailAbandoned {
                    task,
                    incarnation: incarnation.clone(),
                    reason: WORKER_MISSING.into(),
                    at: now_micros(),
                };
                match writer.submit(op).await {
                    Ok(1) => to_lock_services(|| LockServiceMsg::Release(TaskKey(task))),
                    Ok(_) => to_lock_services(|| {
                        LockServiceMsg::Rejected(Rejected {
                            incarnation: incarnation.clone(),
                            order: order.clone(),
                        })
                    }),
                    Err(e) => tracing::error!(%task, error = %e, "could not fail an orphaned task"),
                }
            });
        }
        if !self.stopping {
            self.spawn(me, n).await?;
        }
        Ok(())
    }
}

impl Actor for WorkerHost {
    type Msg = HostMsg;
    type State = HostState;
    type Arguments = HostArgs;

    async fn pre_start(
        &self,
        me: ActorRef<Self::Msg>,
        args: HostArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut seats = BTreeMap::new();
        for (i, name) in args.names.iter().enumerate() {
            let n = i as u32 + 1;
            let wa = WorkerArgs {
                id: n,
                generation: 0,
                name: name.clone(),
                incarnation: args.incarnation.clone(),
                deps: args.deps.clone(),
                host: me.clone(),
            };
            seats.insert(
                n,
                Seat {
                    args: wa,
                    actor: None,
                    busy: None,
                },
            );
        }
        let mut st = HostState {
            args,
            seats,
            by_actor: BTreeMap::new(),
            greeted: BTreeSet::new(),
            max_epoch: 0,
            fenced: false,
            stopping: false,
        };
        let ns: Vec<u32> = st.seats.keys().copied().collect();
        for n in ns {
            st.spawn(&me, n).await?;
        }
        pg::join(HOSTS_GROUP.to_owned(), vec![me.get_cell()]);
        pg::join(host_group(&st.args.incarnation), vec![me.get_cell()]);
        Ok(st)
    }

    async fn post_start(
        &self,
        me: ActorRef<Self::Msg>,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        me.send_interval(st.args.tick_every, || HostMsg::Tick);
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            HostMsg::Run(order) => st.run(order)?,
            HostMsg::Cancel(TaskKey(task)) => {
                for s in st.seats.values() {
                    if let (Some(w), Some(o)) = (&s.actor, &s.busy)
                        && o.task.id == task
                    {
                        w.cast(WorkerMsg::Cancel(task))?;
                    }
                }
            }
            HostMsg::Idle(LocalIdle {
                worker,
                generation,
                done,
            }) => {
                let Some(seat) = st.seats.get_mut(&worker) else {
                    return Ok(());
                };
                if seat.args.generation != generation || seat.actor.is_none() {
                    return Ok(());
                }
                seat.busy = None;
                if st.stopping {
                    return Ok(());
                }
                let note = WorkerNote {
                    incarnation: st.args.incarnation.clone(),
                    worker,
                    done,
                };
                to_lock_services(|| LockServiceMsg::WorkerIdle(note.clone()));
            }
            HostMsg::Tick => st.greet(),
            HostMsg::Shutdown(abort) => {
                st.stopping = true;
                let mut any = false;
                for s in st.seats.values() {
                    if let Some(w) = &s.actor {
                        any = true;
                        let _ = w.cast(WorkerMsg::Shutdown { abort });
                    }
                }
                if !any {
                    me.stop(None);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match evt {
            SupervisionEvent::ActorFailed(cell, err) => {
                if let Some(n) = st.by_actor.remove(&cell.get_id()) {
                    tracing::error!(worker = n, error = %err, "worker failed; replacing it");
                    st.lost(&me, n).await?;
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let Some(n) = st.by_actor.remove(&cell.get_id())
                    && let Some(s) = st.seats.get_mut(&n)
                {
                    s.actor = None;
                }
            }
            _ => {}
        }
        if st.stopping && st.seats.values().all(|s| s.actor.is_none()) {
            me.stop(None);
        }
        Ok(())
    }
}
