//! The simulated store against the real one: the same random `WriteOp` sequences go to
//! `SimDb` and to the real batching writer on SQLite (and PostgreSQL when the machine has it;
//! required under `CI=true`), and every answer and the resulting task table must agree.

#[path = "../../tests/e2e/pg.rs"]
#[allow(dead_code)]
mod pg;

use pith_entities::sea_orm::EntityTrait;
use pith_entities::{
    Db, NewTask, ResourceClaim, TaskState, WriteOp, Writer, entity::task, migration, tasks,
};
use simulations::db::SimDb;
use simulations::rng::Rng;
use uuid::Uuid;

/// A random op; inserts only ids not inserted yet (a real dispatch always has a fresh UUIDv7).
fn random_op(
    r: &mut Rng,
    ids: &[Uuid],
    inserted: &mut std::collections::BTreeSet<Uuid>,
) -> WriteOp {
    let task = ids[r.below(ids.len() as u64) as usize];
    let owner = format!("w{}", r.range(1, 2));
    let incarnation = format!("i{}", r.range(1, 2));
    match r.below(8) {
        0 | 1 if inserted.insert(task) => {
            let mut resources = Vec::new();
            for i in 0..r.below(3) {
                resources.push(ResourceClaim {
                    resource: format!("r{}", (i + r.below(3)) % 3),
                    exclusive: r.chance(500),
                });
            }
            resources.sort();
            resources.dedup_by(|a, b| a.resource == b.resource);
            WriteOp::InsertTask(NewTask {
                id: task,
                name: "diff".into(),
                args: serde_json::json!({"n": r.below(10)}),
                resources,
                logging_cid: "cid".into(),
                created_by: None,
                immediate: false,
                deferred: true,
                created: r.below(5) as i64,
            })
        }
        0..=2 => WriteOp::AssignQueue {
            task,
            seq: r.range(1, 20) as i64,
            epoch: r.range(1, 3) as i64,
        },
        3 => WriteOp::StartTask {
            task,
            owner,
            incarnation,
            epoch: r.range(1, 3) as i64,
            at: 1,
        },
        4 => {
            let state =
                [TaskState::Completed, TaskState::Failed, TaskState::Canceled][r.below(3) as usize];
            let error =
                (state == TaskState::Failed).then(|| serde_json::json!({"description": "x"}));
            WriteOp::FinishTask {
                task,
                owner,
                incarnation,
                state,
                error,
                result: None,
                created: vec![],
                had_progress: false,
                at: 2,
            }
        }
        5 => WriteOp::CancelWaiting { task, at: 3 },
        6 => WriteOp::MarkCanceling { task, at: 4 },
        _ => WriteOp::FailAbandoned {
            task,
            incarnation,
            reason: "Worker has gone missing.".into(),
            at: 5,
        },
    }
}

async fn compare(url: &str, seeds: std::ops::Range<u64>) {
    for seed in seeds {
        let db = Db::connect(&url.replace("{seed}", &seed.to_string()))
            .await
            .expect("connect");
        migration::migrate(&db, Vec::new()).await.expect("migrate");
        let writer = Writer::start(db.clone());
        let mut sim = SimDb::default();
        let mut r = Rng::new(seed);
        let ids: Vec<Uuid> = (0..5)
            .map(|_| Uuid::from_u64_pair(r.next_u64(), r.next_u64()))
            .collect();
        let mut inserted = std::collections::BTreeSet::new();
        for _ in 0..r.range(1, 3) {
            let real = pith_actors::tasking::node::take_lease(&db, "diff")
                .await
                .expect("lease");
            assert_eq!(real, sim.take_lease(), "seed {seed}: lease epochs differ");
        }
        for step in 0..60 {
            let op = random_op(&mut r, &ids, &mut inserted);
            let real = writer.submit(op.clone()).await.expect("real write");
            let simulated = sim.apply(&op);
            assert_eq!(
                real, simulated,
                "seed {seed} step {step}: {op:?} changed {real} real rows, {simulated} simulated"
            );
        }
        for only_unqueued in [false, true] {
            let real: Vec<_> = tasks::load_incomplete(&db, only_unqueued)
                .await
                .expect("load");
            let simulated = sim.load_incomplete(only_unqueued);
            assert_eq!(
                real, simulated,
                "seed {seed}: incomplete tasks differ (only_unqueued={only_unqueued})"
            );
        }
        assert_eq!(
            tasks::max_queue_seq(&db).await.expect("max"),
            sim.max_queue_seq(),
            "seed {seed}"
        );
        for row in task::Entity::find().all(&db.read).await.expect("tasks") {
            let id = Uuid::parse_str(&row.pulp_id).expect("uuid");
            let s = sim.task(&id).expect("task in the simulated store");
            assert_eq!(
                TaskState::parse(&row.state),
                Some(s.row.state),
                "seed {seed} task {id}"
            );
            assert_eq!(row.queue_seq, s.row.queue_seq, "seed {seed} task {id}");
            assert_eq!(
                row.owner.zip(row.owner_incarnation),
                s.row.owner,
                "seed {seed} task {id}"
            );
            assert_eq!(
                row.error.is_some(),
                s.error.is_some(),
                "seed {seed} task {id}"
            );
        }
        assert_eq!(
            task::Entity::find()
                .all(&db.read)
                .await
                .expect("tasks")
                .len(),
            sim.tasks().count(),
            "seed {seed}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_store_matches_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/diff-{{seed}}.db", dir.path().display());
    compare(&url, 0..60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_store_matches_postgres() {
    let Some(bindir) = pg::bindir() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but PostgreSQL is missing"
        );
        eprintln!("PostgreSQL not found: skipping");
        return;
    };
    let server = pg::start(bindir, false).expect("start PostgreSQL");
    for seed in 0..25u64 {
        server.create_db(&format!("diff_{seed}")).expect("createdb");
    }
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/diff_{{seed}}",
        server.port
    );
    compare(&url, 0..25).await;
}
