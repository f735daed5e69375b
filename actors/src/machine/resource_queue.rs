//! One resource's FIFO queue of claims, with Pulp's grant rule: an exclusive claim is granted
//! when it is at the head; a shared claim when every claim before it is shared. Claims are
//! ordered by the lock service's durable queue position, so a task only ever waits for tasks
//! queued before it — the wait-for graph is acyclic and multi-resource tasks cannot deadlock.

use std::collections::VecDeque;

use super::TaskId;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    task: TaskId,
    seq: i64,
    exclusive: bool,
    granted: bool,
}

/// The queue of one resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceQueue {
    entries: VecDeque<Entry>,
}

impl ResourceQueue {
    /// Adds a claim at its queue position. Returns the tasks granted by this step (the new
    /// task itself when it can run at once).
    pub fn enqueue(&mut self, task: TaskId, seq: i64, exclusive: bool) -> Vec<TaskId> {
        if self.entries.iter().any(|e| e.task == task) {
            return Vec::new();
        }
        let at = self.entries.partition_point(|e| e.seq <= seq);
        self.entries.insert(
            at,
            Entry {
                task,
                seq,
                exclusive,
                granted: false,
            },
        );
        self.regrant()
    }

    /// Removes a task's claim (it finished, failed or was canceled). Returns newly granted tasks.
    pub fn release(&mut self, task: TaskId) -> Vec<TaskId> {
        let before = self.entries.len();
        self.entries.retain(|e| e.task != task);
        if self.entries.len() == before {
            Vec::new()
        } else {
            self.regrant()
        }
    }

    /// True when nothing waits for or holds the resource.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Tasks currently holding the resource.
    pub fn holders(&self) -> Vec<TaskId> {
        self.entries
            .iter()
            .filter(|e| e.granted)
            .map(|e| e.task)
            .collect()
    }

    /// Tasks in queue order, with whether each is exclusive and granted.
    pub fn snapshot(&self) -> Vec<(TaskId, bool, bool)> {
        self.entries
            .iter()
            .map(|e| (e.task, e.exclusive, e.granted))
            .collect()
    }

    fn regrant(&mut self) -> Vec<TaskId> {
        let mut granted = Vec::new();
        for (i, e) in self.entries.iter_mut().enumerate() {
            let grantable = if e.exclusive { i == 0 } else { true };
            if !grantable {
                break;
            }
            if !e.granted {
                e.granted = true;
                granted.push(e.task);
            }
            if e.exclusive {
                break;
            }
        }
        granted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn t(n: u128) -> TaskId {
        Uuid::from_u128(n)
    }

    #[test]
    fn exclusive_waits_for_everything_before_it() {
        let mut q = ResourceQueue::default();
        assert_eq!(q.enqueue(t(1), 1, false), vec![t(1)]);
        assert_eq!(q.enqueue(t(2), 2, false), vec![t(2)]);
        assert_eq!(q.enqueue(t(3), 3, true), Vec::<TaskId>::new());
        assert_eq!(
            q.enqueue(t(4), 4, false),
            Vec::<TaskId>::new(),
            "shared behind an exclusive waits (FIFO)"
        );
        assert_eq!(q.release(t(1)), Vec::<TaskId>::new());
        assert_eq!(q.release(t(2)), vec![t(3)]);
        assert_eq!(q.release(t(3)), vec![t(4)]);
        assert_eq!(q.release(t(4)), Vec::<TaskId>::new());
        assert!(q.is_empty());
    }

    #[test]
    fn late_arrival_is_placed_by_position() {
        let mut q = ResourceQueue::default();
        q.enqueue(t(5), 5, true);
        q.enqueue(t(3), 3, true);
        assert_eq!(q.snapshot()[0].0, t(3));
        assert_eq!(
            q.release(t(9)),
            Vec::<TaskId>::new(),
            "unknown release is a no-op"
        );
    }
}
