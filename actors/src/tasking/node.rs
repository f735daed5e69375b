//! Starting and stopping the tasking runtime of one node: its worker host (with the workers),
//! and — while this node holds the lock-service lease — the cluster's lock service. A root
//! actor renews the lease every ttl/3, takes it when it is free (its holder stopped renewing
//! or heartbeating), stops its lock service when the lease is lost, and restarts the lock
//! service (rebuilding it from the table, under a new epoch) if it fails.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use ractor_cluster_derive::RactorMessage;
use tokio::task::JoinHandle;

use pith_entities::{Backend, Db, DbError, WriteOp, lease, nodes, tasks, time::now_micros};

use super::host::{HostArgs, HostMsg, WorkerHost};
use super::liveness::Liveness;
use super::lock_service::{LockService, LockServiceArgs, LockServiceMsg};
use crate::machine::lease::{LeaseIn, LeaseKeeper, LeaseOut};
use crate::machine::recovery::{RecoveryStep, WORKER_MISSING, plan};
use crate::tasks::TaskDeps;

/// Who this process is.
#[derive(Clone, Debug)]
pub struct NodeIdentity {
    /// Stable node name (kind and address), e.g. `serve@host:24817`. A restarted process
    /// with the same name is a new incarnation of the same node.
    pub node: String,
    /// Unique per process start.
    pub incarnation: String,
    /// Host name used in worker names.
    pub hostname: String,
    /// Process id used in worker names.
    pub pid: u32,
}

impl NodeIdentity {
    /// Pulp-style worker name: `{pid}.{n}@{hostname}` (`{pid}@{hostname}` in Pulp, one worker
    /// per process there).
    pub fn worker_name(&self, n: u32) -> String {
        format!("{}.{}@{}", self.pid, n, self.hostname)
    }
}

/// Tasking settings of a node.
#[derive(Clone, Debug)]
pub struct TaskingConfig {
    /// Worker actors to run.
    pub workers: u32,
    /// `WORKER_TTL`: heartbeat age after which an owner counts as lost.
    pub worker_ttl: Duration,
    /// How often the lock service scans the table for unqueued tasks.
    pub scan_every: Duration,
    /// Whether this node's heartbeat reaches the database (self-fencing).
    pub liveness: Liveness,
}

/// Messages of the root.
#[derive(Debug, RactorMessage)]
pub enum RootMsg {
    /// Stop everything (SIGTERM: drain; SIGINT: abort).
    Shutdown {
        /// Abort running tasks.
        abort: bool,
    },
    /// Renew or try to take the lock-service lease.
    LeaseTick,
}

struct RootArgs {
    identity: NodeIdentity,
    deps: Arc<TaskDeps>,
    config: TaskingConfig,
}

struct RootState {
    args: RootArgs,
    keeper: LeaseKeeper,
    origin: Instant,
    /// Our lock service and the epoch it runs under, while we hold the lease.
    lock: Option<(ActorRef<LockServiceMsg>, i64)>,
    host: Option<ActorRef<HostMsg>>,
    stopping: bool,
}

struct Root;

/// Takes the lock-service lease unconditionally and returns the new epoch (one process owns a
/// SQLite database; tests use it too). Every take-over gets a higher epoch.
pub async fn take_lease(db: &Db, holder: &str) -> Result<i64, DbError> {
    lease::acquire(db, holder, Duration::from_secs(30), true)
        .await?
        .ok_or_else(|| DbError::Corrupt("no lease row".into()))
}

/// Incarnations whose heartbeat is fresh, plus our own: their running tasks are kept.
async fn live_incarnations(db: &Db, me: &NodeIdentity) -> Result<BTreeSet<String>, DbError> {
    let mut live = BTreeSet::new();
    live.insert(me.incarnation.clone());
    if db.backend == Backend::Sqlite {
        // SQLite means one process (the data directory is locked): nobody else is alive.
        return Ok(live);
    }
    live.extend(nodes::live(db).await?.into_iter().map(|n| n.incarnation));
    Ok(live)
}

