#![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
//! The content-app slots of the plugin interface end to end in one process, through a plugin
//! declared here: pull-through caching (pulp_file has none; pulp_python and pulp_container do)
//! with a content type, a remote type whose hooks name the upstream URL and the content of a
//! path, and a repository type that adds pulled content; a distribution type's own
//! `content_handler` and `content_headers`; a top-level prefix (pulp_python's `/pypi/`). Real SQLite, a real artifact store, the real content app on loopback and a
//! real upstream the test starts, counting the requests it gets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pith_actors::plugin::{
    ContentType, Detail, PullThrough, PulledArtifact, PulledContent, RepositoryType, Types,
};
use pith_actors::tasking::{NodeIdentity, Tasking};
use pith_actors::tasks::TaskDeps;
use pith_entities::content::ContentTable;
use pith_entities::entity::{distribution, remote, repository, task};
use pith_entities::sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use pith_entities::sea_orm_migration::prelude::*;
use pith_entities::versions::RepoKey;
use pith_entities::{ArtifactStore, Db, Writer};
use pith_http::config::HttpConfig;
use pith_http::plugin::{Component, Core, DistributionHooks, Platform, Plugin, Prefix, Service};
use pith_http::request::text;
use pith_http::router::handler;
use pith_http::{HttpState, Parts};
use warp::http::StatusCode;

const BLOB: ContentType = ContentType {
    detail: Detail {
        pulp_type: "blob.blob",
        collection: "content/blob/blobs",
        prn_type: "blob.blob",
        model: "Blob",
    },
    table: ContentTable {
        name: "blob_blob",
        natural_key: &["relative_path", "sha256"],
        fields: &[],
    },
    references: &[],
};

const REMOTE: Detail = Detail {
    pulp_type: "blob.blob",
    collection: "remotes/blob/blob",
    prn_type: "blob.blobremote",
    model: "BlobRemote",
};

const REPOSITORY: Detail = Detail {
    pulp_type: "blob.blob",
    collection: "repositories/blob/blob",
    prn_type: "blob.blobrepository",
    model: "BlobRepository",
};

const DISTRIBUTION: Detail = Detail {
    pulp_type: "blob.blob",
    collection: "distributions/blob/blob",
    prn_type: "blob.blobdistribution",
    model: "BlobDistribution",
};

/// Blobs live under `blobs/` upstream; anything else is metadata, passed through unkept.
fn blob_of(a: &PulledArtifact<'_>) -> Result<Option<PulledContent>, String> {
    if !a.relative_path.starts_with("blobs/") {
        return Ok(None);
    }
    // The hook may read the bytes (a wheel's metadata, a manifest's layers).
    let bytes = std::fs::read(a.file).map_err(|e| e.to_string())?;
    assert_eq!(bytes.len() as u64, a.size);
    Ok(Some(PulledContent {
        content_type: BLOB.detail.pulp_type,
        key: vec![a.relative_path.to_owned(), a.sha256.to_owned()],
        fields: Vec::new(),
    }))
}

