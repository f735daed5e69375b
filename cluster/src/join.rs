//! Auto-join: this process's ractor_cluster `NodeServer` and the actor that keeps it connected
//! to every live peer in the registry (`core_appstatus.cluster_addr`). Every heartbeat period
//! it re-reads the registry and dials what [`Membership`] says; a dropped session is redialled
//! at once while the peer's row is live. Which peers are alive is the database's call (their
//! heartbeat on its clock); a TCP session is only a hint.
//!
//! Supervision: `Join` owns the `NodeServer` (linked); if the server dies the join actor stops
//! and the process exits, so its service manager restarts it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use ractor_cluster::node::{NodeConnectionMode, NodeServerSessionInformation};
use ractor_cluster::{NodeEventSubscription, NodeServer, NodeServerMessage};
use ractor_cluster_derive::RactorMessage;
use tokio::task::JoinHandle;

use pith_entities::Db;

use crate::membership::{MemberIn, MemberOut, Membership, PeerRow};

/// Cluster settings of a node.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Where the node server listens.
    pub bind: SocketAddr,
    /// `host:port` other nodes dial (written to the registry).
    pub advertise: String,
    /// The shared cookie; never empty.
    pub secret: String,
    /// How often to re-read the registry (the heartbeat period, ttl / 3).
    pub period: Duration,
    /// Heartbeat age after which a peer counts as gone.
    pub ttl: Duration,
}

/// Messages of the join actor.
#[derive(Debug, RactorMessage)]
pub enum JoinMsg {
    /// Re-read the registry and dial.
    Tick,
    /// A session with this peer is ready.
    Up(String),
    /// The last session with this peer ended.
    Down(String),
    /// A connection attempt with this peer failed before it was ready.
    DialFailed(String),
    /// A handshake with this peer (at this address) did not authenticate.
    Refused(String, String),
    /// Still not connected to this peer a while after a refused handshake: say why.
    CheckRefused(String, String),
}

struct Args {
    db: Db,
    config: ClusterConfig,
    incarnation: String,
}

/// State.
pub struct JoinState {
    args: Args,
    server: ActorRef<NodeServerMessage>,
    machine: Membership,
    origin: Instant,
    seed: u64,
}

impl std::fmt::Debug for JoinState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinState")
            .field("connected", &self.machine.connected())
            .finish()
    }
}

struct Join;

/// Forwards ractor_cluster's session events to the join actor. A peer counts as connected
/// while at least one session with it is ready: when both sides dial at once, ractor closes
/// the duplicate, which must not look like a lost peer.
struct Events {
    join: ActorRef<JoinMsg>,
    sessions: Mutex<Sessions>,
}

#[derive(Default)]
struct Sessions {
    authenticated: BTreeSet<ActorId>,
    ready: BTreeMap<String, BTreeSet<ActorId>>,
}

fn peer_of(ses: &NodeServerSessionInformation) -> Option<String> {
    let name = &ses.peer_name.as_ref()?.name;
    Some(name.split('@').next().unwrap_or(name).to_owned())
}

impl NodeEventSubscription for Events {
    fn node_session_opened(&self, _ses: NodeServerSessionInformation) {}

    fn node_session_authenticated(&self, ses: NodeServerSessionInformation) {
        if let Ok(mut s) = self.sessions.lock() {
            s.authenticated.insert(ses.actor.get_id());
        }
    }

    fn node_session_ready(&self, ses: NodeServerSessionInformation) {
        let Some(p) = peer_of(&ses) else { return };
        let first = self.sessions.lock().is_ok_and(|mut s| {
            let set = s.ready.entry(p.clone()).or_default();
            set.insert(ses.actor.get_id());
            set.len() == 1
        });
        if first {
            tracing::info!(peer = %p, addr = %ses.peer_addr, "joined cluster peer");
            let _ = self.join.cast(JoinMsg::Up(p));
        }
    }

    fn node_session_disconnected(&self, ses: NodeServerSessionInformation) {
        let id = ses.actor.get_id();
        let peer = peer_of(&ses);
        let (authenticated, was_ready, still_connected) = match self.sessions.lock() {
            Ok(mut s) => {
                let authenticated = s.authenticated.remove(&id);
                let (was_ready, left) = match peer.as_ref().and_then(|p| s.ready.get_mut(p)) {
                    Some(set) => (set.remove(&id), set.len()),
                    None => (false, 0),
                };
                (authenticated, was_ready, left > 0)
            }
            Err(_) => (true, true, false),
        };
        if still_connected {
            return; // a duplicate of a live session closed
        }
        if was_ready {
            tracing::warn!(peer = ?peer, addr = %ses.peer_addr, "cluster peer disconnected");
        }
        let Some(p) = peer else { return };
        if !authenticated {
            // Either a simultaneous connect that lost ractor's election (the other session
            // with this peer becomes ready at once) or a refused handshake: decided later.
            let _ = self
                .join
                .cast(JoinMsg::Refused(p.clone(), ses.peer_addr.clone()));
        }
        if was_ready {
            let _ = self.join.cast(JoinMsg::Down(p));
        } else {
            let _ = self.join.cast(JoinMsg::DialFailed(p));
        }
    }
}