/// Recovers the task table and starts a lock service under `epoch`.
async fn start_lock_service(
    args: &RootArgs,
    epoch: i64,
    supervisor: ractor::ActorCell,
) -> Result<ActorRef<LockServiceMsg>, ActorProcessingErr> {
    let db = &args.deps.db;
    let live = live_incarnations(db, &args.identity).await?;
    let rows = tasks::load_incomplete(db, false).await?;
    let mut initial = Vec::new();
    for step in plan(&rows, &live) {
        match step {
            RecoveryStep::Abandon { task, incarnation } => {
                let op = WriteOp::FailAbandoned {
                    task,
                    incarnation,
                    reason: WORKER_MISSING.into(),
                    at: now_micros(),
                };
                if args.deps.writer.submit(op).await? == 1 {
                    tracing::warn!(%task, "task failed: its worker has gone missing");
                }
            }
            RecoveryStep::Hold(task) | RecoveryStep::Requeue(task) => {
                if let Some(r) = rows.iter().find(|r| r.id == task) {
                    let running = !matches!(r.state, pith_entities::TaskState::Waiting);
                    initial.push((r.clone(), running));
                }
            }
        }
    }
    tracing::info!(
        epoch,
        requeued = initial.len(),
        "lock service starting on this node"
    );
    metrics::gauge!("pith_lock_service_epoch").set(epoch as f64);
    let la = LockServiceArgs {
        db: db.clone(),
        writer: args.deps.writer.clone(),
        epoch,
        initial,
        max_seq: tasks::max_queue_seq(db).await?,
        scan_every: args.config.scan_every,
        sweep_every: (args.config.worker_ttl / 3).max(Duration::from_millis(200)),
        own_incarnation: args.identity.incarnation.clone(),
    };
    let (lock, _) = Actor::spawn_linked(None, LockService, la, supervisor).await?;
    Ok(lock)
}

impl RootState {
    fn force_lease(&self) -> bool {
        self.args.deps.db.backend == Backend::Sqlite
    }

    /// Feeds the lease machine and performs what it asks, until it asks nothing more.
    async fn lease_step(&mut self, me: &ActorRef<RootMsg>, input: LeaseIn) {
        let mut inputs = vec![input];
        while let Some(input) = inputs.pop() {
            let now = self.origin.elapsed().as_millis() as u64;
            let mut out = Vec::new();
            self.keeper.handle(now, input, &mut out);
            for o in out {
                if let Some(next) = self.perform(me, o).await {
                    inputs.push(next);
                }
            }
        }
    }

    async fn perform(&mut self, me: &ActorRef<RootMsg>, o: LeaseOut) -> Option<LeaseIn> {
        let db = &self.args.deps.db;
        let inc = &self.args.identity.incarnation;
        match o {
            LeaseOut::TryAcquire => {
                let ttl = self.args.config.worker_ttl;
                match lease::acquire(db, inc, ttl, self.force_lease()).await {
                    Ok(got) => Some(LeaseIn::Acquired(got)),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not take the lock-service lease; retrying");
                        Some(LeaseIn::Acquired(None))
                    }
                }
            }
            LeaseOut::Renew(epoch) => match lease::renew(db, inc, epoch).await {
                Ok(true) => Some(LeaseIn::Renewed(Some(true))),
                Ok(false) => {
                    tracing::warn!(
                        epoch,
                        "the lock-service lease was taken over by another node; stopping our lock service"
                    );
                    Some(LeaseIn::Renewed(Some(false)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not renew the lock-service lease");
                    Some(LeaseIn::Renewed(None))
                }
            },
            LeaseOut::StartLockService(epoch) => {
                match start_lock_service(&self.args, epoch, me.get_cell()).await {
                    Ok(lock) => {
                        self.lock = Some((lock, epoch));
                        None
                    }
                    Err(e) => {
                        tracing::error!(epoch, error = %e, "could not start the lock service");
                        Some(LeaseIn::LockServiceDown)
                    }
                }
            }
            LeaseOut::StopLockService(epoch) => {
                if let Some((l, e)) = self.lock.take() {
                    if e != epoch {
                        tracing::warn!(
                            epoch,
                            running = e,
                            "stopping a lock service of another epoch"
                        );
                    }
                    l.stop(Some("lease given up".into()));
                }
                None
            }
            LeaseOut::Release(epoch) => {
                let _ = lease::release(db, inc, epoch).await;
                None
            }
        }
    }
}

impl Actor for Root {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(
        &self,
        me: ActorRef<Self::Msg>,
        args: RootArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let names = (1..=args.config.workers)
            .map(|n| args.identity.worker_name(n))
            .collect::<Vec<_>>();
        let host = if names.is_empty() {
            None
        } else {
            let ha = HostArgs {
                incarnation: args.identity.incarnation.clone(),
                names,
                deps: args.deps.clone(),
                liveness: args.config.liveness.clone(),
                tick_every: (args.config.worker_ttl / 3).max(Duration::from_millis(100)),
            };
            Some(
                Actor::spawn_linked(None, WorkerHost, ha, me.get_cell())
                    .await?
                    .0,
            )
        };
        let ttl = args.config.worker_ttl.as_millis() as u64;
        let mut st = RootState {
            args,
            keeper: LeaseKeeper::new(ttl),
            origin: Instant::now(),
            lock: None,
            host,
            stopping: false,
        };
        // First attempt now, so a single node serves tasks as soon as it is up.
        st.lease_step(&me, LeaseIn::Tick).await;
        if let Some(h) = &st.host {
            h.cast(HostMsg::Tick)?;
        }
        Ok(st)
    }

