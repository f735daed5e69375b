//! Task rows as the tasking runtime sees them: states, the data a dispatch inserts, and the
//! projection the lock service loads when it scans the table or rebuilds after a restart.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use crate::{Db, DbError, time::Micros};

/// Pulp's task states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    /// Dispatched, not started.
    Waiting,
    /// Started by a worker (or inline by the API for an immediate task).
    Running,
    /// Cancel requested while running; the owner finalises it.
    Canceling,
    /// Finished successfully.
    Completed,
    /// Finished with an error (or declared lost).
    Failed,
    /// Canceled before or while running.
    Canceled,
    /// Defined by Pulp, never produced by its core (nor by Pith).
    Skipped,
}

impl TaskState {
    /// Every state, in Pulp's order.
    pub const ALL: [TaskState; 7] = [
        TaskState::Waiting,
        TaskState::Skipped,
        TaskState::Running,
        TaskState::Completed,
        TaskState::Failed,
        TaskState::Canceled,
        TaskState::Canceling,
    ];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Waiting => "waiting",
            TaskState::Running => "running",
            TaskState::Canceling => "canceling",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Canceled => "canceled",
            TaskState::Skipped => "skipped",
        }
    }

    /// Parses a wire or database name.
    pub fn parse(s: &str) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Completed, failed, canceled and skipped are final: nothing changes them again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Failed | TaskState::Canceled | TaskState::Skipped
        )
    }
}

/// One resource a task reserves: exclusive, or shared (Pulp's `shared:` prefix).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceClaim {
    /// The resource name: a PRN or a free string such as `pdrn:<domain>:orphans`.
    pub resource: String,
    /// Exclusive claims conflict with everything; shared ones only with exclusive ones.
    pub exclusive: bool,
}

impl ResourceClaim {
    /// Parses Pulp's record form (`"shared:" + resource` for shared claims).
    pub fn from_record(s: &str) -> ResourceClaim {
        match s.strip_prefix("shared:") {
            Some(r) => ResourceClaim {
                resource: r.to_owned(),
                exclusive: false,
            },
            None => ResourceClaim {
                resource: s.to_owned(),
                exclusive: true,
            },
        }
    }

    /// Pulp's record form.
    pub fn to_record(&self) -> String {
        if self.exclusive {
            self.resource.clone()
        } else {
            format!("shared:{}", self.resource)
        }
    }

    /// Builds Pulp's resource list: exclusive ones, then shared ones not also exclusive,
    /// de-duplicated, in the order given.
    pub fn normalise(exclusive: &[String], shared: &[String]) -> Vec<ResourceClaim> {
        let mut out: Vec<ResourceClaim> = Vec::new();
        for r in exclusive {
            if !out.iter().any(|c| &c.resource == r) {
                out.push(ResourceClaim {
                    resource: r.clone(),
                    exclusive: true,
                });
            }
        }
        for r in shared {
            if !out.iter().any(|c| &c.resource == r) {
                out.push(ResourceClaim {
                    resource: r.clone(),
                    exclusive: false,
                });
            }
        }
        out
    }
}

/// What a dispatch inserts.
#[derive(Clone, Debug)]
pub struct NewTask {
    /// The task's id (UUIDv7).
    pub id: Uuid,
    /// Pulp's dotted task name.
    pub name: String,
    /// The body's arguments, as JSON.
    pub args: serde_json::Value,
    /// Reserved resources.
    pub resources: Vec<ResourceClaim>,
    /// The request's correlation id.
    pub logging_cid: String,
    /// Href of the dispatching user.
    pub created_by: Option<String>,
    /// Pulp's `immediate` flag.
    pub immediate: bool,
    /// Pulp's `deferred` flag.
    pub deferred: bool,
    /// Creation time.
    pub created: Micros,
}

/// The lock service's view of an incomplete task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRow {
    /// The task's id.
    pub id: Uuid,
    /// Its state.
    pub state: TaskState,
    /// Pulp's dotted task name.
    pub name: String,
    /// The body's arguments (JSON text).
    pub args: String,
    /// Durable queue position, once the lock service has assigned one.
    pub queue_seq: Option<i64>,
    /// Creation time (the order of unqueued tasks).
    pub created: Micros,
    /// Owner (worker name) and its process incarnation.
    pub owner: Option<(String, String)>,
    /// Reserved resources.
    pub resources: Vec<ResourceClaim>,
}

fn uuid_of(s: &str) -> Result<Uuid, DbError> {
    Uuid::parse_str(s).map_err(|e| DbError::Corrupt(format!("task id {s:?}: {e}")))
}

