//! Wiring of each subcommand: database → writer → tasking → HTTP, and an orderly shutdown.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::signal::unix::{SignalKind, signal};

use pith_actors::tasking::node::TaskingConfig;
use pith_actors::tasking::{Liveness, NodeIdentity, Tasking, TaskingNode};
use pith_actors::tasks::TaskDeps;
use pith_cluster::{AppKind, ClusterConfig, Node, Registration, new_identity};
use pith_entities::sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use pith_entities::{
    ArtifactStore, Backend, Db, Writer, entity::user, migration, time::now_micros,
};
use pith_http::{Auth, HttpConfig, HttpState, Parts, hash_password};

use crate::cli::{AdminCommand, Cli, Command};
use crate::settings::Settings;

/// How the process was asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// SIGTERM: finish running tasks, then exit.
    Drain,
    /// SIGINT: abort running tasks ("Aborted during worker shutdown."), then exit.
    Abort,
}

async fn wait_for_signal() -> anyhow::Result<Stop> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => Ok(Stop::Drain),
        _ = int.recv() => Ok(Stop::Abort),
    }
}

/// The process's telemetry (metrics recorder and exporters are process-wide by nature).
static TELEMETRY: std::sync::OnceLock<crate::telemetry::Telemetry> = std::sync::OnceLock::new();

pub async fn main(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    let kind = match &cli.command {
        Command::Content(_) => "content",
        Command::Worker(_) => "worker",
        _ => "api",
    };
    let _ = TELEMETRY.set(crate::telemetry::init(&settings, kind)?);
    for w in Settings::env_warnings() {
        tracing::warn!("{w}");
    }
    let result = run_command(cli, settings).await;
    if let Some(t) = TELEMETRY.get() {
        // The SDK's exporters block while they flush: keep that off the async workers.
        let _ = tokio::task::spawn_blocking(move || t.shutdown()).await;
    }
    result
}

async fn run_command(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(a) => {
            let port = a.bind.port();
            run_node(
                &settings,
                &a.data.data_dir,
                a.bind.into(),
                a.workers,
                Parts {
                    api: true,
                    content: true,
                },
                "serve",
                Some(port),
                true,
            )
            .await
        }
        Command::Api(a) => {
            run_node(
                &settings,
                &a.data.data_dir,
                Some(a.bind),
                0,
                Parts {
                    api: true,
                    content: false,
                },
                "api",
                Some(a.bind.port()),
                false,
            )
            .await
        }
        Command::Content(a) => {
            run_node(
                &settings,
                &a.data.data_dir,
                Some(a.bind),
                0,
                Parts {
                    api: false,
                    content: true,
                },
                "content",
                Some(a.bind.port()),
                false,
            )
            .await
        }
        Command::Worker(a) => {
            run_node(
                &settings,
                &a.data.data_dir,
                None,
                a.workers.max(1),
                Parts {
                    api: false,
                    content: false,
                },
                "worker",
                None,
                false,
            )
            .await
        }
        Command::Migrate(d) => {
            let db = open_db(&settings, &d.data_dir).await?;
            migration::migrate(&db, crate::plugins::migrations())
                .await
                .context("migrating")?;
            println!(
                "pith: database is up to date ({})",
                redact(&settings.database_url(&d.data_dir))
            );
            Ok(())
        }
        Command::Admin(AdminCommand::ResetPassword {
            password,
            random,
            data,
        }) => {
            // On SQLite the serving process owns the database and caches users: a running
            // server refuses this (change the password through the API instead).
            let _lock = lock_sqlite(&settings.database_url(&data.data_dir))?;
            let db = open_db(&settings, &data.data_dir).await?;
            migration::migrate(&db, crate::plugins::migrations())
                .await
                .context("migrating")?;
            let pw = match (password, random) {
                (Some(p), _) if !p.is_empty() => p,
                (Some(_), _) => bail!("the password must not be empty"),
                (None, true) => {
                    let p = random_password();
                    println!("pith: new admin password: {p}");
                    p
                }
                (None, false) => bail!("give --password PASSWORD or --random"),
            };
            set_admin_password(&db, &pw).await?;
            println!("pith: the admin password was changed");
            Ok(())
        }
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

async fn open_db(settings: &Settings, data_dir: &Path) -> anyhow::Result<Db> {
    let url = settings.database_url(data_dir);
    if url.starts_with("sqlite://") {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    }
    Db::connect(&url)
        .await
        .with_context(|| format!("connecting to {}", redact(&url)))
}

fn random_password() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("{}{}", &a[..16], &b[..16])
}

