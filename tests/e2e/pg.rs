//! A throwaway PostgreSQL for tests and benchmarks: Debian's server binaries (found with
//! `pg_config --bindir`), run as the `postgres` user when we are root (PostgreSQL refuses
//! root), in a temporary directory on a free loopback port. A watchdog shell stops the server
//! and removes its directory once the process that started it has exited. It can also run
//! inside a network namespace (the cluster tests' separate-hosts variant).
//! Shared by `tests/e2e` and `bench/` (included with `#[path]`), so it only uses std and rustix.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running server.
#[derive(Debug)]
pub struct Pg {
    /// Its port.
    pub port: u16,
    /// Directory of `postgres`, `initdb`, `createdb`.
    pub bindir: PathBuf,
    /// The address it listens on (127.0.0.1 unless it runs in a network namespace).
    pub host: String,
    /// The network namespace it runs in, if any.
    pub netns: Option<String>,
}

/// `program`, run inside network namespace `ns` when given.
fn in_netns(ns: Option<&str>, program: &Path) -> Command {
    match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// The server binaries' directory, if PostgreSQL is installed.
pub fn bindir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() && dir.join("postgres").exists() {
            return Some(dir);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .collect();
    found.sort();
    found
        .into_iter()
        .rev()
        .find(|d| d.join("initdb").exists() && d.join("postgres").exists())
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Starts a server. `durable = false` turns fsync off (tests); benchmarks keep it on.
pub fn start(bindir: PathBuf, durable: bool) -> Result<Pg, String> {
    start_at(bindir, durable, None)
}

/// Starts a server inside network namespace `ns`, listening on `host` there (`None`: on
/// 127.0.0.1 here). Connections from that namespace's network are trusted.
pub fn start_at(bindir: PathBuf, durable: bool, netns: Option<(&str, &str)>) -> Result<Pg, String> {
    let root = std::env::temp_dir().join(format!("pith-pg-{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&root)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err("chown of the PostgreSQL directory failed".into());
        }
    }
    let data = root.join("data");
    let out = as_postgres(&bindir.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let port = free_port();
    let fsync = if durable { "on" } else { "off" };
    let host = netns.map_or("127.0.0.1", |(_, h)| h).to_owned();
    if netns.is_some() {
        use std::io::Write;
        let mut hba = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("pg_hba.conf"))
            .map_err(|e| format!("pg_hba.conf: {e}"))?;
        writeln!(hba, "host all all {host}/16 trust").map_err(|e| format!("pg_hba.conf: {e}"))?;
    }
    let script = format!(
        "{pg} -D {data} -p {port} -k {root} -c listen_addresses={host} -c fsync={fsync} -c max_connections=300 >{root}/log 2>&1 & pg=$!; \
         while [ -d /proc/{me} ]; do sleep 1; done; kill -INT $pg; wait $pg; rm -rf {root}",
        pg = bindir.join("postgres").display(),
        data = data.display(),
        root = root.display(),
        me = std::process::id(),
    );
    let mut c = if let Some((ns, _)) = netns {
        let mut c = Command::new("ip");
        c.args([
            "netns", "exec", ns, "runuser", "-u", "postgres", "--", "sh", "-c", &script,
        ]);
        c
    } else if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", &script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &script]);
        c
    };
    // The watchdog outlives this process by design (it stops PostgreSQL after we exit), so
    // it is deliberately not waited for.
    #[allow(clippy::zombie_processes)]
    let _watchdog = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting postgres: {e}"))?;
    let ns = netns.map(|(n, _)| n);
    let ready = || match ns {
        None => std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        Some(_) => in_netns(ns, &bindir.join("pg_isready"))
            .args(["-q", "-h", &host, "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success()),
    };
    let end = Instant::now() + Duration::from_secs(30);
    while !ready() {
        if Instant::now() > end {
            return Err(format!(
                "PostgreSQL did not start; see {}/log",
                root.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Pg {
        port,
        bindir,
        host,
        netns: ns.map(str::to_owned),
    })
}

impl Pg {
    /// Creates a fresh database and returns its URL.
    pub fn create_db(&self, name: &str) -> Result<String, String> {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = in_netns(self.netns.as_deref(), &self.bindir.join("createdb"))
                .args([
                    "-h",
                    &self.host,
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    name,
                ])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Ok(format!(
                    "postgres://postgres@{}:{}/{name}",
                    self.host, self.port
                ));
            }
            if Instant::now() > end {
                return Err(format!("createdb {name} failed"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
