//! Content fetchers: the content app's downloads of content synced `on_demand` or `streamed`.
//!
//! One fetcher actor per content artifact per node, found through a concurrent map: the first
//! request for bytes that are not stored starts it, and every request for the same bytes while
//! it runs joins it, so N concurrent clients cause one upstream request. The fetcher writes
//! the download to a temporary file while hashing it and publishes its progress on a watch
//! channel; each client reads the file through a shared descriptor up to the published length,
//! so the first byte reaches clients as soon as it arrives and late joiners start from the
//! beginning. At the end the bytes are verified against the expected size and sha256: for
//! `on_demand` they are then stored and linked to the content in one transaction (later
//! requests are served from the store); for `streamed` nothing is kept. A mismatch stores
//! nothing, marks that remote artifact failed (it is skipped for the cooldown) and fails the
//! clients, whose connections are cut.
//!
//! Fetchers are supervised: one that panics fails its clients at once (never a hang) and the
//! next request starts a fresh one. Upstream downloads are bounded per remote
//! (`download_concurrency`) and in total; fetchers beyond a bound wait in FIFO order.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use futures_util::StreamExt;
use pith_entities::entity::remote;
use pith_entities::{ArtifactStore, Db};
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use ractor_cluster_derive::RactorMessage;
use tokio::sync::{Semaphore, watch};

/// Upstream downloads of one remote at a time when it sets no `download_concurrency`.
pub const DEFAULT_PER_REMOTE: usize = 10;

/// One place the bytes may be fetched from.
#[derive(Clone, Debug)]
pub struct Source {
    /// The remote artifact's id (marked failed on a mismatch); `None` for a pull-through,
    /// which has none yet.
    pub remote_artifact: Option<String>,
    /// Its URL.
    pub url: String,
    /// The remote (credentials, TLS, proxy, timeouts, concurrency).
    pub remote: remote::Model,
}

/// What to fetch.
#[derive(Debug)]
pub struct Request {
    /// The fetchers' key: requests with the same key share one download (the content
    /// artifact waiting for the bytes, or a pull-through's remote and URL).
    pub key: String,
    /// Where to try, in order.
    pub sources: Vec<Source>,
    /// The expected sha256 (`None`: a pull-through, which learns it from the bytes).
    pub sha256: Option<String>,
    /// The expected size, when known.
    pub size: Option<u64>,
    /// What becomes of the verified bytes.
    pub keep: Keep,
}

/// What a fetch keeps of the bytes once they are verified.
pub enum Keep {
    /// Nothing (`streamed`).
    Nothing,
    /// Stores them and links them to this content artifact (`on_demand`).
    Link(String),
    /// Hands the synced temporary file and its digests to this (a pull-through, whose remote
    /// type decides what content they become). Clients get `Done` once it returns.
    With(KeepFn),
}

/// See [`Keep::With`].
pub type KeepFn = Box<
    dyn FnOnce(
            pith_entities::TempArtifact,
            pith_entities::Digests,
        ) -> futures_util::future::BoxFuture<'static, ()>
        + Send,
>;

impl std::fmt::Debug for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Keep::Nothing => f.write_str("Nothing"),
            Keep::Link(ca) => f.debug_tuple("Link").field(ca).finish(),
            Keep::With(_) => f.write_str("With(..)"),
        }
    }
}

/// Why a fetch failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// No source answered before any byte was sent (the client gets a 404).
    Unavailable(String),
    /// It failed after bytes were sent (interrupted, wrong size or checksum, or the fetcher
    /// crashed): the client's connection is cut.
    Broken(String),
}

/// A fetch's progress, as clients see it.
#[derive(Clone, Debug)]
pub enum Progress {
    /// Waiting for a download slot or the upstream's answer.
    Starting,
    /// Bytes are arriving: `written` of them are in `file`.
    Streaming {
        /// The temporary file (read with positioned reads; it stays readable after it is
        /// moved into the store or deleted).
        file: Arc<std::fs::File>,
        /// Bytes written so far.
        written: u64,
    },
    /// All `written` bytes are in `file` and were verified.
    Done {
        /// As above.
        file: Arc<std::fs::File>,
        /// The whole length.
        written: u64,
    },
    /// It failed.
    Failed(FetchError),
}