async fn set_admin_password(db: &Db, password: &str) -> anyhow::Result<()> {
    let hash = hash_password(password).map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    let now = now_micros();
    // `.all()`, not `.one()`: statements on the (statement-caching) write connection are
    // always stepped to completion.
    let existing = user::Entity::find()
        .filter(user::Column::Username.eq("admin"))
        .all(&db.write)
        .await?;
    match existing.into_iter().next() {
        Some(u) => {
            let mut m = u.into_active_model();
            m.password = pith_entities::sea_orm::Set(hash);
            m.pulp_last_updated = pith_entities::sea_orm::Set(now);
            m.update(&db.write).await?;
        }
        None => {
            let m = user::ActiveModel {
                username: pith_entities::sea_orm::Set("admin".into()),
                password: pith_entities::sea_orm::Set(hash),
                is_superuser: pith_entities::sea_orm::Set(true),
                pulp_created: pith_entities::sea_orm::Set(now),
                pulp_last_updated: pith_entities::sea_orm::Set(now),
                ..Default::default()
            };
            m.insert(&db.write).await?;
        }
    }
    pith_entities::rbac::users_changed();
    Ok(())
}

/// On start: `PULP_ADMIN_PASSWORD` sets the password (only when it differs, so verified-login
/// caches stay valid); with neither that nor an existing admin, a password is generated and
/// printed once.
async fn ensure_admin(db: &Db, settings: &Settings) -> anyhow::Result<()> {
    let existing = user::Entity::find()
        .filter(user::Column::Username.eq("admin"))
        .one(&db.read)
        .await?;
    match (&settings.admin_password, existing) {
        (Some(pw), Some(u)) => {
            let same = {
                use argon2::PasswordVerifier;
                argon2::PasswordHash::new(&u.password).is_ok_and(|h| {
                    argon2::Argon2::default()
                        .verify_password(pw.as_bytes(), &h)
                        .is_ok()
                })
            };
            if !same {
                set_admin_password(db, pw).await?;
            }
        }
        (Some(pw), None) => set_admin_password(db, pw).await?,
        (None, Some(_)) => {}
        (None, None) => {
            let pw = random_password();
            set_admin_password(db, &pw).await?;
            println!("pith: created user 'admin' with password: {pw}");
            println!("pith: (shown once; change it with `pith admin reset-password`)");
        }
    }
    Ok(())
}

/// Holds an exclusive lock on `<db>.lock` so that two processes never share one SQLite file.
fn lock_sqlite(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(path) = url.strip_prefix("sqlite://") else {
        return Ok(None);
    };
    let path = path.split('?').next().unwrap_or(path);
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let lock_path = format!("{path}.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {lock_path}"))?;
    if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        bail!(
            "another Pith process is using {path}: SQLite supports one process; use PostgreSQL to run several"
        );
    }
    Ok(Some(f))
}

