//! Matches ready tasks with idle workers, oldest ready task first. Idle workers sleep until
//! this machine assigns them something; nothing polls.

use std::collections::{BTreeMap, VecDeque};

use super::TaskId;

/// A worker within the node.
pub type WorkerId = u32;

/// Inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DispatchIn {
    /// A task holds all its resources.
    Ready(TaskId),
    /// A worker is free (just started, or finished its task).
    Idle(WorkerId),
    /// A worker died; whatever it was assigned is reported as orphaned.
    WorkerLost(WorkerId),
    /// Cancel a task: drop it if not yet assigned, else tell its worker.
    Cancel(TaskId),
    /// Stop assigning work (shutdown).
    Drain,
}

/// Outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DispatchOut {
    /// Run `task` on `worker`.
    Assign {
        /// The task.
        task: TaskId,
        /// The worker.
        worker: WorkerId,
    },
    /// Tell `worker` to cancel `task`.
    CancelOn {
        /// The task.
        task: TaskId,
        /// The worker.
        worker: WorkerId,
    },
    /// The task was ready but not assigned and is now dropped.
    Dropped(TaskId),
    /// A lost worker was assigned this task: it must be failed and its locks released.
    Orphaned {
        /// The task.
        task: TaskId,
        /// The worker that had it.
        worker: WorkerId,
    },
}

/// The dispatcher.
#[derive(Clone, Debug, Default)]
pub struct Dispatcher {
    ready: VecDeque<TaskId>,
    idle: VecDeque<WorkerId>,
    busy: BTreeMap<WorkerId, TaskId>,
    draining: bool,
}

impl Dispatcher {
    /// Applies one input.
    pub fn handle(&mut self, input: DispatchIn, out: &mut Vec<DispatchOut>) {
        match input {
            DispatchIn::Ready(task) => {
                if !self.ready.contains(&task) && !self.busy.values().any(|t| *t == task) {
                    self.ready.push_back(task);
                }
            }
            DispatchIn::Idle(w) => {
                self.busy.remove(&w);
                if !self.idle.contains(&w) {
                    self.idle.push_back(w);
                }
            }
            DispatchIn::WorkerLost(w) => {
                self.idle.retain(|x| *x != w);
                if let Some(task) = self.busy.remove(&w) {
                    out.push(DispatchOut::Orphaned { task, worker: w });
                }
            }
            DispatchIn::Cancel(task) => {
                if let Some(i) = self.ready.iter().position(|t| *t == task) {
                    self.ready.remove(i);
                    out.push(DispatchOut::Dropped(task));
                } else if let Some((w, _)) = self.busy.iter().find(|(_, t)| **t == task) {
                    out.push(DispatchOut::CancelOn { task, worker: *w });
                }
            }
            DispatchIn::Drain => self.draining = true,
        }
        while !self.draining && !self.ready.is_empty() && !self.idle.is_empty() {
            let (Some(task), Some(worker)) = (self.ready.pop_front(), self.idle.pop_front()) else {
                break;
            };
            self.busy.insert(worker, task);
            out.push(DispatchOut::Assign { task, worker });
        }
    }

    /// Ready tasks waiting for a worker.
    pub fn queued(&self) -> usize {
        self.ready.len()
    }

    /// The task `worker` is busy with, if any.
    pub fn task_of(&self, worker: WorkerId) -> Option<TaskId> {
        self.busy.get(&worker).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn assigns_in_ready_order_and_cancels() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut d = Dispatcher::default();
        let mut out = Vec::new();
        d.handle(DispatchIn::Ready(a), &mut out);
        d.handle(DispatchIn::Ready(b), &mut out);
        d.handle(DispatchIn::Ready(c), &mut out);
        d.handle(DispatchIn::Idle(7), &mut out);
        assert_eq!(out, vec![DispatchOut::Assign { task: a, worker: 7 }]);
        out.clear();
        d.handle(DispatchIn::Cancel(b), &mut out);
        d.handle(DispatchIn::Cancel(a), &mut out);
        assert_eq!(
            out,
            vec![
                DispatchOut::Dropped(b),
                DispatchOut::CancelOn { task: a, worker: 7 }
            ]
        );
        out.clear();
        d.handle(DispatchIn::WorkerLost(7), &mut out);
        assert_eq!(out, vec![DispatchOut::Orphaned { task: a, worker: 7 }]);
        out.clear();
        d.handle(DispatchIn::Idle(8), &mut out);
        assert_eq!(out, vec![DispatchOut::Assign { task: c, worker: 8 }]);
    }
}
