//! The content app's in-memory index: base path → distribution → publication → files.
//!
//! Serving a file must not cost database round trips (the target is most of a static server's
//! request rate), so each content node keeps what it needs in memory:
//! - every distribution, loaded in one query per [`Generation`];
//! - for each distribution asked for, what it serves: its publication's files (relative path →
//!   stored artifact), loaded in one query the first time, kept for the generation;
//! - the bytes of small artifacts, by sha256 ([`SmallFiles`]): artifacts are content-addressed
//!   and verified when stored, so cached bytes never go stale.
//!
//! A generation ends when this process changes distributions or publications
//! ([`pith_entities::content_generation`], checked on every request at the cost of an atomic
//! load) or when a cheap fingerprint of the distribution, publication and content guard tables (counts and
//! latest timestamps, re-read at most once per [`CHECK_INTERVAL`]) shows that another process
//! did.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use pith_entities::{Db, content_generation};

use crate::ApiError;
use crate::checkpoint::Checkpoint;

/// How stale the index may be about changes made by other processes.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Artifacts up to this size are kept in memory once served.
pub const SMALL_FILE_CACHE_MAX: u64 = 256 * 1024;

/// The most bytes [`SmallFiles`] holds before it starts over.
pub const SMALL_FILE_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// One distribution, as the content app needs it.
#[derive(Debug, Clone)]
pub struct Dist {
    /// Its id.
    pub id: String,
    /// Its base path (no leading or trailing slash).
    pub base_path: String,
    /// Hidden from the content app's listings.
    pub hidden: bool,
    /// Its type (which plugin's hooks apply).
    pub pulp_type: String,
    publication_id: Option<String>,
    repository_version_id: Option<String>,
    /// The repository it serves (whose latest publication or version), if named.
    pub repository_id: Option<String>,
    /// The remote it pulls content through from, if named.
    pub remote_id: Option<String>,
    /// Serves its repository's checkpoints under their timestamps ([`crate::checkpoint`]).
    pub checkpoint: bool,
    /// The content guard asked before anything of it is served.
    pub content_guard_id: Option<String>,
}

/// An artifact ready to be served.
#[derive(Debug)]
pub struct Stored {
    /// Its path inside the artifact store.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256 (the ETag).
    pub sha256: String,
    /// When it was stored, in µs (Last-Modified).
    pub created: i64,
}

impl Stored {
    /// From the `(file, size, sha256, created)` the entities' artifact queries return.
    pub fn from_row((file, size, sha256, created): (String, i64, String, i64)) -> Stored {
        Stored {
            file,
            size: size as u64,
            sha256,
            created,
        }
    }
}

/// Content whose bytes are not stored yet (synced `on_demand` or `streamed`).
#[derive(Debug)]
pub struct Remote {
    /// The content artifact waiting for its bytes.
    pub content_artifact: String,
    /// The expected sha256.
    pub sha256: String,
    /// The expected size, when the remote said.
    pub size: Option<u64>,
}

/// One served path.
#[derive(Debug, Clone)]
pub enum Entry {
    /// Bytes in the store.
    Stored(Arc<Stored>),
    /// Bytes to fetch.
    Remote(Arc<Remote>),
}

/// What a distribution serves: one publication's files.
#[derive(Debug)]
pub struct Served {
    /// relative path → what to serve.
    pub files: HashMap<String, Entry>,
    /// Every served path, sorted (for listings and directory redirects).
    pub paths: Vec<String>,
}

impl Served {
    /// Whether `dir` (no trailing slash) is a directory of this publication.
    pub fn is_dir(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        let i = self.paths.partition_point(|p| p.as_str() < prefix.as_str());
        self.paths.get(i).is_some_and(|p| p.starts_with(&prefix))
    }

    /// The names directly inside `dir` (empty or ending in `/`); directories end in `/`.
    pub fn entries(&self, dir: &str) -> Vec<String> {
        let i = self.paths.partition_point(|p| p.as_str() < dir);
        let mut names: Vec<String> = self.paths[i..]
            .iter()
            .map_while(|p| p.strip_prefix(dir))
            .map(|rest| match rest.split_once('/') {
                Some((first, _)) => format!("{first}/"),
                None => rest.to_owned(),
            })
            .collect();
        names.dedup();
        names
    }
}

