//! Supervises the node's workers. A worker that fails is reported lost to the dispatcher (its
//! task is failed, "Worker has gone missing.") and replaced by a fresh one with the same name.

use std::collections::BTreeMap;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use ractor_cluster_derive::RactorMessage;

use super::dispatcher::DispatcherMsg;
use super::worker::{Worker, WorkerArgs, WorkerMsg};

/// Messages.
#[derive(Debug, RactorMessage)]
pub enum PoolMsg {
    /// Stop every worker (drain or abort) and then the pool.
    Shutdown {
        /// SIGINT semantics.
        abort: bool,
    },
}

/// State.
#[derive(Debug)]
pub struct PoolState {
    running: BTreeMap<ActorId, (WorkerArgs, ActorRef<WorkerMsg>)>,
    stopping: bool,
}

/// The actor.
#[derive(Debug)]
pub struct WorkerPool;

impl Actor for WorkerPool {
    type Msg = PoolMsg;
    type State = PoolState;
    type Arguments = Vec<WorkerArgs>;

    async fn pre_start(
        &self,
        me: ActorRef<Self::Msg>,
        workers: Vec<WorkerArgs>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut running = BTreeMap::new();
        for args in workers {
            let (w, _) = Actor::spawn_linked(None, Worker, args.clone(), me.get_cell()).await?;
            running.insert(w.get_id(), (args, w));
        }
        Ok(PoolState {
            running,
            stopping: false,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let PoolMsg::Shutdown { abort } = msg;
        st.stopping = true;
        for (_, w) in st.running.values() {
            let _ = w.cast(WorkerMsg::Shutdown { abort });
        }
        if st.running.is_empty() {
            me.stop(None);
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
                if let Some((args, _)) = st.running.remove(&cell.get_id()) {
                    tracing::error!(worker = %args.name, error = %err, "worker failed; replacing it");
                    args.dispatcher
                        .cast(DispatcherMsg::WorkerLost(args.id, cell.get_id()))?;
                    if !st.stopping {
                        let (w, _) =
                            Actor::spawn_linked(None, Worker, args.clone(), me.get_cell()).await?;
                        st.running.insert(w.get_id(), (args, w));
                    }
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                st.running.remove(&cell.get_id());
            }
            _ => {}
        }
        if st.stopping && st.running.is_empty() {
            me.stop(None);
        }
        Ok(())
    }
}
