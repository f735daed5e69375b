//! Test support: the real `pith` binary on a free loopback port, a throwaway PostgreSQL, HTTP
//! helpers and condition-with-deadline waits.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pg::{self, Pg};

pub const PASSWORD: &str = "e2e-admin-secret";

/// Which database a test server uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A data directory (and database) that outlives server restarts.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub db_url: Option<String>,
}

/// A running `pith serve`.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub client: reqwest::Client,
    /// Everything the server printed on stdout (for debugging failures).
    #[allow(dead_code)]
    pub output: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts (once per test binary) a PostgreSQL with fsync off; `None` when PostgreSQL is not
/// installed, which fails the run under `CI=true`.
fn postgres() -> Option<&'static Pg> {
    static PG: OnceLock<Option<Pg>> = OnceLock::new();
    PG.get_or_init(|| {
        let Some(bindir) = pg::bindir() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but no PostgreSQL server binaries were found (pg_config --bindir)"
            );
            eprintln!("PostgreSQL not found: skipping PostgreSQL tests");
            return None;
        };
        Some(pg::start(bindir, false).expect("start PostgreSQL"))
    })
    .as_ref()
}

impl Env {
    /// A fresh environment; `None` when the backend is unavailable (PostgreSQL outside CI).
    pub fn new(backend: Backend) -> Option<Env> {
        pith_actors::tls::install_provider();
        let dir = tempfile::tempdir().expect("tempdir");
        let db_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let name = format!("pith_{}", uuid::Uuid::new_v4().simple());
                Some(postgres()?.create_db(&name).expect("createdb"))
            }
        };
        Some(Env { dir, db_url })
    }

    /// An environment on a given database (e.g. a PostgreSQL in a network namespace).
    pub fn with_db(url: String) -> Env {
        pith_actors::tls::install_provider();
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            db_url: Some(url),
        }
    }

    /// A `pith` command with this environment's settings.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_in(None, args)
    }

    /// The same, run inside network namespace `netns` when given.
    pub fn command_in(&self, netns: Option<&str>, args: &[&str]) -> Command {
        let pith = env!("CARGO_BIN_EXE_pith");
        let mut c = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, pith]);
                c
            }
            None => Command::new(pith),
        };
        c.args(args);
        c.arg("--data-dir").arg(self.dir.path());
        c.env("PULP_ADMIN_PASSWORD", PASSWORD)
            .env("PITH_TEST_TASKS", "true")
            .env("PULP_ANALYTICS", "false")
            .env("PULP_WORKER_TTL", "2")
            .env("RUST_LOG", "warn");
        match &self.db_url {
            Some(u) => c.env("PULP_DATABASE_URL", u),
            None => c.env_remove("PULP_DATABASE_URL"),
        };
        c
    }

    /// Starts `pith serve` and waits until it listens.
    pub fn start(&self, extra_env: &[(&str, &str)]) -> Server {
        self.spawn(
            &["serve", "--bind", "127.0.0.1:0", "--workers", "2"],
            extra_env,
            "listening on http://",
        )
    }

    /// Starts `pith ARGS…` and waits for a stdout line containing `ready` (the address is taken
    /// from a `listening on http://ADDR/` line when there is one).
    pub fn spawn(&self, args: &[&str], extra_env: &[(&str, &str)], ready: &str) -> Server {
        self.spawn_in(None, args, extra_env, ready)
    }

    /// [`Env::spawn`] inside network namespace `netns` (when given).
    pub fn spawn_in(
        &self,
        netns: Option<&str>,
        args: &[&str],
        extra_env: &[(&str, &str)],
        ready: &str,
    ) -> Server {
        let mut c = self.command_in(netns, args);
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("stderr.log"))
            .expect("log");
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn pith");
        let stdout = child.stdout.take().expect("stdout");
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let out2 = output.clone();
        let ready = ready.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains(&ready) {
                    let addr = line
                        .split("listening on http://")
                        .nth(1)
                        .and_then(|r| r.split('/').next());
                    let _ = tx.send(addr.unwrap_or("").to_owned());
                }
                if let Ok(mut o) = out2.lock() {
                    o.push_str(&line);
                    o.push('\n');
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let log =
                    std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
                panic!("pith {args:?} did not start:\n{log}");
            }
        };
        Server {
            child,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            output,
        }
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(self.url(path))
            .basic_auth("admin", Some(PASSWORD))
    }

    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .basic_auth("admin", Some(PASSWORD))
            .json(body)
    }

    /// Sends `body` as JSON with the admin's credentials; returns the status and JSON answer.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .request(method, self.url(path))
            .basic_auth("admin", Some(PASSWORD))
            .json(&body)
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path).send().await.expect("request");
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Dispatches a test task; returns its href.
    pub async fn test_task(&self, body: Value) -> String {
        let r = self
            .post("/pulp/api/v3/pith/test/tasks/", &body)
            .send()
            .await
            .expect("dispatch");
        assert_eq!(r.status().as_u16(), 202);
        let v: Value = r.json().await.expect("json");
        v["task"].as_str().expect("task href").to_owned()
    }

    /// Polls a task until `pred` holds (deadline 30 s).
    pub async fn wait_task(&self, href: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, t) = self.json(href).await;
            if pred(&t) {
                return t;
            }
            assert!(
                Instant::now() < end,
                "task {href} never reached the expected state: {t}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls until the task is final.
    pub async fn finished(&self, href: &str) -> Value {
        self.wait_task(href, |t| {
            matches!(
                t["state"].as_str(),
                Some("completed" | "failed" | "canceled")
            )
        })
        .await
    }

    /// Sends a signal to the server and waits for it to exit.
    pub fn signal_and_wait(&mut self, sig: rustix::process::Signal) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, sig).expect("kill");
        self.child.wait().expect("wait")
    }
}

/// Runs a test body against SQLite and PostgreSQL as two tests.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::support::{Backend, Env};
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let env = Env::new(Backend::Sqlite).expect("sqlite env");
                super::$name(env).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(env) = Env::new(Backend::Postgres) {
                    super::$name(env).await;
                }
            }
        }
    )*};
}
