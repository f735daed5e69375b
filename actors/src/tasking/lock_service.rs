//! The lock service: the single sequencer of a cluster. It takes tasks from wake-ups and from
//! scans of the task table, gives each a durable queue position (the [`Sequencer`]), feeds one
//! [`ResourceLock`] per resource in that order, collects their grants ([`GrantTracker`]) and
//! hands ready tasks to the dispatcher.
//!
//! Wake-ups are hints: the periodic scan finds any waiting task that has no queue position, so
//! a lost message delays a task, never strands it. The service also sweeps for running tasks
//! whose owner stopped heartbeating and fails them ("Worker has gone missing.").

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent, pg};
use ractor_cluster_derive::RactorClusterMessage;
use uuid::Uuid;

use pith_entities::{Db, TaskRow, WriteOp, Writer, nodes, tasks, time::now_micros};

use super::dispatcher::ClusterDispatcher;
use super::resource_lock::{ResourceLock, ResourceLockMsg};
use super::routes::LOCK_GROUP;
use super::wire::{
    Claim, GrantNote, HostHello, ImmediateDecision, ReadyTask, Rejected, TaskKey, TaskSummary,
    WakeUp, WorkerNote,
};
use crate::machine::grants::{GrantIn, GrantOut, GrantTracker};
use crate::machine::recovery::WORKER_MISSING;
use crate::machine::sequencer::Sequencer;

/// Queue positions of running tasks when a lock service is rebuilt: before any real position.
pub const HOLDER_SEQ: i64 = i64::MIN / 2;

/// Messages. Every payload is plain data so the service can be reached from other nodes.
#[derive(Debug, RactorClusterMessage)]
pub enum LockServiceMsg {
    /// New tasks were committed.
    Wake(WakeUp),
    /// An immediate task asks to run inline; the answer comes once every resource answered.
    #[rpc]
    Immediate(TaskSummary, RpcReplyPort<ImmediateDecision>),
    /// Look for committed tasks not yet queued.
    Scan,
    /// Fail tasks whose owner stopped heartbeating.
    Sweep,
    /// A resource queue answered an enqueue.
    Enqueued(GrantNote),
    /// A resource queue granted a claim later.
    Granted(GrantNote),
    /// A task reached a final state: drop its claims.
    Release(TaskKey),
    /// A waiting task was canceled: drop its claims and any pending dispatch.
    Canceled(TaskKey),
    /// A node's worker host greets this lock service with its idle workers.
    Hello(HostHello),
    /// A worker of some node is idle.
    WorkerIdle(WorkerNote),
    /// A node could not take a task it was sent.
    Rejected(Rejected),
    /// Ready tasks waiting for a worker.
    #[rpc]
    QueueDepth(RpcReplyPort<u64>),
}

/// Start-up arguments.
#[derive(Debug)]
pub struct LockServiceArgs {
    /// The database (scans and sweeps).
    pub db: Db,
    /// The node's writer.
    pub writer: Writer,
    /// The lease epoch this service runs under.
    pub epoch: i64,
    /// Tasks to queue at start, in durable order; `true` marks tasks a live owner runs.
    pub initial: Vec<(TaskRow, bool)>,
    /// The highest queue position ever assigned.
    pub max_seq: i64,
    /// How often to scan for unqueued tasks.
    pub scan_every: Duration,
    /// How often to sweep for lost owners.
    pub sweep_every: Duration,
    /// Incarnations that count as alive without a heartbeat check (this process).
    pub own_incarnation: String,
}

#[derive(Debug)]
struct Pending {
    summary: TaskSummary,
    reply: Option<RpcReplyPort<ImmediateDecision>>,
}

#[derive(Debug)]
struct Resource {
    actor: ActorRef<ResourceLockMsg>,
    claims: usize,
}

/// State.
#[derive(Debug)]
pub struct LockServiceState {
    args: LockServiceArgs,
    seq: Sequencer,
    grants: GrantTracker,
    tasks: BTreeMap<Uuid, Pending>,
    resources: BTreeMap<String, Resource>,
    out: Vec<GrantOut>,
    dispatcher: ClusterDispatcher,
}

/// The actor.
#[derive(Debug)]
pub struct LockService;