/// A running (or just finished) fetch, shared by its clients.
#[derive(Debug)]
pub struct Fetch {
    progress: watch::Receiver<Progress>,
}

impl Fetch {
    /// A receiver of its progress.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }
}

/// A fetch to run (internal to the fetchers).
pub struct Job {
    request: Request,
    tx: watch::Sender<Progress>,
    fetch: Arc<Fetch>,
}

struct Shared {
    map: DashMap<String, Arc<Fetch>>,
    global: Arc<Semaphore>,
    per_remote: DashMap<String, Arc<Semaphore>>,
    db: Db,
    store: ArtifactStore,
    /// Test hook (only with `PITH_TEST_TASKS`): a fetcher whose URL contains
    /// `pith-test-panic` panics, to exercise supervision.
    test_hooks: bool,
}

/// The node's fetchers.
#[derive(Clone)]
pub struct Fetchers {
    shared: Arc<Shared>,
    supervisor: ActorRef<SupervisorMsg>,
}

impl std::fmt::Debug for Fetchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetchers")
            .field("running", &self.shared.map.len())
            .finish()
    }
}

impl Fetchers {
    /// Starts the fetchers' supervisor; `total` bounds upstream downloads of the whole node.
    pub async fn start(
        db: Db,
        store: ArtifactStore,
        total: usize,
        test_hooks: bool,
    ) -> Result<Fetchers, String> {
        let shared = Arc::new(Shared {
            map: DashMap::new(),
            global: Arc::new(Semaphore::new(total.max(1))),
            per_remote: DashMap::new(),
            db,
            store,
            test_hooks,
        });
        let (supervisor, _) = Actor::spawn(None, FetchSupervisor, shared.clone())
            .await
            .map_err(|e| format!("could not start the fetch supervisor: {e}"))?;
        Ok(Fetchers { shared, supervisor })
    }

    /// The fetch of `request`'s bytes: the running one, or a new one.
    pub fn join(&self, request: Request) -> Arc<Fetch> {
        use dashmap::mapref::entry::Entry;
        match self.shared.map.entry(request.key.clone()) {
            Entry::Occupied(e) => e.get().clone(),
            Entry::Vacant(v) => {
                let (tx, rx) = watch::channel(Progress::Starting);
                let fetch = Arc::new(Fetch { progress: rx });
                v.insert(fetch.clone());
                let job = Job {
                    request,
                    tx,
                    fetch: fetch.clone(),
                };
                if let Err(e) = self.supervisor.cast(SupervisorMsg::Start(Box::new(job))) {
                    // The supervisor is gone (shutting down): fail this fetch rather than hang.
                    tracing::error!("fetch supervisor unavailable");
                    if let ractor::MessagingErr::SendErr(SupervisorMsg::Start(job)) = e {
                        job.tx
                            .send_replace(Progress::Failed(FetchError::Unavailable(
                                "the content fetchers are shutting down".into(),
                            )));
                        self.shared
                            .map
                            .remove_if(&job.request.key, |_, f| Arc::ptr_eq(f, &job.fetch));
                    }
                }
                fetch
            }
        }
    }
}

/// Messages of the supervisor.
#[derive(RactorMessage)]
pub enum SupervisorMsg {
    /// Start a fetcher for this job.
    Start(Box<Job>),
}

impl std::fmt::Debug for SupervisorMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SupervisorMsg::Start")
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("key", &self.request.key)
            .finish_non_exhaustive()
    }
}

struct FetchSupervisor;

struct SupervisorState {
    shared: Arc<Shared>,
    /// Each running fetcher's key, progress sender and fetch (to fail and forget it).
    running: std::collections::HashMap<ActorId, (String, watch::Sender<Progress>, Arc<Fetch>)>,
}