type Fingerprint = [i64; 6];

/// One consistent view of the distributions.
#[derive(Debug)]
pub struct Generation {
    local: u64,
    fingerprint: Fingerprint,
    /// µs since the index was created, when the fingerprint was last confirmed.
    checked: AtomicU64,
    /// Distributions by base path.
    pub dists: HashMap<String, Dist>,
    served: DashMap<String, Option<Arc<Served>>>,
    /// What each checkpoint publication serves, by publication id.
    by_publication: DashMap<String, Arc<Served>>,
    /// Each repository's checkpoints, oldest first, by repository id.
    checkpoints: DashMap<String, Arc<Vec<Checkpoint>>>,
    /// The content guards distributions name, by id.
    pub guards: crate::content_guard::GuardCache,
}

impl Generation {
    /// The distribution whose base path is `path` or an ancestor of it (base paths never
    /// overlap, so there is at most one).
    pub fn find(&self, path: &str) -> Option<&Dist> {
        let mut end = path.len();
        loop {
            if let Some(d) = self.dists.get(&path[..end]) {
                return Some(d);
            }
            end = path[..end].rfind('/')?;
        }
    }
}

/// The index. One per process.
#[derive(Debug)]
pub struct ContentIndex {
    current: RwLock<Option<Arc<Generation>>>,
    refresh: tokio::sync::Mutex<()>,
    started: Instant,
    /// Bytes of small artifacts.
    pub small: SmallFiles,
}

impl Default for ContentIndex {
    fn default() -> Self {
        ContentIndex {
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            started: Instant::now(),
            small: SmallFiles::default(),
        }
    }
}