fn plugin() -> Plugin {
    Plugin {
        component: Component {
            component: "blob",
            version: "1.0.0",
            package: "pith-blob",
            module: "pith_blob.app",
            domain_compatible: true,
        },
        types: Types {
            content: vec![BLOB],
            remotes: vec![REMOTE],
            repositories: vec![RepositoryType {
                detail: REPOSITORY,
                key: RepoKey::NONE,
                finalize_new_version: None,
                on_new_version: None,
                pull_through_add: true,
            }],
            publications: Vec::new(),
            distributions: vec![DISTRIBUTION],
            tables: Vec::new(),
            pull_through: vec![PullThrough {
                remote_type: REMOTE.pulp_type,
                distribution_types: &[DISTRIBUTION.pulp_type],
                url: pith_actors::plugin::join_url,
                content: blob_of,
            }],
        },
        remotes: Vec::new(),
        repositories: Vec::new(),
        publications: Vec::new(),
        distributions: Vec::new(),
        tasks: Vec::new(),
        creators: Vec::new(),
        migrations: || vec![Box::new(BlobTable)],
        endpoints: Vec::new(),
        serializers: &[],
        prefixes: vec![Prefix {
            path: "/blobindex/",
            service: Service::Content,
            open: true,
            handler: handler(|_, req, _| {
                let body = format!("index of {}", req.path);
                Box::pin(async move { Ok(text(StatusCode::OK, "text/plain", body)) })
            }),
        }],
        distribution_hooks: vec![DistributionHooks {
            pulp_type: DISTRIBUTION.pulp_type,
            content_handler: Some(|_, _, _, rel| {
                Box::pin(async move {
                    Ok((rel == "generated.txt")
                        .then(|| text(StatusCode::OK, "text/plain", "made by the type".into())))
                })
            }),
            content_headers: Some(|rel| vec![("x-blob-path", rel.to_owned())]),
            list_directory: None,
        }],
        settings: &[],
        permissions: &[],
        content_guards: Vec::new(),
        roles: &[],
        access_policies: &[],
    }
}

struct BlobTable;

impl MigrationName for BlobTable {
    fn name(&self) -> &str {
        "m20261202_500000_blob"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for BlobTable {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("blob_blob")
                .col(
                    ColumnDef::new("content_id")
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new("relative_path").text().not_null())
                .col(ColumnDef::new("sha256").string_len(64).not_null())
                .to_owned(),
        )
        .await
    }
}

