//! A throwaway PostgreSQL for tests and benchmarks: Debian's server binaries (found with
//! `pg_config --bindir`), run as the `postgres` user when we are root (PostgreSQL refuses
//! root), in a temporary directory on a free loopback port. A watchdog shell stops the server
//! and removes its directory once the process that started it has exited.
//! Shared by `tests/e2e` and `bench/` (included with `#[path]`), so it only uses std and rustix.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running server.
#[derive(Debug)]
pub struct Pg {
    /// Loopback port.
    pub port: u16,
    /// Directory of `postgres`, `initdb`, `createdb`.
    pub bindir: PathBuf,
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
    let script = format!(
        "{pg} -D {data} -p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync={fsync} -c max_connections=300 >{root}/log 2>&1 & pg=$!; \
         while [ -d /proc/{me} ]; do sleep 1; done; kill -INT $pg; wait $pg; rm -rf {root}",
        pg = bindir.join("postgres").display(),
        data = data.display(),
        root = root.display(),
        me = std::process::id(),
    );
    let mut c = if is_root() {
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
    let end = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > end {
            return Err(format!(
                "PostgreSQL did not start; see {}/log",
                root.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Pg { port, bindir })
}

impl Pg {
    /// Creates a fresh database and returns its URL.
    pub fn create_db(&self, name: &str) -> Result<String, String> {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = Command::new(self.bindir.join("createdb"))
                .args([
                    "-h",
                    "127.0.0.1",
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
                    "postgres://postgres@127.0.0.1:{}/{name}",
                    self.port
                ));
            }
            if Instant::now() > end {
                return Err(format!("createdb {name} failed"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
