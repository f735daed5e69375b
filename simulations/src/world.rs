//! The simulated world: one seeded event loop that owns time, randomness, the network, the
//! store and every fault, and drives the real tasking machines of `pith_actors::machine`
//! through glue that mirrors the actor shells in `pith_actors::tasking`.
//!
//! Topology is explicit ([`NodeId`], [`Endpoint`], [`SimNet`]) so cluster protocols can add
//! nodes, partitions and a leased lock service later; today the world has one node (the
//! `pith serve` process) with its lock service, resource locks, dispatcher, workers and
//! writer, and external API clients.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use pith_actors::machine::dispatcher::{DispatchIn, DispatchOut, Dispatcher, WorkerId};
use pith_actors::machine::grants::{GrantIn, GrantOut, GrantTracker};
use pith_actors::machine::recovery::{RecoveryStep, WORKER_MISSING, plan};
use pith_actors::machine::resource_queue::ResourceQueue;
use pith_actors::machine::sequencer::Sequencer;
use pith_actors::machine::worker_slot::{Final, Outcome, SlotIn, SlotOut, WorkerSlot};
use pith_entities::{NewTask, ResourceClaim, TaskState, WriteOp};
use uuid::Uuid;

use crate::db::SimDb;
use crate::rng::Rng;

/// `count` draws of a resource among `resources` (duplicates dropped), 60 % exclusive.
pub(crate) fn random_claims(rng: &mut Rng, count: usize, resources: usize) -> Vec<ResourceClaim> {
    let mut claims: Vec<ResourceClaim> = Vec::new();
    for _ in 0..count {
        let r = format!("r{}", rng.below(resources as u64));
        if !claims.iter().any(|c| c.resource == r) {
            claims.push(ResourceClaim {
                resource: r,
                exclusive: rng.chance(600),
            });
        }
    }
    claims
}

/// Simulated time in microseconds.
pub type Time = u64;
/// A node (process) of the simulated cluster.
pub type NodeId = u32;

/// A deliberately broken lock, to prove that the checker can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// The real resource queue.
    None,
    /// Grants an exclusive claim even while the resource is held.
    ExclusiveTwice,
    /// Grants shared claims at once, skipping earlier exclusive claims (breaks FIFO).
    SkipFifo,
}

/// Everything a seed decides (swarm testing: each seed picks its own mix of faults).
#[derive(Clone, Debug)]
pub struct Params {
    /// Tasks the clients dispatch.
    pub tasks: usize,
    /// Distinct resources they draw claims from.
    pub resources: usize,
    /// Workers in the node.
    pub workers: u32,
    /// Per-mille chance a wake-up message is lost.
    pub lose_wake: u64,
    /// Per-mille chance a body fails.
    pub fail: u64,
    /// Per-mille chance a body panics.
    pub panic: u64,
    /// Per-mille chance a task is canceled by a client.
    pub cancel: u64,
    /// Worker crashes during the fault phase.
    pub worker_crashes: u32,
    /// Process crashes during the fault phase.
    pub process_crashes: u32,
    /// Largest message delay.
    pub max_delay: Time,
    /// When faults (and dispatches) stop.
    pub fault_until: Time,
    /// How long after that every task must be final.
    pub settle: Time,
}

impl Params {
    /// Derives parameters from the seed's generator.
    pub fn from_rng(r: &mut Rng) -> Params {
        Params {
            tasks: r.range(5, 40) as usize,
            resources: r.range(1, 6) as usize,
            workers: r.range(1, 4) as u32,
            lose_wake: [0, 0, 100, 500][r.below(4) as usize],
            fail: r.range(0, 150),
            panic: r.range(0, 80),
            cancel: [0, 50, 200][r.below(3) as usize],
            worker_crashes: r.range(0, 3) as u32,
            process_crashes: r.range(0, 2) as u32,
            max_delay: r.range(1, 2_000),
            fault_until: 200_000,
            settle: 60_000_000,
        }
    }
}

/// Actors of a node (and the clients) that exchange messages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addr {
    /// The lock service.
    Lock,
    /// One resource lock actor (resource, generation: a new actor after the old one stopped).
    Resource(String, u32),
    /// The dispatcher.
    Dispatcher,
    /// A worker actor (id, actor generation: a replacement is a new actor, and messages to the
    /// old one die with it, as in ractor).
    Worker(WorkerId, u32),
    /// The worker pool (reports lost workers, registers replacements).
    Pool,
    /// The batching writer (replies come from it).
    Writer,
    /// An API client (several dispatch concurrently; each has its own FIFO links).
    Client(u32),
}

/// An actor somewhere in the cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    /// Its node.
    pub node: NodeId,
    /// Which actor.
    pub addr: Addr,
}

/// Messages, mirroring the actors' message types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Client → lock service: a committed task.
    Wake(Uuid),
    /// Lock service → resource lock.
    Enqueue {
        task: Uuid,
        seq: i64,
        exclusive: bool,
    },
    /// Lock service → resource lock.
    ResRelease(Uuid),
    /// Resource lock → lock service.
    Enqueued { task: Uuid, granted: bool },
    /// Resource lock → lock service.
    Granted(Uuid),
    /// Worker / dispatcher → lock service: final state committed.
    Release(Uuid),
    /// Client → lock service: a waiting task was canceled.
    Canceled(Uuid),
    /// Lock service → dispatcher.
    Ready(Uuid, i64),
    /// Worker actor → dispatcher.
    Idle(WorkerId, u32),
    /// Worker pool → dispatcher: a (new) worker actor for this id.
    Register(WorkerId, u32),
    /// Pool → dispatcher: that worker actor died.
    WorkerLost(WorkerId, u32),
    /// Client / lock service → dispatcher.
    DispCancel(Uuid),
    /// Dispatcher → worker.
    Run(Uuid, i64),
    /// Dispatcher → worker.
    WorkerCancel(Uuid),
    /// Writer → worker: the fenced start's outcome.
    StartWritten(Uuid, bool),
}