/// The upstream: `blobs/*` and `meta/*` answer with their path's bytes, anything else 404;
/// it counts what it is asked.
async fn upstream() -> (String, Arc<AtomicUsize>) {
    use warp::Filter;
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let route = warp::path::full().map(move |p: warp::path::FullPath| {
        counted.fetch_add(1, Ordering::SeqCst);
        let path = p.as_str().trim_start_matches("/repo/").to_owned();
        if path.starts_with("blobs/") || path.starts_with("meta/") {
            warp::http::Response::builder()
                .status(200)
                .body(format!("bytes of {path}").repeat(100))
                .unwrap()
        } else {
            warp::http::Response::builder()
                .status(404)
                .body(String::new())
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (format!("http://{addr}/repo/"), hits)
}

struct Node {
    base: String,
    db: Db,
    _dir: tempfile::TempDir,
}

async fn node() -> Node {
    pith_actors::tls::install_provider();
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db.sqlite").display()
    );
    let db = Db::connect(&url).await.unwrap();
    let platform = Arc::new(Platform::new(Core::new(false), vec![plugin()], false));
    let serializers = Arc::new(pith_http::api::TaskSerializers {
        platform: platform.clone(),
    });
    pith_entities::migration::migrate(&db, platform.migrations.clone())
        .await
        .unwrap();
    let store = ArtifactStore::open(dir.path().join("media")).unwrap();
    let deps = Arc::new(TaskDeps {
        types: platform.types.clone(),
        bodies: platform.bodies.clone(),
        db: db.clone(),
        writer: Writer::start(db.clone()),
        store: store.clone(),
        test_tasks: false,
        serializers,
    });
    let identity = NodeIdentity {
        node: "test@127.0.0.1".into(),
        incarnation: uuid::Uuid::now_v7().to_string(),
        hostname: "127.0.0.1".into(),
        pid: std::process::id(),
    };
    let fetchers = pith_actors::fetch::Fetchers::start(db.clone(), store.clone(), 4, false)
        .await
        .unwrap();
    let state = Arc::new(HttpState {
        config: HttpConfig {
            api_root: "/pulp/".into(),
            content_path_prefix: "/pulp/content/".into(),
            content_origin: None,
            worker_ttl: Duration::from_secs(30),
            test_tasks: false,
            max_json_body: 1 << 20,
            fetch_failure_cooldown: Duration::from_secs(300),
            distributed_publication_retention: Duration::ZERO,
            envvar_header_allowed_vars: Vec::new(),
        },
        platform,
        db: db.clone(),
        tasking: Tasking::new(deps, identity, "api-test".into()),
        store,
        auth: pith_http::auth::Auth::new(db.clone()),
        policies: Default::default(),
        parts: Parts {
            api: true,
            content: true,
        },
        content_index: Default::default(),
        fetchers: Some(fetchers),
        metrics: None,
        trace_parent: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(pith_http::serve(listener, state, std::future::pending()));
    Node {
        base: format!("http://{addr}/pulp/content/"),
        db,
        _dir: dir,
    }
}

/// A remote of `policy` at `url`, a repository with version 0, and a distribution at `pt`
/// pulling through the remote into the repository.
async fn distribution_pulling_from(db: &Db, url: &str, policy: &str) -> String {
    let now = pith_entities::time::now_micros();
    let remote_id = uuid::Uuid::now_v7().to_string();
    remote::Model {
        pulp_id: remote_id.clone(),
        pulp_type: REMOTE.pulp_type.into(),
        name: "upstream".into(),
        url: url.into(),
        pulp_created: now,
        pulp_last_updated: now,
        pulp_labels: "{}".into(),
        policy: policy.into(),
        ca_cert: None,
        client_cert: None,
        client_key: None,
        tls_validation: true,
        proxy_url: None,
        proxy_username: None,
        proxy_password: None,
        username: None,
        password: None,
        max_retries: None,
        total_timeout: None,
        connect_timeout: None,
        sock_connect_timeout: None,
        sock_read_timeout: None,
        headers: "[]".into(),
        download_concurrency: None,
        rate_limit: None,
    }
    .into_active_model()
    .insert(&db.write)
    .await
    .unwrap();
    let repo_id = uuid::Uuid::now_v7().to_string();
    repository::Model {
        pulp_id: repo_id.clone(),
        pulp_type: REPOSITORY.pulp_type.into(),
        name: "cache".into(),
        description: None,
        pulp_labels: "{}".into(),
        retain_repo_versions: None,
        retain_checkpoints: None,
        remote_id: None,
        next_version: 1,
        pulp_created: now,
        pulp_last_updated: now,
    }
    .into_active_model()
    .insert(&db.write)
    .await
    .unwrap();
    pith_entities::versions::create_version_zero(db, &db.write, &repo_id)
        .await
        .unwrap();
    distribution::Model {
        pulp_id: uuid::Uuid::now_v7().to_string(),
        pulp_type: DISTRIBUTION.pulp_type.into(),
        name: "pt".into(),
        base_path: "pt".into(),
        pulp_labels: "{}".into(),
        hidden: false,
        repository_id: Some(repo_id.clone()),
        repository_version_id: None,
        publication_id: None,
        remote_id: Some(remote_id),
        checkpoint: false,
        content_guard_id: None,
        pulp_created: now,
        pulp_last_updated: now,
    }
    .into_active_model()
    .insert(&db.write)
    .await
    .unwrap();
    repo_id
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn a_types_content_handler_headers_and_prefix_answer() {
    let (upstream, hits) = upstream().await;
    let n = node().await;
    distribution_pulling_from(&n.db, &upstream, "on_demand").await;
    let (status, body) = get(&format!("{}pt/generated.txt", n.base)).await;
    assert_eq!((status, body.as_str()), (200, "made by the type"));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the handler answered first");
    let r = reqwest::get(format!("{}pt/blobs/c.bin", n.base))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-blob-path"], "blobs/c.bin");
    let root = n.base.trim_end_matches("pulp/content/");
    let (status, body) = get(&format!("{root}blobindex/simple/")).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "index of /blobindex/simple/")
    );
}

async fn count(db: &Db, sql: &str) -> i64 {
    let row = db
        .read
        .query_one_raw(db.stmt(sql, vec![]))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test]
async fn pull_through_fetches_once_keeps_content_and_adds_it_to_the_repository() {
    let (upstream, hits) = upstream().await;
    let n = node().await;
    let repo = distribution_pulling_from(&n.db, &upstream, "on_demand").await;
    let expected = "bytes of blobs/a.bin".repeat(100);

    let (status, body) = get(&format!("{}pt/blobs/a.bin", n.base)).await;
    assert_eq!((status, body.len()), (200, expected.len()));
    assert_eq!(body, expected);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // The whole body arrived, so the fetch is done and what it kept is committed.
    assert_eq!(count(&n.db, "SELECT COUNT(*) AS n FROM blob_blob").await, 1);
    assert_eq!(
        count(&n.db, "SELECT COUNT(*) AS n FROM core_remoteartifact WHERE url LIKE '%/repo/blobs/a.bin' AND sha256 IS NOT NULL").await,
        1
    );
    assert_eq!(
        count(
            &n.db,
            "SELECT COUNT(*) AS n FROM core_contentartifact WHERE artifact_id IS NOT NULL"
        )
        .await,
        1
    );

    // Served from the store now: the upstream is not asked again.
    let (status, again) = get(&format!("{}pt/blobs/a.bin", n.base)).await;
    assert_eq!((status, again == expected), (200, true));
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // The repository type adds pulled content: an add_and_remove of the unit was dispatched
    // for the distribution's repository (no workers run here, so it waits).
    let content: String =
        n.db.read
            .query_one_raw(n.db.stmt("SELECT content_id AS c FROM blob_blob", vec![]))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "c")
            .unwrap();
    let tasks = task::Entity::find()
        .filter(task::Column::Name.eq(pith_actors::tasks::ADD_AND_REMOVE))
        .all(&n.db.read)
        .await
        .unwrap();
    assert!(!tasks.is_empty(), "no add_and_remove was dispatched");
    for t in &tasks {
        let args: serde_json::Value = serde_json::from_str(&t.args).unwrap();
        assert_eq!(args["repository"], repo.as_str());
        assert_eq!(args["add"], serde_json::json!([content]));
    }

    // Metadata the type keeps nothing of is streamed every time.
    for i in 1..=2 {
        let (status, body) = get(&format!("{}pt/meta/index.json", n.base)).await;
        assert_eq!((status, body.starts_with("bytes of meta/")), (200, true));
        assert_eq!(hits.load(Ordering::SeqCst), 1 + i);
    }
    assert_eq!(count(&n.db, "SELECT COUNT(*) AS n FROM blob_blob").await, 1);

    // What the upstream does not have is a 404, and nothing is kept.
    let (status, _) = get(&format!("{}pt/blobs/missing/", n.base)).await;
    assert_eq!(status, 404);
    let (status, _) = get(&format!("{}pt/nothing-here.bin", n.base)).await;
    assert_eq!(status, 404);
    assert_eq!(
        count(&n.db, "SELECT COUNT(*) AS n FROM core_artifact").await,
        1
    );
}

#[tokio::test]
async fn a_streamed_remote_keeps_nothing() {
    let (upstream, hits) = upstream().await;
    let n = node().await;
    distribution_pulling_from(&n.db, &upstream, "streamed").await;
    for i in 1..=2 {
        let (status, body) = get(&format!("{}pt/blobs/b.bin", n.base)).await;
        assert_eq!(
            (status, body.starts_with("bytes of blobs/b.bin")),
            (200, true)
        );
        assert_eq!(hits.load(Ordering::SeqCst), i);
    }
    assert_eq!(count(&n.db, "SELECT COUNT(*) AS n FROM blob_blob").await, 0);
    assert_eq!(
        count(&n.db, "SELECT COUNT(*) AS n FROM core_artifact").await,
        0
    );
}
