//! The tasking runtime through the API: resource serialization, cancel, failures, immediate
//! tasks, purge, and what survives kill -9, SIGTERM and SIGINT.

use rustix::process::Signal;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Env, PASSWORD};

both_backends!(
    resources_serialize_and_shared_overlap,
    cancel_waiting_and_running_tasks,
    failures_and_panics_fail_only_their_task,
    immediate_tasks_run_inline_when_free,
    purge_deletes_finished_tasks,
    kill_9_fails_running_task_and_later_tasks_run,
    kill_9_mid_download_leaves_no_working_files,
    sigterm_drains_and_sigint_aborts,
);

fn ts(t: &Value, f: &str) -> String {
    t[f].as_str()
        .unwrap_or_else(|| panic!("{f} missing in {t}"))
        .to_owned()
}

async fn resources_serialize_and_shared_overlap(env: Env) {
    let s = env.start(&[]);
    // Exclusive on one resource: strictly one after the other, in dispatch order.
    let a = s
        .test_task(json!({"seconds": 0.4, "exclusive_resources": ["r1"]}))
        .await;
    let b = s
        .test_task(json!({"seconds": 0, "exclusive_resources": ["r1"]}))
        .await;
    let (ta, tb) = (s.finished(&a).await, s.finished(&b).await);
    assert_eq!(
        (ta["state"].as_str(), tb["state"].as_str()),
        (Some("completed"), Some("completed"))
    );
    assert!(
        ts(&tb, "started_at") >= ts(&ta, "finished_at"),
        "{ta}\n{tb}"
    );
    assert_eq!(ta["reserved_resources_record"], json!(["r1"]));

    // Shared holders run together (two workers).
    let c = s
        .test_task(json!({"seconds": 0.6, "shared_resources": ["r2"]}))
        .await;
    let d = s
        .test_task(json!({"seconds": 0.6, "shared_resources": ["r2"]}))
        .await;
    let (tc, td) = (s.finished(&c).await, s.finished(&d).await);
    assert!(
        ts(&td, "started_at") < ts(&tc, "finished_at"),
        "shared tasks overlap: {tc}\n{td}"
    );
    assert_eq!(tc["reserved_resources_record"], json!(["shared:r2"]));

    // An exclusive claim waits for earlier shared holders; a later shared claim waits for it.
    let e = s
        .test_task(json!({"seconds": 0.3, "shared_resources": ["r3"]}))
        .await;
    let f = s
        .test_task(json!({"seconds": 0.1, "exclusive_resources": ["r3"]}))
        .await;
    let g = s
        .test_task(json!({"seconds": 0, "shared_resources": ["r3"]}))
        .await;
    let (te, tf, tg) = (
        s.finished(&e).await,
        s.finished(&f).await,
        s.finished(&g).await,
    );
    assert!(ts(&tf, "started_at") >= ts(&te, "finished_at"));
    assert!(
        ts(&tg, "started_at") >= ts(&tf, "finished_at"),
        "FIFO: the later shared task waits for the exclusive one"
    );

    // Multi-resource tasks in crossing orders never deadlock.
    let mut hrefs = Vec::new();
    for i in 0..12 {
        let res = if i % 2 == 0 { ["x", "y"] } else { ["y", "x"] };
        let body = if i % 3 == 0 {
            json!({"seconds": 0.02, "exclusive_resources": res})
        } else {
            json!({"seconds": 0.02, "exclusive_resources": [res[0]], "shared_resources": [res[1]]})
        };
        hrefs.push(s.test_task(body).await);
    }
    for h in &hrefs {
        assert_eq!(s.finished(h).await["state"], "completed");
    }
    assert_eq!(
        s.json("/pulp/api/v3/tasks/?reserved_resources=x").await.1["count"],
        12
    );
    assert_eq!(
        s.json("/pulp/api/v3/tasks/?exclusive_resources=r1").await.1["count"],
        2
    );
    assert_eq!(
        s.json("/pulp/api/v3/tasks/?shared_resources=r2").await.1["count"],
        2
    );
}