/// Who waits for a write's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reply {
    None,
    ClientInserted(Uuid),
    ClientCanceledWaiting(Uuid),
    ClientMarkedCanceling(Uuid),
    WorkerStarted(WorkerId, u32, Uuid),
    WorkerFinished(Uuid),
    DispatcherOrphan(Uuid, i64),
}

#[derive(Clone, Debug)]
enum Event {
    Deliver {
        from: Endpoint,
        to: Endpoint,
        inc: u32,
        msg: Msg,
    },
    BatchStart {
        node: NodeId,
        inc: u32,
    },
    Commit {
        node: NodeId,
        inc: u32,
    },
    BodyDone {
        node: NodeId,
        inc: u32,
        worker: WorkerId,
        generation: u64,
        outcome: Outcome,
    },
    ClientDispatch(usize),
    ClientCancel(usize),
    Scan {
        node: NodeId,
        inc: u32,
    },
    WorkerCrash {
        node: NodeId,
    },
    ProcessCrash {
        node: NodeId,
    },
    Restart {
        node: NodeId,
    },
}

/// The network: per-link FIFO (ractor keeps one sender's messages in order), random delays,
/// reordering across senders, optional loss of droppable messages.
#[derive(Debug, Default)]
pub struct SimNet {
    last: BTreeMap<(Endpoint, Endpoint), Time>,
}

impl SimNet {
    fn delivery_time(&mut self, from: &Endpoint, to: &Endpoint, now: Time, delay: Time) -> Time {
        let at = self
            .last
            .get(&(from.clone(), to.clone()))
            .copied()
            .unwrap_or(0)
            .max(now + delay);
        self.last.insert((from.clone(), to.clone()), at);
        at
    }
}

/// A resource queue, possibly mutated.
#[derive(Debug, Default)]
struct SimQueue {
    real: ResourceQueue,
    forced: BTreeSet<Uuid>,
}

impl SimQueue {
    fn enqueue(&mut self, m: Mutation, task: Uuid, seq: i64, exclusive: bool) -> Vec<Uuid> {
        let mut g = self.real.enqueue(task, seq, exclusive);
        let broken = match m {
            Mutation::None => false,
            Mutation::ExclusiveTwice => exclusive,
            Mutation::SkipFifo => !exclusive,
        };
        if broken && !g.contains(&task) {
            self.forced.insert(task);
            g.push(task);
        }
        g
    }
    fn release(&mut self, task: Uuid) -> Vec<Uuid> {
        self.forced.remove(&task);
        self.real
            .release(task)
            .into_iter()
            .filter(|t| !self.forced.contains(t))
            .collect()
    }
}

#[derive(Debug, Default)]
struct LockGlue {
    seq: Sequencer,
    grants: GrantTracker,
    epoch: i64,
    claims: BTreeMap<Uuid, Vec<ResourceClaim>>,
    resources: BTreeMap<String, (u32, usize)>,
    next_gen: u32,
    /// What the lock service has queued per resource, in queue order (for the rebuild check).
    queued: BTreeMap<String, Vec<(i64, Uuid, bool)>>,
}

#[derive(Debug, Default)]
struct WorkerGlue {
    slot: WorkerSlot,
    task: Option<Uuid>,
    generation: u64,
    actor: u32,
}

#[derive(Debug)]
struct Node {
    alive: bool,
    inc: u32,
    incarnation: String,
    lock: LockGlue,
    resources: BTreeMap<(String, u32), SimQueue>,
    disp: Dispatcher,
    epochs: BTreeMap<Uuid, i64>,
    refs: BTreeMap<WorkerId, u32>,
    workers: BTreeMap<WorkerId, WorkerGlue>,
    writer: VecDeque<(WriteOp, Reply)>,
    batch: Option<Vec<(WriteOp, Reply)>>,
}

/// Why a run failed.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// Event number at which an invariant broke.
    pub event: u64,
    /// Simulated time.
    pub now: Time,
    /// The invariant.
    pub invariant: &'static str,
    /// Details.
    pub detail: String,
    /// The last events before the failure.
    pub trace: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "FAIL seed={} event={} t={:.6}s invariant={}",
            self.seed,
            self.event,
            self.now as f64 / 1e6,
            self.invariant
        )?;
        writeln!(f, "     {}", self.detail)?;
        writeln!(f, "  last events:")?;
        for e in &self.trace {
            writeln!(f, "    {e}")?;
        }
        write!(
            f,
            "  replay: cargo run -p simulations -- --seed {} --trace",
            self.seed
        )
    }
}

/// What a successful run reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Events processed.
    pub events: u64,
    /// Hash of the whole trace (equal for equal seeds: the determinism check).
    pub trace_hash: u64,
    /// Tasks completed / failed / canceled.
    pub completed: usize,
    /// Failed tasks.
    pub failed: usize,
    /// Canceled tasks.
    pub canceled: usize,
}

