//! One fault round against a running cluster, and the invariants checked after it. Shared by
//! the cluster test (a few rounds) and `pith-bench --only faults` (a hundred), which includes
//! this file with `#[path]`; it uses only reqwest, serde_json and pith-entities.
//!
//! A round: dispatch a stream of tasks on a few overlapping resources (exclusive and shared),
//! SIGKILL a worker process once work is under way (the lock service's host or another one),
//! dispatch more while the cluster recovers, start a replacement, wait until every task is
//! final, then check from the task table and the bodies' journal: every task final; no body
//! ran twice; no two conflicting tasks overlapped in time; only tasks that ran on the killed
//! process failed, and with Pulp's "Worker has gone missing.".

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use pith_entities::sea_orm::ConnectionTrait;
use serde_json::{Value, json};

/// The processes of the cluster under test.
pub trait Workers {
    /// Pids of the running worker processes.
    fn pids(&self) -> Vec<u32>;
    /// SIGKILLs the worker process `pid` and reaps it.
    fn kill(&mut self, pid: u32);
    /// Starts a replacement worker process.
    fn replace(&mut self);
}

/// What a round did.
#[derive(Debug, Default)]
pub struct RoundStats {
    /// Tasks dispatched.
    pub tasks: usize,
    /// Tasks failed with the killed process.
    pub failed: usize,
    /// Whether the killed process held the lock-service lease.
    pub killed_holder: bool,
    /// From the SIGKILL to every task of the round being final.
    pub recovered_in: Duration,
}

/// The pid part of a Pulp-style worker name `PID.N@HOST`.
pub fn pid_of(worker: &str) -> Option<u32> {
    worker.split('.').next()?.parse().ok()
}