#[allow(clippy::too_many_arguments)]
async fn run_node(
    settings: &Settings,
    data_dir: &Path,
    bind: Option<std::net::SocketAddr>,
    workers: u32,
    parts: Parts,
    kind: &str,
    port: Option<u16>,
    all_in_one: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let url = settings.database_url(data_dir);
    if !all_in_one && url.starts_with("sqlite://") {
        bail!(
            "`pith {kind}` shares its database with other processes, which SQLite cannot do: set PULP_DATABASE_URL=postgres://… \
             (or run everything in one process with `pith serve`)"
        );
    }
    let _lock = lock_sqlite(&url)?;
    let db = open_db(settings, data_dir).await?;
    let platform = Arc::new(crate::plugins::platform(settings.pith_test_tasks));
    migration::migrate(&db, platform.migrations.clone())
        .await
        .context("migrating the database")?;
    if parts.api {
        // Core's and the plugins' locked roles, exactly as declared (Pulp does it after
        // migrating).
        pith_http::api::roles::sync_locked(&db, &platform)
            .await
            .map_err(|e| anyhow::anyhow!("creating the locked roles: {e}"))?;
    }
    let store =
        ArtifactStore::open(settings.media_root(data_dir)).context("opening the artifact store")?;
    if parts.api {
        let exists = user::Entity::find()
            .filter(user::Column::Username.eq("admin"))
            .all(&db.read)
            .await?;
        if exists.is_empty() {
            ensure_admin(&db, settings).await?;
        } else if settings.admin_password.is_some() {
            // Checking PULP_ADMIN_PASSWORD against the stored hash costs an argon2 run (tens of
            // milliseconds): do it after start-up. Until it finishes the previous password
            // still works; the next request after it reads the new hash.
            let (db, settings) = (db.clone(), settings.clone());
            tokio::spawn(async move {
                if let Err(e) = ensure_admin(&db, &settings).await {
                    tracing::error!(error = %e, "could not apply PULP_ADMIN_PASSWORD");
                }
            });
        }
    }
    let writer = Writer::start(db.clone());
    let listener = match bind {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?,
        ),
        None => None,
    };
    let port = listener
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
        .or(port);
    let identity: NodeIdentity = new_identity(kind, port);
    let ttl = Duration::from_secs_f64(settings.worker_ttl);
    // Partial downloads live in this process's own working directory; a process killed
    // mid-download leaves its directory, which goes once the process is known dead.
    let store = store
        .with_working_dir(&identity.node, &identity.incarnation)
        .context("creating the working directory")?;
    if db.backend == pith_entities::Backend::Sqlite {
        // SQLite runs one process per data directory (the lock above): every other working
        // directory is a dead process's.
        let swept = store.clear_other_working_dirs();
        if swept > 0 {
            tracing::info!(swept, "removed the working files of an earlier run");
        }
    }

    let mut apps = Vec::new();
    let api_name = format!("api-{}@{}", identity.pid, identity.hostname);
    if parts.api {
        apps.push((api_name.clone(), AppKind::Api));
    }
    if parts.content {
        apps.push((
            format!("content-{}@{}", identity.pid, identity.hostname),
            AppKind::Content,
        ));
    }
    for n in 1..=workers {
        apps.push((identity.worker_name(n), AppKind::Worker));
    }
    let versions = platform.versions.clone();
    let cluster = cluster_config(settings, kind, &db, ttl, &identity).await?;
    if let Some(c) = &cluster {
        pith_cluster::secret::check(&db, &c.secret, &identity.incarnation).await?;
    }
    let liveness = Liveness::new(ttl);
    // Other processes' working directories go once those processes are known dead.
    {
        let (db, store) = (db.clone(), store.clone());
        tokio::spawn(async move {
            loop {
                match pith_entities::nodes::live_incarnations(&db).await {
                    Ok(live) => {
                        let store = store.clone();
                        let swept = tokio::task::spawn_blocking(move || {
                            store.sweep_working_dirs(&live, ttl)
                        })
                        .await
                        .unwrap_or(0);
                        if swept > 0 {
                            tracing::info!(
                                swept,
                                "removed the working files of processes that are gone"
                            );
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not list live processes for the working-directory sweep")
                    }
                }
                tokio::time::sleep(ttl).await;
            }
        });
    }
    let registration = Registration::register(
        &db,
        &writer,
        &identity,
        &apps,
        ttl,
        &versions,
        cluster.as_ref().map(|c| c.advertise.as_str()),
        &liveness,
    )
    .await?;
    let cluster_node = match cluster {
        Some(c) => {
            tracing::info!(bind = %c.bind, advertise = %c.advertise, "joining the cluster");
            Some(
                Node::start(db.clone(), c, identity.incarnation.clone())
                    .await
                    .context("starting the cluster node")?,
            )
        }
        None => None,
    };

    let deps = Arc::new(TaskDeps {
        types: platform.types.clone(),
        bodies: platform.bodies.clone(),
        db: db.clone(),
        writer: writer.clone(),
        store: store.clone(),
        test_tasks: settings.pith_test_tasks,
        serializers: Arc::new(pith_http::api::TaskSerializers {
            platform: platform.clone(),
        }),
    });
    let tasking_node = if workers > 0 {
        let config = TaskingConfig {
            workers,
            worker_ttl: ttl,
            scan_every: Duration::from_secs_f64(settings.pith_task_scan_interval),
            liveness: liveness.clone(),
        };
        Some(
            TaskingNode::start(identity.clone(), deps.clone(), config)
                .await
                .context("starting the tasking runtime")?,
        )
    } else {
        None
    };

    // Analytics: on unless turned off; the test settings never post to the default endpoint.
    let default_url = Settings::default().analytics_url;
    if settings.analytics && !(settings.pith_test_tasks && settings.analytics_url == default_url) {
        let cfg = pith_actors::analytics::Config {
            db: db.clone(),
            url: settings.analytics_url.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            period: pith_actors::analytics::PERIOD,
        };
        pith_actors::analytics::start(cfg)
            .await
            .map_err(anyhow::Error::msg)?;
    }
    if settings.otel_enabled {
        // Gauges that come from the database, for the OTLP exporter (Prometheus refreshes
        // them at every scrape).
        let db = db.clone();
        tokio::spawn(async move {
            loop {
                pith_http::telemetry::refresh_gauges(&db).await;
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        });
    }

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let http = match listener {
        Some(l) => {
            let auth = Auth::new(db.clone()).with_trusted(settings.trusted_proxy()?);
            let config = HttpConfig {
                api_root: settings.api_root.clone(),
                content_path_prefix: settings.content_path_prefix.clone(),
                content_origin: settings
                    .content_origin
                    .clone()
                    .map(|o| o.trim_end_matches('/').to_owned()),
                worker_ttl: ttl,
                test_tasks: settings.pith_test_tasks,
                max_json_body: 10 * 1024 * 1024,
                fetch_failure_cooldown: Duration::from_secs_f64(
                    settings.remote_content_fetch_failure_cooldown.max(0.0),
                ),
                distributed_publication_retention: Duration::from_secs_f64(
                    settings.distributed_publication_retention_period.max(0.0),
                ),
                envvar_header_allowed_vars: settings
                    .envvar_header_content_guard_allowed_vars
                    .clone(),
            };
            if parts.content {
                // Other nodes' changes to what is served reach this content app at once.
                tokio::spawn(pith_entities::content_generation::listen(db.clone()));
            }
            let fetchers = if parts.content {
                Some(
                    pith_actors::fetch::Fetchers::start(
                        db.clone(),
                        store.clone(),
                        settings.pith_content_fetch_concurrency as usize,
                        settings.pith_test_tasks,
                    )
                    .await
                    .map_err(anyhow::Error::msg)?,
                )
            } else {
                None
            };
            let tasking = Tasking::new(deps.clone(), identity.clone(), api_name.clone());
            let state = Arc::new(HttpState {
                config,
                platform: platform.clone(),
                db: db.clone(),
                tasking,
                store: store.clone(),
                auth,
                policies: Default::default(),
                parts,
                content_index: Default::default(),
                fetchers,
                metrics: TELEMETRY
                    .get()
                    .and_then(|t| t.prometheus.clone())
                    .map(|h| Arc::new(move || h.render()) as pith_http::MetricsRender),
                trace_parent: TELEMETRY
                    .get()
                    .filter(|t| t.tracing)
                    .map(|_| Arc::new(crate::telemetry::link_trace) as pith_http::TraceParent),
            });
            if parts.api {
                // The viewsets' default access policies (customized ones stay as they are).
                pith_http::api::access_policies::seed(&state)
                    .await
                    .map_err(|e| anyhow::anyhow!("storing the access policies: {e}"))?;
            }
            let addr = l.local_addr()?;
            println!(
                "pith: {kind} listening on http://{addr}/ (ready in {} ms)",
                started.elapsed().as_millis()
            );
            Some(tokio::spawn(pith_http::serve(l, state, async move {
                let _ = stop_rx.await;
            })))
        }
        None => {
            println!(
                "pith: {kind} running with {workers} workers (ready in {} ms)",
                started.elapsed().as_millis()
            );
            None
        }
    };

    let mut tasking_node = tasking_node;
    let stop = tokio::select! {
        stop = wait_for_signal() => stop?,
        _ = async {
            match tasking_node.as_mut() {
                Some(n) => n.stopped().await,
                None => std::future::pending().await,
            }
        } => {
            registration.deregister().await;
            bail!("the tasking runtime stopped unexpectedly (see the log above); exiting so that the service manager restarts Pith");
        }
    };
    tracing::info!(?stop, "shutting down");
    // A second signal ends the process at once.
    tokio::spawn(async {
        if wait_for_signal().await.is_ok() {
            std::process::exit(130);
        }
    });
    let _ = stop_tx.send(());
    if let Some(node) = tasking_node {
        node.shutdown(stop == Stop::Abort).await;
    }
    if let Some(h) = http {
        let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
    }
    registration.deregister().await;
    if let Some(n) = cluster_node {
        n.stop().await;
    }
    Ok(())
}

/// The cluster settings of this process, or `None` when it runs alone: SQLite (one process
/// by construction), or `pith serve` on PostgreSQL without a secret. `pith api`, `content` and
/// `worker` exist to run beside others, so they need the secret.
async fn cluster_config(
    settings: &Settings,
    kind: &str,
    db: &Db,
    ttl: Duration,
    identity: &NodeIdentity,
) -> anyhow::Result<Option<ClusterConfig>> {
    if db.backend != Backend::Postgres {
        return Ok(None);
    }
    let secret = match (&settings.cluster_secret, kind) {
        (Some(s), _) => s.clone(),
        (None, "serve") => {
            // Alone, it would compete for the lock-service lease with a cluster it cannot reach.
            if pith_cluster::secret::cluster_nodes_alive(db).await? > 0 {
                bail!(
                    "other Pith nodes run on this database as a cluster: set PULP_CLUSTER_SECRET (theirs) so that `pith serve` joins them"
                );
            }
            tracing::warn!(
                "pith serve on PostgreSQL without PULP_CLUSTER_SECRET runs alone: set it (the same on every node) to let \
                 other Pith processes on this database join it"
            );
            return Ok(None);
        }
        (None, _) => bail!(
            "PULP_CLUSTER_SECRET is required: `pith {kind}` joins the other Pith processes on this database as one cluster, \
             and they authenticate each other with it (use the same value on every node)"
        ),
    };
    let mut bind: std::net::SocketAddr = settings
        .cluster_bind
        .as_deref()
        .unwrap_or("0.0.0.0:0")
        .parse()
        .context("PULP_CLUSTER_BIND")?;
    if bind.port() == 0 {
        // The node server cannot report an OS-chosen port back: pick a free one here.
        let probe = std::net::TcpListener::bind(bind).with_context(|| format!("binding {bind}"))?;
        bind.set_port(probe.local_addr()?.port());
    }
    let advertise = match &settings.cluster_advertise {
        Some(a) => a.clone(),
        None if !bind.ip().is_unspecified() => bind.to_string(),
        None => format!("{}:{}", identity.hostname, bind.port()),
    };
    Ok(Some(ClusterConfig {
        bind,
        advertise,
        secret,
        period: (ttl / 3).max(Duration::from_millis(100)),
        ttl,
    }))
}
