//! The cluster simulation: several nodes on one simulated database, joined by the real
//! [`Membership`] machine, electing the lock service with the real [`LeaseKeeper`], sequencing
//! with the real [`Sequencer`], [`ResourceQueue`], [`GrantTracker`] and [`Dispatcher`], and
//! running tasks in the real [`WorkerSlot`], with every write applied to [`SimDb`] (the same
//! conditional statements as the real writer, including the epoch fence). The glue mirrors
//! the actor shells: `tasking::host` (run orders, rejections, hellos, self-fencing),
//! `tasking::dispatcher` (seats by incarnation) and `tasking::lock_service` (sweep, prune,
//! reconcile, scan).
//!
//! Faults, all drawn from the seed: network partitions between nodes (sessions drop, messages
//! in flight are lost), node crashes and restarts (a new incarnation), process pauses (nothing
//! runs, then everything resumes with stale beliefs), forward clock jumps of a node's
//! monotonic clock, and database outages of one node (no heartbeat, no lease renewal, no
//! writes). Invariants, checked at every accepted write: no task starts twice; no task starts
//! while a conflicting task is running; a start is accepted only under the current epoch;
//! the epoch never goes down. After every fault has healed: every task is final and every
//! live node is connected to every other.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use pith_actors::machine::dispatcher::{DispatchIn, DispatchOut, Dispatcher, WorkerId};
use pith_actors::machine::grants::{GrantIn, GrantOut, GrantTracker};
use pith_actors::machine::lease::{LeaseIn, LeaseKeeper, LeaseOut};
use pith_actors::machine::recovery::{RecoveryStep, WORKER_MISSING, plan};
use pith_actors::machine::resource_queue::ResourceQueue;
use pith_actors::machine::sequencer::Sequencer;
use pith_actors::machine::worker_slot::{Final, Outcome, SlotIn, SlotOut, WorkerSlot};
use pith_actors::tasking::lock_service::HOLDER_SEQ;
use pith_cluster::membership::{MemberIn, MemberOut, Membership, PeerRow};
use pith_entities::{NewTask, ResourceClaim, TaskState, WriteOp};
use uuid::Uuid;

use crate::db::SimDb;
use crate::rng::Rng;
use crate::world::random_claims;

/// Simulated milliseconds.
pub type Ms = u64;
type NodeId = usize;

/// A deliberately broken cluster, to prove the checker can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterMutation {
    /// The real protocol.
    None,
    /// Task starts ignore the lease epoch (no fencing).
    NoFence,
    /// A rebuilt lock service queues running tasks by their old position, not first.
    HoldersByPosition,
}

/// What one seed decides.
#[derive(Clone, Debug)]
pub struct ClusterParams {
    /// Nodes (each runs a worker host and is a lease candidate).
    pub nodes: usize,
    /// Workers per node.
    pub workers: u32,
    /// Tasks dispatched.
    pub tasks: usize,
    /// Distinct resources.
    pub resources: usize,
    /// `WORKER_TTL`.
    pub ttl: Ms,
    /// Faults of each kind.
    pub partitions: u32,
    /// Node crashes (each restarted later).
    pub crashes: u32,
    /// Process pauses.
    pub pauses: u32,
    /// Forward clock jumps.
    pub jumps: u32,
    /// Database outages of one node.
    pub outages: u32,
    /// Largest network delay.
    pub max_delay: Ms,
    /// Faults and dispatches happen before this.
    pub fault_until: Ms,
}

impl ClusterParams {
    fn from_rng(r: &mut Rng) -> ClusterParams {
        ClusterParams {
            nodes: r.range(2, 5) as usize,
            workers: r.range(1, 3) as u32,
            tasks: r.range(5, 30) as usize,
            resources: r.range(1, 5) as usize,
            ttl: 3_000,
            partitions: r.range(0, 3) as u32,
            crashes: r.range(0, 3) as u32,
            pauses: r.range(0, 2) as u32,
            jumps: r.range(0, 2) as u32,
            outages: r.range(0, 2) as u32,
            max_delay: r.range(1, 30),
            fault_until: 20_000,
        }
    }
}

#[derive(Clone, Debug)]
enum Net {
    Wake(Uuid),
    Run { worker: u32, task: Uuid, epoch: i64 },
    Idle { worker: u32, done: Option<Uuid> },
    Rejected { worker: u32, task: Uuid, epoch: i64 },
    Hello(Vec<u32>),
    Release(Uuid),
}

#[derive(Clone, Debug)]
enum Ev {
    Tick(NodeId, u32),
    Deliver {
        from: NodeId,
        to: NodeId,
        life: (u32, u32),
        msg: Net,
    },
    Session {
        a: NodeId,
        b: NodeId,
        life: (u32, u32),
    },
    DialFailed {
        node: NodeId,
        life: u32,
        peer: String,
    },
    BodyDone {
        node: NodeId,
        life: u32,
        worker: u32,
        task: Uuid,
    },
    Finish {
        node: NodeId,
        life: u32,
        op: Box<WriteOp>,
    },
    Dispatch(usize),
    Crash(NodeId),
    Restart(NodeId),
    Partition(NodeId, NodeId),
    Heal(NodeId, NodeId),
    Pause(NodeId, Ms),
    Jump(NodeId, Ms),
    Outage(NodeId, Ms),
}