impl ContentIndex {
    fn now(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    fn fresh(&self, g: &Generation) -> bool {
        g.local == content_generation::current()
            && self.now().saturating_sub(g.checked.load(Ordering::Relaxed))
                < CHECK_INTERVAL.as_micros() as u64
    }

    fn peek(&self) -> Option<Arc<Generation>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    /// The current generation, rebuilt first if it may be stale.
    pub async fn generation(&self, db: &Db) -> Result<Arc<Generation>, ApiError> {
        if let Some(g) = self.peek().filter(|g| self.fresh(g)) {
            return Ok(g);
        }
        self.checked_generation(db, false).await
    }

    /// The current generation, checked against the database now (what another process
    /// changed less than [`CHECK_INTERVAL`] ago included): a miss is confirmed with it before
    /// it is answered, so a distribution created on another node is served at once.
    pub async fn confirmed(&self, db: &Db) -> Result<Arc<Generation>, ApiError> {
        self.checked_generation(db, true).await
    }

    async fn checked_generation(&self, db: &Db, force: bool) -> Result<Arc<Generation>, ApiError> {
        let asked = self.now();
        let _one = self.refresh.lock().await;
        let old = self.peek();
        // Concurrent misses share one check: one made after this request asked will do.
        let done = |g: &Arc<Generation>| {
            g.local == content_generation::current()
                && (!force || g.checked.load(Ordering::Relaxed) >= asked)
        };
        if let Some(g) = old.as_ref().filter(|g| done(g) && (force || self.fresh(g))) {
            return Ok(g.clone());
        }
        // Read the local counter before the tables: a change committed in between makes the
        // next request rebuild again rather than be missed.
        let local = content_generation::current();
        let fingerprint = fingerprint(db).await?;
        if let Some(g) = old.filter(|g| g.local == local && g.fingerprint == fingerprint) {
            g.checked.store(self.now(), Ordering::Relaxed);
            return Ok(g);
        }
        let g = Arc::new(Generation {
            local,
            fingerprint,
            checked: AtomicU64::new(self.now()),
            dists: load_dists(db).await?,
            served: DashMap::new(),
            by_publication: DashMap::new(),
            checkpoints: DashMap::new(),
            guards: DashMap::new(),
        });
        if let Ok(mut cur) = self.current.write() {
            *cur = Some(g.clone());
        }
        Ok(g)
    }

    /// What `d` serves in generation `g` (`None`: no publication, a 404 as in Pulp).
    pub async fn served(
        &self,
        db: &Db,
        g: &Generation,
        d: &Dist,
    ) -> Result<Option<Arc<Served>>, ApiError> {
        if let Some(s) = g.served.get(&d.id) {
            return Ok(s.clone());
        }
        let s = match publication_of(db, d).await? {
            Some((publication, version)) => {
                Some(Arc::new(load_files(db, &publication, &version).await?))
            }
            None => None,
        };
        g.served.insert(d.id.clone(), s.clone());
        Ok(s)
    }

    /// What checkpoint `c` serves in generation `g`.
    pub async fn served_checkpoint(
        &self,
        db: &Db,
        g: &Generation,
        c: &Checkpoint,
    ) -> Result<Arc<Served>, ApiError> {
        if let Some(s) = g.by_publication.get(&c.publication) {
            return Ok(s.clone());
        }
        let s = Arc::new(load_files(db, &c.publication, &c.version).await?);
        g.by_publication.insert(c.publication.clone(), s.clone());
        Ok(s)
    }

    /// Repository `repo`'s checkpoints in generation `g`, oldest first.
    pub async fn checkpoints(
        &self,
        db: &Db,
        g: &Generation,
        repo: &str,
    ) -> Result<Arc<Vec<Checkpoint>>, ApiError> {
        if let Some(s) = g.checkpoints.get(repo) {
            return Ok(s.clone());
        }
        let list: Vec<Checkpoint> = pith_entities::publications::checkpoints(db, repo)
            .await?
            .into_iter()
            .map(|(publication, version, created)| Checkpoint {
                publication,
                version,
                created,
            })
            .collect();
        let list = Arc::new(list);
        g.checkpoints.insert(repo.to_owned(), list.clone());
        Ok(list)
    }
}

/// Counts and latest change times of distributions and publications: any create, update or
/// delete changes at least one of them.
async fn fingerprint(db: &Db) -> Result<Fingerprint, ApiError> {
    Ok(pith_entities::distributions::fingerprint(db).await?)
}

async fn load_dists(db: &Db) -> Result<HashMap<String, Dist>, ApiError> {
    let rows = pith_entities::distributions::serving(db).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let d = Dist {
            id: r.id,
            base_path: r.base_path,
            hidden: r.hidden,
            pulp_type: r.pulp_type,
            publication_id: r.publication_id,
            repository_version_id: r.repository_version_id,
            repository_id: r.repository_id,
            remote_id: r.remote_id,
            checkpoint: r.checkpoint,
            content_guard_id: r.content_guard_id,
        };
        out.insert(d.base_path.clone(), d);
    }
    Ok(out)
}

/// The publication a distribution serves, with its version id: the one named, else the latest
/// complete one of the version, else of the repository's latest published version.
async fn publication_of(db: &Db, d: &Dist) -> Result<Option<(String, String)>, ApiError> {
    use pith_entities::publications::Served;
    let Some(what) = Served::of(
        d.publication_id.as_deref(),
        d.repository_version_id.as_deref(),
        d.repository_id.as_deref(),
    ) else {
        return Ok(None);
    };
    Ok(pith_entities::publications::served(db, what).await?)
}

/// A publication's metadata files and its version's content artifacts (at their
/// `relative_path`, as Pulp serves them).
async fn load_files(db: &Db, publication: &str, version: &str) -> Result<Served, ApiError> {
    let rows = pith_entities::publications::served_files(db, publication, version).await?;
    let mut files = HashMap::with_capacity(rows.len());
    for r in rows {
        let entry = match (r.stored, r.content_artifact) {
            (Some(row), _) => Entry::Stored(Arc::new(Stored::from_row(row))),
            (None, Some(content_artifact)) => Entry::Remote(Arc::new(Remote {
                content_artifact,
                sha256: r.remote.0.unwrap_or_default(),
                size: r.remote.1.map(|n| n as u64),
            })),
            (None, None) => continue,
        };
        // Published metadata comes first and wins over content of the same path.
        files.entry(r.relative_path).or_insert(entry);
    }
    let mut paths: Vec<String> = files.keys().cloned().collect();
    paths.sort();
    Ok(Served { files, paths })
}

