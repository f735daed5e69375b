//! `pith-bench`: task throughput, latency, HTTP request rates, idle memory and start-up time of
//! a real `pith serve`, each next to a baseline measured in the same run on the same machine.
//!
//! ```text
//! cargo build --release && target/release/pith-bench            # full run
//! target/debug/pith-bench --quick                                  # toy sizes (CI)
//! ```
//! Options: `--quick`, `--pith PATH` (default: the `pith` next to this binary),
//! `--tasks N`, `--no-postgres`.

#[path = "../tests/e2e/faults.rs"]
#[allow(dead_code)]
mod faults;
#[path = "../tests/e2e/pg.rs"]
#[allow(dead_code)]
mod pg;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pith_entities::sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const PASSWORD: &str = "bench-secret";
const CONNS: usize = 16;

struct Opts {
    quick: bool,
    pith: PathBuf,
    tasks: usize,
    postgres: bool,
    /// Run only this section (`tasks`, `http`, `file`, `process`); all when `None`.
    only: Option<String>,
    /// Fault rounds of the `faults` section.
    rounds: usize,
}

impl Opts {
    fn runs(&self, section: &str) -> bool {
        self.only.as_deref().is_none_or(|o| o == section)
    }
}

struct Server {
    child: Child,
    base: String,
    ready_ms: f64,
    dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Stops the server and keeps its data directory.
    fn stop(mut self) -> Option<tempfile::TempDir> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.take()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(opts: &Opts, db_url: Option<&str>, workers: u32) -> anyhow::Result<Server> {
    start_with(opts, db_url, workers, &[])
}

fn start_with(
    opts: &Opts,
    db_url: Option<&str>,
    workers: u32,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    spawn_in(opts, tempfile::tempdir()?, db_url, workers, env, true)
}

/// Starts `pith serve` on `dir`; `fresh` sets the admin password (hashing it is part of a
/// first start, not of a restart).
fn spawn_in(
    opts: &Opts,
    dir: tempfile::TempDir,
    db_url: Option<&str>,
    workers: u32,
    env: &[(&str, &str)],
    fresh: bool,
) -> anyhow::Result<Server> {
    let mut c = Command::new(&opts.pith);
    c.envs(env.iter().copied());
    if fresh {
        c.env("PULP_ADMIN_PASSWORD", PASSWORD);
    } else {
        c.env_remove("PULP_ADMIN_PASSWORD");
    }
    c.args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--workers",
        &workers.to_string(),
        "--data-dir",
    ])
    .arg(dir.path())
    .env("PITH_TEST_TASKS", "true")
    .env("PULP_ANALYTICS", "false")
    .env("RUST_LOG", "error")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    match db_url {
        Some(u) => c.env("PULP_DATABASE_URL", u),
        None => c.env_remove("PULP_DATABASE_URL"),
    };
    launch(c, dir, "listening on http://")
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn get_json(c: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    Ok(c.get(url)
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await?
        .json()
        .await?)
}

/// Dispatches `n` no-op tasks (each with its own resource) over `CONNS` connections, then
/// waits until all are final. Returns (dispatch/s, completed/s, failed count).
async fn throughput(c: &reqwest::Client, base: &str, n: usize) -> anyhow::Result<(f64, f64, u64)> {
    throughput_via(c, &[base.to_owned()], n).await
}

/// [`throughput`], dispatching through several API processes (connections spread evenly).
async fn throughput_via(
    c: &reqwest::Client,
    bases: &[String],
    n: usize,
) -> anyhow::Result<(f64, f64, u64)> {
    let base = &bases[0];
    let next = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for k in 0..CONNS {
        let (c, next, url) = (
            c.clone(),
            next.clone(),
            format!("{}/pulp/api/v3/pith/test/tasks/", bases[k % bases.len()]),
        );
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n as u64 {
                    return Ok::<_, anyhow::Error>(());
                }
                let r = c
                    .post(&url)
                    .basic_auth("admin", Some(PASSWORD))
                    .json(&json!({"exclusive_resources": [format!("bench-{i}")]}))
                    .send()
                    .await?;
                if r.status() != 202 {
                    bail!("dispatch answered {}", r.status());
                }
            }
        }));
    }
    for h in handles {
        h.await??;
    }
    let dispatch = n as f64 / t0.elapsed().as_secs_f64();
    let end = Instant::now() + Duration::from_secs(600);
    loop {
        let v = get_json(
            c,
            &format!(
                "{base}/pulp/api/v3/tasks/?state__in=waiting,running,canceling&limit=1&fields=state"
            ),
        )
        .await?;
        if v["count"] == 0 {
            break;
        }
        if Instant::now() > end {
            bail!("tasks did not finish");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let completed = n as f64 / t0.elapsed().as_secs_f64();
    let failed = get_json(
        c,
        &format!("{base}/pulp/api/v3/tasks/?state=failed&limit=1"),
    )
    .await?["count"]
        .as_u64()
        .unwrap_or(0);
    Ok((dispatch, completed, failed))
}

fn micros(s: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros() as f64)
        .unwrap_or(f64::NAN)
}