async fn cancel_waiting_and_running_tasks(env: Env) {
    let s = env.start(&[]);
    let running = s
        .test_task(json!({"seconds": 60, "exclusive_resources": ["rc"]}))
        .await;
    s.wait_task(&running, |t| t["state"] == "running").await;
    let (_, workers) = s.json("/pulp/api/v3/workers/").await;
    let busy: Vec<&Value> = workers["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| !w["current_task"].is_null())
        .collect();
    assert_eq!(busy.len(), 1, "{workers}");
    assert_eq!(busy[0]["current_task"], running.as_str());
    let waiting = s
        .test_task(json!({"seconds": 0, "exclusive_resources": ["rc"]}))
        .await;
    assert_eq!(s.json(&waiting).await.1["state"], "waiting");

    // Unfinished tasks cannot be deleted.
    let r = s
        .client
        .delete(s.url(&running))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        s.send(
            reqwest::Method::PATCH,
            &running,
            json!({"state": "completed"})
        )
        .await
        .0,
        400
    );

    let (code, t) = s
        .send(
            reqwest::Method::PATCH,
            &waiting,
            json!({"state": "canceled"}),
        )
        .await;
    assert_eq!((code, t["state"].as_str()), (200, Some("canceled")));
    let (code, t) = s
        .send(
            reqwest::Method::PATCH,
            &running,
            json!({"state": "canceled"}),
        )
        .await;
    assert_eq!(code, 200);
    assert!(
        matches!(t["state"].as_str(), Some("canceling" | "canceled")),
        "{t}"
    );
    let t = s.finished(&running).await;
    assert_eq!(t["state"], "canceled");
    assert_eq!(t["error"], Value::Null);

    // The resource is free again.
    let next = s
        .test_task(json!({"seconds": 0, "exclusive_resources": ["rc"]}))
        .await;
    assert_eq!(s.finished(&next).await["state"], "completed");
    assert_eq!(
        s.json(&waiting).await.1["started_at"],
        Value::Null,
        "a canceled waiting task never starts"
    );

    // Final tasks: cancel is a conflict; delete works.
    let (code, t) = s
        .send(reqwest::Method::PATCH, &next, json!({"state": "canceled"}))
        .await;
    assert_eq!((code, t["state"].as_str()), (409, Some("completed")));
    let r = s
        .client
        .delete(s.url(&next))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.json(&next).await.0, 404);
}

async fn failures_and_panics_fail_only_their_task(env: Env) {
    let s = env.start(&[]);
    let f = s.test_task(json!({"fail": true})).await;
    let t = s.finished(&f).await;
    assert_eq!(t["state"], "failed");
    assert_eq!(t["error"]["description"], "Test task asked to fail.");
    let mut panics = Vec::new();
    for _ in 0..3 {
        panics.push(
            s.test_task(json!({"panic": true, "exclusive_resources": ["p"]}))
                .await,
        );
    }
    for p in &panics {
        let t = s.finished(p).await;
        assert_eq!(t["state"], "failed");
        assert!(
            t["error"]["description"]
                .as_str()
                .unwrap()
                .contains("panicked"),
            "{t}"
        );
    }
    let ok = s
        .test_task(json!({"exclusive_resources": ["p"], "result": {"fine": true}}))
        .await;
    let t = s.finished(&ok).await;
    assert_eq!(t["state"], "completed");
    assert_eq!(t["result"], json!({"fine": true}));
    assert_eq!(
        s.json("/pulp/api/v3/workers/?online=true").await.1["count"],
        2,
        "workers carry on"
    );
}