/// The bytes of recently served small artifacts, by sha256, up to a total size; when full it
/// starts over (a crude but bounded policy: the hot set refills within a few requests).
#[derive(Debug, Default)]
pub struct SmallFiles {
    map: DashMap<String, Bytes>,
    used: AtomicU64,
}

impl SmallFiles {
    /// The cached bytes of `sha256`.
    pub fn get(&self, sha256: &str) -> Option<Bytes> {
        self.map.get(sha256).map(|b| b.clone())
    }

    /// Keeps `bytes` (the whole artifact `sha256`) if it is small enough.
    pub fn put(&self, sha256: &str, bytes: Bytes) {
        let n = bytes.len() as u64;
        if n > SMALL_FILE_CACHE_MAX {
            return;
        }
        if self.used.fetch_add(n, Ordering::Relaxed) + n > SMALL_FILE_CACHE_BYTES {
            self.map.clear();
            self.used.store(n, Ordering::Relaxed);
        }
        self.map.insert(sha256.to_owned(), bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(paths: &[&str]) -> Served {
        let mut paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        paths.sort();
        Served {
            files: paths
                .iter()
                .map(|p| {
                    let r = Remote {
                        content_artifact: p.clone(),
                        sha256: String::new(),
                        size: None,
                    };
                    (p.clone(), Entry::Remote(Arc::new(r)))
                })
                .collect(),
            paths,
        }
    }

    #[test]
    fn directories_and_entries() {
        let s = served(&["a/b/c.txt", "a/d.txt", "ab.txt", "z"]);
        assert!(s.is_dir("a"));
        assert!(s.is_dir("a/b"));
        assert!(!s.is_dir("ab.txt"));
        assert!(!s.is_dir("b"));
        assert_eq!(s.entries(""), vec!["a/", "ab.txt", "z"]);
        assert_eq!(s.entries("a/"), vec!["b/", "d.txt"]);
        assert!(s.entries("q/").is_empty());
    }

    #[test]
    fn ancestor_lookup() {
        let d = |p: &str| Dist {
            id: p.into(),
            base_path: p.into(),
            hidden: false,
            pulp_type: "x.y".into(),
            publication_id: None,
            repository_version_id: None,
            repository_id: None,
            remote_id: None,
            checkpoint: false,
            content_guard_id: None,
        };
        let g = Generation {
            local: 0,
            fingerprint: [0; 6],
            checked: AtomicU64::new(0),
            dists: [d("x/y"), d("z")]
                .into_iter()
                .map(|d| (d.base_path.clone(), d))
                .collect(),
            served: DashMap::new(),
            by_publication: DashMap::new(),
            checkpoints: DashMap::new(),
            guards: DashMap::new(),
        };
        assert_eq!(g.find("x/y/f/g").map(|d| d.id.as_str()), Some("x/y"));
        assert_eq!(g.find("x/y").map(|d| d.id.as_str()), Some("x/y"));
        assert!(g.find("x").is_none());
        assert!(g.find("x/yz").is_none());
        assert_eq!(g.find("z/q").map(|d| d.id.as_str()), Some("z"));
    }

    #[test]
    fn small_files_are_bounded() {
        let s = SmallFiles::default();
        s.put(
            "big",
            Bytes::from(vec![0; SMALL_FILE_CACHE_MAX as usize + 1]),
        );
        assert!(s.get("big").is_none());
        let chunk = SMALL_FILE_CACHE_MAX as usize;
        for i in 0..(SMALL_FILE_CACHE_BYTES as usize / chunk + 5) {
            s.put(&i.to_string(), Bytes::from(vec![1; chunk]));
            assert!(s.used.load(Ordering::Relaxed) <= SMALL_FILE_CACHE_BYTES);
        }
        assert!(s.get("0").is_none(), "the cache started over when full");
    }
}