    async fn post_start(
        &self,
        me: ActorRef<Self::Msg>,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let every = (st.args.config.worker_ttl / 3).max(Duration::from_millis(100));
        me.send_interval(every, || RootMsg::LeaseTick);
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RootMsg::Shutdown { abort } => {
                st.stopping = true;
                match &st.host {
                    Some(h) => h.cast(HostMsg::Shutdown(abort))?,
                    None => step_down_and_stop(&me, st).await,
                }
            }
            RootMsg::LeaseTick => st.lease_step(&me, LeaseIn::Tick).await,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match &evt {
            SupervisionEvent::ActorFailed(c, e) => (c.clone(), e.to_string()),
            SupervisionEvent::ActorTerminated(c, _, r) => {
                (c.clone(), r.clone().unwrap_or_default())
            }
            _ => return Ok(()),
        };
        let id = cell.get_id();
        if st.host.as_ref().is_some_and(|h| h.get_id() == id) {
            // Workers are done: the node's tasking is over.
            st.host = None;
            if !st.stopping {
                tracing::error!(reason = %why, "worker host stopped; stopping the tasking runtime");
            }
            step_down_and_stop(&me, st).await;
        } else if st.lock.as_ref().is_some_and(|(l, _)| l.get_id() == id) {
            st.lock = None;
            if !st.stopping {
                tracing::error!(reason = %why, "lock service stopped; rebuilding it from the task table");
                // We still hold the lease: taking it again raises the epoch, which fences
                // anything the failed service had granted.
                st.lease_step(&me, LeaseIn::LockServiceDown).await;
            }
        }
        Ok(())
    }
}

/// Stops our lock service, gives the lease up (so another node takes it at once) and stops.
async fn step_down_and_stop(me: &ActorRef<RootMsg>, st: &mut RootState) {
    st.lease_step(me, LeaseIn::Shutdown).await;
    me.stop(None);
}

/// A running tasking runtime.
#[derive(Debug)]
pub struct TaskingNode {
    root: ActorRef<RootMsg>,
    join: Option<JoinHandle<()>>,
}

impl TaskingNode {
    /// Starts the worker host with `config.workers` workers, and the lock service when this
    /// node gets the lease.
    pub async fn start(
        identity: NodeIdentity,
        deps: Arc<TaskDeps>,
        config: TaskingConfig,
    ) -> Result<TaskingNode, ractor::SpawnErr> {
        let (root, join) = Actor::spawn(
            None,
            Root,
            RootArgs {
                identity,
                deps,
                config,
            },
        )
        .await?;
        Ok(TaskingNode {
            root,
            join: Some(join),
        })
    }

    /// Stops the runtime: `abort = false` lets running tasks finish (SIGTERM), `true` fails
    /// them with "Aborted during worker shutdown." (SIGINT). Returns when every worker exited.
    pub async fn shutdown(self, abort: bool) {
        let _ = self.root.cast(RootMsg::Shutdown { abort });
        if let Some(j) = self.join {
            let _ = j.await;
        }
    }

    /// Resolves if the runtime stops by itself (its root failed: the lock service could not be
    /// rebuilt, or the dispatcher died). The process should then exit so that its supervisor
    /// restarts it; recovery at the next start takes care of the tasks.
    pub async fn stopped(&mut self) {
        match self.join.as_mut() {
            Some(j) => {
                let _ = j.await;
                self.join = None;
            }
            None => std::future::pending().await,
        }
    }
}