/// One simulated run.
pub struct World {
    seed: u64,
    rng: Rng,
    /// The seed's parameters.
    pub params: Params,
    mutation: Mutation,
    now: Time,
    seq: u64,
    queue: BTreeMap<(Time, u64), Event>,
    net: SimNet,
    db: SimDb,
    nodes: BTreeMap<NodeId, Node>,
    specs: Vec<(Uuid, Vec<ResourceClaim>)>,
    /// Which client dispatches (and cancels) each task.
    client_of: BTreeMap<Uuid, u32>,
    events: u64,
    hash: u64,
    trace: VecDeque<String>,
    keep_trace: usize,
    print_trace: bool,
    // Invariant bookkeeping.
    executing: BTreeMap<Uuid, Vec<ResourceClaim>>,
    starts: BTreeMap<Uuid, u32>,
    canceled_waiting: BTreeSet<Uuid>,
    /// Dispatches whose insert has not been acknowledged (the client retries them when the
    /// process died before committing them, as an API client whose request failed would).
    unacked: BTreeMap<Uuid, usize>,
    failure: Option<Failure>,
}

const NODE: NodeId = 0;

fn conflict(a: &[ResourceClaim], b: &[ResourceClaim]) -> Option<String> {
    a.iter()
        .find(|x| {
            b.iter()
                .any(|y| x.resource == y.resource && (x.exclusive || y.exclusive))
        })
        .map(|x| x.resource.clone())
}

impl World {
    /// A world for `seed`.
    pub fn new(seed: u64, mutation: Mutation) -> World {
        let mut rng = Rng::new(seed);
        let params = Params::from_rng(&mut rng);
        let mut w = World {
            seed,
            params,
            mutation,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            net: SimNet::default(),
            db: SimDb::default(),
            nodes: BTreeMap::new(),
            specs: Vec::new(),
            client_of: BTreeMap::new(),
            events: 0,
            hash: 0xcbf2_9ce4_8422_2325,
            trace: VecDeque::new(),
            keep_trace: 200,
            print_trace: false,
            executing: BTreeMap::new(),
            starts: BTreeMap::new(),
            canceled_waiting: BTreeSet::new(),
            unacked: BTreeMap::new(),
            failure: None,
            rng,
        };
        w.setup();
        w
    }

    /// Prints every event as it happens (replays).
    pub fn print_trace(&mut self, on: bool) {
        self.print_trace = on;
    }

    fn at(&mut self, t: Time, e: Event) {
        self.seq += 1;
        self.queue.insert((t, self.seq), e);
    }

    fn setup(&mut self) {
        let p = self.params.clone();
        for i in 0..p.tasks {
            let id = Uuid::from_u64_pair(self.rng.next_u64(), self.rng.next_u64());
            let n = self.rng.range(0, 3.min(p.resources as u64)) as usize;
            let claims = random_claims(&mut self.rng, n, p.resources);
            self.specs.push((id, claims));
            self.client_of.insert(id, self.rng.below(4) as u32);
            let t = self.rng.below(p.fault_until);
            self.at(t, Event::ClientDispatch(i));
            if self.rng.chance(p.cancel) {
                let t = t + self.rng.below(p.fault_until);
                self.at(t, Event::ClientCancel(i));
            }
        }
        for _ in 0..p.worker_crashes {
            let t = self.rng.below(p.fault_until);
            self.at(t, Event::WorkerCrash { node: NODE });
        }
        for _ in 0..p.process_crashes {
            let t = self.rng.below(p.fault_until);
            self.at(t, Event::ProcessCrash { node: NODE });
        }
        let node = Node {
            alive: false,
            inc: 0,
            incarnation: String::new(),
            lock: LockGlue::default(),
            resources: BTreeMap::new(),
            disp: Dispatcher::default(),
            epochs: BTreeMap::new(),
            refs: BTreeMap::new(),
            workers: BTreeMap::new(),
            writer: VecDeque::new(),
            batch: None,
        };
        self.nodes.insert(NODE, node);
        self.restart(NODE);
    }

    fn ep(node: NodeId, addr: Addr) -> Endpoint {
        Endpoint { node, addr }
    }

    fn send(&mut self, from: Endpoint, to: Endpoint, msg: Msg) {
        let Some(n) = self.nodes.get(&to.node) else {
            return;
        };
        if matches!(msg, Msg::Wake(_))
            && self.now < self.params.fault_until
            && self.rng.chance(self.params.lose_wake)
        {
            self.note(format!("lost {msg:?}"));
            return;
        }
        let inc = n.inc;
        let delay = self.rng.range(1, self.params.max_delay);
        let t = self.net.delivery_time(&from, &to, self.now, delay);
        self.at(t, Event::Deliver { from, to, inc, msg });
    }

    fn write(&mut self, node: NodeId, op: WriteOp, reply: Reply) {
        let Some(n) = self.nodes.get_mut(&node) else {
            return;
        };
        n.writer.push_back((op, reply));
        if n.batch.is_none() {
            let inc = n.inc;
            let t = self.now + self.rng.range(1, 50);
            n.batch = Some(Vec::new());
            self.at(t, Event::BatchStart { node, inc });
        }
    }

    fn note(&mut self, line: String) {
        for b in line.bytes() {
            self.hash ^= b as u64;
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
        }
        if self.print_trace {
            println!("{:>10} {line}", self.now);
        }
        self.trace.push_back(format!("t={} {line}", self.now));
        if self.trace.len() > self.keep_trace {
            self.trace.pop_front();
        }
    }

    fn fail(&mut self, invariant: &'static str, detail: String) {
        if self.failure.is_none() {
            self.failure = Some(Failure {
                seed: self.seed,
                event: self.events,
                now: self.now,
                invariant,
                detail,
                trace: self.trace.iter().cloned().collect(),
            });
        }
    }