impl Actor for FetchSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = Arc<Shared>;

    async fn pre_start(
        &self,
        _me: ActorRef<Self::Msg>,
        shared: Arc<Shared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(SupervisorState {
            shared,
            running: Default::default(),
        })
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let SupervisorMsg::Start(job) = msg;
        let key = job.request.key.clone();
        let (tx, fetch) = (job.tx.clone(), job.fetch.clone());
        let args = FetcherArgs {
            job: std::sync::Mutex::new(Some(*job)),
            shared: st.shared.clone(),
        };
        match Actor::spawn_linked(None, Fetcher, Arc::new(args), me.get_cell()).await {
            Ok((f, _)) => {
                st.running.insert(f.get_id(), (key, tx, fetch));
            }
            Err(e) => {
                tracing::error!(error = %e, "could not start a content fetcher");
                tx.send_replace(Progress::Failed(FetchError::Unavailable(e.to_string())));
                st.shared.map.remove_if(&key, |_, f| Arc::ptr_eq(f, &fetch));
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _me: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (id, crashed) = match &evt {
            SupervisionEvent::ActorFailed(cell, err) => {
                tracing::error!(error = %err, "a content fetcher crashed; its clients get an error");
                (cell.get_id(), true)
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => (cell.get_id(), false),
            _ => return Ok(()),
        };
        if let Some((key, tx, fetch)) = st.running.remove(&id) {
            if crashed {
                tx.send_replace(Progress::Failed(FetchError::Broken(
                    "the fetcher crashed".into(),
                )));
            }
            st.shared.map.remove_if(&key, |_, f| Arc::ptr_eq(f, &fetch));
        }
        Ok(())
    }
}

struct FetcherArgs {
    job: std::sync::Mutex<Option<Job>>,
    shared: Arc<Shared>,
}

struct Fetcher;

/// The fetcher's only message: run (sent to itself at start).
#[derive(Debug, RactorMessage)]
pub struct Run;

impl Actor for Fetcher {
    type Msg = Run;
    type State = Arc<FetcherArgs>;
    type Arguments = Arc<FetcherArgs>;

    async fn pre_start(
        &self,
        me: ActorRef<Self::Msg>,
        args: Arc<FetcherArgs>,
    ) -> Result<Self::State, ActorProcessingErr> {
        me.cast(Run)?;
        Ok(args)
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        _msg: Run,
        args: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let job = args.job.lock().ok().and_then(|mut j| j.take());
        if let Some(job) = job {
            let Job { request, tx, .. } = job;
            let outcome = run(&args.shared, request, &tx).await;
            let label = match &outcome {
                Progress::Done { written, .. } => {
                    metrics::counter!("pith_content_fetch_bytes").increment(*written);
                    "done"
                }
                Progress::Failed(FetchError::Unavailable(_)) => "unavailable",
                _ => "broken",
            };
            metrics::counter!("pith_content_fetches", "outcome" => label).increment(1);
            tx.send_replace(outcome);
        }
        me.stop(None);
        Ok(())
    }
}

fn semaphore_of(shared: &Shared, r: &remote::Model) -> Arc<Semaphore> {
    shared
        .per_remote
        .entry(r.pulp_id.clone())
        .or_insert_with(|| {
            let n = r
                .download_concurrency
                .map_or(DEFAULT_PER_REMOTE, |n| n.clamp(1, 64) as usize);
            Arc::new(Semaphore::new(n))
        })
        .clone()
}

/// Downloads from the first source that answers; returns the final progress.
async fn run(shared: &Shared, req: Request, tx: &watch::Sender<Progress>) -> Progress {
    let mut tried = Vec::new();
    for src in req.sources.clone() {
        // FIFO: fetchers beyond the bounds wait in the order they asked.
        let Ok(_all) = shared.global.clone().acquire_owned().await else {
            break;
        };
        let Ok(_one) = semaphore_of(shared, &src.remote).acquire_owned().await else {
            break;
        };
        assert!(
            !(shared.test_hooks && src.url.contains("pith-test-panic")),
            "test hook: a fetcher panics"
        );
        let client = match crate::download::client(&src.remote) {
            Ok(c) => c,
            Err(e) => {
                tried.push(format!("{}: {e}", src.url));
                continue;
            }
        };
        let resp = match crate::download::get(&client, &src.remote, &src.url).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(url = %src.url, error = %e, "on-demand fetch failed before any byte; trying the next source");
                tried.push(e.to_string());
                continue;
            }
        };
        return stream(shared, req, &src, resp, tx).await;
    }
    Progress::Failed(FetchError::Unavailable(if tried.is_empty() {
        "no remote can provide this content".into()
    } else {
        tried.join("; ")
    }))
}

