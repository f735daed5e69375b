//! The cluster with real processes on one throwaway PostgreSQL: separate `pith api`,
//! `pith content` and `pith worker` processes find each other through the node registry and
//! hand tasks over as messages (the table scan is set to 10 minutes, so nothing here works by
//! polling), a node with the wrong secret is refused, and SIGKILL of a worker or of the lock
//! service's host loses nothing.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::faults::{owner, pid_of};
use crate::support::{Backend, Env, Server};

const SECRET: &str = "e2e-cluster-secret";

fn node_env(secret: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("PULP_CLUSTER_SECRET", secret),
        ("PULP_CLUSTER_BIND", "127.0.0.1:0"),
        ("PULP_PITH_TASK_SCAN_INTERVAL", "600"),
        ("RUST_LOG", "warn,pith_cluster=info"),
    ]
}

fn worker(env: &Env, secret: &'static str) -> Server {
    env.spawn(
        &["worker", "--workers", "2"],
        &node_env(secret),
        "running with 2 workers",
    )
}

fn api(env: &Env) -> Server {
    env.spawn(
        &["api", "--bind", "127.0.0.1:0"],
        &node_env(SECRET),
        "listening on http://",
    )
}

/// Polls `f` until it returns `Some`, for at most `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Cluster peers the node behind `s` has a ready session with (`/metrics`).
async fn peers(s: &Server) -> u64 {
    let Ok(r) = s.client.get(s.url("/metrics")).send().await else {
        return 0;
    };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("pith_cluster_peers "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

/// The pid of the process whose worker ran a task (the API's `worker` field is always null,
/// as in Pulp; the owner is in the table).
async fn ran_on(db: &pith_entities::Db, href: &str) -> Option<u32> {
    pid_of(&owner(db, href).await?)
}

async fn connect(env: &Env) -> pith_entities::Db {
    pith_entities::Db::connect(env.db_url.as_deref().expect("PostgreSQL"))
        .await
        .expect("db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_content_and_two_workers_join_unaided_and_share_work() {
    let Some(env) = Env::new(Backend::Postgres) else {
        return;
    };
    let db = connect(&env).await;
    let w1 = worker(&env, SECRET);
    let w2 = worker(&env, SECRET);
    let api = api(&env);
    let content = env.spawn(
        &["content", "--bind", "127.0.0.1:0"],
        &node_env(SECRET),
        "listening on http://",
    );
    // Nobody was told of anybody: they met through the registry.
    eventually(20, "the API node to join three peers", || async {
        (peers(&api).await == 3).then_some(())
    })
    .await;
    eventually(20, "the content node to join three peers", || async {
        (peers(&content).await == 3).then_some(())
    })
    .await;

    let mut hrefs = Vec::new();
    for i in 0..24 {
        hrefs.push(
            api.test_task(json!({"seconds": 0.2, "exclusive_resources": [format!("r{i}")]}))
                .await,
        );
    }
    let mut pids = BTreeSet::new();
    for h in &hrefs {
        let t = api.finished(h).await;
        assert_eq!(t["state"], "completed", "{t}");
        pids.insert(ran_on(&db, h).await.expect("owner"));
    }
    let expected: BTreeSet<u32> = [w1.child.id(), w2.child.id()].into();
    assert_eq!(pids, expected, "tasks ran on both worker processes");

    // An immediate task dispatched on the API node asks the remote lock service and, its
    // resource being free, runs inline in the API process.
    let t = api
        .test_task(json!({"immediate": true, "exclusive_resources": ["inline"], "result": 7}))
        .await;
    let t = api.finished(&t).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["result"], 7);
    assert_eq!(
        owner(&db, t["pulp_href"].as_str().unwrap())
            .await
            .as_deref()
            .map(|n| n.starts_with("api-")),
        Some(true),
        "{t}"
    );

    // A cancel issued on the API node reaches the worker process running the task.
    let long = api
        .test_task(json!({"seconds": 60, "exclusive_resources": ["long"]}))
        .await;
    api.wait_task(&long, |t| t["state"] == "running").await;
    let r = api
        .client
        .patch(api.url(&long))
        .basic_auth("admin", Some(crate::support::PASSWORD))
        .json(&json!({"state": "canceled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t = api.finished(&long).await;
    assert_eq!(t["state"], "canceled", "{t}");

    let (_, st) = api.json("/pulp/api/v3/status/").await;
    assert_eq!(st["online_workers"].as_array().unwrap().len(), 4, "{st}");
    assert_eq!(st["online_api_apps"].as_array().unwrap().len(), 1, "{st}");
    assert_eq!(
        st["online_content_apps"].as_array().unwrap().len(),
        1,
        "{st}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_the_wrong_secret_never_joins() {
    let Some(env) = Env::new(Backend::Postgres) else {
        return;
    };
    let db = connect(&env).await;
    let good = worker(&env, SECRET);
    let api = api(&env);
    eventually(20, "the API node to join the worker", || async {
        (peers(&api).await == 1).then_some(())
    })
    .await;
    // Refused before it registers, takes the lease or opens a cluster port.
    let mut bad = env.command(&["worker", "--workers", "2"]);
    for (k, v) in node_env("not-the-cluster-secret") {
        bad.env(k, v);
    }
    let out = bad.output().expect("run pith worker");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "PULP_CLUSTER_SECRET differs from the secret of the 2 node(s) already running"
        ),
        "{stderr}"
    );
    // So is an all-in-one `pith serve` without a secret: alone, it would compete for the lease.
    let out = env
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .output()
        .expect("run pith serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("set PULP_CLUSTER_SECRET"), "{stderr}");
    let mut hrefs = Vec::new();
    for i in 0..8 {
        hrefs.push(
            api.test_task(json!({"seconds": 0.05, "exclusive_resources": [format!("s{i}")]}))
                .await,
        );
    }
    for h in &hrefs {
        let t = api.finished(h).await;
        assert_eq!(t["state"], "completed", "{t}");
        assert_eq!(ran_on(&db, h).await, Some(good.child.id()), "{t}");
    }
    assert_eq!(peers(&api).await, 1, "the refused node is not a peer");
    let (_, st) = api.json("/pulp/api/v3/status/").await;
    assert_eq!(st["online_workers"].as_array().unwrap().len(), 2, "{st}");
}

struct TestWorkers<'a> {
    env: &'a Env,
    running: Vec<Server>,
}

impl crate::faults::Workers for TestWorkers<'_> {
    fn pids(&self) -> Vec<u32> {
        self.running.iter().map(|w| w.child.id()).collect()
    }

    fn kill(&mut self, pid: u32) {
        if let Some(i) = self.running.iter().position(|w| w.child.id() == pid) {
            let mut w = self.running.remove(i);
            w.child.kill().expect("SIGKILL");
            w.child.wait().expect("reap");
        }
    }

    fn replace(&mut self) {
        self.running.push(worker(self.env, SECRET));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_worker_or_the_lock_service_host_loses_nothing() {
    let Some(env) = Env::new(Backend::Postgres) else {
        return;
    };
    let db = connect(&env).await;
    let mut workers = TestWorkers {
        env: &env,
        running: (0..3).map(|_| worker(&env, SECRET)).collect(),
    };
    let api = api(&env);
    eventually(30, "the API node to join three workers", || async {
        (peers(&api).await == 3).then_some(())
    })
    .await;
    let journal = env.dir.path().join("journal");
    std::fs::create_dir_all(&journal).unwrap();
    let epoch = || async { pith_entities::lease::current(&db).await.unwrap().unwrap().1 };
    let mut seq = crate::faults::Seq(0x9e37_79b9_7f4a_7c15);
    for round in 0..3 {
        let before = epoch().await;
        let stats = crate::faults::round(
            round,
            &mut workers,
            &api.client,
            &api.base,
            crate::support::PASSWORD,
            &db,
            &journal,
            &mut seq,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "round {round}: {} tasks, {} failed with the killed process (lease holder: {}), all final {:.1} s after the kill",
            stats.tasks,
            stats.failed,
            stats.killed_holder,
            stats.recovered_in.as_secs_f64()
        );
        if stats.killed_holder {
            assert!(
                epoch().await > before,
                "round {round}: the lease moved under a higher epoch"
            );
        }
    }
}

/// Separate hosts for the cluster: a hub namespace with a bridge and one namespace per host,
/// each with its own address (`10.77.0.N/24`) on that bridge and nothing else. Nothing in
/// them can reach 127.0.0.1 of another, so the cluster only works if every node advertises and
/// dials real addresses. Removed on drop.
struct Hosts {
    prefix: String,
    count: usize,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Hosts {
    fn create(count: usize) -> Result<Hosts, String> {
        let hosts = Hosts {
            prefix: format!("pith{}", std::process::id()),
            count,
        };
        let hub = hosts.hub();
        ip(&["netns", "add", &hub])?;
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        for i in 1..=count {
            let ns = hosts.ns(i);
            let port = format!("p{i}");
            ip(&["netns", "add", &ns])?;
            ip(&[
                "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", &hub,
            ])?;
            ip(&["-n", &hub, "link", "set", &port, "master", "br0"])?;
            ip(&["-n", &hub, "link", "set", &port, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", Hosts::addr(i)),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    fn hub(&self) -> String {
        format!("{}h", self.prefix)
    }

    fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.prefix)
    }

    fn addr(i: usize) -> String {
        format!("10.77.0.{i}")
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for i in 1..=self.count {
            let _ = ip(&["netns", "del", &self.ns(i)]);
        }
        let _ = ip(&["netns", "del", &self.hub()]);
    }
}

/// One HTTP/1.0 request from inside network namespace `ns` (a thread moved into it).
async fn ns_http(
    ns: &str,
    addr: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let (ns, addr, method, path) = (
        ns.to_owned(),
        addr.to_owned(),
        method.to_owned(),
        path.to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        use std::os::fd::AsFd;
        let f = std::fs::File::open(format!("/run/netns/{ns}")).expect("netns");
        rustix::thread::move_into_link_name_space(
            f.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .expect("setns");
        let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
            return (0, String::new());
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        // admin:e2e-admin-secret
        let req = format!(
            "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Basic YWRtaW46ZTJlLWFkbWluLXNlY3JldA==\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if s.write_all(req.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        let status = resp
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    })
    .await
    .expect("request thread")
}

fn psql(pg: &crate::pg::Pg, sql: &str) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", pg.netns.as_deref().unwrap()])
        .arg(pg.bindir.join("psql"))
        .args([
            "-h",
            &pg.host,
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "pith",
            "-tAc",
            sql,
        ])
        .output()
        .expect("psql");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_separate_hosts_join_through_their_own_addresses() {
    let Some(bindir) = crate::pg::bindir() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but PostgreSQL is missing"
        );
        return;
    };
    let hosts = match Hosts::create(4) {
        Ok(h) => h,
        Err(e) => {
            eprintln!(
                "\n*** SKIPPED nodes_on_separate_hosts_join_through_their_own_addresses: network namespaces cannot be \
                 created here ({e}); this needs root (CAP_NET_ADMIN) and iproute2 ***\n"
            );
            return;
        }
    };
    // Host 1 runs PostgreSQL, host 2 the API, hosts 3 and 4 a worker each.
    let pg = crate::pg::start_at(bindir, false, Some((&hosts.ns(1), &Hosts::addr(1))))
        .expect("PostgreSQL");
    let env = Env::with_db(pg.create_db("pith").expect("createdb"));
    let on = |i: usize| {
        let bind = format!("{}:0", Hosts::addr(i));
        vec![
            ("PULP_CLUSTER_SECRET".to_owned(), SECRET.to_owned()),
            ("PULP_CLUSTER_BIND".to_owned(), bind),
            ("PULP_PITH_TASK_SCAN_INTERVAL".to_owned(), "600".to_owned()),
        ]
    };
    let spawn = |i: usize, args: &[&str], ready: &str| {
        let vars = on(i);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        env.spawn_in(Some(&hosts.ns(i)), args, &vars, ready)
    };
    let w3 = spawn(3, &["worker", "--workers", "2"], "running with 2 workers");
    let w4 = spawn(4, &["worker", "--workers", "2"], "running with 2 workers");
    let api_bind = format!("{}:0", Hosts::addr(2));
    let api = spawn(2, &["api", "--bind", &api_bind], "listening on http://");
    let (ns, addr) = (
        hosts.ns(2),
        api.base.trim_start_matches("http://").to_owned(),
    );
    assert!(addr.starts_with("10.77.0.2:"), "{addr}");

    eventually(30, "the API host to join both worker hosts", || async {
        let (_, m) = ns_http(&ns, &addr, "GET", "/metrics", None).await;
        m.lines()
            .any(|l| l.trim() == "pith_cluster_peers 2")
            .then_some(())
    })
    .await;
    let mut hrefs = Vec::new();
    for i in 0..16 {
        let body = json!({"seconds": 0.2, "exclusive_resources": [format!("h{i}")]});
        let (code, v) = ns_http(
            &ns,
            &addr,
            "POST",
            "/pulp/api/v3/pith/test/tasks/",
            Some(body),
        )
        .await;
        assert_eq!(code, 202, "{v}");
        let v: Value = serde_json::from_str(&v).unwrap();
        hrefs.push(v["task"].as_str().unwrap().to_owned());
    }
    for h in &hrefs {
        let t = eventually(30, "a task to finish", || async {
            let (_, t) = ns_http(&ns, &addr, "GET", h, None).await;
            let t: Value = serde_json::from_str(&t).ok()?;
            matches!(
                t["state"].as_str(),
                Some("completed" | "failed" | "canceled")
            )
            .then_some(t)
        })
        .await;
        assert_eq!(t["state"], "completed", "{t}");
    }
    let owners: BTreeSet<u32> = psql(&pg, "SELECT DISTINCT owner FROM core_task")
        .iter()
        .filter_map(|o| pid_of(o))
        .collect();
    assert_eq!(
        owners,
        [w3.child.id(), w4.child.id()].into(),
        "tasks ran on both worker hosts"
    );
    let addrs = psql(
        &pg,
        "SELECT DISTINCT cluster_addr FROM core_appstatus WHERE cluster_addr IS NOT NULL ORDER BY 1",
    );
    assert_eq!(addrs.len(), 3, "{addrs:?}");
    for (a, host) in addrs.iter().zip(2..) {
        assert!(
            a.starts_with(&format!("{}:", Hosts::addr(host))),
            "{addrs:?}"
        );
    }
}