/// Median dispatch→completed latency of single tasks on an idle server, in ms: as the server
/// recorded it (`finished_at - pulp_created`) and as a polling client observes it.
async fn latency(c: &reqwest::Client, base: &str, samples: usize) -> anyhow::Result<(f64, f64)> {
    let mut server = Vec::new();
    let mut client = Vec::new();
    for i in 0..samples {
        let t0 = Instant::now();
        let r: Value = c
            .post(format!("{base}/pulp/api/v3/pith/test/tasks/"))
            .basic_auth("admin", Some(PASSWORD))
            .json(&json!({"exclusive_resources": [format!("lat-{i}")]}))
            .send()
            .await?
            .json()
            .await?;
        let href = format!("{base}{}", r["task"].as_str().context("task href")?);
        let end = Instant::now() + Duration::from_secs(30);
        let t = loop {
            let t = get_json(c, &href).await?;
            if t["state"] == "completed" {
                break t;
            }
            if Instant::now() > end {
                bail!("task did not complete: {t}");
            }
        };
        client.push(t0.elapsed().as_secs_f64() * 1000.0);
        let (a, b) = (
            t["pulp_created"].as_str().unwrap_or(""),
            t["finished_at"].as_str().unwrap_or(""),
        );
        server.push((micros(b) - micros(a)) / 1000.0);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    Ok((median(server), median(client)))
}

/// Requests per second of `GET url` over `CONNS` connections for `secs`, with Basic
/// credentials `auth` (user, password) if given.
async fn http_rate(url: &str, auth: Option<(&str, &str)>, secs: f64) -> anyhow::Result<f64> {
    let auth = auth.map(|(u, p)| (u.to_owned(), p.to_owned()));
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut hs = Vec::new();
    for _ in 0..CONNS {
        let (stop, count, url) = (stop.clone(), count.clone(), url.to_owned());
        let auth = auth.clone();
        hs.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let mut rq = c.get(&url);
                if let Some((u, p)) = &auth {
                    rq = rq.basic_auth(u, Some(p));
                }
                let r = rq.send().await?;
                if !r.status().is_success() {
                    bail!("GET {url} answered {}", r.status());
                }
                r.bytes().await?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for h in hs {
        h.await??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64())
}

/// Baseline: a trivial warp server answering a small JSON body, measured with the same client.
async fn baseline_http(secs: f64) -> anyhow::Result<f64> {
    use warp::Filter;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let route = warp::any().map(|| warp::reply::json(&json!({"ok": true})));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        warp::serve(route)
            .incoming(listener)
            .graceful(async move {
                let _ = rx.await;
            })
            .run(),
    );
    let rate = http_rate(&format!("http://{addr}/"), None, secs).await?;
    let _ = tx.send(());
    let _ = server.await;
    Ok(rate)
}

/// Baseline: durable single-row commits per second (one fsync each) on the same database kind.
async fn baseline_commits(url: &str, n: usize) -> anyhow::Result<f64> {
    use pith_entities::sea_orm::ConnectionTrait;
    let db = pith_entities::Db::connect(url).await?;
    db.write
        .execute_unprepared(
            "CREATE TABLE IF NOT EXISTS bench_commit (id BIGINT PRIMARY KEY, v TEXT)",
        )
        .await?;
    let t0 = Instant::now();
    for i in 0..n {
        db.write
            .execute_raw(db.stmt(
                "INSERT INTO bench_commit (id, v) VALUES ($1, $2)",
                vec![(i as i64).into(), "x".into()],
            ))
            .await?;
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

async fn run(opts: Opts) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let http_secs = if opts.quick { 0.5 } else { 3.0 };
    let worker_counts: &[u32] = if opts.quick { &[2] } else { &[1, 2, 4] };
    println!(
        "pith-bench: {} tasks per run, {} connections, pith = {}",
        opts.tasks,
        CONNS,
        opts.pith.display()
    );
    println!(
        "reference (real Pulp 3.123 on a 2-core machine): 7.85 tasks/s, 0.26 s dispatch→completed, 4.6 authenticated req/s, 930 MiB idle"
    );
    println!(
        "targets: ≥ 2000 completed tasks/s durable, ≤ 5 ms latency, ≥ 5000 authenticated req/s, ≤ 30 MiB idle, start ≤ 50 ms\n"
    );

    let mut backends: Vec<(&str, Option<String>, Option<tempfile::TempDir>)> = Vec::new();
    if opts.runs("tasks") {
        backends.push(("sqlite", None, None));
    }
    let pg_server = if opts.postgres && opts.runs("tasks") {
        pg::bindir()
            .map(|b| pg::start(b, true))
            .transpose()
            .map_err(anyhow::Error::msg)?
    } else {
        None
    };
    if let Some(p) = &pg_server {
        backends.push((
            "postgres",
            Some(p.create_db("pith_bench").map_err(anyhow::Error::msg)?),
            None,
        ));
    } else if opts.postgres && opts.runs("tasks") {
        println!("(PostgreSQL not found: skipping the PostgreSQL runs)\n");
    }

    for (name, url, _) in &backends {
        let base_url = match url {
            Some(u) => {
                let name = format!("pith_baseline_{}", std::process::id());
                pg_server
                    .as_ref()
                    .context("pg")?
                    .create_db(&name)
                    .map_err(anyhow::Error::msg)?;
                u.rsplit_once('/')
                    .map(|(a, _)| format!("{a}/{name}"))
                    .context("url")?
            }
            None => {
                let d = tempfile::tempdir()?;
                let u = format!("sqlite://{}", d.path().join("baseline.db").display());
                std::mem::forget(d);
                u
            }
        };
        let commits = baseline_commits(&base_url, if opts.quick { 50 } else { 300 }).await?;
        println!("== {name}: baseline {commits:.0} durable single-row commits/s (one fsync each)");
        for &w in worker_counts {
            let db_url = match url {
                Some(u) => {
                    let n = format!("pith_bench_{w}_{}", std::process::id());
                    Some(
                        pg_server
                            .as_ref()
                            .context("pg")?
                            .create_db(&n)
                            .map_err(anyhow::Error::msg)
                            .map(|_| u.rsplit_once('/').map(|(a, _)| format!("{a}/{n}")))?
                            .context("url")?,
                    )
                }
                None => None,
            };
            let s = start(&opts, db_url.as_deref(), w)?;
            let (d, c, failed) = throughput(&client, &s.base, opts.tasks).await?;
            let (lat_server, lat_client) =
                latency(&client, &s.base, if opts.quick { 5 } else { 21 }).await?;
            println!(
                "   workers={w}: dispatch {d:>7.0} tasks/s, completed {c:>7.0} tasks/s ({:.0}× Pulp, {:.2}× target, {:.1}× the single-commit baseline), failed {failed}; \
                 latency median {lat_server:.2} ms server-side, {lat_client:.2} ms seen by a polling client",
                c / 7.85,
                c / 2000.0,
                c / commits
            );
            if failed > 0 {
                bail!("{failed} benchmark tasks failed");
            }
        }
    }

    if opts.runs("http") {
        http_bench(&opts, http_secs).await?;
    }
    if opts.runs("file") {
        file_repository_bench(&opts, &client, http_secs).await?;
    }
    if opts.runs("telemetry") {
        telemetry_bench(&opts, &client, http_secs).await?;
    }
    if opts.runs("process") {
        process_bench(&opts).await?;
    }
    if opts.runs("cluster") {
        cluster_bench(&opts, &client).await?;
    }
    if opts.runs("faults") {
        faults_bench(&opts, &client).await?;
    }
    Ok(())
}

/// Starts `pith ARGS` (api, worker, serve) on PostgreSQL as one cluster node and waits for its
/// ready line.
fn node(opts: &Opts, args: &[&str], db_url: &str, ready: &str) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let mut c = Command::new(&opts.pith);
    c.args(args)
        .arg("--data-dir")
        .arg(dir.path())
        .env("PULP_DATABASE_URL", db_url)
        .env("PULP_ADMIN_PASSWORD", PASSWORD)
        .env("PULP_CLUSTER_SECRET", "bench-cluster")
        .env("PULP_CLUSTER_BIND", "127.0.0.1:0")
        .env("PULP_WORKER_TTL", "3")
        .env("PITH_TEST_TASKS", "true")
        .env("PULP_ANALYTICS", "false")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    launch(c, dir, ready)
}

/// Waits until the node behind `base` has a session with `n` peers.
async fn wait_peers(c: &reqwest::Client, base: &str, n: usize) -> anyhow::Result<()> {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let text = c
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let peers = text
            .lines()
            .find_map(|l| l.strip_prefix("pith_cluster_peers "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if peers as usize >= n {
            return Ok(());
        }
        if Instant::now() > end {
            bail!("the cluster did not form ({peers} of {n} peers)");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The cluster on PostgreSQL: completed tasks/s with 1, 2 and 4 worker processes (2 workers
/// each) behind one API process, against one `pith serve` with 2 workers on the same server;
/// dispatch through 1 and 2 API processes; and how long after a SIGKILL of the lock service's
/// host the first task starts under the next epoch (ttl 3 s).
async fn cluster_bench(opts: &Opts, c: &reqwest::Client) -> anyhow::Result<()> {
    let Some(bindir) = pg::bindir() else {
        println!("\n== cluster: PostgreSQL not found, skipped");
        return Ok(());
    };
    if !opts.postgres {
        return Ok(());
    }
    let pg = pg::start(bindir, true).map_err(anyhow::Error::msg)?;
    let mut db_n = 0;
    let mut fresh_db = || {
        db_n += 1;
        pg.create_db(&format!("pith_cluster_{db_n}_{}", std::process::id()))
            .map_err(anyhow::Error::msg)
    };
    let n = opts.tasks;
    println!("\n== cluster (PostgreSQL, durable; {n} no-op tasks per run, {CONNS} connections)");
    let url = fresh_db()?;
    let single = start(opts, Some(&url), 2)?;
    let (_, base_rate, _) = throughput(c, &single.base, n).await?;
    drop(single);
    println!("   baseline: one `pith serve` with 2 workers completes {base_rate:.0} tasks/s");
    let counts: &[usize] = if opts.quick { &[2] } else { &[1, 2, 4] };
    for &k in counts {
        let url = fresh_db()?;
        let api = node(
            opts,
            &["api", "--bind", "127.0.0.1:0"],
            &url,
            "listening on",
        )?;
        let workers = (0..k)
            .map(|_| node(opts, &["worker", "--workers", "2"], &url, "running with"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        wait_peers(c, &api.base, k).await?;
        let (d, rate, failed) = throughput(c, &api.base, n).await?;
        println!(
            "   1 api + {k} worker process(es) × 2 workers: dispatch {d:.0}/s, completed {rate:.0} tasks/s = {:.2}× the baseline, failed {failed}",
            rate / base_rate
        );
        drop(workers);
    }
    // Dispatch through one and two API processes, two worker processes.
    let url = fresh_db()?;
    let apis = (0..2)
        .map(|_| {
            node(
                opts,
                &["api", "--bind", "127.0.0.1:0"],
                &url,
                "listening on",
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let workers = (0..2)
        .map(|_| node(opts, &["worker", "--workers", "2"], &url, "running with"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    wait_peers(c, &apis[0].base, 3).await?;
    wait_peers(c, &apis[1].base, 3).await?;
    let one = throughput_via(c, &[apis[0].base.clone()], n).await?;
    let two = throughput_via(c, &[apis[0].base.clone(), apis[1].base.clone()], n).await?;
    println!(
        "   dispatch through 1 api: {:.0}/s (completed {:.0}/s); through 2 apis: {:.0}/s (completed {:.0}/s) = {:.2}× one",
        one.0,
        one.1,
        two.0,
        two.1,
        two.0 / one.0
    );
    // SIGKILL of the lease holder.
    let db = pith_entities::Db::connect(&url).await?;
    let (holder, epoch) = pith_entities::lease::current(&db)
        .await?
        .context("no lease")?;
    let holder = holder.context("nobody holds the lease")?;
    let rows = db
        .read
        .query_all_raw(db.stmt(
            "SELECT name FROM core_appstatus WHERE incarnation = $1 AND app_type = 'worker' LIMIT 1",
            vec![holder.into()],
        ))
        .await?;
    let name: String = rows.first().context("holder row")?.try_get("", "name")?;
    let pid: u32 = name.split('.').next().unwrap_or_default().parse()?;
    let mut workers = workers;
    let victim = workers
        .iter()
        .position(|w| w.child.id() == pid)
        .context("the holder is not one of our workers")?;
    let mut dead = workers.remove(victim);
    let killed = Instant::now();
    dead.child.kill()?;
    let _ = dead.child.wait();
    let href = post_json(
        c,
        &format!("{}/pulp/api/v3/pith/test/tasks/", apis[0].base),
        json!({"exclusive_resources": ["after-failover"]}),
    )
    .await?["task"]
        .as_str()
        .context("task href")?
        .to_owned();
    let end = Instant::now() + Duration::from_secs(60);
    let took = loop {
        let t = get_json(c, &format!("{}{href}", apis[0].base)).await?;
        if t["started_at"].is_string() {
            break killed.elapsed();
        }
        if Instant::now() > end {
            bail!("no task started after the lease holder was killed");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let (_, new_epoch) = pith_entities::lease::current(&db).await?.context("lease")?;
    println!(
        "   SIGKILL of the lease holder → first task started under epoch {new_epoch} (was {epoch}) after {:.2} s = {:.2}× the 3 s ttl",
        took.as_secs_f64(),
        took.as_secs_f64() / 3.0
    );
    Ok(())
}

/// Request rates of the API against a trivial warp server.
async fn http_bench(opts: &Opts, http_secs: f64) -> anyhow::Result<()> {
    println!("\n== HTTP ({CONNS} connections, {http_secs} s each; sqlite, 2 workers)");
    let s = start(opts, None, 2)?;
    let base = baseline_http(http_secs).await?;
    let status = http_rate(&format!("{}/pulp/api/v3/status/", s.base), None, http_secs).await?;
    let list = http_rate(
        &format!("{}/pulp/api/v3/tasks/?limit=1", s.base),
        Some(("admin", PASSWORD)),
        http_secs,
    )
    .await?;
    // RBAC: the same repository list as the admin and as a user who sees one repository of
    // ten through an object-level role (scoping, conditions and role reads on every request).
    let c = reqwest::Client::new();
    let b = &s.base;
    let mut one = String::new();
    for i in 0..10 {
        let r = post_json(
            &c,
            &format!("{b}/pulp/api/v3/repositories/file/file/"),
            json!({"name": format!("rbac-{i}")}),
        )
        .await?;
        if i == 0 {
            one = r["pulp_href"].as_str().context("repo")?.to_owned();
        }
    }
    let user = post_json(
        &c,
        &format!("{b}/pulp/api/v3/users/"),
        json!({"username": "bench", "password": "bench-pass-1234"}),
    )
    .await?;
    post_json(
        &c,
        &format!("{b}{}roles/", user["pulp_href"].as_str().context("user")?),
        json!({"role": "file.filerepository_viewer", "content_object": one}),
    )
    .await?;
    let repos = format!("{b}/pulp/api/v3/repositories/file/file/?limit=1");
    let as_admin = http_rate(&repos, Some(("admin", PASSWORD)), http_secs).await?;
    // A server without pulp_file's repository policy (an older Pith) refuses the user: the
    // row then says so instead of failing the run.
    let as_user = http_rate(&repos, Some(("bench", "bench-pass-1234")), http_secs).await;
    println!("   baseline (trivial warp JSON server): {base:>7.0} req/s");
    println!(
        "   GET status/:                          {status:>7.0} req/s ({:.2}× baseline)",
        status / base
    );
    println!(
        "   authenticated GET tasks/?limit=1:     {list:>7.0} req/s ({:.2}× baseline, {:.0}× Pulp, {:.2}× target)",
        list / base,
        list / 4.6,
        list / 5000.0
    );
    match as_user {
        Ok(as_user) => println!(
            "   repositories/?limit=1 as admin:       {as_admin:>7.0} req/s; as a user with an object role: {as_user:>7.0} req/s ({:.2}× admin, target ≥ 0.80)",
            as_user / as_admin
        ),
        Err(e) => println!(
            "   repositories/?limit=1 as admin:       {as_admin:>7.0} req/s; as a user with an object role: not measured ({e})"
        ),
    }
    Ok(())
}

/// A sink for OTLP exports (answers every POST with 200).
async fn otlp_sink() -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    use warp::Filter;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let route = warp::post()
        .and(warp::body::bytes())
        .map(|_b: bytes::Bytes| warp::reply());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        warp::serve(route)
            .incoming(listener)
            .graceful(async move {
                let _ = rx.await;
            })
            .run(),
    );
    Ok((base, tx))
}

/// API and content request rates with telemetry off and on (OTLP to a local sink).
async fn telemetry_bench(opts: &Opts, c: &reqwest::Client, secs: f64) -> anyhow::Result<()> {
    let (sink, _stop) = otlp_sink().await?;
    let on: [(&str, &str); 4] = [
        ("PULP_OTEL_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &sink),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    println!("\n== telemetry ({CONNS} connections, {secs} s each; OTLP to a local sink)");
    let extra: Vec<(&str, &str)> = std::env::var("PITH_BENCH_OTEL_EXTRA")
        .ok()
        .map(|v| {
            v.leak()
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .collect()
        })
        .unwrap_or_default();
    let on: Vec<(&str, &str)> = on.iter().copied().chain(extra).collect();
    // Off and on alternate (twice each in a full run) so that drift of the machine does not
    // pass for overhead.
    let rounds = if opts.quick { 1 } else { 2 };
    let mut sums = [(0.0f64, 0.0f64); 2];
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let runs: Vec<(usize, &str, Vars<'_>)> = (0..rounds)
        .flat_map(|_| [(0, "off", &[][..]), (1, "on", &on[..])])
        .collect();
    for (slot, label, env) in runs {
        let s = start_with(opts, None, 2, env)?;
        let b = &s.base;
        // One 4 KiB file, published.
        let repo = post_json(
            c,
            &format!("{b}/pulp/api/v3/repositories/file/file/"),
            json!({"name": "t", "autopublish": true}),
        )
        .await?;
        let repo_href = repo["pulp_href"].as_str().context("repo")?.to_owned();
        let (file_url, _file_stop) = memory_server(vec![7u8; 4096]).await?;
        let t = post_json(
            c,
            &format!("{b}/pulp/api/v3/content/file/files/"),
            json!({"relative_path": "t.bin", "file_url": file_url, "repository": repo_href}),
        )
        .await?;
        wait_task(c, b, t["task"].as_str().context("task")?).await?;
        let t = post_json(
            c,
            &format!("{b}/pulp/api/v3/distributions/file/file/"),
            json!({"name": "t", "base_path": "t", "repository": repo_href}),
        )
        .await?;
        wait_task(c, b, t["task"].as_str().context("task")?).await?;
        let api = http_rate(&format!("{b}/pulp/api/v3/status/"), None, secs).await?;
        let content = http_rate(&format!("{b}/pulp/content/t/t.bin"), None, secs).await?;
        println!(
            "   telemetry {label:>3}: GET status/ {api:>7.0} req/s, GET 4 KiB content {content:>7.0} req/s"
        );
        sums[slot].0 += api;
        sums[slot].1 += content;
    }
    let overhead = |off: f64, on: f64| (1.0 - on / off) * 100.0;
    println!(
        "   overhead with telemetry on (mean of {rounds} alternating runs each): API {:.1} %, content {:.1} % (target < 5 %)",
        overhead(sums[0].0, sums[1].0),
        overhead(sums[0].1, sums[1].1)
    );
    Ok(())
}

/// Idle memory and start-up time.
async fn process_bench(opts: &Opts) -> anyhow::Result<()> {
    let s = start(opts, None, 2)?;
    tokio::time::sleep(Duration::from_secs(if opts.quick { 1 } else { 3 })).await;
    let idle = rss_kib(s.child.id()).unwrap_or(0);
    println!("\n== process (sqlite, 2 workers)");
    println!(
        "   idle RSS: {:.1} MiB ({:.2}× the 30 MiB target)",
        idle as f64 / 1024.0,
        idle as f64 / 1024.0 / 30.0
    );
    println!(
        "   start (spawn → listening, fresh data dir incl. migrations and hashing the admin password): {:.0} ms",
        s.ready_ms
    );
    let dir = s.stop().context("data dir")?;
    let again = spawn_in(opts, dir, None, 2, &[], false)?;
    println!(
        "   start (spawn → listening, existing data dir): {:.0} ms (target ≤ 50 ms)",
        again.ready_ms
    );
    Ok(())
}

/// A static file server (the baseline for serving and the upstream for syncs).
async fn static_server(
    dir: std::path::PathBuf,
) -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        warp::serve(warp::fs::dir(dir))
            .incoming(listener)
            .graceful(async move {
                let _ = rx.await;
            })
            .run(),
    );
    Ok((base, tx))
}

fn bytes_of(p: std::path::PathBuf) -> anyhow::Result<Vec<u8>> {
    Ok(std::fs::read(p)?)
}

/// Serves one body from memory, whole, on every path.
async fn memory_server(
    body: Vec<u8>,
) -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    use warp::Filter;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/f", listener.local_addr()?);
    let body = bytes::Bytes::from(body);
    let route = warp::any().map(move || warp::http::Response::new(body.clone()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        warp::serve(route)
            .incoming(listener)
            .graceful(async move {
                let _ = rx.await;
            })
            .run(),
    );
    Ok((url, tx))
}

async fn post_json(c: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<Value> {
    Ok(c.post(url)
        .basic_auth("admin", Some(PASSWORD))
        .json(&body)
        .send()
        .await?
        .json()
        .await?)
}

async fn wait_task(c: &reqwest::Client, base: &str, href: &str) -> anyhow::Result<Value> {
    let end = Instant::now() + Duration::from_secs(600);
    loop {
        let t = get_json(c, &format!("{base}{href}")).await?;
        match t["state"].as_str() {
            Some("completed") => return Ok(t),
            Some("failed" | "canceled") => bail!("task failed: {t}"),
            _ if Instant::now() > end => bail!("task did not finish"),
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Megabytes per second of `GET url` over `CONNS` connections for `secs`.
async fn download_rate(url: &str, secs: f64) -> anyhow::Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let bytes = Arc::new(AtomicU64::new(0));
    let mut hs = Vec::new();
    for _ in 0..CONNS {
        let (stop, bytes, url) = (stop.clone(), bytes.clone(), url.to_owned());
        hs.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let mut r = c.get(&url).send().await?.bytes_stream();
                use futures_util::StreamExt;
                while let Some(chunk) = r.next().await {
                    bytes.fetch_add(chunk?.len() as u64, Ordering::Relaxed);
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for h in hs {
        h.await??;
    }
    Ok(bytes.load(Ordering::Relaxed) as f64 / 1e6 / t0.elapsed().as_secs_f64())
}

/// Sync of many small files, re-sync, and serving through the content app vs a static server.
async fn file_repository_bench(opts: &Opts, c: &reqwest::Client, secs: f64) -> anyhow::Result<()> {
    use sha2::Digest;
    let files = if opts.quick { 100 } else { 2000 };
    let big_mib = if opts.quick { 4 } else { 100 };
    let up = tempfile::tempdir()?;
    let mut manifest = String::new();
    for i in 0..files {
        let body: Vec<u8> = (0..4096u32)
            .map(|j| ((i as u32 * 31 + j) % 251) as u8)
            .collect();
        let name = format!("f/{i:05}.bin");
        std::fs::create_dir_all(up.path().join("f"))?;
        std::fs::write(up.path().join(&name), &body)?;
        manifest.push_str(&format!(
            "{name},{},{}\n",
            hex::encode(sha2::Sha256::digest(&body)),
            body.len()
        ));
    }
    // Two manifests: the small files alone (the sync Pulp is measured on), then all of them.
    std::fs::write(up.path().join("SMALL_MANIFEST"), &manifest)?;
    let big: Vec<u8> = (0..big_mib * 1024 * 1024)
        .map(|j| (j % 253) as u8)
        .collect();
    std::fs::write(up.path().join("big.bin"), &big)?;
    manifest.push_str(&format!(
        "big.bin,{},{}\n",
        hex::encode(sha2::Sha256::digest(&big)),
        big.len()
    ));
    std::fs::write(up.path().join("PULP_MANIFEST"), manifest)?;
    let (upstream, _stop) = static_server(up.path().to_path_buf()).await?;

    let s = start(opts, None, 2)?;
    let b = &s.base;
    let mut remotes = Vec::new();
    for (name, file) in [("small", "SMALL_MANIFEST"), ("all", "PULP_MANIFEST")] {
        let r = post_json(
            c,
            &format!("{b}/pulp/api/v3/remotes/file/file/"),
            json!({"name": name, "url": format!("{upstream}/{file}")}),
        )
        .await?;
        remotes.push(r["pulp_href"].as_str().context("remote")?.to_owned());
    }
    let repo = post_json(
        c,
        &format!("{b}/pulp/api/v3/repositories/file/file/"),
        json!({"name": "bench"}),
    )
    .await?;
    let repo_href = repo["pulp_href"].as_str().context("repo")?.to_owned();
    let sync = |remote: String| {
        let url = format!("{b}{repo_href}sync/");
        async move {
            let t0 = Instant::now();
            let t = post_json(c, &url, json!({ "remote": remote })).await?;
            wait_task(c, b, t["task"].as_str().context("task")?).await?;
            anyhow::Ok(t0.elapsed().as_secs_f64())
        }
    };
    let sync_s = sync(remotes[0].clone()).await?;
    let big_s = sync(remotes[1].clone()).await?;
    let resync_s = sync(remotes[1].clone()).await?;
    let big_url = format!("{upstream}/big.bin");
    let t0 = Instant::now();
    let fetched = c.get(&big_url).send().await?.bytes().await?.len();
    let fetch_s = t0.elapsed().as_secs_f64();
    anyhow::ensure!(fetched == big.len(), "short download");
    let t = post_json(
        c,
        &format!("{b}/pulp/api/v3/publications/file/file/"),
        json!({"repository": repo_href}),
    )
    .await?;
    let p = wait_task(c, b, t["task"].as_str().context("task")?).await?;
    let t = post_json(
        c,
        &format!("{b}/pulp/api/v3/distributions/file/file/"),
        json!({"name": "bench", "base_path": "bench", "publication": p["result"]["pulp_href"]}),
    )
    .await?;
    wait_task(c, b, t["task"].as_str().context("task")?).await?;

    println!(
        "\n== file repository (sqlite, 2 workers; upstream: a static warp file server; baselines: an in-memory server for small files, the static server for the large one)"
    );
    println!(
        "   sync of {files} files of 4 KiB: {sync_s:.2} s (Pulp 3.123: 18 s for 2000 files; target ≤ 1 s)"
    );
    println!(
        "   sync adding one {big_mib} MiB file: {big_s:.2} s ({:.0} MB/s) vs {fetch_s:.2} s to download it alone ({:.2}× baseline)",
        big.len() as f64 / 1e6 / big_s,
        fetch_s / big_s
    );
    println!("   re-sync, nothing changed: {:.1} ms", resync_s * 1000.0);
    // Baseline for small files: the same 4 KiB from memory, one buffer per response (warp's own
    // file server streams and stalls on Nagle + delayed ACK, which would flatter us).
    let small_bytes = bytes_of(up.path().join("f/00007.bin"))?;
    let (small_url, _small_stop) = memory_server(small_bytes).await?;
    let small_base = http_rate(&small_url, None, secs).await?;
    let small = http_rate(&format!("{b}/pulp/content/bench/f/00007.bin"), None, secs).await?;
    println!(
        "   4 KiB file: {small:.0} req/s via the content app vs {small_base:.0} req/s from an in-memory server ({:.2}× baseline; Pulp 50 req/s, target 0.80×)",
        small / small_base
    );
    let big_base = download_rate(&format!("{upstream}/big.bin"), secs).await?;
    let big_rate = download_rate(&format!("{b}/pulp/content/bench/big.bin"), secs).await?;
    println!(
        "   {big_mib} MiB file: {big_rate:.0} MB/s via the content app vs {big_base:.0} MB/s static ({:.2}× baseline)",
        big_rate / big_base
    );
    on_demand_bench(c, b, up.path(), &upstream, big_mib).await
}

/// Time to first byte and throughput of one download: `(first byte s, total s, bytes)`.
async fn timed_get(url: &str) -> anyhow::Result<(f64, f64, usize)> {
    use futures_util::StreamExt;
    let c = reqwest::Client::new();
    let t0 = Instant::now();
    let r = c.get(url).send().await?;
    if !r.status().is_success() {
        bail!("GET {url} answered {}", r.status());
    }
    let mut body = r.bytes_stream();
    let mut first = None;
    let mut n = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if first.is_none() && !chunk.is_empty() {
            first = Some(t0.elapsed().as_secs_f64());
        }
        n += chunk.len();
    }
    Ok((first.unwrap_or(0.0), t0.elapsed().as_secs_f64(), n))
}

/// An on-demand fetch of a large file through the content app (first request: upstream
/// download, verification, storage) against downloading it straight from upstream.
async fn on_demand_bench(
    c: &reqwest::Client,
    b: &str,
    dir: &std::path::Path,
    upstream: &str,
    mib: usize,
) -> anyhow::Result<()> {
    use sha2::Digest;
    let body: Vec<u8> = (0..mib * 1024 * 1024).map(|j| (j % 241) as u8).collect();
    std::fs::create_dir_all(dir.join("od"))?;
    std::fs::write(dir.join("od/fresh.bin"), &body)?;
    std::fs::write(
        dir.join("od/PULP_MANIFEST"),
        format!(
            "fresh.bin,{},{}\n",
            hex::encode(sha2::Sha256::digest(&body)),
            body.len()
        ),
    )?;
    let remote = post_json(
        c,
        &format!("{b}/pulp/api/v3/remotes/file/file/"),
        json!({"name": "od", "url": format!("{upstream}/od/PULP_MANIFEST"), "policy": "on_demand"}),
    )
    .await?;
    let repo = post_json(
        c,
        &format!("{b}/pulp/api/v3/repositories/file/file/"),
        json!({"name": "od", "remote": remote["pulp_href"], "autopublish": true}),
    )
    .await?;
    let repo_href = repo["pulp_href"].as_str().context("repo")?;
    let t = post_json(c, &format!("{b}{repo_href}sync/"), json!({})).await?;
    wait_task(c, b, t["task"].as_str().context("task")?).await?;
    let t = post_json(
        c,
        &format!("{b}/pulp/api/v3/distributions/file/file/"),
        json!({"name": "od", "base_path": "od", "repository": repo_href}),
    )
    .await?;
    wait_task(c, b, t["task"].as_str().context("task")?).await?;
    let (base_first, base_total, _) = timed_get(&format!("{upstream}/od/fresh.bin")).await?;
    let (first, total, n) = timed_get(&format!("{b}/pulp/content/od/fresh.bin")).await?;
    anyhow::ensure!(n == body.len(), "on-demand download was {n} bytes");
    let (_, again, _) = timed_get(&format!("{b}/pulp/content/od/fresh.bin")).await?;
    let mb = body.len() as f64 / 1e6;
    println!(
        "   on-demand {mib} MiB, first request: first byte {:.1} ms vs {:.1} ms upstream directly; {:.0} MB/s vs {:.0} MB/s ({:.2}× baseline); \
         second request (stored): {:.0} MB/s",
        first * 1000.0,
        base_first * 1000.0,
        mb / total,
        mb / base_total,
        base_total / total,
        mb / again
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    pith_actors::tls::install_provider();
    let mut args = std::env::args().skip(1);
    let exe = std::env::current_exe()?;
    let mut opts = Opts {
        quick: false,
        pith: exe.with_file_name("pith"),
        tasks: 0,
        postgres: true,
        only: None,
        rounds: 0,
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => opts.quick = true,
            "--pith" => opts.pith = args.next().context("--pith PATH")?.into(),
            "--tasks" => opts.tasks = args.next().context("--tasks N")?.parse()?,
            "--no-postgres" => opts.postgres = false,
            "--rounds" => opts.rounds = args.next().context("--rounds N")?.parse()?,
            "--only" => {
                let o = args.next().context("--only SECTION")?;
                let sections = [
                    "tasks",
                    "http",
                    "file",
                    "telemetry",
                    "process",
                    "cluster",
                    "faults",
                ];
                if !sections.contains(&o.as_str()) {
                    bail!("--only takes one of {}, not {o:?}", sections.join(", "));
                }
                opts.only = Some(o);
            }
            "-h" | "--help" => {
                println!(
                    "usage: pith-bench [--quick] [--pith PATH] [--tasks N] [--no-postgres] [--rounds N] [--only tasks|http|file|telemetry|process|cluster|faults]"
                );
                return Ok(());
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    if opts.tasks == 0 {
        opts.tasks = if opts.quick { 50 } else { 500 };
    }
    if opts.rounds == 0 {
        opts.rounds = if opts.quick { 1 } else { 100 };
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(opts))
}

struct BenchWorkers<'a> {
    opts: &'a Opts,
    url: String,
    running: Vec<Server>,
}

impl faults::Workers for BenchWorkers<'_> {
    fn pids(&self) -> Vec<u32> {
        self.running.iter().map(|w| w.child.id()).collect()
    }

    fn kill(&mut self, pid: u32) {
        if let Some(i) = self.running.iter().position(|w| w.child.id() == pid) {
            let mut w = self.running.remove(i);
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
    }

    fn replace(&mut self) {
        match node(
            self.opts,
            &["worker", "--workers", "2"],
            &self.url,
            "running with",
        ) {
            Ok(w) => self.running.push(w),
            Err(e) => eprintln!("could not start a replacement worker: {e}"),
        }
    }
}

/// The cluster test's fault round, `--rounds` times (100 by default): one API and three worker
/// processes on PostgreSQL (ttl 3 s); each round SIGKILLs the lease holder (even rounds) or
/// another worker (odd) under a stream of tasks on overlapping resources and checks every
/// invariant afterwards.
async fn faults_bench(opts: &Opts, c: &reqwest::Client) -> anyhow::Result<()> {
    let Some(bindir) = pg::bindir().filter(|_| opts.postgres) else {
        println!("\n== faults: PostgreSQL not found, skipped");
        return Ok(());
    };
    let pg = pg::start(bindir, false).map_err(anyhow::Error::msg)?;
    let url = pg
        .create_db(&format!("pith_faults_{}", std::process::id()))
        .map_err(anyhow::Error::msg)?;
    println!(
        "\n== faults ({} SIGKILL rounds; 1 api + 3 worker processes × 2 workers, ttl 3 s)",
        opts.rounds
    );
    let api = node(
        opts,
        &["api", "--bind", "127.0.0.1:0"],
        &url,
        "listening on",
    )?;
    let mut workers = BenchWorkers {
        opts,
        url: url.clone(),
        running: (0..3)
            .map(|_| node(opts, &["worker", "--workers", "2"], &url, "running with"))
            .collect::<anyhow::Result<Vec<_>>>()?,
    };
    wait_peers(c, &api.base, 3).await?;
    let db = pith_entities::Db::connect(&url).await?;
    let journal = tempfile::tempdir()?;
    let mut seq = faults::Seq(0x2545_f491_4f6c_dd1d);
    let (mut tasks, mut failed) = (0, 0);
    let (mut holder, mut other): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for r in 0..opts.rounds {
        let s = faults::round(
            r,
            &mut workers,
            c,
            &api.base,
            PASSWORD,
            &db,
            journal.path(),
            &mut seq,
        )
        .await
        .map_err(|e| anyhow::anyhow!("invariant violated: {e}"))?;
        tasks += s.tasks;
        failed += s.failed;
        let secs = s.recovered_in.as_secs_f64();
        if s.killed_holder {
            holder.push(secs);
        } else {
            other.push(secs);
        }
        // Every peer again before the next round.
        wait_peers(c, &api.base, 3).await?;
    }
    let stat = |v: &[f64]| {
        if v.is_empty() {
            return "no such round".to_owned();
        }
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let max = v.iter().copied().fold(0.0, f64::max);
        format!(
            "mean {mean:.1} s, max {max:.1} s ({:.2}×/{:.2}× the ttl)",
            mean / 3.0,
            max / 3.0
        )
    };
    println!(
        "   {} rounds, {tasks} tasks, every invariant held; {failed} tasks failed with the killed process (\"Worker has gone missing.\")",
        opts.rounds
    );
    println!(
        "   all of a round's tasks final after killing the lease holder: {}",
        stat(&holder)
    );
    println!("   … after killing another worker: {}", stat(&other));
    Ok(())
}

/// Spawns `c` (stdout piped) and waits for a stdout line containing `ready`; the `http://ADDR`
/// on that line, if any, becomes the server's base URL.
fn launch(mut c: Command, dir: tempfile::TempDir, ready: &str) -> anyhow::Result<Server> {
    let spawned = Instant::now();
    let mut child = c
        .spawn()
        .with_context(|| format!("starting {:?}", c.get_program()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = loop {
        match lines.next() {
            Some(Ok(l)) if l.contains(ready) => break l,
            Some(Ok(_)) => continue,
            _ => bail!(
                "{:?} exited before it was ready",
                c.get_args().collect::<Vec<_>>()
            ),
        }
    };
    let ready_ms = spawned.elapsed().as_secs_f64() * 1000.0;
    std::thread::spawn(move || for _ in lines {});
    let base = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .map(|a| format!("http://{a}"))
        .unwrap_or_default();
    Ok(Server {
        child,
        base,
        ready_ms,
        dir: Some(dir),
    })
}