fn broken(msg: String) -> Progress {
    Progress::Failed(FetchError::Broken(msg))
}

/// Streams one answer into a temporary file that clients follow, then verifies and (for
/// `on_demand`) stores it.
async fn stream(
    shared: &Shared,
    req: Request,
    src: &Source,
    resp: reqwest::Response,
    tx: &watch::Sender<Progress>,
) -> Progress {
    let mut temp = match shared.store.temp().await {
        Ok(t) => t,
        Err(e) => return broken(e.to_string()),
    };
    let file = match temp.path().map(std::fs::File::open) {
        Some(Ok(f)) => Arc::new(f),
        Some(Err(e)) => return broken(e.to_string()),
        None => return broken("no temporary file".into()),
    };
    let mut written = 0u64;
    tx.send_replace(Progress::Streaming {
        file: file.clone(),
        written,
    });
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return broken(format!("download of {} interrupted: {e}", src.url)),
        };
        // Flushed, so that readers of the shared descriptor see the bytes.
        if let Err(e) = temp.write(&chunk).await {
            return broken(e.to_string());
        }
        if let Err(e) = temp.flush().await {
            return broken(e.to_string());
        }
        written += chunk.len() as u64;
        tx.send_replace(Progress::Streaming {
            file: file.clone(),
            written,
        });
    }
    let digests = if !matches!(req.keep, Keep::Nothing) {
        temp.finish().await
    } else {
        temp.finish_unsynced().await
    };
    let d = match digests {
        Ok(d) => d,
        Err(e) => return broken(e.to_string()),
    };
    let wrong_digest = req.sha256.as_ref().is_some_and(|s| *s != d.sha256);
    if wrong_digest || req.size.is_some_and(|s| s != d.size) {
        tracing::error!(
            url = %src.url,
            expected_sha256 = ?req.sha256,
            actual_sha256 = %d.sha256,
            expected_size = ?req.size,
            actual_size = d.size,
            "on-demand download does not match what the remote promised; nothing was stored"
        );
        if let Some(ra) = &src.remote_artifact {
            mark_failed(&shared.db, ra).await;
        }
        return broken(format!(
            "{}: expected sha256 {}, got {} ({} bytes)",
            src.url,
            req.sha256.as_deref().unwrap_or("-"),
            d.sha256,
            d.size
        ));
    }
    match req.keep {
        Keep::Nothing => {}
        Keep::Link(content_artifact) => {
            match pith_entities::artifacts::store_linked(
                &shared.db,
                &shared.store,
                temp,
                &d,
                &content_artifact,
            )
            .await
            {
                Ok(_) => pith_entities::content_generation::changed(&shared.db).await,
                // The client still gets its verified bytes; the next request fetches again.
                Err(e) => {
                    tracing::error!(error = %e, url = %src.url, "could not store an on-demand artifact")
                }
            }
        }
        Keep::With(keep) => keep(temp, d).await,
    }
    Progress::Done { file, written }
}

async fn mark_failed(db: &Db, remote_artifact: &str) {
    if let Err(e) = pith_entities::content::mark_remote_artifact_failed(db, remote_artifact).await {
        tracing::error!(error = %e, "could not mark a remote artifact failed");
    }
}

/// Reads up to `max` bytes at `offset` of a fetch's file.
pub fn read_at(file: &std::fs::File, offset: u64, max: usize) -> std::io::Result<bytes::Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; max];
    let n = file.read_at(&mut buf, offset)?;
    buf.truncate(n);
    Ok(bytes::Bytes::from(buf))
}

/// How long a client waits between progress notifications before giving up on a fetcher.
pub const STALL: Duration = Duration::from_secs(300);
