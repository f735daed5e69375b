//! Collects the per-resource grants of each task and decides when a task is ready.
//!
//! Every resource queue answers an enqueue with `Enqueued { granted }` and later sends
//! `Granted` for claims it grants afterwards. A task is ready when all its claims are granted.
//! For an immediate task the tracker also decides, once every queue has answered, whether it
//! may run inline at once (all granted in the first answers) or must be deferred.

use std::collections::BTreeMap;

use super::TaskId;

/// Inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantIn {
    /// Start tracking a task that claims `claims` resources.
    Track {
        /// The task.
        task: TaskId,
        /// How many resources it claims.
        claims: usize,
        /// Whether the caller waits for an immediate decision.
        immediate: bool,
        /// The task already runs somewhere (rebuild after a restart): never make it ready.
        running: bool,
    },
    /// A resource queue's answer to the enqueue.
    Enqueued {
        /// The task.
        task: TaskId,
        /// Granted at once.
        granted: bool,
    },
    /// A later grant.
    Granted {
        /// The task.
        task: TaskId,
    },
    /// The task is gone (finished or canceled).
    Forget {
        /// The task.
        task: TaskId,
    },
}

/// Outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantOut {
    /// All claims granted: hand the task to a worker.
    Ready(TaskId),
    /// Immediate task, all claims granted at once: the caller runs it inline.
    ImmediateGranted(TaskId),
    /// Immediate task that must wait; it becomes `Ready` later like any other.
    ImmediateDeferred(TaskId),
}

#[derive(Clone, Debug)]
struct Tracked {
    claims: usize,
    answers: usize,
    granted: usize,
    immediate_pending: bool,
    running: bool,
    done: bool,
}

/// The tracker.
#[derive(Clone, Debug, Default)]
pub struct GrantTracker {
    tasks: BTreeMap<TaskId, Tracked>,
}

impl GrantTracker {
    /// Applies one input, appending outputs to `out`.
    pub fn handle(&mut self, input: GrantIn, out: &mut Vec<GrantOut>) {
        match input {
            GrantIn::Track {
                task,
                claims,
                immediate,
                running,
            } => {
                let t = Tracked {
                    claims,
                    answers: 0,
                    granted: 0,
                    immediate_pending: immediate,
                    running,
                    done: false,
                };
                self.tasks.insert(task, t);
                self.check(task, out);
            }
            GrantIn::Enqueued { task, granted } => {
                if let Some(t) = self.tasks.get_mut(&task) {
                    t.answers += 1;
                    t.granted += usize::from(granted);
                    self.check(task, out);
                }
            }
            GrantIn::Granted { task } => {
                if let Some(t) = self.tasks.get_mut(&task) {
                    t.granted += 1;
                    self.check(task, out);
                }
            }
            GrantIn::Forget { task } => {
                self.tasks.remove(&task);
            }
        }
    }

    /// True when the task is tracked.
    pub fn tracks(&self, task: TaskId) -> bool {
        self.tasks.contains_key(&task)
    }

    /// True when the task holds every claim (it was reported ready, or is a running holder).
    pub fn holds_all(&self, task: TaskId) -> bool {
        self.tasks
            .get(&task)
            .is_some_and(|t| t.done && t.granted >= t.claims)
    }

    fn check(&mut self, task: TaskId, out: &mut Vec<GrantOut>) {
        let Some(t) = self.tasks.get_mut(&task) else {
            return;
        };
        if t.done {
            return;
        }
        if t.immediate_pending {
            if t.answers < t.claims {
                return;
            }
            t.immediate_pending = false;
            if t.granted >= t.claims {
                t.done = true;
                out.push(GrantOut::ImmediateGranted(task));
                return;
            }
            out.push(GrantOut::ImmediateDeferred(task));
        }
        if t.granted >= t.claims {
            t.done = true;
            if !t.running {
                out.push(GrantOut::Ready(task));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn ready_after_every_grant_and_immediate_decisions() {
        let a = Uuid::from_u128(1);
        let mut g = GrantTracker::default();
        let mut out = Vec::new();
        g.handle(
            GrantIn::Track {
                task: a,
                claims: 2,
                immediate: false,
                running: false,
            },
            &mut out,
        );
        g.handle(
            GrantIn::Enqueued {
                task: a,
                granted: true,
            },
            &mut out,
        );
        g.handle(
            GrantIn::Enqueued {
                task: a,
                granted: false,
            },
            &mut out,
        );
        assert!(out.is_empty());
        g.handle(GrantIn::Granted { task: a }, &mut out);
        assert_eq!(out, vec![GrantOut::Ready(a)]);

        let b = Uuid::from_u128(2);
        out.clear();
        g.handle(
            GrantIn::Track {
                task: b,
                claims: 1,
                immediate: true,
                running: false,
            },
            &mut out,
        );
        g.handle(
            GrantIn::Enqueued {
                task: b,
                granted: false,
            },
            &mut out,
        );
        assert_eq!(out, vec![GrantOut::ImmediateDeferred(b)]);
        g.handle(GrantIn::Granted { task: b }, &mut out);
        assert_eq!(
            out,
            vec![GrantOut::ImmediateDeferred(b), GrantOut::Ready(b)]
        );

        let c = Uuid::from_u128(3);
        out.clear();
        g.handle(
            GrantIn::Track {
                task: c,
                claims: 0,
                immediate: true,
                running: false,
            },
            &mut out,
        );
        assert_eq!(out, vec![GrantOut::ImmediateGranted(c)]);
    }
}
