//! The sequencer: the one place that decides the order in which tasks are queued.
//!
//! A task seen for the first time gets the next queue position, which the caller must persist
//! (before the task can start: the batching writer applies ops in order, so the position is
//! committed no later than the start). A task that already has a durable position keeps it.
//! Positions only grow, across restarts too (the caller seeds `next` from the table).

use std::collections::BTreeMap;

use super::TaskId;

/// What the caller must do after [`Sequencer::observe`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequenced {
    /// The task's queue position.
    pub seq: i64,
    /// True when the position is new and must be persisted.
    pub persist: bool,
}

/// Assigns queue positions.
#[derive(Clone, Debug, Default)]
pub struct Sequencer {
    next: i64,
    known: BTreeMap<TaskId, i64>,
}

impl Sequencer {
    /// A sequencer whose next position is `max_seen + 1`.
    pub fn new(max_seen: i64) -> Sequencer {
        Sequencer {
            next: max_seen + 1,
            known: BTreeMap::new(),
        }
    }

    /// Sees a task; `None` when it is already queued (a duplicate wake-up or scan hit).
    pub fn observe(&mut self, task: TaskId, durable: Option<i64>) -> Option<Sequenced> {
        if self.known.contains_key(&task) {
            return None;
        }
        let (seq, persist) = match durable {
            Some(s) => {
                self.next = self.next.max(s + 1);
                (s, false)
            }
            None => {
                let s = self.next;
                self.next += 1;
                (s, true)
            }
        };
        self.known.insert(task, seq);
        Some(Sequenced { seq, persist })
    }

    /// Forgets a finished task.
    pub fn forget(&mut self, task: TaskId) {
        self.known.remove(&task);
    }

    /// True when the task is queued.
    pub fn knows(&self, task: TaskId) -> bool {
        self.known.contains_key(&task)
    }

    /// The number of queued tasks.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn positions_grow_and_duplicates_are_ignored() {
        let mut s = Sequencer::new(10);
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        assert_eq!(
            s.observe(a, None),
            Some(Sequenced {
                seq: 11,
                persist: true
            })
        );
        assert_eq!(s.observe(a, None), None);
        assert_eq!(
            s.observe(b, Some(40)),
            Some(Sequenced {
                seq: 40,
                persist: false
            })
        );
        s.forget(a);
        assert_eq!(s.observe(Uuid::from_u128(3), None).unwrap().seq, 41);
    }
}
