//! What to do with the task table when a lock service starts (first start, restart after a
//! crash, or a move to another node): fail what was abandoned, keep what a live node still
//! runs, and re-queue the rest in its durable order.

use std::collections::BTreeSet;

use pith_entities::{TaskRow, TaskState};

use super::TaskId;

/// Pulp's reason for tasks whose worker vanished.
pub const WORKER_MISSING: &str = "Worker has gone missing.";

/// One step of the recovery plan, in the order to perform them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoveryStep {
    /// The task's owner is gone: fail it (`running`) or finish canceling it (`canceling`).
    /// It holds no lock afterwards.
    Abandon {
        /// The task.
        task: TaskId,
        /// The incarnation that owned it (the write is conditional on it).
        incarnation: String,
    },
    /// A live owner still runs it: queue it first, as a holder that is never dispatched.
    Hold(TaskId),
    /// Waiting: queue it (durable position first, then creation order).
    Requeue(TaskId),
}

/// Plans recovery. `rows` must come in durable order (as `load_incomplete` returns them);
/// `live` are the incarnations whose heartbeat is fresh and that are not this node's
/// previous incarnations. Never abandons a task that a live incarnation owns.
pub fn plan(rows: &[TaskRow], live: &BTreeSet<String>) -> Vec<RecoveryStep> {
    let mut holds = Vec::new();
    let mut rest = Vec::new();
    for r in rows {
        match r.state {
            TaskState::Running | TaskState::Canceling => match &r.owner {
                Some((_, inc)) if live.contains(inc) => holds.push(RecoveryStep::Hold(r.id)),
                Some((_, inc)) => rest.push(RecoveryStep::Abandon {
                    task: r.id,
                    incarnation: inc.clone(),
                }),
                None => rest.push(RecoveryStep::Abandon {
                    task: r.id,
                    incarnation: String::new(),
                }),
            },
            TaskState::Waiting => rest.push(RecoveryStep::Requeue(r.id)),
            _ => {}
        }
    }
    holds.extend(rest);
    holds
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn row(n: u128, state: TaskState, owner: Option<&str>) -> TaskRow {
        TaskRow {
            id: Uuid::from_u128(n),
            state,
            name: "t".into(),
            args: "{}".into(),
            queue_seq: Some(n as i64),
            created: 0,
            owner: owner.map(|o| ("w".to_owned(), o.to_owned())),
            resources: vec![],
        }
    }

    #[test]
    fn live_tasks_are_kept_and_first() {
        let rows = vec![
            row(1, TaskState::Running, Some("dead")),
            row(2, TaskState::Waiting, None),
            row(3, TaskState::Running, Some("alive")),
        ];
        let live = BTreeSet::from(["alive".to_owned()]);
        assert_eq!(
            plan(&rows, &live),
            vec![
                RecoveryStep::Hold(Uuid::from_u128(3)),
                RecoveryStep::Abandon {
                    task: Uuid::from_u128(1),
                    incarnation: "dead".into()
                },
                RecoveryStep::Requeue(Uuid::from_u128(2)),
            ]
        );
    }
}