    /// Runs to the end; `Err` with the first broken invariant.
    pub fn run(mut self) -> Result<Summary, Box<Failure>> {
        let deadline = self.params.fault_until + self.params.settle;
        while let Some(((t, _), ev)) = self.queue.pop_first() {
            if t > deadline {
                break;
            }
            self.now = t;
            self.events += 1;
            self.note(format!("{ev:?}"));
            self.apply(ev);
            self.check();
            if let Some(f) = self.failure.take() {
                return Err(Box::new(f));
            }
            if self.events > 2_000_000 {
                return Err(Box::new(
                    self.failure_now("bounded", "event budget exhausted".into()),
                ));
            }
        }
        self.final_check()?;
        let count = |s: TaskState| self.db.tasks().filter(|t| t.row.state == s).count();
        Ok(Summary {
            events: self.events,
            trace_hash: self.hash,
            completed: count(TaskState::Completed),
            failed: count(TaskState::Failed),
            canceled: count(TaskState::Canceled),
        })
    }

    fn failure_now(&self, invariant: &'static str, detail: String) -> Failure {
        Failure {
            seed: self.seed,
            event: self.events,
            now: self.now,
            invariant,
            detail,
            trace: self.trace.iter().cloned().collect(),
        }
    }

    fn alive(&self, node: NodeId, inc: u32) -> bool {
        self.nodes
            .get(&node)
            .is_some_and(|n| n.alive && n.inc == inc)
    }

    fn apply(&mut self, ev: Event) {
        match ev {
            Event::Deliver { from, to, inc, msg } => {
                if self.alive(to.node, inc) {
                    self.deliver(from, to, msg);
                }
            }
            Event::BatchStart { node, inc } => {
                if !self.alive(node, inc) {
                    return;
                }
                let n = self.nodes.get_mut(&node).expect("node");
                n.batch = Some(n.writer.drain(..).collect());
                let t = self.now + self.rng.range(50, 1_500);
                self.at(t, Event::Commit { node, inc });
            }
            Event::Commit { node, inc } => {
                if !self.alive(node, inc) {
                    return;
                }
                let batch = self
                    .nodes
                    .get_mut(&node)
                    .and_then(|n| n.batch.take())
                    .unwrap_or_default();
                self.commit(node, batch);
                let n = self.nodes.get_mut(&node).expect("node");
                if !n.writer.is_empty() {
                    n.batch = Some(Vec::new());
                    self.at(self.now, Event::BatchStart { node, inc });
                }
            }
            Event::BodyDone {
                node,
                inc,
                worker,
                generation,
                outcome,
            } => {
                if !self.alive(node, inc) {
                    return;
                }
                let current = self.nodes[&node]
                    .workers
                    .get(&worker)
                    .map(|w| (w.generation, w.task));
                if let Some((g, Some(task))) = current
                    && g == generation
                {
                    self.executing.remove(&task);
                    self.worker_step(node, worker, SlotIn::BodyDone(outcome));
                }
            }
            Event::ClientDispatch(i) => {
                if !self.nodes[&NODE].alive {
                    self.at(self.now + 1_000, Event::ClientDispatch(i));
                    return;
                }
                let (id, claims) = self.specs[i].clone();
                let new = NewTask {
                    id,
                    name: "sim".into(),
                    args: pith_entities::sea_orm::JsonValue::Null,
                    resources: claims,
                    logging_cid: String::new(),
                    created_by: None,
                    immediate: false,
                    deferred: true,
                    created: self.now as i64,
                };
                self.unacked.insert(id, i);
                self.write(NODE, WriteOp::InsertTask(new), Reply::ClientInserted(id));
            }
            Event::ClientCancel(i) => {
                let id = self.specs[i].0;
                if !self.nodes[&NODE].alive {
                    return;
                }
                match self.db.task(&id).map(|t| t.row.state) {
                    Some(TaskState::Waiting) => self.write(
                        NODE,
                        WriteOp::CancelWaiting { task: id, at: 0 },
                        Reply::ClientCanceledWaiting(id),
                    ),
                    Some(TaskState::Running) => self.write(
                        NODE,
                        WriteOp::MarkCanceling { task: id, at: 0 },
                        Reply::ClientMarkedCanceling(id),
                    ),
                    _ => {}
                }
            }
            Event::Scan { node, inc } => {
                if !self.alive(node, inc) {
                    return;
                }
                for row in self.db.load_incomplete(true) {
                    if !self.nodes[&node].lock.seq.knows(row.id) {
                        self.admit(node, row.id, row.resources.clone(), row.queue_seq, false);
                    }
                }
                self.at(self.now + 2_000_000, Event::Scan { node, inc });
            }
            Event::WorkerCrash { node } => {
                let n = &self.nodes[&node];
                if !n.alive || n.workers.is_empty() {
                    return;
                }
                let w = self.rng.below(n.workers.len() as u64) as u32 + 1;
                let actor = n.workers.get(&w).map_or(1, |g| g.actor + 1);
                let fresh = WorkerGlue {
                    actor,
                    ..WorkerGlue::default()
                };
                let old = self
                    .nodes
                    .get_mut(&node)
                    .expect("node")
                    .workers
                    .insert(w, fresh);
                if let Some(WorkerGlue { task: Some(t), .. }) = old {
                    self.executing.remove(&t);
                }
                let pool = Self::ep(node, Addr::Pool);
                let d = Self::ep(node, Addr::Dispatcher);
                self.send(pool.clone(), d.clone(), Msg::WorkerLost(w, actor - 1));
                self.send(pool, d, Msg::Register(w, actor));
            }
            Event::ProcessCrash { node } => {
                let n = self.nodes.get_mut(&node).expect("node");
                if !n.alive {
                    return;
                }
                n.alive = false;
                // A batch being committed is either in or out as a whole; queued ops are lost.
                let batch = n.batch.take();
                n.writer.clear();
                if let Some(b) = batch
                    && self.rng.chance(500)
                {
                    for (op, _) in b {
                        self.db.apply(&op);
                    }
                }
                let running: Vec<Uuid> = n.workers.values().filter_map(|w| w.task).collect();
                for t in running {
                    self.executing.remove(&t);
                }
                let t = self.now + self.rng.range(1_000, 50_000);
                self.at(t, Event::Restart { node });
                // Requests that got no answer: the clients retry them after the restart.
                let lost: Vec<(Uuid, usize)> =
                    std::mem::take(&mut self.unacked).into_iter().collect();
                for (id, i) in lost {
                    if self.db.task(&id).is_none() {
                        self.at(t + 1, Event::ClientDispatch(i));
                    }
                }
            }
            Event::Restart { node } => self.restart(node),
        }
    }