impl LockServiceState {
    async fn admit(
        &mut self,
        me: &ActorRef<LockServiceMsg>,
        summary: TaskSummary,
        durable: Option<i64>,
        running: bool,
        reply: Option<RpcReplyPort<ImmediateDecision>>,
    ) -> Result<(), ActorProcessingErr> {
        let Some(s) = self.seq.observe(summary.id, durable) else {
            // Already queued (a scan raced a wake-up). An immediate caller still gets an answer.
            if let Some(r) = reply {
                let _ = r.send(ImmediateDecision::Deferred);
            }
            return Ok(());
        };
        if s.persist {
            self.args
                .writer
                .submit_nowait(WriteOp::AssignQueue {
                    task: summary.id,
                    seq: s.seq,
                    epoch: self.args.epoch,
                })
                .await?;
        }
        let task = summary.id;
        let claims = summary.resources.clone();
        let immediate = reply.is_some();
        self.tasks.insert(task, Pending { summary, reply });
        self.grants.handle(
            GrantIn::Track {
                task,
                claims: claims.len(),
                immediate,
                running,
            },
            &mut self.out,
        );
        for Claim {
            resource,
            exclusive,
        } in claims
        {
            let entry = match self.resources.get_mut(&resource) {
                Some(e) => e,
                None => {
                    let (actor, _) =
                        Actor::spawn_linked(None, ResourceLock, me.clone(), me.get_cell()).await?;
                    self.resources
                        .entry(resource.clone())
                        .or_insert(Resource { actor, claims: 0 })
                }
            };
            entry.claims += 1;
            entry.actor.cast(ResourceLockMsg::Enqueue {
                task,
                seq: s.seq,
                exclusive,
            })?;
        }
        self.flush()
    }