/// Loads tasks that are not final, in durable queue order (queued ones by position, then
/// unqueued ones by creation). `only_unqueued` restricts to tasks without a position.
pub async fn load_incomplete(db: &Db, only_unqueued: bool) -> Result<Vec<TaskRow>, DbError> {
    let filter = if only_unqueued {
        "AND queue_seq IS NULL AND state = 'waiting'"
    } else {
        ""
    };
    let sql = format!(
        "SELECT pulp_id, state, name, args, queue_seq, pulp_created, owner, owner_incarnation \
         FROM core_task WHERE state IN ('waiting','running','canceling') {filter} \
         ORDER BY CASE WHEN queue_seq IS NULL THEN 1 ELSE 0 END, queue_seq, pulp_created, pulp_id"
    );
    let rows = db.read.query_all_raw(db.stmt(&sql, vec![])).await?;
    let mut tasks = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("", "pulp_id")?;
        let state: String = r.try_get("", "state")?;
        let owner: Option<String> = r.try_get("", "owner")?;
        let inc: Option<String> = r.try_get("", "owner_incarnation")?;
        tasks.push(TaskRow {
            id: uuid_of(&id)?,
            state: TaskState::parse(&state)
                .ok_or_else(|| DbError::Corrupt(format!("state {state:?}")))?,
            name: r.try_get("", "name")?,
            args: r.try_get("", "args")?,
            queue_seq: r.try_get("", "queue_seq")?,
            created: r.try_get("", "pulp_created")?,
            owner: owner.zip(inc),
            resources: Vec::new(),
        });
    }
    if !tasks.is_empty() {
        let ids: Vec<String> = tasks.iter().map(|t| t.id.to_string()).collect();
        let mut res = load_resources(db, &ids).await?;
        for t in &mut tasks {
            t.resources = res.remove(&t.id.to_string()).unwrap_or_default();
        }
    }
    Ok(tasks)
}

/// Loads the resources of the given tasks, in chunks to stay under parameter limits.
pub async fn load_resources(
    db: &Db,
    ids: &[String],
) -> Result<BTreeMap<String, Vec<ResourceClaim>>, DbError> {
    let mut out: BTreeMap<String, Vec<ResourceClaim>> = BTreeMap::new();
    for chunk in ids.chunks(crate::MAX_BIND) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT task_id, resource, exclusive FROM core_taskresource WHERE task_id IN ({}) \
             ORDER BY task_id, exclusive DESC, resource",
            placeholders.join(",")
        );
        let values = chunk.iter().map(|s| Value::from(s.clone())).collect();
        for r in db.read.query_all_raw(db.stmt(&sql, values)).await? {
            let id: String = r.try_get("", "task_id")?;
            out.entry(id).or_default().push(ResourceClaim {
                resource: r.try_get("", "resource")?,
                exclusive: r.try_get("", "exclusive")?,
            });
        }
    }
    Ok(out)
}

/// The highest queue position ever assigned (the sequencer continues after it).
pub async fn max_queue_seq(db: &Db) -> Result<i64, DbError> {
    let row = db
        .write
        .query_all_raw(db.stmt("SELECT MAX(queue_seq) AS m FROM core_task", vec![]))
        .await?;
    Ok(row
        .into_iter()
        .next()
        .and_then(|r| r.try_get::<Option<i64>>("", "m").ok().flatten())
        .unwrap_or(0))
}

/// The correlation id a task was dispatched with (`logging_cid`), for messages that point
/// at the logs; `None` when the task row is gone.
pub async fn logging_cid(db: &Db, task: Uuid) -> Result<Option<String>, DbError> {
    use sea_orm::EntityTrait;
    Ok(crate::entity::task::Entity::find_by_id(task.to_string())
        .one(&db.read)
        .await?
        .map(|t| t.logging_cid))
}

/// Which finished tasks a purge deletes: finished before `before`, in one of `states`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgeFilter {
    /// `finished_at` strictly before this (µs).
    pub before: Micros,
    /// Final states (non-empty).
    pub states: Vec<String>,
}

impl PurgeFilter {
    fn condition(&self) -> (String, Vec<Value>) {
        let sql = format!(
            "finished_at < $1 AND state IN ({})",
            crate::db::placeholders(2, self.states.len())
        );
        let mut values: Vec<Value> = vec![self.before.into()];
        values.extend(self.states.iter().map(|s| Value::from(s.clone())));
        (sql, values)
    }
}