struct Ls {
    epoch: i64,
    seq: Sequencer,
    grants: GrantTracker,
    queues: BTreeMap<String, ResourceQueue>,
    claims: BTreeMap<Uuid, Vec<ResourceClaim>>,
    dispatcher: Dispatcher,
    seats: BTreeMap<(String, u32), WorkerId>,
    seat_of: BTreeMap<WorkerId, (String, u32)>,
    /// Ready payloads: task → epoch it was granted under.
    ready: BTreeMap<Uuid, i64>,
}

struct Seat {
    slot: WorkerSlot,
    busy: Option<(Uuid, i64)>,
}

struct Node {
    alive: bool,
    life: u32,
    inc: String,
    paused_until: Ms,
    offset: Ms,
    outage_until: Ms,
    last_beat: Ms,
    membership: Membership,
    sessions: BTreeSet<NodeId>,
    keeper: LeaseKeeper,
    ls: Option<Ls>,
    seats: BTreeMap<u32, Seat>,
    greeted: BTreeSet<(NodeId, i64)>,
    max_epoch: i64,
}

/// A failed run.
#[derive(Debug)]
pub struct ClusterFailure {
    /// The seed.
    pub seed: u64,
    /// Simulated time.
    pub at: Ms,
    /// Which invariant.
    pub invariant: &'static str,
    /// Details.
    pub detail: String,
    /// The seed's parameters.
    pub params: ClusterParams,
}

impl std::fmt::Display for ClusterFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cluster simulation seed {} failed at {} ms: {}: {}\nparameters: {:?}\nreplay: cargo run -p simulations -- --cluster --seed {}",
            self.seed, self.at, self.invariant, self.detail, self.params, self.seed
        )
    }
}

/// What a passing run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSummary {
    /// Tasks completed.
    pub completed: usize,
    /// Tasks failed ("Worker has gone missing.").
    pub failed: usize,
    /// Highest lease epoch.
    pub epoch: i64,
    /// Events processed.
    pub events: u64,
}

struct World {
    p: ClusterParams,
    rng: Rng,
    now: Ms,
    seq: u64,
    queue: BinaryHeap<Reverse<(Ms, u64, usize)>>,
    events: Vec<Option<Ev>>,
    nodes: Vec<Node>,
    db: SimDb,
    beats: BTreeMap<String, Ms>,
    cut: BTreeSet<(NodeId, NodeId)>,
    plan: Vec<(Uuid, Vec<ResourceClaim>)>,
    started: BTreeSet<Uuid>,
    max_epoch_seen: i64,
    failure: Option<(&'static str, String)>,
    processed: u64,
    trace: bool,
    mutation: ClusterMutation,
}

fn conflict(a: &[ResourceClaim], b: &[ResourceClaim]) -> bool {
    a.iter().any(|x| {
        b.iter()
            .any(|y| x.resource == y.resource && (x.exclusive || y.exclusive))
    })
}

impl World {
    fn at(&mut self, t: Ms, e: Ev) {
        self.seq += 1;
        self.events.push(Some(e));
        self.queue
            .push(Reverse((t, self.seq, self.events.len() - 1)));
    }

    fn fail(&mut self, invariant: &'static str, detail: String) {
        if self.failure.is_none() {
            self.failure = Some((invariant, detail));
        }
    }

    fn local(&self, n: NodeId) -> Ms {
        self.now + self.nodes[n].offset
    }

    fn db_ok(&self, n: NodeId) -> bool {
        self.nodes[n].outage_until <= self.now
    }

    fn live(&self, inc: &str) -> bool {
        self.beats
            .get(inc)
            .is_some_and(|b| *b + self.p.ttl >= self.now)
    }

    fn linked(&self, a: NodeId, b: NodeId) -> bool {
        a == b || !self.cut.contains(&(a.min(b), a.max(b)))
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: Net) {
        if from != to && !self.nodes[from].sessions.contains(&to) {
            return; // not connected: the proxy does not exist
        }
        let d = if from == to {
            0
        } else {
            self.rng.range(1, self.p.max_delay)
        };
        let life = (self.nodes[from].life, self.nodes[to].life);
        self.at(
            self.now + d,
            Ev::Deliver {
                from,
                to,
                life,
                msg,
            },
        );
    }