    fn release(&mut self, task: Uuid) -> Result<(), ActorProcessingErr> {
        self.seq.forget(task);
        self.grants.handle(GrantIn::Forget { task }, &mut self.out);
        let Some(p) = self.tasks.remove(&task) else {
            return Ok(());
        };
        if let Some(r) = p.reply {
            let _ = r.send(ImmediateDecision::Deferred);
        }
        for Claim { resource, .. } in p.summary.resources {
            if let Some(e) = self.resources.get_mut(&resource) {
                e.actor.cast(ResourceLockMsg::Release(task))?;
                e.claims = e.claims.saturating_sub(1);
                if e.claims == 0 {
                    e.actor.cast(ResourceLockMsg::Shutdown)?;
                    self.resources.remove(&resource);
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ActorProcessingErr> {
        for o in std::mem::take(&mut self.out) {
            match o {
                GrantOut::Ready(t) => {
                    if let Some(p) = self.tasks.get(&t) {
                        let s = &p.summary;
                        let ready = ReadyTask {
                            id: t,
                            name: s.name.clone(),
                            args: s.args.clone(),
                            epoch: self.args.epoch,
                        };
                        self.dispatcher.ready(ready);
                    }
                }
                GrantOut::ImmediateGranted(t) => {
                    if let Some(r) = self.tasks.get_mut(&t).and_then(|p| p.reply.take()) {
                        let _ = r.send(ImmediateDecision::Granted {
                            epoch: self.args.epoch,
                        });
                    }
                }
                GrantOut::ImmediateDeferred(t) => {
                    if let Some(r) = self.tasks.get_mut(&t).and_then(|p| p.reply.take()) {
                        let _ = r.send(ImmediateDecision::Deferred);
                    }
                }
            }
        }
        Ok(())
    }

    async fn scan(&mut self, me: &ActorRef<LockServiceMsg>) -> Result<(), ActorProcessingErr> {
        for row in tasks::load_incomplete(&self.args.db, true).await? {
            if !self.seq.knows(row.id) {
                let summary = summary_of(&row);
                self.admit(me, summary, row.queue_seq, false, None).await?;
            }
        }
        Ok(())
    }

    /// Fails running tasks whose owner's heartbeat is stale (or whose owner row is gone).
    async fn sweep(&mut self) -> Result<(), ActorProcessingErr> {
        let db = &self.args.db;
        for (task, inc) in pith_entities::tasks::abandoned(db, &self.args.own_incarnation).await? {
            let op = WriteOp::FailAbandoned {
                task,
                incarnation: inc.clone(),
                reason: WORKER_MISSING.into(),
                at: now_micros(),
            };
            if self.args.writer.submit(op).await? == 1 {
                tracing::warn!(%task, incarnation = %inc, "task failed: its worker has gone missing");
                self.release(task)?;
            }
        }
        self.prune().await?;
        self.reconcile().await
    }

    /// Tells the dispatcher which nodes are alive, so it forgets the workers of lost ones.
    async fn prune(&mut self) -> Result<(), ActorProcessingErr> {
        let mut live: BTreeSet<String> = nodes::live(&self.args.db)
            .await?
            .into_iter()
            .map(|n| n.incarnation)
            .collect();
        live.insert(self.args.own_incarnation.clone());
        self.dispatcher.prune(&live);
        Ok(())
    }

    /// Squares what we track with the table: tasks that are final although no release
    /// reached us (sent while this lock service was not yet reachable, e.g. during a
    /// take-over) are released; tasks that hold all their locks but are still `waiting` (a
    /// start that failed on a database error, an order lost with its node) are offered to
    /// the dispatcher again, which ignores tasks it already has queued or assigned.
    async fn reconcile(&mut self) -> Result<(), ActorProcessingErr> {
        let tracked: Vec<Uuid> = self.tasks.keys().copied().collect();
        let db = &self.args.db;
        let (mut done, mut stuck) = (Vec::new(), Vec::new());
        for (t, state) in pith_entities::tasks::idle_states(db, &tracked).await? {
            match state.as_str() {
                "waiting" if self.grants.holds_all(t) => stuck.push(t),
                "waiting" => {}
                _ => done.push(t),
            }
        }
        for t in done {
            self.release(t)?;
            self.dispatcher.cancel(t);
        }
        for t in stuck {
            self.out.push(GrantOut::Ready(t));
        }
        self.flush()
    }
}

/// Builds the wire summary of a task row.
pub fn summary_of(row: &TaskRow) -> TaskSummary {
    TaskSummary {
        v: 1,
        id: row.id,
        name: row.name.clone(),
        args: row.args.clone(),
        resources: row.resources.iter().map(Claim::from).collect(),
    }
}

impl Actor for LockService {
    type Msg = LockServiceMsg;
    type State = LockServiceState;
    type Arguments = LockServiceArgs;

    async fn pre_start(
        &self,
        me: ActorRef<Self::Msg>,
        mut args: LockServiceArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let initial = std::mem::take(&mut args.initial);
        let dispatcher = ClusterDispatcher::new(args.epoch);
        let mut st = LockServiceState {
            dispatcher,
            seq: Sequencer::new(args.max_seq),
            args,
            grants: GrantTracker::default(),
            tasks: BTreeMap::new(),
            resources: BTreeMap::new(),
            out: Vec::new(),
        };
        for (i, (row, running)) in initial.into_iter().enumerate() {
            let summary = summary_of(&row);
            // Running tasks hold their locks: they go to the front of every queue, whatever
            // position they had (a position write lost in a crash could put them behind a
            // waiting task, which would then be granted alongside them — found by the cluster
            // simulation).
            let seq = if running {
                Some(HOLDER_SEQ + i as i64)
            } else {
                row.queue_seq
            };
            st.admit(&me, summary, seq, running, None).await?;
        }
        // Reachable from every node from now on (worker hosts greet us on their next tick).
        pg::join(LOCK_GROUP.to_owned(), vec![me.get_cell()]);
        Ok(st)
    }

    async fn post_start(
        &self,
        me: ActorRef<Self::Msg>,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        me.send_interval(st.args.scan_every, || LockServiceMsg::Scan);
        me.send_interval(st.args.sweep_every, || LockServiceMsg::Sweep);
        // Catch anything committed between the recovery read and now, and again once other
        // nodes have learnt where we are (until then their wake-ups go nowhere).
        me.cast(LockServiceMsg::Scan)?;
        me.send_after(Duration::from_secs(1), || LockServiceMsg::Scan);
        me.send_after(st.args.sweep_every * 2, || LockServiceMsg::Scan);
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            LockServiceMsg::Wake(WakeUp(list)) => {
                for s in list {
                    st.admit(&me, s, None, false, None).await?;
                }
            }
            LockServiceMsg::Immediate(s, reply) => {
                st.admit(&me, s, None, false, Some(reply)).await?
            }
            LockServiceMsg::Scan => {
                if let Err(e) = st.scan(&me).await {
                    tracing::warn!(error = %e, "task table scan failed; retrying at the next tick");
                }
            }
            LockServiceMsg::Sweep => {
                if let Err(e) = st.sweep().await {
                    tracing::warn!(error = %e, "lost-worker sweep failed; retrying at the next tick");
                }
            }
            LockServiceMsg::Enqueued(GrantNote { task, granted }) => {
                st.grants
                    .handle(GrantIn::Enqueued { task, granted }, &mut st.out);
                st.flush()?;
            }
            LockServiceMsg::Granted(GrantNote { task, .. }) => {
                st.grants.handle(GrantIn::Granted { task }, &mut st.out);
                st.flush()?;
            }
            LockServiceMsg::Release(TaskKey(task)) => st.release(task)?,
            LockServiceMsg::Hello(h) => st.dispatcher.hello(h),
            LockServiceMsg::WorkerIdle(n) => st.dispatcher.idle(n),
            LockServiceMsg::Rejected(r) => st.dispatcher.rejected(r),
            LockServiceMsg::QueueDepth(reply) => {
                let _ = reply.send(st.dispatcher.queued() as u64);
            }
            LockServiceMsg::Canceled(TaskKey(task)) => {
                st.release(task)?;
                st.dispatcher.cancel(task);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        _st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(who, err) = evt {
            // A resource queue is gone: our in-memory view is no longer trustworthy. Stop and let the node rebuild the lock service from the task table.
            tracing::error!(actor = ?who.get_id(), error = %err, "a lock-service child failed; restarting the lock service");
            me.stop(Some("lock-service child failed".into()));
        }
        Ok(())
    }
}
