//! This process's rows in `core_appstatus` (one per API app, content app and worker) and the
//! heartbeat that keeps them fresh every `ttl / 3` (Pulp's period). A node whose heartbeat is
//! older than its ttl counts as lost; the lock service then fails the tasks it owned.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster_derive::RactorMessage;
use tokio::task::JoinHandle;

use pith_actors::tasking::{Liveness, NodeIdentity};
use pith_entities::{Db, DbError, WriteOp, Writer, time::now_micros};

/// What kind of app a row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppKind {
    /// REST API.
    Api,
    /// Content app.
    Content,
    /// Task worker.
    Worker,
}

impl AppKind {
    fn as_str(self) -> &'static str {
        match self {
            AppKind::Api => "api",
            AppKind::Content => "content",
            AppKind::Worker => "worker",
        }
    }
}

/// The process's registration; keeps heartbeating until [`Registration::deregister`].
#[derive(Debug)]
pub struct Registration {
    db: Db,
    names: Vec<String>,
    actor: ActorRef<HeartbeatMsg>,
    join: JoinHandle<()>,
}

/// Heartbeat actor messages.
#[derive(Debug, RactorMessage)]
pub enum HeartbeatMsg {
    /// Time to heartbeat.
    Beat,
}

struct Heartbeat;

struct HeartbeatArgs {
    writer: Writer,
    names: Vec<String>,
    every: Duration,
    liveness: Liveness,
}

impl Actor for Heartbeat {
    type Msg = HeartbeatMsg;
    type State = HeartbeatArgs;
    type Arguments = HeartbeatArgs;

    async fn pre_start(
        &self,
        me: ActorRef<Self::Msg>,
        args: HeartbeatArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        me.send_interval(args.every, || HeartbeatMsg::Beat);
        Ok(args)
    }

    async fn handle(
        &self,
        _me: ActorRef<Self::Msg>,
        _msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let beat = st.writer.submit(WriteOp::Heartbeat {
            names: st.names.clone(),
            at: now_micros(),
        });
        match beat.await {
            Ok(_) => st.liveness.beat(),
            Err(e) => {
                // Not fatal by itself: a node that cannot heartbeat for a whole ttl is declared
                // lost by the others, which is the safe outcome.
                tracing::error!(error = %e, "heartbeat failed");
            }
        }
        Ok(())
    }
}

impl Registration {
    /// Inserts (or replaces) one row per `(name, kind)` and starts heartbeating (on the
    /// database's clock; each success is recorded in `liveness`). `cluster_addr` is where
    /// other nodes dial this process (`None`: it runs no cluster node).
    #[allow(clippy::too_many_arguments)]
    pub async fn register(
        db: &Db,
        writer: &Writer,
        identity: &NodeIdentity,
        apps: &[(String, AppKind)],
        ttl: Duration,
        versions: &serde_json::Value,
        cluster_addr: Option<&str>,
        liveness: &Liveness,
    ) -> Result<Registration, DbError> {
        let now = now_micros();
        for (name, kind) in apps {
            let app = pith_entities::nodes::NewAppStatus {
                name,
                app_type: kind.as_str(),
                node: &identity.node,
                incarnation: &identity.incarnation,
                ttl_secs: ttl.as_secs().max(1) as i64,
                versions: versions.to_string(),
                cluster_addr,
            };
            pith_entities::nodes::register(db, &app, now).await?;
        }
        let names: Vec<String> = apps.iter().map(|(n, _)| n.clone()).collect();
        let args = HeartbeatArgs {
            writer: writer.clone(),
            names: names.clone(),
            every: (ttl / 3).max(Duration::from_millis(100)),
            liveness: liveness.clone(),
        };
        liveness.beat();
        let (actor, join) = Actor::spawn(None, Heartbeat, args)
            .await
            .map_err(|e| DbError::Corrupt(format!("could not start the heartbeat: {e}")))?;
        Ok(Registration {
            db: db.clone(),
            names,
            actor,
            join,
        })
    }

    /// Stops heartbeating and removes the rows (a clean exit is not a lost worker).
    pub async fn deregister(self) {
        self.actor.stop(None);
        let _ = self.join.await;
        for name in &self.names {
            let _ = pith_entities::nodes::unregister(&self.db, name).await;
        }
    }
}
