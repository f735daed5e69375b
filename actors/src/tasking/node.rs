//! Starting and stopping the tasking runtime of one node: take the lock-service lease (a new
//! epoch), recover the task table, then start dispatcher, lock service and workers under one
//! root actor that restarts the lock service (rebuilding it from the table) if it fails.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use ractor_cluster_derive::RactorMessage;
use tokio::task::JoinHandle;

use pith_entities::sea_orm::ConnectionTrait;
use pith_entities::{Backend, Db, DbError, WriteOp, tasks, time::now_micros};

use super::dispatcher::{DispatcherActor, DispatcherArgs, DispatcherMsg};
use super::lock_service::{LockService, LockServiceArgs};
use super::pool::{PoolMsg, WorkerPool};
use super::worker::WorkerArgs;
use crate::machine::recovery::{RecoveryStep, WORKER_MISSING, plan};
use crate::tasks::TaskDeps;

/// Registry name of the node's lock service.
pub const LOCK_SERVICE: &str = "pith.lock_service";
/// Registry name of the node's dispatcher.
pub const DISPATCHER: &str = "pith.dispatcher";

/// The node's lock service, if it runs in this process.
pub fn lock_service() -> Option<ActorRef<super::lock_service::LockServiceMsg>> {
    ractor::registry::where_is(LOCK_SERVICE).map(ActorRef::from)
}

/// The node's dispatcher, if it runs in this process.
pub fn dispatcher() -> Option<ActorRef<DispatcherMsg>> {
    ractor::registry::where_is(DISPATCHER).map(ActorRef::from)
}

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
}

/// Messages of the root.
#[derive(Debug, RactorMessage)]
pub enum RootMsg {
    /// Stop everything (SIGTERM: drain; SIGINT: abort).
    Shutdown {
        /// Abort running tasks.
        abort: bool,
    },
}

struct RootArgs {
    identity: NodeIdentity,
    deps: Arc<TaskDeps>,
    config: TaskingConfig,
}

struct RootState {
    args: RootArgs,
    lock: Option<ActorRef<super::lock_service::LockServiceMsg>>,
    dispatcher: ActorRef<DispatcherMsg>,
    pool: Option<ActorRef<PoolMsg>>,
    stopping: bool,
}

struct Root;

/// Takes the lock-service lease and returns the new epoch. Every start (and every takeover)
/// gets a higher epoch, and task starts are fenced against it.
pub async fn take_lease(db: &Db, holder: &str) -> Result<i64, DbError> {
    let now = now_micros();
    db.write
        .execute_raw(db.stmt(
            "INSERT INTO core_locklease (id, epoch, holder, renewed_at) VALUES (1, 0, NULL, $1) ON CONFLICT (id) DO NOTHING",
            vec![now.into()],
        ))
        .await?;
    db.write
        .execute_raw(db.stmt("UPDATE core_locklease SET epoch = epoch + 1, holder = $1, renewed_at = $2 WHERE id = 1", vec![
            holder.to_owned().into(),
            now.into(),
        ]))
        .await?;
    let row = db
        .write
        .query_all_raw(db.stmt("SELECT epoch FROM core_locklease WHERE id = 1", vec![]))
        .await?;
    row.into_iter()
        .next()
        .map(|r| r.try_get::<i64>("", "epoch"))
        .transpose()?
        .ok_or_else(|| DbError::Corrupt("no lease row".into()))
}

