//! The tasking protocol as pure state machines: no tokio, no ractor, no clock, no I/O.
//!
//! The actor shells in [`crate::tasking`] own one machine each, feed it their messages and
//! perform the outputs (messages to other actors, database commands). The simulation crate
//! drives exactly these types. Iteration order is always deterministic (`BTreeMap`,
//! `VecDeque`), so a seeded driver replays identically.

pub mod dispatcher;
pub mod grants;
pub mod lease;
pub mod recovery;
pub mod resource_queue;
pub mod sequencer;
pub mod worker_slot;

/// A task's id.
pub type TaskId = uuid::Uuid;

pub use pith_entities::ResourceClaim;

#[cfg(test)]
mod properties {
    //! The lock machines composed as the lock service composes them, under random dispatch
    //! and completion orders.
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;
    use uuid::Uuid;

    use super::TaskId;
    use super::dispatcher::{DispatchIn, DispatchOut, Dispatcher};
    use super::grants::{GrantIn, GrantOut, GrantTracker};
    use super::resource_queue::ResourceQueue;
    use super::sequencer::Sequencer;

    #[derive(Default)]
    struct Node {
        seq: Sequencer,
        queues: BTreeMap<u8, ResourceQueue>,
        grants: GrantTracker,
        disp: Dispatcher,
        claims: BTreeMap<TaskId, Vec<(u8, bool)>>,
        order: BTreeMap<TaskId, i64>,
        running: BTreeMap<TaskId, u32>,
        finished: BTreeSet<TaskId>,
        started_order: Vec<TaskId>,
    }

    impl Node {
        fn grants(&mut self, outs: Vec<GrantOut>) {
            let mut d = Vec::new();
            for o in outs {
                if let GrantOut::Ready(t) = o {
                    self.disp.handle(DispatchIn::Ready(t), &mut d);
                }
            }
            self.assign(d);
        }
        fn assign(&mut self, outs: Vec<DispatchOut>) {
            for o in outs {
                if let DispatchOut::Assign { task, worker } = o {
                    // Invariant: no conflicting task is running.
                    for other in self.running.keys() {
                        for (r, x) in &self.claims[&task] {
                            for (r2, x2) in &self.claims[other] {
                                assert!(
                                    !(r == r2 && (*x || *x2)),
                                    "conflicting tasks run at once on resource {r}"
                                );
                            }
                        }
                    }
                    // Invariant: every earlier conflicting task has finished (FIFO).
                    for (other, seq) in &self.order {
                        if *seq < self.order[&task] && !self.finished.contains(other) {
                            let conflict = self.claims[&task].iter().any(|(r, x)| {
                                self.claims[other]
                                    .iter()
                                    .any(|(r2, x2)| r == r2 && (*x || *x2))
                            });
                            assert!(
                                !conflict,
                                "task started before an earlier conflicting task finished"
                            );
                        }
                    }
                    assert!(!self.started_order.contains(&task), "task started twice");
                    self.started_order.push(task);
                    self.running.insert(task, worker);
                }
            }
        }
        fn dispatch(&mut self, task: TaskId, claims: Vec<(u8, bool)>) {
            let s = self.seq.observe(task, None).expect("new task");
            self.order.insert(task, s.seq);
            self.claims.insert(task, claims.clone());
            let mut g = Vec::new();
            self.grants.handle(
                GrantIn::Track {
                    task,
                    claims: claims.len(),
                    immediate: false,
                    running: false,
                },
                &mut g,
            );
            for (r, x) in claims {
                let granted = self.queues.entry(r).or_default().enqueue(task, s.seq, x);
                self.grants.handle(
                    GrantIn::Enqueued {
                        task,
                        granted: granted.contains(&task),
                    },
                    &mut g,
                );
                for other in granted.into_iter().filter(|t| *t != task) {
                    self.grants.handle(GrantIn::Granted { task: other }, &mut g);
                }
            }
            self.grants(g);
        }
        fn complete(&mut self, task: TaskId) {
            let worker = self.running.remove(&task).expect("running");
            self.finished.insert(task);
            self.seq.forget(task);
            let mut g = Vec::new();
            self.grants.handle(GrantIn::Forget { task }, &mut g);
            for (r, _) in self.claims[&task].clone() {
                for t in self.queues.get_mut(&r).expect("queue").release(task) {
                    self.grants.handle(GrantIn::Granted { task: t }, &mut g);
                }
            }
            let mut d = Vec::new();
            self.disp.handle(DispatchIn::Idle(worker), &mut d);
            self.assign(d);
            self.grants(g);
        }
    }

    fn tasks() -> impl Strategy<Value = Vec<Vec<(u8, bool)>>> {
        prop::collection::vec(
            prop::collection::btree_map(0u8..4, any::<bool>(), 0..4),
            1..24,
        )
        .prop_map(|v| v.into_iter().map(|m| m.into_iter().collect()).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn no_conflicts_fifo_and_no_deadlock(tasks in tasks(), workers in 1u32..4, picks in prop::collection::vec(any::<u16>(), 200)) {
            let mut n = Node::default();
            let mut d = Vec::new();
            for w in 0..workers { n.disp.handle(DispatchIn::Idle(w), &mut d); }
            let mut pending: Vec<(TaskId, Vec<(u8, bool)>)> = tasks.into_iter().enumerate()
                .map(|(i, c)| (Uuid::from_u128(i as u128 + 1), c)).collect();
            pending.reverse();
            let mut picks = picks.into_iter().cycle();
            let total = pending.len();
            let mut steps = 0;
            while n.finished.len() < total {
                steps += 1;
                prop_assert!(steps < 10_000, "no progress: deadlock");
                let p = picks.next().unwrap_or(0) as usize;
                if !pending.is_empty() && (n.running.is_empty() || p.is_multiple_of(2)) {
                    let (t, c) = pending.pop().unwrap();
                    n.dispatch(t, c);
                } else if !n.running.is_empty() {
                    let t = *n.running.keys().nth(p % n.running.len()).unwrap();
                    n.complete(t);
                } else {
                    prop_assert!(false, "nothing runs and nothing is pending, yet tasks remain: deadlock");
                }
            }
            prop_assert!(n.queues.values().all(|q| q.is_empty()), "a lock leaked");
        }
    }
}