/// How many tasks `filter` selects.
pub async fn purge_count(db: &Db, filter: &PurgeFilter) -> Result<i64, DbError> {
    let (cond, values) = filter.condition();
    Ok(db
        .read
        .query_one_raw(db.stmt(
            &format!("SELECT COUNT(*) AS n FROM core_task WHERE {cond}"),
            values,
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

/// Deletes the oldest `limit` tasks `filter` selects, with their progress reports, created
/// resources and resource claims, in `conn` (the caller's transaction); returns (tasks,
/// related rows) deleted. Zero tasks: nothing is left to purge.
pub async fn purge_batch(
    db: &Db,
    conn: &impl ConnectionTrait,
    filter: &PurgeFilter,
    limit: u64,
) -> Result<(i64, i64), DbError> {
    let (cond, values) = filter.condition();
    let ids: Vec<String> = conn
        .query_all_raw(db.stmt(
            &format!(
                "SELECT pulp_id FROM core_task WHERE {cond} ORDER BY pulp_created LIMIT {limit}"
            ),
            values,
        ))
        .await?
        .into_iter()
        .map(|r| r.try_get::<String>("", "pulp_id"))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok((0, 0));
    }
    let ph = crate::db::placeholders(1, ids.len());
    let vals: Vec<Value> = ids.iter().map(|s| Value::from(s.clone())).collect();
    let mut related = 0;
    for table in [
        "core_progressreport",
        "core_createdresource",
        "core_taskresource",
    ] {
        let sql = format!("DELETE FROM {table} WHERE task_id IN ({ph})");
        related += conn
            .execute_raw(db.stmt(&sql, vals.clone()))
            .await?
            .rows_affected() as i64;
    }
    let n = conn
        .execute_raw(db.stmt(
            &format!("DELETE FROM core_task WHERE pulp_id IN ({ph})"),
            vals,
        ))
        .await?
        .rows_affected() as i64;
    Ok((n, related))
}

/// Deletes finished task `id` with its progress reports, created resources and resource
/// claims (a task that is not finished stays).
pub async fn delete_finished(db: &Db, id: &str) -> Result<(), DbError> {
    use sea_orm::TransactionTrait;
    let txn = db.write.begin().await?;
    for table in [
        "core_progressreport",
        "core_createdresource",
        "core_taskresource",
    ] {
        txn.execute_raw(db.stmt(
            &format!("DELETE FROM {table} WHERE task_id = $1"),
            vec![id.to_owned().into()],
        ))
        .await?;
    }
    txn.execute_raw(db.stmt(
        "DELETE FROM core_task WHERE pulp_id = $1 AND state IN ('completed','failed','canceled','skipped')",
        vec![id.to_owned().into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Running (or canceling) tasks whose owner is not `own` and whose owner's heartbeat is stale
/// or gone, on the database's clock: `(task, owner incarnation)`.
pub async fn abandoned(db: &Db, own: &str) -> Result<Vec<(Uuid, String)>, DbError> {
    let sql = format!(
        "SELECT t.pulp_id, t.owner_incarnation FROM core_task t \
         WHERE t.state IN ('running','canceling') AND t.owner_incarnation IS NOT NULL \
         AND t.owner_incarnation <> $1 AND NOT EXISTS (SELECT 1 FROM core_appstatus a \
         WHERE a.incarnation = t.owner_incarnation AND a.last_heartbeat >= {} - a.ttl * 1000000)",
        db.now_sql()
    );
    let mut out = Vec::new();
    for r in db
        .read
        .query_all_raw(db.stmt(&sql, vec![own.to_owned().into()]))
        .await?
    {
        let id: String = r.try_get("", "pulp_id")?;
        if let Ok(task) = Uuid::parse_str(&id) {
            out.push((task, r.try_get("", "owner_incarnation")?));
        }
    }
    Ok(out)
}

/// The states of those of `tasks` that are neither running nor canceling.
pub async fn idle_states(db: &Db, tasks: &[Uuid]) -> Result<Vec<(Uuid, String)>, DbError> {
    let ids: Vec<String> = tasks.iter().map(Uuid::to_string).collect();
    let rows = db
        .select_in(
            &db.read,
            "SELECT pulp_id, state FROM core_task WHERE pulp_id IN ({ids}) AND state <> 'running' AND state <> 'canceling'",
            &[],
            &ids,
            |r| Ok((r.try_get::<String>("", "pulp_id")?, r.try_get::<String>("", "state")?)),
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, state)| Uuid::parse_str(&id).ok().map(|t| (t, state)))
        .collect())
}

/// Task counts for the gauges: `(waiting, running, canceling)`, and the number of waiting
/// tasks unblocked before `unblocked_before` with the oldest one's unblock time.
pub async fn gauges(
    db: &Db,
    unblocked_before: Micros,
) -> Result<([i64; 3], i64, Option<Micros>), DbError> {
    let rows = db
        .read
        .query_all_raw(db.stmt(
            "SELECT state, COUNT(*) AS n FROM core_task WHERE state IN ('waiting','running','canceling') GROUP BY state",
            vec![],
        ))
        .await?;
    let mut by_state = [0i64; 3];
    for r in rows {
        let st: String = r.try_get("", "state")?;
        let i = match st.as_str() {
            "waiting" => 0,
            "running" => 1,
            _ => 2,
        };
        by_state[i] = r.try_get("", "n")?;
    }
    let r = db
        .read
        .query_one_raw(db.stmt(
            "SELECT COUNT(*) AS n, MIN(unblocked_at) AS oldest FROM core_task \
             WHERE state = 'waiting' AND unblocked_at IS NOT NULL AND unblocked_at < $1",
            vec![unblocked_before.into()],
        ))
        .await?;
    let (n, oldest) = match r {
        Some(r) => (r.try_get("", "n")?, r.try_get("", "oldest")?),
        None => (0, None),
    };
    Ok((by_state, n, oldest))
}