async fn immediate_tasks_run_inline_when_free(env: Env) {
    let s = env.start(&[]);
    let now = s
        .test_task(json!({"immediate": true, "exclusive_resources": ["i"], "result": 7}))
        .await;
    let t = s.json(&now).await.1;
    assert_eq!(
        t["state"], "completed",
        "an immediate task on a free resource is final when the 202 arrives: {t}"
    );
    assert_eq!(t["result"], 7);

    let holder = s
        .test_task(json!({"seconds": 0.5, "exclusive_resources": ["i"]}))
        .await;
    s.wait_task(&holder, |t| t["state"] == "running").await;
    let deferred = s
        .test_task(json!({"immediate": true, "exclusive_resources": ["i"]}))
        .await;
    let refused = s
        .test_task(json!({"immediate": true, "deferred": false, "exclusive_resources": ["i"]}))
        .await;
    assert_eq!(s.json(&refused).await.1["state"], "canceled");
    let t = s.finished(&deferred).await;
    assert_eq!(t["state"], "completed");
    assert!(ts(&t, "started_at") >= ts(&s.finished(&holder).await, "finished_at"));
}

async fn purge_deletes_finished_tasks(env: Env) {
    let s = env.start(&[]);
    let done = s.test_task(json!({})).await;
    let failed = s.test_task(json!({"fail": true})).await;
    s.finished(&done).await;
    s.finished(&failed).await;
    let r = s
        .post("/pulp/api/v3/tasks/purge/", &json!({"states": ["bogus"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .post(
            "/pulp/api/v3/tasks/purge/",
            &json!({"finished_before": "2999-01-01T00:00:00Z"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let p = s
        .finished(r.json::<Value>().await.unwrap()["task"].as_str().unwrap())
        .await;
    assert_eq!(p["state"], "completed", "{p}");
    let total = p["progress_reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "purge.tasks.key.core.Task")
        .unwrap();
    assert_eq!(total["total"], 1, "only completed tasks by default: {p}");
    assert_eq!(s.json(&done).await.0, 404);
    assert_eq!(s.json(&failed).await.0, 200);
}

async fn kill_9_fails_running_task_and_later_tasks_run(env: Env) {
    let mut s = env.start(&[]);
    let long = s
        .test_task(json!({"seconds": 120, "exclusive_resources": ["k"]}))
        .await;
    s.wait_task(&long, |t| t["state"] == "running").await;
    let queued = s
        .test_task(json!({"seconds": 0, "exclusive_resources": ["k"]}))
        .await;
    s.signal_and_wait(Signal::KILL);

    let s = env.start(&[]);
    let t = s.finished(&long).await;
    assert_eq!(t["state"], "failed");
    assert_eq!(t["error"], json!({"reason": "Worker has gone missing."}));
    assert_eq!(
        s.finished(&queued).await["state"],
        "completed",
        "the waiting task runs after recovery"
    );
    let after = s.test_task(json!({"exclusive_resources": ["k"]})).await;
    assert_eq!(s.finished(&after).await["state"], "completed");
}

async fn sigterm_drains_and_sigint_aborts(env: Env) {
    let mut s = env.start(&[]);
    let t = s.test_task(json!({"seconds": 1.0})).await;
    s.wait_task(&t, |t| t["state"] == "running").await;
    let status = s.signal_and_wait(Signal::TERM);
    assert!(status.success(), "SIGTERM exits cleanly: {status:?}");

    let mut s = env.start(&[]);
    assert_eq!(
        s.json(&t).await.1["state"],
        "completed",
        "SIGTERM let the running task finish"
    );
    let t2 = s.test_task(json!({"seconds": 120})).await;
    s.wait_task(&t2, |t| t["state"] == "running").await;
    s.signal_and_wait(Signal::INT);

    let s = env.start(&[]);
    let v = s.json(&t2).await.1;
    assert_eq!(v["state"], "failed");
    assert_eq!(
        v["error"],
        json!({"reason": "Aborted during worker shutdown."})
    );
}

/// `pith api`, `pith worker` and `pith content` as separate processes on one PostgreSQL, each
/// with its own HTTP surface.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_share_work_through_postgres() {
    let Some(env) = Env::new(crate::support::Backend::Postgres) else {
        return;
    };
    let fast = [
        ("PULP_PITH_TASK_SCAN_INTERVAL", "0.2"),
        ("PULP_CLUSTER_SECRET", "e2e-cluster"),
        ("PULP_CLUSTER_BIND", "127.0.0.1:0"),
    ];
    let _worker = env.spawn(
        &["worker", "--workers", "2"],
        &fast,
        "running with 2 workers",
    );
    let api = env.spawn(
        &["api", "--bind", "127.0.0.1:0"],
        &fast,
        "listening on http://",
    );
    let content = env.spawn(
        &["content", "--bind", "127.0.0.1:0"],
        &fast,
        "listening on http://",
    );

    let t = api
        .test_task(json!({"exclusive_resources": ["split"], "result": "done"}))
        .await;
    let t = api.finished(&t).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["result"], "done");
    let r = api
        .post(
            "/pulp/api/v3/orphans/cleanup/",
            &json!({"orphan_protection_time": 0}),
        )
        .send()
        .await
        .unwrap();
    let href = r.json::<Value>().await.unwrap()["task"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.finished(&href).await["state"], "completed");

    let (_, st) = api.json("/pulp/api/v3/status/").await;
    assert_eq!(st["online_workers"].as_array().unwrap().len(), 2, "{st}");
    assert_eq!(st["online_api_apps"].as_array().unwrap().len(), 1);
    assert_eq!(st["online_content_apps"].as_array().unwrap().len(), 1);
    let r = content
        .client
        .head(content.url("/pulp/content/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        content
            .client
            .get(content.url("/pulp/api/v3/status/"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "the content process serves no API"
    );
    assert_eq!(
        api.client
            .get(api.url("/pulp/content/"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "the API process serves no content"
    );
}

/// An upstream whose `PULP_MANIFEST` lists one 8 MiB file that it starts sending and never
/// finishes: a sync is mid-download for as long as the test likes.
async fn stalling_upstream() -> String {
    use warp::Filter;
    let manifest = warp::path!("repo" / "PULP_MANIFEST")
        .map(|| format!("big.bin,{},{}\n", "ab".repeat(32), 8 << 20));
    let big = warp::path!("repo" / "big.bin").map(|| {
        let first = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(
            vec![7u8; 256 * 1024],
        ))]);
        warp::reply::stream(futures_util::StreamExt::chain(
            first,
            futures_util::stream::pending(),
        ))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(warp::serve(manifest.or(big)).incoming(listener).run());
    base
}

/// Files anywhere below `dir`.
fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(d) = std::fs::read_dir(dir) {
        for e in d.flatten() {
            if e.path().is_dir() {
                out.extend(files_below(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// kill -9 in the middle of a download leaves the partial file in the process's working
/// directory; it goes when the node starts again (SQLite: alone on its media root) or, on
/// PostgreSQL, once the dead process's heartbeat has expired (any node's sweep).
async fn kill_9_mid_download_leaves_no_working_files(env: Env) {
    let upstream = stalling_upstream().await;
    let mut s = env.start(&[]);
    let (code, remote) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "stall", "url": format!("{upstream}/repo/PULP_MANIFEST"), "max_retries": 0}),
        )
        .await;
    assert_eq!(code, 201, "{remote}");
    let (_, repo) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "stall", "remote": remote["pulp_href"]}),
        )
        .await;
    let repo = repo["pulp_href"].as_str().expect("repo").to_owned();
    let (_, t) = s
        .send(reqwest::Method::POST, &format!("{repo}sync/"), json!({}))
        .await;
    s.wait_task(t["task"].as_str().expect("task"), |t| {
        t["state"] == "running"
    })
    .await;
    let tmp = env.dir.path().join("tmp");
    let mut partial = Vec::new();
    for _ in 0..300 {
        partial = files_below(&tmp)
            .into_iter()
            .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 0))
            .collect();
        if !partial.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !partial.is_empty(),
        "no partial download under {}",
        tmp.display()
    );
    s.signal_and_wait(Signal::KILL);
    assert!(
        partial.iter().all(|f| f.exists()),
        "kill -9 leaves the partial file"
    );

    let _s = env.start(&[]);
    let mut left = partial.clone();
    for _ in 0..300 {
        left.retain(|f| f.exists());
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        left.is_empty(),
        "working files of the killed process remain: {left:?}"
    );
}