    /// A fresh incarnation: take the lease, recover the table, rebuild the lock service.
    fn restart(&mut self, node: NodeId) {
        let epoch = self.db.take_lease();
        let workers = self.params.workers;
        {
            let n = self.nodes.get_mut(&node).expect("node");
            n.alive = true;
            n.inc += 1;
            n.incarnation = format!("inc{}", n.inc);
            n.lock = LockGlue {
                seq: Sequencer::new(0),
                epoch,
                ..LockGlue::default()
            };
            n.resources.clear();
            n.disp = Dispatcher::default();
            n.epochs.clear();
            n.refs.clear();
            n.workers = (1..=workers)
                .map(|w| {
                    (
                        w,
                        WorkerGlue {
                            actor: 1,
                            ..WorkerGlue::default()
                        },
                    )
                })
                .collect();
            n.writer.clear();
            n.batch = None;
        }
        let max = self.db.max_queue_seq();
        self.nodes.get_mut(&node).expect("node").lock.seq = Sequencer::new(max);
        // SQLite semantics: one process, so no other incarnation is alive.
        let rows = self.db.load_incomplete(false);
        for step in plan(&rows, &BTreeSet::new()) {
            match step {
                RecoveryStep::Abandon { task, incarnation } => {
                    self.db.apply(&WriteOp::FailAbandoned {
                        task,
                        incarnation,
                        reason: WORKER_MISSING.into(),
                        at: 0,
                    });
                }
                RecoveryStep::Hold(task) | RecoveryStep::Requeue(task) => {
                    if let Some(r) = rows.iter().find(|r| r.id == task) {
                        let running = r.state != TaskState::Waiting;
                        self.admit(node, task, r.resources.clone(), r.queue_seq, running);
                    }
                }
            }
        }
        self.check_rebuild(node);
        let inc = self.nodes[&node].inc;
        for w in 1..=workers {
            self.send(
                Self::ep(node, Addr::Pool),
                Self::ep(node, Addr::Dispatcher),
                Msg::Register(w, 1),
            );
        }
        self.at(self.now + 1, Event::Scan { node, inc });
    }