async fn live_incarnations(
    db: &Db,
    me: &NodeIdentity,
    ttl: Duration,
) -> Result<BTreeSet<String>, DbError> {
    if db.backend == Backend::Sqlite {
        // SQLite means one process (the data directory is locked): nobody else is alive.
        return Ok(BTreeSet::new());
    }
    let cutoff = now_micros() - ttl.as_micros() as i64;
    let rows = db
        .read
        .query_all_raw(db.stmt(
            "SELECT DISTINCT incarnation FROM core_appstatus WHERE last_heartbeat >= $1 AND node <> $2 AND incarnation <> $3",
            vec![cutoff.into(), me.node.clone().into(), me.incarnation.clone().into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| {
            r.try_get::<String>("", "incarnation")
                .map_err(DbError::from)
        })
        .collect()
}

/// Recovers the task table and starts a lock service under a new epoch.
async fn start_lock_service(
    args: &RootArgs,
    dispatcher: &ActorRef<DispatcherMsg>,
    supervisor: ractor::ActorCell,
    restart: bool,
) -> Result<ActorRef<super::lock_service::LockServiceMsg>, ActorProcessingErr> {
    let db = &args.deps.db;
    let epoch = take_lease(db, &args.identity.incarnation).await?;
    let mut live = live_incarnations(db, &args.identity, args.config.worker_ttl).await?;
    if restart {
        // Our own workers keep running across a lock-service restart.
        live.insert(args.identity.incarnation.clone());
    }
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
                    tracing::warn!(%task, "task failed at start-up: its worker has gone missing");
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
    tracing::info!(epoch, requeued = initial.len(), "lock service starting");
    let la = LockServiceArgs {
        db: db.clone(),
        writer: args.deps.writer.clone(),
        epoch,
        dispatcher: dispatcher.clone(),
        initial,
        max_seq: tasks::max_queue_seq(db).await?,
        scan_every: args.config.scan_every,
        sweep_every: (args.config.worker_ttl / 3).max(Duration::from_millis(200)),
        own_incarnation: args.identity.incarnation.clone(),
    };
    let (lock, _) =
        Actor::spawn_linked(Some(LOCK_SERVICE.into()), LockService, la, supervisor).await?;
    dispatcher.cast(DispatcherMsg::SetLockService(lock.clone()))?;
    Ok(lock)
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
        let da = DispatcherArgs {
            writer: args.deps.writer.clone(),
            incarnation: args.identity.incarnation.clone(),
        };
        let (dispatcher, _) =
            Actor::spawn_linked(Some(DISPATCHER.into()), DispatcherActor, da, me.get_cell())
                .await?;
        let lock = start_lock_service(&args, &dispatcher, me.get_cell(), false).await?;
        let workers = (1..=args.config.workers)
            .map(|n| WorkerArgs {
                id: n,
                name: args.identity.worker_name(n),
                incarnation: args.identity.incarnation.clone(),
                deps: args.deps.clone(),
                dispatcher: dispatcher.clone(),
            })
            .collect::<Vec<_>>();
        let pool = if workers.is_empty() {
            None
        } else {
            Some(
                Actor::spawn_linked(None, WorkerPool, workers, me.get_cell())
                    .await?
                    .0,
            )
        };
        Ok(RootState {
            args,
            lock: Some(lock),
            dispatcher,
            pool,
            stopping: false,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let RootMsg::Shutdown { abort } = msg;
        st.stopping = true;
        st.dispatcher.cast(DispatcherMsg::Drain)?;
        match &st.pool {
            Some(p) => p.cast(PoolMsg::Shutdown { abort })?,
            None => me.stop(None),
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
        if st.pool.as_ref().is_some_and(|p| p.get_id() == id) {
            // Workers are done: the node's tasking is over.
            st.pool = None;
            if let Some(l) = st.lock.take() {
                l.stop(None);
            }
            st.dispatcher.stop(None);
            me.stop(None);
        } else if st.lock.as_ref().is_some_and(|l| l.get_id() == id) {
            st.lock = None;
            if !st.stopping {
                tracing::error!(reason = %why, "lock service stopped; rebuilding it from the task table");
                st.lock =
                    Some(start_lock_service(&st.args, &st.dispatcher, me.get_cell(), true).await?);
            }
        } else if st.dispatcher.get_id() == id && !st.stopping {
            // The dispatcher holds which worker runs what; without it the node cannot go on
            // safely. Stop, so the process exits and its supervisor restarts it (recovery then
            // fails what was running).
            tracing::error!(reason = %why, "dispatcher stopped; stopping the tasking runtime");
            me.stop(Some("dispatcher failed".into()));
        }
        Ok(())
    }
}

/// A running tasking runtime.
#[derive(Debug)]
pub struct TaskingNode {
    root: ActorRef<RootMsg>,
    join: Option<JoinHandle<()>>,
}

impl TaskingNode {
    /// Starts lock service, dispatcher and `config.workers` workers.
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
