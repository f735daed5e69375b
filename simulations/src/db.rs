//! `SimDb`: the task table and the lock-service lease as the simulator sees them. It applies
//! the very `WriteOp` commands the real batching writer runs, with the same conditions and
//! effects as its SQL statements; the differential test (`tests/differential.rs`) runs random
//! op sequences against both and compares every answer, so this model cannot drift.

use std::collections::BTreeMap;

use pith_entities::{NewTask, ResourceClaim, TaskRow, TaskState, WriteOp};
use uuid::Uuid;

/// One task row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimTask {
    /// The row as the lock service would load it.
    pub row: TaskRow,
    /// `error` (JSON text) when failed.
    pub error: Option<String>,
}

/// The simulated store.
#[derive(Clone, Debug, Default)]
pub struct SimDb {
    tasks: BTreeMap<Uuid, SimTask>,
    epoch: i64,
    holder: Option<String>,
    renewed_at: u64,
    /// A deliberately broken store (checker self-test): starts ignore the epoch.
    pub unfenced: bool,
}

impl SimDb {
    /// Applies one op; returns the rows its main statement changed (like the writer).
    pub fn apply(&mut self, op: &WriteOp) -> u64 {
        match op {
            WriteOp::InsertTask(NewTask {
                id,
                name,
                args,
                resources,
                created,
                ..
            }) => {
                if self.tasks.contains_key(id) {
                    return 0;
                }
                let mut res: Vec<ResourceClaim> = resources.clone();
                res.sort_by(|a, b| {
                    b.exclusive
                        .cmp(&a.exclusive)
                        .then(a.resource.cmp(&b.resource))
                });
                let row = TaskRow {
                    id: *id,
                    state: TaskState::Waiting,
                    name: name.clone(),
                    args: args.to_string(),
                    queue_seq: None,
                    created: *created,
                    owner: None,
                    resources: res,
                };
                self.tasks.insert(*id, SimTask { row, error: None });
                1
            }
            WriteOp::AssignQueue { task, seq, epoch } => {
                let fenced = *epoch == self.epoch;
                self.update(
                    task,
                    |t| fenced && t.row.queue_seq.is_none(),
                    |t| t.row.queue_seq = Some(*seq),
                )
            }
            WriteOp::StartTask {
                task,
                owner,
                incarnation,
                epoch,
                ..
            } => {
                let fenced = self.unfenced || *epoch == self.epoch;
                self.update(
                    task,
                    |t| fenced && t.row.state == TaskState::Waiting,
                    |t| {
                        t.row.state = TaskState::Running;
                        t.row.owner = Some((owner.clone(), incarnation.clone()));
                    },
                )
            }
            WriteOp::FinishTask {
                task,
                owner,
                incarnation,
                state,
                error,
                ..
            } => self.update(
                task,
                |t| {
                    t.row.owner.as_ref() == Some(&(owner.clone(), incarnation.clone()))
                        && matches!(t.row.state, TaskState::Running | TaskState::Canceling)
                },
                |t| {
                    t.row.state = *state;
                    t.error = error.as_ref().map(|e| e.to_string());
                },
            ),
            WriteOp::CancelWaiting { task, .. } => self.update(
                task,
                |t| t.row.state == TaskState::Waiting,
                |t| t.row.state = TaskState::Canceled,
            ),
            WriteOp::MarkCanceling { task, .. } => self.update(
                task,
                |t| t.row.state == TaskState::Running,
                |t| t.row.state = TaskState::Canceling,
            ),
            WriteOp::FailAbandoned {
                task,
                incarnation,
                reason,
                ..
            } => self.update(
                task,
                |t| {
                    t.row.owner.as_ref().is_some_and(|(_, i)| i == incarnation)
                        && matches!(t.row.state, TaskState::Running | TaskState::Canceling)
                },
                |t| {
                    if t.row.state == TaskState::Canceling {
                        t.row.state = TaskState::Canceled;
                    } else {
                        t.row.state = TaskState::Failed;
                        t.error = Some(format!("{{\"reason\":{reason:?}}}"));
                    }
                },
            ),
            // Neither touches the task table's state; the simulator has no app-status rows.
            WriteOp::Heartbeat { .. } | WriteOp::Progress { .. } => 0,
        }
    }

    fn update(
        &mut self,
        task: &Uuid,
        when: impl Fn(&SimTask) -> bool,
        then: impl FnOnce(&mut SimTask),
    ) -> u64 {
        match self.tasks.get_mut(task) {
            Some(t) if when(t) => {
                then(t);
                1
            }
            _ => 0,
        }
    }

    /// Takes the lock-service lease: the epoch goes up by one (`take_lease`).
    pub fn take_lease(&mut self) -> i64 {
        self.epoch += 1;
        self.epoch
    }

    /// `lease::acquire`: takes the lease for `holder` when nobody holds it, it is already
    /// `holder`'s, its holder stopped renewing for `ttl`, or `holder_live` is false (the
    /// holder's heartbeat is stale). Times are the database's clock.
    pub fn acquire_lease(
        &mut self,
        holder: &str,
        now: u64,
        ttl: u64,
        holder_live: bool,
    ) -> Option<i64> {
        let free = match &self.holder {
            None => true,
            Some(h) if h == holder => true,
            Some(_) => self.renewed_at + ttl < now || !holder_live,
        };
        if !free {
            return None;
        }
        self.epoch += 1;
        self.holder = Some(holder.to_owned());
        self.renewed_at = now;
        Some(self.epoch)
    }

    /// `lease::renew`.
    pub fn renew_lease(&mut self, holder: &str, epoch: i64, now: u64) -> bool {
        if self.holder.as_deref() == Some(holder) && self.epoch == epoch {
            self.renewed_at = now;
            true
        } else {
            false
        }
    }

    /// `lease::release`.
    pub fn release_lease(&mut self, holder: &str, epoch: i64) {
        if self.holder.as_deref() == Some(holder) && self.epoch == epoch {
            self.holder = None;
        }
    }

    /// Who holds the lease.
    pub fn lease_holder(&self) -> Option<&str> {
        self.holder.as_deref()
    }

    /// The current lease epoch.
    pub fn epoch(&self) -> i64 {
        self.epoch
    }

    /// Incomplete tasks in durable order, as `tasks::load_incomplete` returns them.
    pub fn load_incomplete(&self, only_unqueued: bool) -> Vec<TaskRow> {
        let mut rows: Vec<TaskRow> = self
            .tasks
            .values()
            .map(|t| &t.row)
            .filter(|r| {
                matches!(
                    r.state,
                    TaskState::Waiting | TaskState::Running | TaskState::Canceling
                )
            })
            .filter(|r| !only_unqueued || (r.queue_seq.is_none() && r.state == TaskState::Waiting))
            .cloned()
            .collect();
        rows.sort_by(|a, b| {
            (
                a.queue_seq.is_none(),
                a.queue_seq,
                a.created,
                a.id.to_string(),
            )
                .cmp(&(
                    b.queue_seq.is_none(),
                    b.queue_seq,
                    b.created,
                    b.id.to_string(),
                ))
        });
        rows
    }

    /// The highest queue position ever assigned (`tasks::max_queue_seq`).
    pub fn max_queue_seq(&self) -> i64 {
        self.tasks
            .values()
            .filter_map(|t| t.row.queue_seq)
            .max()
            .unwrap_or(0)
    }

    /// One task.
    pub fn task(&self, id: &Uuid) -> Option<&SimTask> {
        self.tasks.get(id)
    }

    /// Every task.
    pub fn tasks(&self) -> impl Iterator<Item = &SimTask> {
        self.tasks.values()
    }
}