    /// The lock state rebuilt after a (re)start equals what the durable store implies.
    fn check_rebuild(&mut self, node: NodeId) {
        let mut expected: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
        for r in self.db.load_incomplete(false) {
            for c in &r.resources {
                expected.entry(c.resource.clone()).or_default().push(r.id);
            }
        }
        let actual: BTreeMap<String, Vec<Uuid>> = self.nodes[&node]
            .lock
            .queued
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(r, v)| (r.clone(), v.iter().map(|(_, t, _)| *t).collect()))
            .collect();
        if expected != actual {
            self.fail(
                "rebuild_matches_store",
                format!("store implies {expected:?}, lock service holds {actual:?}"),
            );
        }
    }

    fn admit(
        &mut self,
        node: NodeId,
        task: Uuid,
        claims: Vec<ResourceClaim>,
        durable: Option<i64>,
        running: bool,
    ) {
        let mut out = Vec::new();
        let (seq, persist, sends) = {
            let n = self.nodes.get_mut(&node).expect("node");
            let Some(s) = n.lock.seq.observe(task, durable) else {
                return;
            };
            n.lock.claims.insert(task, claims.clone());
            n.lock.grants.handle(
                GrantIn::Track {
                    task,
                    claims: claims.len(),
                    immediate: false,
                    running,
                },
                &mut out,
            );
            let mut sends = Vec::new();
            for c in &claims {
                let generation = match n.lock.resources.get_mut(&c.resource) {
                    Some((g, count)) => {
                        *count += 1;
                        *g
                    }
                    None => {
                        n.lock.next_gen += 1;
                        let g = n.lock.next_gen;
                        n.lock.resources.insert(c.resource.clone(), (g, 1));
                        g
                    }
                };
                let q = n.lock.queued.entry(c.resource.clone()).or_default();
                let at = q.partition_point(|(s2, _, _)| *s2 <= s.seq);
                q.insert(at, (s.seq, task, c.exclusive));
                sends.push((
                    Addr::Resource(c.resource.clone(), generation),
                    Msg::Enqueue {
                        task,
                        seq: s.seq,
                        exclusive: c.exclusive,
                    },
                ));
            }
            (s.seq, s.persist, sends)
        };
        if persist {
            let epoch = self.nodes[&node].lock.epoch;
            self.write(node, WriteOp::AssignQueue { task, seq, epoch }, Reply::None);
        }
        for (to, m) in sends {
            self.send(Self::ep(node, Addr::Lock), Self::ep(node, to), m);
        }
        self.grant_outputs(node, out);
    }

    fn grant_outputs(&mut self, node: NodeId, out: Vec<GrantOut>) {
        let epoch = self.nodes[&node].lock.epoch;
        for o in out {
            if let GrantOut::Ready(t) = o {
                self.send(
                    Self::ep(node, Addr::Lock),
                    Self::ep(node, Addr::Dispatcher),
                    Msg::Ready(t, epoch),
                );
            }
        }
    }

    fn release(&mut self, node: NodeId, task: Uuid) {
        let mut sends = Vec::new();
        {
            let n = self.nodes.get_mut(&node).expect("node");
            n.lock.seq.forget(task);
            let mut out = Vec::new();
            n.lock.grants.handle(GrantIn::Forget { task }, &mut out);
            let Some(claims) = n.lock.claims.remove(&task) else {
                return;
            };
            for c in claims {
                if let Some(q) = n.lock.queued.get_mut(&c.resource) {
                    q.retain(|(_, t, _)| *t != task);
                }
                if let Some((generation, count)) = n.lock.resources.get_mut(&c.resource) {
                    sends.push((
                        Addr::Resource(c.resource.clone(), *generation),
                        Msg::ResRelease(task),
                    ));
                    *count -= 1;
                    if *count == 0 {
                        n.lock.resources.remove(&c.resource);
                    }
                }
            }
        }
        for (to, m) in sends {
            self.send(Self::ep(node, Addr::Lock), Self::ep(node, to), m);
        }
    }

    fn deliver(&mut self, _from: Endpoint, to: Endpoint, msg: Msg) {
        let node = to.node;
        match (to.addr.clone(), msg) {
            (Addr::Lock, Msg::Wake(task)) => {
                let claims = self
                    .db
                    .task(&task)
                    .map(|t| t.row.resources.clone())
                    .unwrap_or_default();
                self.admit(node, task, claims, None, false);
            }
            (Addr::Lock, Msg::Enqueued { task, granted }) => {
                let mut out = Vec::new();
                self.nodes
                    .get_mut(&node)
                    .expect("node")
                    .lock
                    .grants
                    .handle(GrantIn::Enqueued { task, granted }, &mut out);
                self.grant_outputs(node, out);
            }
            (Addr::Lock, Msg::Granted(task)) => {
                let mut out = Vec::new();
                self.nodes
                    .get_mut(&node)
                    .expect("node")
                    .lock
                    .grants
                    .handle(GrantIn::Granted { task }, &mut out);
                self.grant_outputs(node, out);
            }
            (Addr::Lock, Msg::Release(task)) => self.release(node, task),
            (Addr::Lock, Msg::Canceled(task)) => {
                self.release(node, task);
                self.send(
                    Self::ep(node, Addr::Lock),
                    Self::ep(node, Addr::Dispatcher),
                    Msg::DispCancel(task),
                );
            }
            (Addr::Resource(r, generation), msg) => {
                let m = self.mutation;
                let q = self
                    .nodes
                    .get_mut(&node)
                    .expect("node")
                    .resources
                    .entry((r.clone(), generation))
                    .or_default();
                let (first, granted) = match msg {
                    Msg::Enqueue {
                        task,
                        seq,
                        exclusive,
                    } => {
                        let g = q.enqueue(m, task, seq, exclusive);
                        (
                            Some((task, g.contains(&task))),
                            g.into_iter().filter(|t| *t != task).collect::<Vec<_>>(),
                        )
                    }
                    Msg::ResRelease(task) => (None, q.release(task)),
                    _ => (None, Vec::new()),
                };
                let from = Self::ep(node, Addr::Resource(r, generation));
                if let Some((task, granted)) = first {
                    self.send(
                        from.clone(),
                        Self::ep(node, Addr::Lock),
                        Msg::Enqueued { task, granted },
                    );
                }
                for t in granted {
                    self.send(from.clone(), Self::ep(node, Addr::Lock), Msg::Granted(t));
                }
            }
            (Addr::Dispatcher, msg) => {
                let input = match msg {
                    Msg::Ready(t, e) => {
                        self.nodes.get_mut(&node).expect("node").epochs.insert(t, e);
                        DispatchIn::Ready(t)
                    }
                    // The dispatcher actor's identity rules: a stale Idle or WorkerLost from a
                    // replaced worker actor is ignored; a registration that replaces a live
                    // actor reports the old one lost first.
                    Msg::Idle(w, actor) => {
                        if self.nodes[&node].refs.get(&w) != Some(&actor) {
                            return;
                        }
                        DispatchIn::Idle(w)
                    }
                    Msg::Register(w, actor) => {
                        let n = self.nodes.get_mut(&node).expect("node");
                        if n.refs.insert(w, actor).is_some_and(|old| old != actor) {
                            let mut out = Vec::new();
                            n.disp.handle(DispatchIn::WorkerLost(w), &mut out);
                            self.dispatch_outputs(node, out);
                        }
                        DispatchIn::Idle(w)
                    }
                    Msg::WorkerLost(w, actor) => {
                        if self.nodes[&node].refs.get(&w) != Some(&actor) {
                            return;
                        }
                        DispatchIn::WorkerLost(w)
                    }
                    Msg::DispCancel(t) => DispatchIn::Cancel(t),
                    _ => return,
                };
                let mut out = Vec::new();
                self.nodes
                    .get_mut(&node)
                    .expect("node")
                    .disp
                    .handle(input, &mut out);
                self.dispatch_outputs(node, out);
            }
            (Addr::Worker(w, actor), _)
                if self.nodes[&node].workers.get(&w).map(|g| g.actor) != Some(actor) =>
            {
                // Sent to a worker actor that has since died: lost with its mailbox.
            }
            (Addr::Worker(w, _), Msg::Run(task, epoch)) => {
                let n = self.nodes.get_mut(&node).expect("node");
                if let Some(g) = n.workers.get_mut(&w)
                    && g.slot.current().is_none()
                {
                    g.task = Some(task);
                }
                self.worker_step(node, w, SlotIn::Assign { task, epoch });
            }
            (Addr::Worker(w, _), Msg::WorkerCancel(task)) => {
                self.worker_step(node, w, SlotIn::Cancel(task))
            }
            (Addr::Worker(w, _), Msg::StartWritten(task, ok)) => {
                let current = self.nodes[&node]
                    .workers
                    .get(&w)
                    .and_then(|g| g.slot.current());
                if current == Some(task) {
                    self.worker_step(node, w, SlotIn::StartWritten(ok));
                }
            }
            _ => {}
        }
    }

    fn dispatch_outputs(&mut self, node: NodeId, out: Vec<DispatchOut>) {
        for o in out {
            let d = Self::ep(node, Addr::Dispatcher);
            match o {
                DispatchOut::Assign { task, worker } => {
                    let epoch = self.nodes[&node].epochs.get(&task).copied().unwrap_or(0);
                    let actor = self.nodes[&node].refs.get(&worker).copied().unwrap_or(0);
                    self.send(
                        d,
                        Self::ep(node, Addr::Worker(worker, actor)),
                        Msg::Run(task, epoch),
                    );
                }
                DispatchOut::CancelOn { task, worker } => {
                    let actor = self.nodes[&node].refs.get(&worker).copied().unwrap_or(0);
                    self.send(
                        d,
                        Self::ep(node, Addr::Worker(worker, actor)),
                        Msg::WorkerCancel(task),
                    )
                }
                DispatchOut::Dropped(_) => {}
                DispatchOut::Orphaned { task, .. } => {
                    let inc = self.nodes[&node].incarnation.clone();
                    let epoch = self.nodes[&node].epochs.get(&task).copied().unwrap_or(0);
                    let op = WriteOp::FailAbandoned {
                        task,
                        incarnation: inc,
                        reason: WORKER_MISSING.into(),
                        at: 0,
                    };
                    self.write(node, op, Reply::DispatcherOrphan(task, epoch));
                }
            }
        }
    }

    fn worker_step(&mut self, node: NodeId, w: WorkerId, input: SlotIn) {
        let mut out = Vec::new();
        let Some(g) = self.nodes.get_mut(&node).expect("node").workers.get_mut(&w) else {
            return;
        };
        g.slot.handle(input, &mut out);
        for o in out {
            match o {
                SlotOut::WriteStart { task, epoch } => {
                    let inc = self.nodes[&node].incarnation.clone();
                    let op = WriteOp::StartTask {
                        task,
                        owner: format!("w{w}"),
                        incarnation: inc,
                        epoch,
                        at: 0,
                    };
                    let actor = self.nodes[&node].workers.get(&w).map_or(0, |g| g.actor);
                    self.write(node, op, Reply::WorkerStarted(w, actor, task));
                }
                SlotOut::SpawnBody(task) => {
                    self.on_start(task);
                    let roll = self.rng.below(1000);
                    let outcome = if roll < self.params.fail {
                        Outcome::Failed("body failed".into())
                    } else if roll < self.params.fail + self.params.panic {
                        Outcome::Failed("Task panicked: sim".into())
                    } else {
                        Outcome::Completed
                    };
                    let dur = self.rng.range(10, 20_000);
                    let generation = self.next_body();
                    if let Some(g) = self.nodes.get_mut(&node).expect("node").workers.get_mut(&w) {
                        g.generation = generation;
                    }
                    let inc = self.nodes[&node].inc;
                    self.at(
                        self.now + dur,
                        Event::BodyDone {
                            node,
                            inc,
                            worker: w,
                            generation,
                            outcome,
                        },
                    );
                }
                SlotOut::AbortBody(task) => {
                    let _ = task;
                    let generation = self.next_body();
                    if let Some(g) = self.nodes.get_mut(&node).expect("node").workers.get_mut(&w) {
                        g.generation = generation;
                    }
                    let inc = self.nodes[&node].inc;
                    self.at(
                        self.now + 1,
                        Event::BodyDone {
                            node,
                            inc,
                            worker: w,
                            generation,
                            outcome: Outcome::Aborted,
                        },
                    );
                }
                SlotOut::WriteFinish { task, state } => {
                    let inc = self.nodes[&node].incarnation.clone();
                    let st = match state {
                        Final::Completed => TaskState::Completed,
                        Final::Canceled => TaskState::Canceled,
                        Final::Failed(_) | Final::FailedReason(_) => TaskState::Failed,
                    };
                    let op = WriteOp::FinishTask {
                        task,
                        owner: format!("w{w}"),
                        incarnation: inc,
                        state: st,
                        error: None,
                        result: None,
                        created: Vec::new(),
                        had_progress: false,
                        at: 0,
                    };
                    self.write(node, op, Reply::WorkerFinished(task));
                }
                SlotOut::Idle => {
                    if let Some(g) = self.nodes.get_mut(&node).expect("node").workers.get_mut(&w) {
                        g.task = None;
                    }
                    let actor = self.nodes[&node].workers.get(&w).map_or(0, |g| g.actor);
                    self.send(
                        Self::ep(node, Addr::Worker(w, actor)),
                        Self::ep(node, Addr::Dispatcher),
                        Msg::Idle(w, actor),
                    );
                }
                SlotOut::Exit => {}
            }
        }
    }

    fn commit(&mut self, node: NodeId, batch: Vec<(WriteOp, Reply)>) {
        for (op, reply) in batch {
            let n = self.db.apply(&op);
            let lock = Self::ep(node, Addr::Lock);
            let writer = Self::ep(node, Addr::Writer);
            match reply {
                Reply::None => {}
                Reply::ClientInserted(id) => {
                    self.unacked.remove(&id);
                    self.send(
                        Self::ep(
                            node,
                            Addr::Client(self.client_of.get(&id).copied().unwrap_or(0)),
                        ),
                        lock,
                        Msg::Wake(id),
                    )
                }
                Reply::ClientCanceledWaiting(id) if n == 1 => {
                    self.canceled_waiting.insert(id);
                    self.send(
                        Self::ep(
                            node,
                            Addr::Client(self.client_of.get(&id).copied().unwrap_or(0)),
                        ),
                        lock,
                        Msg::Canceled(id),
                    );
                }
                Reply::ClientMarkedCanceling(id) if n == 1 => self.send(
                    Self::ep(
                        node,
                        Addr::Client(self.client_of.get(&id).copied().unwrap_or(0)),
                    ),
                    Self::ep(node, Addr::Dispatcher),
                    Msg::DispCancel(id),
                ),
                Reply::WorkerStarted(w, actor, task) => {
                    if n == 1 && self.canceled_waiting.contains(&task) {
                        self.fail(
                            "canceled_never_starts",
                            format!("task {task} started after its cancel committed"),
                        );
                    }
                    self.send(
                        writer,
                        Self::ep(node, Addr::Worker(w, actor)),
                        Msg::StartWritten(task, n == 1),
                    );
                }
                Reply::WorkerFinished(task) => self.send(writer, lock, Msg::Release(task)),
                Reply::DispatcherOrphan(task, epoch) => {
                    if n == 1 {
                        self.send(writer, lock, Msg::Release(task));
                    } else {
                        self.send(
                            writer,
                            Self::ep(node, Addr::Dispatcher),
                            Msg::Ready(task, epoch),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    fn next_body(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn on_start(&mut self, task: Uuid) {
        let claims = self
            .db
            .task(&task)
            .map(|t| t.row.resources.clone())
            .unwrap_or_default();
        let count = {
            let c = self.starts.entry(task).or_default();
            *c += 1;
            *c
        };
        if count > 1 {
            self.fail(
                "no_task_starts_twice",
                format!("task {task} started {count} times"),
            );
        }
        if self.canceled_waiting.contains(&task) {
            self.fail(
                "canceled_never_starts",
                format!("task {task} was canceled while waiting, yet its body started"),
            );
        }
        // FIFO per resource: every earlier-queued conflicting task has reached a final state.
        let my_seq = self.db.task(&task).and_then(|t| t.row.queue_seq);
        match my_seq {
            None => self.fail(
                "queued_before_start",
                format!("task {task} started without a durable queue position"),
            ),
            Some(seq) => {
                let earlier: Vec<(Uuid, String)> = self
                    .db
                    .tasks()
                    .filter(|t| t.row.queue_seq.is_some_and(|s| s < seq) && !t.row.state.is_final())
                    .filter_map(|t| conflict(&claims, &t.row.resources).map(|r| (t.row.id, r)))
                    .collect();
                if let Some((other, r)) = earlier.first() {
                    self.fail("fifo_per_resource", format!("task {task} (seq {seq}) started before earlier conflicting task {other} finished, resource {r}"));
                }
            }
        }
        for (other, oc) in &self.executing {
            if let Some(r) = conflict(&claims, oc) {
                let d = format!("tasks {task} and {other} run at once on resource {r}");
                self.fail("no_conflicting_tasks_run_at_once", d);
                break;
            }
        }
        self.executing.insert(task, claims);
    }

    fn check(&mut self) {
        // Executing bodies belong to running tasks (a body never outlives its task's start).
        let bad: Vec<Uuid> = self
            .executing
            .keys()
            .filter(|t| {
                !matches!(
                    self.db.task(t).map(|x| x.row.state),
                    Some(TaskState::Running | TaskState::Canceling)
                )
            })
            .copied()
            .collect();
        if let Some(t) = bad.first() {
            let state = self.db.task(t).map(|x| x.row.state);
            self.fail(
                "bodies_run_only_for_running_tasks",
                format!("task {t} executes while the store says {state:?}"),
            );
        }
    }

    fn final_check(&mut self) -> Result<(), Box<Failure>> {
        let open: Vec<String> = self
            .db
            .tasks()
            .filter(|t| !t.row.state.is_final())
            .map(|t| format!("{} {:?}", t.row.id, t.row.state))
            .collect();
        let never: Vec<Uuid> = self
            .specs
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| self.db.task(id).is_none())
            .collect();
        if !open.is_empty() || !never.is_empty() {
            let mut d = String::new();
            let _ = write!(
                d,
                "after faults stopped and {:.0} s of quiet, not final: {open:?}; never committed: {never:?}",
                self.params.settle as f64 / 1e6
            );
            return Err(Box::new(
                self.failure_now("every_task_reaches_a_final_state", d),
            ));
        }
        let n = &self.nodes[&NODE];
        let leaked: Vec<&String> = n
            .lock
            .queued
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(r, _)| r)
            .collect();
        let queues_busy = n.resources.values().any(|q| !q.real.is_empty());
        if !leaked.is_empty() || queues_busy || !n.lock.seq.is_empty() {
            return Err(Box::new(self.failure_now(
                "no_lock_leaks",
                format!("locks still held on {leaked:?} (queues busy: {queues_busy})"),
            )));
        }
        Ok(())
    }
}

/// Runs one seed.
pub fn run_seed(seed: u64, mutation: Mutation) -> Result<Summary, Box<Failure>> {
    World::new(seed, mutation).run()
}