    /// Nodes whose lock service `n` can see (through its sessions, or itself).
    fn lock_services(&self, n: NodeId) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|&m| {
                (m == n || self.nodes[n].sessions.contains(&m)) && self.nodes[m].ls.is_some()
            })
            .collect()
    }

    fn tell_lock_services(&mut self, n: NodeId, msg: Net) {
        for m in self.lock_services(n) {
            self.send(n, m, msg.clone());
        }
    }

    fn write(&mut self, n: NodeId, op: WriteOp) -> u64 {
        if !self.db_ok(n) {
            return 0;
        }
        if let WriteOp::StartTask { task, epoch, .. } = &op {
            let accepted = self.db.apply(&op);
            if accepted == 1 {
                if *epoch != self.db.epoch() {
                    self.fail(
                        "stale epoch accepted",
                        format!("{task} started under {epoch}"),
                    );
                }
                if !self.started.insert(*task) {
                    self.fail("double start", format!("{task} started twice"));
                }
                let mine = self
                    .plan
                    .iter()
                    .find(|(t, _)| t == task)
                    .map(|(_, c)| c.clone());
                let running: Vec<Uuid> = self
                    .db
                    .tasks()
                    .filter(|t| {
                        t.row.id != *task
                            && matches!(t.row.state, TaskState::Running | TaskState::Canceling)
                    })
                    .filter(|t| mine.as_ref().is_some_and(|c| conflict(c, &t.row.resources)))
                    .map(|t| t.row.id)
                    .collect();
                if let Some(other) = running.first() {
                    self.fail(
                        "conflicting overlap",
                        format!("{task} started while {other} runs"),
                    );
                }
            }
            return accepted;
        }
        self.db.apply(&op)
    }

    // ---- node lifecycle ----

    fn new_node(&mut self, n: NodeId) {
        let life = self.nodes.get(n).map_or(0, |x| x.life + 1);
        let inc = format!("n{n}.{life}");
        let mut seats = BTreeMap::new();
        for w in 1..=self.p.workers {
            seats.insert(
                w,
                Seat {
                    slot: WorkerSlot::default(),
                    busy: None,
                },
            );
        }
        let node = Node {
            alive: true,
            life,
            inc: inc.clone(),
            paused_until: 0,
            offset: self.nodes.get(n).map_or(0, |x| x.offset),
            outage_until: 0,
            last_beat: self.now,
            membership: Membership::new(&inc, self.p.ttl / 3),
            sessions: BTreeSet::new(),
            keeper: LeaseKeeper::new(self.p.ttl),
            ls: None,
            seats,
            greeted: BTreeSet::new(),
            max_epoch: 0,
        };
        if n < self.nodes.len() {
            self.nodes[n] = node;
        } else {
            self.nodes.push(node);
        }
        self.beats.insert(inc, self.now);
        self.at(self.now, Ev::Tick(n, life));
    }

    fn crash(&mut self, n: NodeId) {
        if !self.nodes[n].alive {
            return;
        }
        self.nodes[n].alive = false;
        self.nodes[n].ls = None;
        let peers: Vec<NodeId> = self.nodes[n].sessions.iter().copied().collect();
        self.nodes[n].sessions.clear();
        for m in peers {
            self.session_down(m, n);
        }
    }

    /// Feeds node `n`'s membership machine (with a random jitter when `jitter`) and performs
    /// its dials.
    fn member(&mut self, n: NodeId, input: MemberIn, jitter: bool) {
        let now = self.local(n);
        let j = if jitter {
            self.rng.below(self.p.ttl / 12 + 1)
        } else {
            0
        };
        let mut out = Vec::new();
        self.nodes[n].membership.handle(now, input, j, &mut out);
        self.dials(n, out);
    }

    fn session_down(&mut self, n: NodeId, peer: NodeId) {
        if self.nodes[n].sessions.remove(&peer) {
            let inc = self.nodes[peer].inc.clone();
            self.member(n, MemberIn::Down(inc), true);
            self.nodes[n].greeted.retain(|(m, _)| *m != peer);
        }
    }

    fn dials(&mut self, n: NodeId, out: Vec<MemberOut>) {
        for MemberOut::Dial { incarnation, .. } in out {
            let target = (0..self.nodes.len()).find(|&m| self.nodes[m].inc == incarnation);
            let d = self.rng.range(1, self.p.max_delay + 1);
            match target {
                Some(m) if self.nodes[m].alive && self.linked(n, m) => {
                    let life = (self.nodes[n].life, self.nodes[m].life);
                    self.at(self.now + d, Ev::Session { a: n, b: m, life });
                }
                _ => {
                    let life = self.nodes[n].life;
                    self.at(
                        self.now + d,
                        Ev::DialFailed {
                            node: n,
                            life,
                            peer: incarnation,
                        },
                    );
                }
            }
        }
    }

    fn tick(&mut self, n: NodeId) {
        let period = self.p.ttl / 3;
        let life = self.nodes[n].life;
        self.at(self.now + period, Ev::Tick(n, life));
        // Heartbeat (on the database clock) and the registry read.
        if self.db_ok(n) {
            let inc = self.nodes[n].inc.clone();
            self.beats.insert(inc.clone(), self.now);
            self.nodes[n].last_beat = self.now;
            let rows: Vec<PeerRow> = self
                .nodes
                .iter()
                .filter(|x| x.inc != inc && self.live(&x.inc))
                .map(|x| PeerRow {
                    incarnation: x.inc.clone(),
                    addr: x.inc.clone(),
                })
                .collect();
            self.member(n, MemberIn::Live(rows), true);
        }
        self.lease(n, LeaseIn::Tick);
        if self.nodes[n].ls.is_some() {
            self.sweep(n);
            self.scan(n);
        }
        self.greet(n);
    }

    fn fresh(&self, n: NodeId) -> bool {
        // Liveness: the last heartbeat that reached the database is younger than 2/3 ttl.
        self.now.saturating_sub(self.nodes[n].last_beat) < self.p.ttl - self.p.ttl / 3
    }

    // ---- lease ----

    fn lease(&mut self, n: NodeId, input: LeaseIn) {
        let mut inputs = vec![input];
        while let Some(i) = inputs.pop() {
            let now = self.local(n);
            let mut out = Vec::new();
            self.nodes[n].keeper.handle(now, i, &mut out);
            for o in out {
                let inc = self.nodes[n].inc.clone();
                match o {
                    LeaseOut::TryAcquire => {
                        let got = if self.db_ok(n) {
                            let holder_live = self.db.lease_holder().is_none_or(|h| self.live(h));
                            self.db
                                .acquire_lease(&inc, self.now, self.p.ttl, holder_live)
                        } else {
                            None
                        };
                        if let Some(e) = got {
                            if e <= self.max_epoch_seen {
                                self.fail(
                                    "epoch went down",
                                    format!("{e} after {}", self.max_epoch_seen),
                                );
                            }
                            self.max_epoch_seen = e;
                        }
                        inputs.push(LeaseIn::Acquired(got));
                    }
                    LeaseOut::Renew(epoch) => {
                        let r = self
                            .db_ok(n)
                            .then(|| self.db.renew_lease(&inc, epoch, self.now));
                        inputs.push(LeaseIn::Renewed(r));
                    }
                    LeaseOut::StartLockService(epoch) => self.start_ls(n, epoch),
                    LeaseOut::StopLockService(_) => self.nodes[n].ls = None,
                    LeaseOut::Release(epoch) => {
                        if self.db_ok(n) {
                            self.db.release_lease(&inc, epoch);
                        }
                    }
                }
            }
        }
    }

    fn start_ls(&mut self, n: NodeId, epoch: i64) {
        if !self.db_ok(n) {
            self.lease(n, LeaseIn::LockServiceDown);
            return;
        }
        let mut live: BTreeSet<String> = self
            .nodes
            .iter()
            .filter(|x| self.live(&x.inc))
            .map(|x| x.inc.clone())
            .collect();
        live.insert(self.nodes[n].inc.clone());
        let rows = self.db.load_incomplete(false);
        let mut ls = Ls {
            epoch,
            seq: Sequencer::new(self.db.max_queue_seq()),
            grants: GrantTracker::default(),
            queues: BTreeMap::new(),
            claims: BTreeMap::new(),
            dispatcher: Dispatcher::default(),
            seats: BTreeMap::new(),
            seat_of: BTreeMap::new(),
            ready: BTreeMap::new(),
        };
        let mut admits = Vec::new();
        for step in plan(&rows, &live) {
            match step {
                RecoveryStep::Abandon { task, incarnation } => {
                    self.write(
                        n,
                        WriteOp::FailAbandoned {
                            task,
                            incarnation,
                            reason: WORKER_MISSING.into(),
                            at: 0,
                        },
                    );
                }
                RecoveryStep::Hold(t) | RecoveryStep::Requeue(t) => {
                    if let Some(r) = rows.iter().find(|r| r.id == t) {
                        admits.push((r.clone(), r.state != TaskState::Waiting));
                    }
                }
            }
        }
        let mut out = Vec::new();
        let mut positions = Vec::new();
        for (i, (row, running)) in admits.into_iter().enumerate() {
            let holders_first = self.mutation != ClusterMutation::HoldersByPosition;
            let seq = if running && holders_first {
                Some(HOLDER_SEQ + i as i64)
            } else {
                row.queue_seq
            };
            positions.extend(admit(
                &mut ls,
                row.id,
                row.resources.clone(),
                seq,
                running,
                &mut out,
            ));
        }
        self.persist_seq(n, positions);
        if self.trace {
            eprintln!(
                "       node {n} lock service epoch {epoch} rebuilt: {:?}",
                rows.iter()
                    .map(|r| (r.id.as_u64_pair().1, r.state, r.queue_seq))
                    .collect::<Vec<_>>()
            );
        }
        self.nodes[n].ls = Some(ls);
        self.ls_outputs(n, out);
    }

    // ---- lock service ----

    fn ls_outputs(&mut self, n: NodeId, out: Vec<GrantOut>) {
        for o in out {
            if let GrantOut::Ready(t) = o {
                let Some(ls) = self.nodes[n].ls.as_mut() else {
                    return;
                };
                ls.ready.insert(t, ls.epoch);
                self.dispatch_step(n, DispatchIn::Ready(t));
            }
        }
    }

    fn persist_seq(&mut self, n: NodeId, writes: Vec<(Uuid, i64)>) {
        for (task, seq) in writes {
            if self.trace {
                eprintln!(
                    "       node {n} queues {task} at {seq} (db ok: {})",
                    self.db_ok(n)
                );
            }
            let epoch = self.nodes[n].ls.as_ref().map_or(0, |l| l.epoch);
            self.write(n, WriteOp::AssignQueue { task, seq, epoch });
        }
    }

    fn wake(&mut self, n: NodeId, task: Uuid) {
        let Some(row) = self.db.task(&task).map(|t| t.row.clone()) else {
            return;
        };
        if row.state != TaskState::Waiting {
            return;
        }
        let Some(ls) = self.nodes[n].ls.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        if let Some(w) = admit(ls, task, row.resources, None, false, &mut out) {
            self.persist_seq(n, vec![w]);
        }
        self.ls_outputs(n, out);
    }

    fn scan(&mut self, n: NodeId) {
        if !self.db_ok(n) {
            return;
        }
        for row in self.db.load_incomplete(true) {
            self.wake(n, row.id);
        }
    }

    fn release(&mut self, n: NodeId, task: Uuid) {
        let Some(ls) = self.nodes[n].ls.as_mut() else {
            return;
        };
        ls.seq.forget(task);
        let mut out = Vec::new();
        ls.grants.handle(GrantIn::Forget { task }, &mut out);
        let Some(claims) = ls.claims.remove(&task) else {
            return;
        };
        for c in claims {
            if let Some(q) = ls.queues.get_mut(&c.resource) {
                for g in q.release(task) {
                    ls.grants.handle(GrantIn::Granted { task: g }, &mut out);
                }
            }
        }
        self.ls_outputs(n, out);
    }

    fn sweep(&mut self, n: NodeId) {
        if !self.db_ok(n) {
            return;
        }
        let own = self.nodes[n].inc.clone();
        let lost: Vec<(Uuid, String)> = self
            .db
            .tasks()
            .filter(|t| matches!(t.row.state, TaskState::Running | TaskState::Canceling))
            .filter_map(|t| t.row.owner.as_ref().map(|(_, i)| (t.row.id, i.clone())))
            .filter(|(_, i)| *i != own && !self.live(i))
            .collect();
        for (task, incarnation) in lost {
            if self.write(
                n,
                WriteOp::FailAbandoned {
                    task,
                    incarnation,
                    reason: WORKER_MISSING.into(),
                    at: 0,
                },
            ) == 1
            {
                self.release(n, task);
            }
        }
        // Prune seats of lost nodes.
        let gone: Vec<WorkerId> = match &self.nodes[n].ls {
            Some(ls) => ls
                .seat_of
                .iter()
                .filter(|(_, (i, _))| *i != own && !self.live(i))
                .map(|(w, _)| *w)
                .collect(),
            None => return,
        };
        for w in gone {
            self.dispatch_step(n, DispatchIn::WorkerLost(w));
        }
        // Reconcile: tracked tasks that are final in the table.
        let done: Vec<Uuid> = match &self.nodes[n].ls {
            Some(ls) => ls
                .claims
                .keys()
                .filter(|t| self.db.task(t).is_some_and(|x| x.row.state.is_final()))
                .copied()
                .collect(),
            None => return,
        };
        for t in done {
            self.release(n, t);
            self.dispatch_step(n, DispatchIn::Cancel(t));
        }
        // Tasks holding all their locks but still waiting go to the dispatcher again.
        let stuck: Vec<Uuid> = match &self.nodes[n].ls {
            Some(ls) => ls
                .claims
                .keys()
                .filter(|t| ls.grants.holds_all(**t))
                .filter(|t| {
                    self.db
                        .task(t)
                        .is_some_and(|x| x.row.state == TaskState::Waiting)
                })
                .copied()
                .collect(),
            None => return,
        };
        let out = stuck.into_iter().map(GrantOut::Ready).collect();
        self.ls_outputs(n, out);
    }

    fn seat(ls: &mut Ls, inc: &str, w: u32) -> WorkerId {
        let key = (inc.to_owned(), w);
        if let Some(id) = ls.seats.get(&key) {
            return *id;
        }
        let id = ls.seat_of.len() as WorkerId + 1;
        ls.seats.insert(key.clone(), id);
        ls.seat_of.insert(id, key);
        id
    }

    fn dispatch_step(&mut self, n: NodeId, input: DispatchIn) {
        let mut inputs = vec![input];
        while let Some(i) = inputs.pop() {
            let Some(ls) = self.nodes[n].ls.as_mut() else {
                return;
            };
            let mut out = Vec::new();
            ls.dispatcher.handle(i, &mut out);
            for o in out {
                let Some(ls) = self.nodes[n].ls.as_mut() else {
                    return;
                };
                match o {
                    DispatchOut::Assign { task, worker } => {
                        let (inc, w) = ls.seat_of[&worker].clone();
                        let epoch = ls.ready.get(&task).copied().unwrap_or(ls.epoch);
                        let target = (0..self.nodes.len())
                            .find(|&m| self.nodes[m].inc == inc && self.nodes[m].alive);
                        match target {
                            Some(m) if m == n || self.nodes[n].sessions.contains(&m) => {
                                self.send(
                                    n,
                                    m,
                                    Net::Run {
                                        worker: w,
                                        task,
                                        epoch,
                                    },
                                );
                            }
                            _ => inputs.push(DispatchIn::WorkerLost(worker)),
                        }
                    }
                    DispatchOut::CancelOn { .. } => {}
                    DispatchOut::Dropped(t) => {
                        ls.ready.remove(&t);
                    }
                    DispatchOut::Orphaned { task, .. } => {
                        if ls.ready.contains_key(&task) {
                            inputs.push(DispatchIn::Ready(task));
                        }
                    }
                }
            }
        }
    }

    // ---- worker host ----

    fn greet(&mut self, n: NodeId) {
        if !self.fresh(n) {
            self.nodes[n].greeted.clear();
            return;
        }
        for m in self.lock_services(n) {
            let epoch = self.nodes[m].ls.as_ref().map_or(0, |l| l.epoch);
            if self.nodes[n].greeted.insert((m, epoch)) {
                let idle: Vec<u32> = self.nodes[n]
                    .seats
                    .iter()
                    .filter(|(_, s)| s.busy.is_none())
                    .map(|(w, _)| *w)
                    .collect();
                self.send(n, m, Net::Hello(idle));
            }
        }
    }

    fn slot(&mut self, n: NodeId, w: u32, input: SlotIn) {
        let mut inputs = vec![input];
        while let Some(i) = inputs.pop() {
            let mut out = Vec::new();
            let Some(seat) = self.nodes[n].seats.get_mut(&w) else {
                return;
            };
            seat.slot.handle(i, &mut out);
            for o in out {
                let inc = self.nodes[n].inc.clone();
                match o {
                    SlotOut::WriteStart { task, epoch } => {
                        let ok = self.write(
                            n,
                            WriteOp::StartTask {
                                task,
                                owner: format!("{inc}/{w}"),
                                incarnation: inc,
                                epoch,
                                at: 0,
                            },
                        ) == 1;
                        inputs.push(SlotIn::StartWritten(ok));
                    }
                    SlotOut::SpawnBody(task) => {
                        let d = self.rng.range(10, 400);
                        let life = self.nodes[n].life;
                        self.at(
                            self.now + d,
                            Ev::BodyDone {
                                node: n,
                                life,
                                worker: w,
                                task,
                            },
                        );
                    }
                    SlotOut::AbortBody(_) => {}
                    SlotOut::WriteFinish { task, state } => {
                        let st = match state {
                            Final::Completed => TaskState::Completed,
                            Final::Canceled => TaskState::Canceled,
                            _ => TaskState::Failed,
                        };
                        let op = WriteOp::FinishTask {
                            task,
                            owner: format!("{inc}/{w}"),
                            incarnation: inc,
                            state: st,
                            error: None,
                            result: None,
                            created: Vec::new(),
                            had_progress: false,
                            at: 0,
                        };
                        // The worker retries until the final state is written, and only then
                        // releases the locks.
                        let life = self.nodes[n].life;
                        self.at(
                            self.now,
                            Ev::Finish {
                                node: n,
                                life,
                                op: Box::new(op),
                            },
                        );
                    }
                    SlotOut::Idle => {
                        let done = self.nodes[n]
                            .seats
                            .get_mut(&w)
                            .and_then(|s| s.busy.take())
                            .map(|b| b.0);
                        self.tell_lock_services(n, Net::Idle { worker: w, done });
                    }
                    SlotOut::Exit => {}
                }
            }
        }
    }

    // ---- events ----

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: Net) {
        match msg {
            Net::Wake(t) => self.wake(to, t),
            Net::Run {
                worker,
                task,
                epoch,
            } => {
                let fresh = self.fresh(to);
                let stale = epoch < self.nodes[to].max_epoch;
                let free = self.nodes[to]
                    .seats
                    .get(&worker)
                    .is_some_and(|s| s.busy.is_none());
                if fresh && !stale && free {
                    self.nodes[to].max_epoch = epoch;
                    if let Some(s) = self.nodes[to].seats.get_mut(&worker) {
                        s.busy = Some((task, epoch));
                    }
                    self.slot(to, worker, SlotIn::Assign { task, epoch });
                } else {
                    self.tell_lock_services(
                        to,
                        Net::Rejected {
                            worker,
                            task,
                            epoch,
                        },
                    );
                }
            }
            Net::Idle { worker, done } => {
                let inc = self.nodes[from].inc.clone();
                let Some(ls) = self.nodes[to].ls.as_mut() else {
                    return;
                };
                let w = Self::seat(ls, &inc, worker);
                match (ls.dispatcher.task_of(w), done) {
                    (Some(t), Some(d)) if t != d => return,
                    (Some(t), _) => {
                        ls.ready.remove(&t);
                    }
                    _ => {}
                }
                self.dispatch_step(to, DispatchIn::Idle(w));
            }
            Net::Rejected {
                worker,
                task,
                epoch,
            } => {
                let inc = self.nodes[from].inc.clone();
                let Some(ls) = self.nodes[to].ls.as_mut() else {
                    return;
                };
                let w = Self::seat(ls, &inc, worker);
                if ls.dispatcher.task_of(w) == Some(task) {
                    self.dispatch_step(to, DispatchIn::WorkerLost(w));
                } else if epoch == ls.epoch && ls.claims.contains_key(&task) {
                    ls.ready.insert(task, epoch);
                    self.dispatch_step(to, DispatchIn::Ready(task));
                }
            }
            Net::Hello(idle) => {
                let inc = self.nodes[from].inc.clone();
                for worker in idle {
                    let Some(ls) = self.nodes[to].ls.as_mut() else {
                        return;
                    };
                    let w = Self::seat(ls, &inc, worker);
                    if ls.dispatcher.task_of(w).is_some() {
                        self.dispatch_step(to, DispatchIn::WorkerLost(w));
                    }
                    self.dispatch_step(to, DispatchIn::Idle(w));
                }
            }
            Net::Release(t) => self.release(to, t),
        }
    }

    fn apply(&mut self, ev: Ev) {
        // A paused process does nothing until it resumes.
        let node_of = match &ev {
            Ev::Tick(n, _) => Some(*n),
            Ev::Deliver { to, .. } => Some(*to),
            Ev::BodyDone { node, .. } | Ev::Finish { node, .. } => Some(*node),
            Ev::DialFailed { node, .. } => Some(*node),
            _ => None,
        };
        if let Some(n) = node_of
            && self.nodes[n].paused_until > self.now
        {
            let t = self.nodes[n].paused_until;
            self.at(t, ev);
            return;
        }
        match ev {
            Ev::Tick(n, life) if self.nodes[n].alive && self.nodes[n].life == life => self.tick(n),
            Ev::Tick(..) => {}
            Ev::Deliver {
                from,
                to,
                life,
                msg,
            } => {
                let ok = self.nodes[from].life == life.0
                    && self.nodes[to].life == life.1
                    && self.nodes[to].alive
                    && (from == to || self.nodes[to].sessions.contains(&from));
                if ok {
                    self.deliver(from, to, msg);
                }
            }
            Ev::Session { a, b, life } => {
                let ok = self.nodes[a].alive
                    && self.nodes[b].alive
                    && self.nodes[a].life == life.0
                    && self.nodes[b].life == life.1
                    && self.linked(a, b);
                if ok {
                    for (x, y) in [(a, b), (b, a)] {
                        if self.nodes[x].sessions.insert(y) {
                            let inc = self.nodes[y].inc.clone();
                            self.member(x, MemberIn::Up(inc), false);
                        }
                    }
                    self.greet(a);
                    self.greet(b);
                } else if self.nodes[a].alive && self.nodes[a].life == life.0 {
                    let peer = self.nodes[b].inc.clone();
                    self.member(a, MemberIn::Down(peer), false);
                }
            }
            Ev::DialFailed { node, life, peer } => {
                if self.nodes[node].alive && self.nodes[node].life == life {
                    self.member(node, MemberIn::Down(peer), true);
                }
            }
            Ev::BodyDone {
                node,
                life,
                worker,
                task,
            } => {
                if self.nodes[node].alive && self.nodes[node].life == life {
                    let cur = self.nodes[node]
                        .seats
                        .get(&worker)
                        .and_then(|s| s.slot.current());
                    if cur == Some(task) {
                        self.slot(node, worker, SlotIn::BodyDone(Outcome::Completed));
                    }
                }
            }
            Ev::Finish { node, life, op } => {
                if self.nodes[node].alive && self.nodes[node].life == life {
                    if self.db_ok(node) {
                        if let WriteOp::FinishTask { task, .. } = op.as_ref() {
                            let task = *task;
                            self.write(node, *op);
                            self.tell_lock_services(node, Net::Release(task));
                        }
                    } else {
                        self.at(self.now + 500, Ev::Finish { node, life, op });
                    }
                }
            }
            Ev::Dispatch(i) => {
                let (id, claims) = self.plan[i].clone();
                self.db.apply(&WriteOp::InsertTask(NewTask {
                    id,
                    name: "sim".into(),
                    args: serde_json::Value::Null,
                    resources: claims,
                    logging_cid: String::new(),
                    created_by: None,
                    immediate: false,
                    deferred: true,
                    created: self.now as i64,
                }));
                // The API node wakes whichever lock service it can see (a random node's view).
                let via = self.rng.below(self.nodes.len() as u64) as usize;
                if self.nodes[via].alive {
                    self.tell_lock_services(via, Net::Wake(id));
                }
            }
            Ev::Crash(n) => self.crash(n),
            Ev::Restart(n) => {
                if !self.nodes[n].alive {
                    self.new_node(n);
                }
            }
            Ev::Partition(a, b) => {
                self.cut.insert((a.min(b), a.max(b)));
                self.session_down(a, b);
                self.session_down(b, a);
            }
            Ev::Heal(a, b) => {
                self.cut.remove(&(a.min(b), a.max(b)));
            }
            Ev::Pause(n, d) => self.nodes[n].paused_until = self.now + d,
            Ev::Jump(n, d) => self.nodes[n].offset += d,
            Ev::Outage(n, d) => self.nodes[n].outage_until = self.now + d,
        }
    }

    fn final_check(&mut self) -> Result<(), (&'static str, String)> {
        for (t, _) in &self.plan {
            match self.db.task(t).map(|x| x.row.state) {
                Some(s) if s.is_final() => {}
                other => return Err(("every task final after heal", format!("{t} is {other:?}"))),
            }
        }
        let live: Vec<NodeId> = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].alive)
            .collect();
        for &n in &live {
            let want = live.len() - 1;
            if self.nodes[n].sessions.len() != want {
                return Err((
                    "every live node joined every other after heal",
                    format!(
                        "node {n} has {} of {want} sessions",
                        self.nodes[n].sessions.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Queues a task in the lock service; returns the queue position to persist, if new.
fn admit(
    ls: &mut Ls,
    task: Uuid,
    claims: Vec<ResourceClaim>,
    durable: Option<i64>,
    running: bool,
    out: &mut Vec<GrantOut>,
) -> Option<(Uuid, i64)> {
    let s = ls.seq.observe(task, durable)?;
    ls.grants.handle(
        GrantIn::Track {
            task,
            claims: claims.len(),
            immediate: false,
            running,
        },
        out,
    );
    for c in &claims {
        let q = ls.queues.entry(c.resource.clone()).or_default();
        let granted = q.enqueue(task, s.seq, c.exclusive);
        ls.grants.handle(
            GrantIn::Enqueued {
                task,
                granted: granted.contains(&task),
            },
            out,
        );
        for g in granted.into_iter().filter(|g| *g != task) {
            ls.grants.handle(GrantIn::Granted { task: g }, out);
        }
    }
    ls.claims.insert(task, claims);
    s.persist.then_some((task, s.seq))
}

/// Runs one seed of the cluster simulation.
pub fn run_cluster_seed(seed: u64) -> Result<ClusterSummary, Box<ClusterFailure>> {
    run_cluster_mutant(seed, ClusterMutation::None)
}

/// Runs one seed against a (possibly broken) cluster.
pub fn run_cluster_mutant(
    seed: u64,
    mutation: ClusterMutation,
) -> Result<ClusterSummary, Box<ClusterFailure>> {
    let mut rng = Rng::new(seed ^ 0x5eed_c105_7e00);
    let p = ClusterParams::from_rng(&mut rng);
    let mut w = World {
        p: p.clone(),
        rng,
        now: 0,
        seq: 0,
        queue: BinaryHeap::new(),
        events: Vec::new(),
        nodes: Vec::new(),
        db: SimDb::default(),
        beats: BTreeMap::new(),
        cut: BTreeSet::new(),
        plan: Vec::new(),
        started: BTreeSet::new(),
        max_epoch_seen: 0,
        failure: None,
        processed: 0,
        trace: std::env::var_os("PITH_SIM_TRACE").is_some(),
        mutation,
    };
    w.db.unfenced = mutation == ClusterMutation::NoFence;
    for n in 0..p.nodes {
        w.new_node(n);
    }
    for i in 0..p.tasks {
        let id = Uuid::from_u64_pair(seed, i as u64 + 1);
        let k = w.rng.range(1, 2) as usize;
        let claims = random_claims(&mut w.rng, k, p.resources);
        w.plan.push((id, claims));
        let t = w.rng.range(100, p.fault_until);
        w.at(t, Ev::Dispatch(i));
    }
    let pick = |r: &mut Rng| r.below(p.nodes as u64) as usize;
    for _ in 0..p.crashes {
        let (n, t) = (pick(&mut w.rng), w.rng.range(500, p.fault_until));
        w.at(t, Ev::Crash(n));
        let back = t + w.rng.range(100, 3 * p.ttl);
        w.at(back, Ev::Restart(n));
    }
    for _ in 0..p.partitions {
        let (a, b) = (pick(&mut w.rng), pick(&mut w.rng));
        if a != b {
            let t = w.rng.range(500, p.fault_until);
            w.at(t, Ev::Partition(a, b));
            let back = t + w.rng.range(100, 3 * p.ttl);
            w.at(back, Ev::Heal(a, b));
        }
    }
    type Fault = fn(NodeId, Ms) -> Ev;
    let timed: [(u32, Fault); 3] = [
        (p.pauses, Ev::Pause),
        (p.jumps, Ev::Jump),
        (p.outages, Ev::Outage),
    ];
    for (count, fault) in timed {
        for _ in 0..count {
            let (n, t) = (pick(&mut w.rng), w.rng.range(500, p.fault_until));
            let d = w.rng.range(100, 3 * p.ttl);
            w.at(t, fault(n, d));
        }
    }
    // Faults end by fault_until + 3 ttl; then the cluster gets 6 ttl to settle.
    let end = p.fault_until + 9 * p.ttl;
    while let Some(Reverse((t, _, i))) = w.queue.pop() {
        if t > end {
            break;
        }
        w.now = t;
        w.processed += 1;
        if let Some(ev) = w.events[i].take() {
            if w.trace {
                eprintln!("{t:>6} {ev:?}");
            }
            w.apply(ev);
        }
        if let Some((inv, detail)) = w.failure.take() {
            return Err(Box::new(ClusterFailure {
                seed,
                at: w.now,
                invariant: inv,
                detail,
                params: p,
            }));
        }
    }
    if w.trace {
        for (n, node) in w.nodes.iter().enumerate() {
            eprintln!(
                "node {n} {} alive={} sessions={:?} lease={:?} ls={:?}",
                node.inc,
                node.alive,
                node.sessions,
                node.keeper.epoch(),
                node.ls.as_ref().map(|l| (
                    l.epoch,
                    l.claims.keys().collect::<Vec<_>>(),
                    l.ready.keys().collect::<Vec<_>>(),
                    l.dispatcher.queued()
                ))
            );
        }
    }
    if let Err((inv, detail)) = w.final_check() {
        return Err(Box::new(ClusterFailure {
            seed,
            at: w.now,
            invariant: inv,
            detail,
            params: p,
        }));
    }
    let count = |s: TaskState| {
        w.plan
            .iter()
            .filter(|(t, _)| w.db.task(t).map(|x| x.row.state) == Some(s))
            .count()
    };
    Ok(ClusterSummary {
        completed: count(TaskState::Completed),
        failed: count(TaskState::Failed),
        epoch: w.db.epoch(),
        events: w.processed,
    })
}