/// The id at the end of a task href.
pub fn task_id(href: &str) -> String {
    href.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The owner (worker name) of a task, from the table (the API's `worker` is always null).
pub async fn owner(db: &pith_entities::Db, href: &str) -> Option<String> {
    let rows = db
        .read
        .query_all_raw(db.stmt(
            "SELECT owner FROM core_task WHERE pulp_id = $1",
            vec![task_id(href).into()],
        ))
        .await
        .ok()?;
    rows.first()?.try_get::<Option<String>>("", "owner").ok()?
}

/// The pid of the worker process holding the lock-service lease.
pub async fn lease_holder_pid(db: &pith_entities::Db) -> Option<u32> {
    let rows = db
        .read
        .query_all_raw(db.stmt(
            "SELECT a.name FROM core_locklease l JOIN core_appstatus a ON a.incarnation = l.holder \
             WHERE l.id = 1 AND a.app_type = 'worker'",
            vec![],
        ))
        .await
        .ok()?;
    let name: String = rows.first()?.try_get("", "name").ok()?;
    pid_of(&name)
}

fn conflicts(a: &[(String, bool)], b: &[(String, bool)]) -> bool {
    a.iter()
        .any(|(r, ex)| b.iter().any(|(s, ex2)| r == s && (*ex || *ex2)))
}

fn micros(v: &Value) -> Option<i64> {
    pith_entities::time::parse_rfc3339(v.as_str()?)
}

fn journal_runs(dir: &Path) -> BTreeMap<String, usize> {
    let mut runs = BTreeMap::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let task = name.split('.').next().unwrap_or_default().to_owned();
        *runs.entry(task).or_insert(0) += 1;
    }
    runs
}

/// A small seeded generator (xorshift), so a round's workload is reproducible.
pub struct Seq(pub u64);

impl Seq {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Planned {
    href: String,
    claims: Vec<(String, bool)>,
}

async fn dispatch(
    c: &reqwest::Client,
    api: &str,
    password: &str,
    journal: &Path,
    seq: &mut Seq,
    n: usize,
    out: &mut Vec<Planned>,
) -> Result<(), String> {
    let resources = ["a", "b", "c", "d"];
    for _ in 0..n {
        let k = 1 + (seq.next() % 2) as usize;
        let mut claims: Vec<(String, bool)> = Vec::new();
        for _ in 0..k {
            let r = resources[(seq.next() % 4) as usize].to_owned();
            if !claims.iter().any(|(c, _)| *c == r) {
                claims.push((r, seq.next().is_multiple_of(3)));
            }
        }
        let secs = 0.05 + (seq.next() % 6) as f64 * 0.05;
        let pick = |ex: bool| {
            claims
                .iter()
                .filter(|c| c.1 == ex)
                .map(|c| c.0.clone())
                .collect::<Vec<_>>()
        };
        let body = json!({
            "seconds": secs,
            "journal": journal.to_string_lossy(),
            "exclusive_resources": pick(true),
            "shared_resources": pick(false),
        });
        let r = c
            .post(format!("{api}/pulp/api/v3/pith/test/tasks/"))
            .basic_auth("admin", Some(password))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("dispatch: {e}"))?;
        if r.status() != 202 {
            return Err(format!("dispatch answered {}", r.status()));
        }
        let v: Value = r.json().await.map_err(|e| e.to_string())?;
        out.push(Planned {
            href: v["task"].as_str().unwrap_or_default().to_owned(),
            claims,
        });
    }
    Ok(())
}

async fn task(c: &reqwest::Client, api: &str, password: &str, href: &str) -> Value {
    match c
        .get(format!("{api}{href}"))
        .basic_auth("admin", Some(password))
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// Runs round number `round` (even rounds kill the lease holder, odd ones another worker) and
/// checks the invariants; `Err` describes the first violation.
#[allow(clippy::too_many_arguments)]
pub async fn round(
    round: usize,
    workers: &mut impl Workers,
    c: &reqwest::Client,
    api: &str,
    password: &str,
    db: &pith_entities::Db,
    journal: &Path,
    seq: &mut Seq,
) -> Result<RoundStats, String> {
    let mut planned = Vec::new();
    dispatch(c, api, password, journal, seq, 20, &mut planned).await?;
    let end = Instant::now() + Duration::from_secs(20);
    'wait: loop {
        for p in &planned {
            if task(c, api, password, &p.href).await["state"] == "running" {
                break 'wait;
            }
        }
        if Instant::now() > end {
            return Err(format!("round {round}: no task started"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let holder = lease_holder_pid(db).await;
    let pids = workers.pids();
    let want_holder = round.is_multiple_of(2);
    let victim = pids
        .iter()
        .copied()
        .find(|p| (Some(*p) == holder) == want_holder)
        .ok_or(format!(
            "round {round}: no victim among {pids:?} (holder {holder:?})"
        ))?;
    let killed = Instant::now();
    workers.kill(victim);
    // The API keeps accepting work while the cluster recovers.
    dispatch(c, api, password, journal, seq, 6, &mut planned).await?;
    workers.replace();

    let mut done = Vec::new();
    for p in &planned {
        let end = Instant::now() + Duration::from_secs(60);
        let t = loop {
            let t = task(c, api, password, &p.href).await;
            if matches!(
                t["state"].as_str(),
                Some("completed" | "failed" | "canceled")
            ) {
                break t;
            }
            if Instant::now() > end {
                return Err(format!("round {round}: a task never finished: {t}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        done.push(t);
    }
    let recovered_in = killed.elapsed();
    let runs = journal_runs(journal);
    let mut failed = 0;
    for (t, p) in done.iter().zip(&planned) {
        let n = runs.get(&task_id(&p.href)).copied().unwrap_or(0);
        match t["state"].as_str() {
            Some("completed") if n == 1 => {}
            Some("completed") => return Err(format!("round {round}: body ran {n} times: {t}")),
            Some("failed") => {
                failed += 1;
                if n > 1 {
                    return Err(format!("round {round}: body ran {n} times: {t}"));
                }
                if t["error"]["reason"] != "Worker has gone missing." {
                    return Err(format!("round {round}: failed otherwise: {t}"));
                }
                let ran = owner(db, &p.href).await.as_deref().and_then(pid_of);
                if ran != Some(victim) {
                    return Err(format!(
                        "round {round}: a task of {ran:?} failed, but {victim} was killed: {t}"
                    ));
                }
            }
            _ => return Err(format!("round {round}: unexpected final state: {t}")),
        }
    }
    for (i, a) in done.iter().enumerate() {
        for (j, b) in done.iter().enumerate().skip(i + 1) {
            if !conflicts(&planned[i].claims, &planned[j].claims) {
                continue;
            }
            let times = (
                micros(&a["started_at"]),
                micros(&a["finished_at"]),
                micros(&b["started_at"]),
                micros(&b["finished_at"]),
            );
            if let (Some(s1), Some(e1), Some(s2), Some(e2)) = times
                && !(e1 <= s2 || e2 <= s1)
            {
                return Err(format!(
                    "round {round}: conflicting tasks overlapped:\n{a}\n{b}"
                ));
            }
        }
    }
    if want_holder {
        let now = lease_holder_pid(db).await;
        if now == Some(victim) {
            return Err(format!(
                "round {round}: the killed process still holds the lease"
            ));
        }
    }
    Ok(RoundStats {
        tasks: done.len(),
        failed,
        killed_holder: Some(victim) == holder,
        recovered_in,
    })
}