impl JoinState {
    fn millis(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn jitter(&mut self) -> u64 {
        // xorshift: jitter only spreads redials, it needs no quality.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed % (self.args.config.period.as_millis() as u64 / 4 + 1)
    }

    fn step(&mut self, me: &ActorRef<JoinMsg>, input: MemberIn) {
        let (now, jitter) = (self.millis(), self.jitter());
        let mut out = Vec::new();
        self.machine.handle(now, input, jitter, &mut out);
        for MemberOut::Dial { incarnation, addr } in out {
            let (server, me) = (self.server.clone(), me.clone());
            tokio::spawn(async move {
                let dial = tokio::time::timeout(
                    Duration::from_secs(3),
                    ractor_cluster::client_connect(&server, addr.as_str()),
                )
                .await;
                match dial {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %incarnation, %addr, error = %e, "could not dial cluster peer");
                        let _ = me.cast(JoinMsg::DialFailed(incarnation));
                    }
                    Err(_) => {
                        tracing::debug!(peer = %incarnation, %addr, "dialling cluster peer timed out");
                        let _ = me.cast(JoinMsg::DialFailed(incarnation));
                    }
                }
            });
        }
        metrics::gauge!("pith_cluster_peers").set(self.machine.connected() as f64);
    }

    async fn live_peers(&self) -> Result<Vec<PeerRow>, pith_entities::DbError> {
        let nodes = pith_entities::nodes::live(&self.args.db).await?;
        Ok(nodes
            .into_iter()
            .filter(|n| n.incarnation != self.args.incarnation)
            .filter_map(|n| {
                Some(PeerRow {
                    addr: n.cluster_addr?,
                    incarnation: n.incarnation,
                })
            })
            .collect())
    }
}

impl Actor for Join {
    type Msg = JoinMsg;
    type State = JoinState;
    type Arguments = Args;

    async fn pre_start(
        &self,
        me: ActorRef<Self::Msg>,
        args: Args,
    ) -> Result<Self::State, ActorProcessingErr> {
        let host = args
            .config
            .advertise
            .rsplit_once(':')
            .map_or(args.config.advertise.as_str(), |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let server = NodeServer::new(
            args.config.bind.port(),
            args.config.secret.clone(),
            args.incarnation.clone(),
            host,
            None,
            Some(NodeConnectionMode::Isolated),
        )
        .with_listen_addr(args.config.bind.ip());
        let (server, _) = Actor::spawn_linked(None, server, (), me.get_cell()).await?;
        server.cast(NodeServerMessage::SubscribeToEvents {
            id: "pith.join".into(),
            subscription: Box::new(Events {
                join: me.clone(),
                sessions: Mutex::new(Sessions::default()),
            }),
        })?;
        let period = args.config.period.as_millis() as u64;
        let seed = u64::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..8]
                .try_into()
                .unwrap_or([7; 8]),
        ) | 1;
        Ok(JoinState {
            machine: Membership::new(&args.incarnation, period),
            args,
            server,
            origin: Instant::now(),
            seed,
        })
    }

    async fn post_start(
        &self,
        me: ActorRef<Self::Msg>,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        me.send_interval(st.args.config.period, || JoinMsg::Tick);
        me.cast(JoinMsg::Tick)?;
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            JoinMsg::Tick => match st.live_peers().await {
                Ok(rows) => st.step(&me, MemberIn::Live(rows)),
                Err(e) => tracing::warn!(error = %e, "could not read the node registry"),
            },
            JoinMsg::Up(p) => st.step(&me, MemberIn::Up(p)),
            JoinMsg::Down(p) => st.step(&me, MemberIn::Down(p)),
            // A failed attempt says nothing about a session that is up.
            JoinMsg::DialFailed(p) if !st.machine.is_connected(&p) => {
                st.step(&me, MemberIn::Down(p))
            }
            JoinMsg::DialFailed(_) => {}
            JoinMsg::Refused(p, addr) => {
                me.send_after(Duration::from_secs(1), move || {
                    JoinMsg::CheckRefused(p, addr)
                });
            }
            JoinMsg::CheckRefused(p, addr) => {
                if !st.machine.is_connected(&p) {
                    tracing::error!(
                        peer = %p,
                        %addr,
                        "cluster connection refused: the handshake failed, so that node's PULP_CLUSTER_SECRET differs from ours \
                         (or it is not a Pith node)"
                    );
                }
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
        let why = match &evt {
            SupervisionEvent::ActorFailed(_, e) => e.to_string(),
            SupervisionEvent::ActorTerminated(_, _, r) => r.clone().unwrap_or_default(),
            _ => return Ok(()),
        };
        tracing::error!(reason = %why, "the cluster node server stopped");
        me.stop(Some("node server stopped".into()));
        Ok(())
    }
}

/// This process's cluster membership; dropping it does not leave the cluster, [`Node::stop`] does.
#[derive(Debug)]
pub struct Node {
    actor: ActorRef<JoinMsg>,
    join: JoinHandle<()>,
}

impl Node {
    /// Starts the node server on `config.bind` and joins every live peer. The caller must
    /// have written this process's registry rows with `config.advertise` first.
    pub async fn start(
        db: Db,
        config: ClusterConfig,
        incarnation: String,
    ) -> Result<Node, ractor::SpawnErr> {
        let (actor, join) = Actor::spawn(
            None,
            Join,
            Args {
                db,
                config,
                incarnation,
            },
        )
        .await?;
        Ok(Node { actor, join })
    }

    /// Leaves the cluster (closes every session).
    pub async fn stop(self) {
        self.actor.stop(None);
        let _ = self.join.await;
    }
}
