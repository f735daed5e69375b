//! Routing: splits the path, checks authentication where Pulp requires it, enforces methods,
//! and stamps every response with the request's correlation id.

use std::sync::Arc;

use warp::http::{HeaderValue, Method, StatusCode};

use crate::api::{self, Ctx};
use crate::request::{Response, json, moved};
use crate::{ApiError, HttpState, Req, content};

/// Answers one request.
pub async fn handle(state: Arc<HttpState>, mut req: Req) -> Response {
    // pulp-glue adopts the first id it sees and insists on it afterwards: echo it unchanged.
    let cid = req
        .header("correlation-id")
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let started = std::time::Instant::now();
    let _active = crate::telemetry::active();
    let is_content = state.parts.content && req.path.starts_with(&state.config.content_path_prefix);
    let span = if is_content {
        tracing::info_span!(
            "content_request",
            http.method = req.method.as_str(),
            correlation_id = cid.as_str(),
            http.status_code = tracing::field::Empty
        )
    } else {
        tracing::info_span!(
            "api_request",
            http.method = req.method.as_str(),
            correlation_id = cid.as_str(),
            http.route = tracing::field::Empty,
            http.status_code = tracing::field::Empty
        )
    };
    if let Some(link) = &state.trace_parent {
        link(&span, &req.headers);
    }
    let mut template: Option<&'static str> = None;
    let method = req.method.clone();
    let routed = {
        use tracing::Instrument;
        route(state, &mut req, &cid, &mut template)
            .instrument(span.clone())
            .await
    };
    let mut resp = match routed {
        Ok(r) => r,
        Err(e) => {
            let (status, body) = e.parts();
            let mut r = json(status, &body);
            if status == StatusCode::UNAUTHORIZED {
                let xhr = req.header("x-requested-with") == Some("XMLHttpRequest");
                let v = if xhr {
                    "xBasic realm=\"api\""
                } else {
                    "Basic realm=\"api\""
                };
                r.headers_mut()
                    .insert("www-authenticate", HeaderValue::from_static(v));
            }
            r
        }
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&cid) {
        h.insert("correlation-id", v);
    }
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("Correlation-ID"),
    );
    let status = resp.status().as_u16();
    span.record("http.status_code", status);
    if let Some(t) = template {
        span.record("http.route", t);
    }
    crate::telemetry::record_request(
        is_content,
        &method,
        template,
        status,
        &resp,
        started.elapsed(),
    );
    resp
}

fn allow(req: &Req, methods: &[Method]) -> Result<(), ApiError> {
    if methods.contains(&req.method)
        || (req.method == Method::HEAD && methods.contains(&Method::GET))
    {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed(req.method.to_string()))
    }
}

async fn route(
    state: Arc<HttpState>,
    req: &mut Req,
    cid: &str,
    template: &mut Option<&'static str>,
) -> Result<Response, ApiError> {
    let v3 = state.config.v3();
    if state.parts.content && req.path.starts_with(&state.config.content_path_prefix) {
        return content::handle(&state, req).await;
    }
    if req.path == "/metrics" {
        return crate::telemetry::metrics_page(&state, req).await;
    }
    if !state.parts.api {
        return Err(ApiError::NotFound("Not found.".into()));
    }
    let Some(rest) = req.path.strip_prefix(&v3).map(str::to_owned) else {
        if req.path == v3.trim_end_matches('/') && matches!(req.method, Method::GET | Method::HEAD)
        {
            return Ok(moved(&v3));
        }
        return Err(ApiError::NotFound("Not found.".into()));
    };
    if !rest.is_empty() && !rest.ends_with('/') && !ROUTES.iter().any(|(t, _)| *t == rest) {
        // Django's APPEND_SLASH.
        if matches!(req.method, Method::GET | Method::HEAD) {
            let q = if req.raw_query.is_empty() {
                String::new()
            } else {
                format!("?{}", req.raw_query)
            };
            return Ok(moved(&format!("{}/{q}", req.path)));
        }
        return Err(ApiError::NotFound("Not found.".into()));
    }
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let Some(Resolved {
        template: t,
        kind,
        ids,
    }) = resolve(&segs, state.config.test_tasks)
    else {
        return Err(ApiError::NotFound("Not found.".into()));
    };
    *template = Some(t);
    let user = if is_open(kind) {
        None
    } else {
        Some(state.auth.authenticate(req.header("authorization")).await?)
    };
    let ctx = Ctx {
        state: state.clone(),
        user,
        cid: cid.to_owned(),
    };
    allow(req, methods(kind))?;
    dispatch(&ctx, req, kind, &ids).await
}

/// Every API endpoint. With [`ROUTES`] this is the one list of what the API answers: the
/// router resolves paths through it (anything else is a 404, answered before authentication,
/// as Pulp does), and the OpenAPI schema ([`crate::openapi`]) documents each kind, so the two
/// cannot drift apart (a test compares them method by method).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Root,
    Status,
    Livez,
    Docs,
    DocsJson,
    DocsYaml,
    Tasks,
    TasksPurge,
    Task,
    Workers,
    Worker,
    Artifacts,
    Artifact,
    OrphansCleanup,
    Orphans,
    Remotes,
    FileRemotes,
    FileRemote,
    FileRemoteSetLabel,
    FileRemoteUnsetLabel,
    Repositories,
    RepositoryVersions,
    FileRepositories,
    FileRepository,
    FileRepositorySetLabel,
    FileRepositoryUnsetLabel,
    FileRepositoryModify,
    FileRepositorySync,
    FileRepositoryVersions,
    FileRepositoryVersion,
    FileRepositoryVersionRepair,
    Publications,
    FilePublications,
    FilePublication,
    Distributions,
    FileDistributions,
    FileDistribution,
    FileContents,
    FileContentUpload,
    FileContent,
    Uploads,
    Upload,
    UploadCommit,
    TestTasks,
}

/// Path templates under `api/v3/` (`{}` is an id), in matching order: literal segments are
/// listed before an id in the same place (`content/file/files/upload/` before
/// `content/file/files/{}/`). Only the schema files have no trailing slash, as in Pulp.
pub const ROUTES: &[(&str, Kind)] = &[
    ("", Kind::Root),
    ("status/", Kind::Status),
    ("livez/", Kind::Livez),
    ("docs/", Kind::Docs),
    ("docs/api.json", Kind::DocsJson),
    ("docs/api.yaml", Kind::DocsYaml),
    ("tasks/", Kind::Tasks),
    ("tasks/purge/", Kind::TasksPurge),
    ("tasks/{}/", Kind::Task),
    ("workers/", Kind::Workers),
    ("workers/{}/", Kind::Worker),
    ("artifacts/", Kind::Artifacts),
    ("artifacts/{}/", Kind::Artifact),
    ("orphans/cleanup/", Kind::OrphansCleanup),
    ("orphans/", Kind::Orphans),
    ("remotes/", Kind::Remotes),
    ("remotes/file/file/", Kind::FileRemotes),
    ("remotes/file/file/{}/", Kind::FileRemote),
    ("remotes/file/file/{}/set_label/", Kind::FileRemoteSetLabel),
    (
        "remotes/file/file/{}/unset_label/",
        Kind::FileRemoteUnsetLabel,
    ),
    ("repositories/", Kind::Repositories),
    ("repository_versions/", Kind::RepositoryVersions),
    ("repositories/file/file/", Kind::FileRepositories),
    ("repositories/file/file/{}/", Kind::FileRepository),
    (
        "repositories/file/file/{}/set_label/",
        Kind::FileRepositorySetLabel,
    ),
    (
        "repositories/file/file/{}/unset_label/",
        Kind::FileRepositoryUnsetLabel,
    ),
    (
        "repositories/file/file/{}/modify/",
        Kind::FileRepositoryModify,
    ),
    ("repositories/file/file/{}/sync/", Kind::FileRepositorySync),
    (
        "repositories/file/file/{}/versions/",
        Kind::FileRepositoryVersions,
    ),
    (
        "repositories/file/file/{}/versions/{}/",
        Kind::FileRepositoryVersion,
    ),
    (
        "repositories/file/file/{}/versions/{}/repair/",
        Kind::FileRepositoryVersionRepair,
    ),
    ("publications/", Kind::Publications),
    ("publications/file/file/", Kind::FilePublications),
    ("publications/file/file/{}/", Kind::FilePublication),
    ("distributions/", Kind::Distributions),
    ("distributions/file/file/", Kind::FileDistributions),
    ("distributions/file/file/{}/", Kind::FileDistribution),
    ("content/file/files/", Kind::FileContents),
    ("content/file/files/upload/", Kind::FileContentUpload),
    ("content/file/files/{}/", Kind::FileContent),
    ("uploads/", Kind::Uploads),
    ("uploads/{}/", Kind::Upload),
    ("uploads/{}/commit/", Kind::UploadCommit),
    ("pith/test/tasks/", Kind::TestTasks),
];

/// The methods each kind answers (HEAD goes with GET).
pub fn methods(kind: Kind) -> &'static [Method] {
    use Method as M;
    match kind {
        Kind::Root
        | Kind::Status
        | Kind::Livez
        | Kind::Docs
        | Kind::DocsJson
        | Kind::DocsYaml
        | Kind::Tasks
        | Kind::Workers
        | Kind::Worker
        | Kind::Remotes
        | Kind::Repositories
        | Kind::RepositoryVersions
        | Kind::FileRepositoryVersions
        | Kind::Publications
        | Kind::Distributions
        | Kind::FileContent => &[M::GET],
        Kind::TasksPurge
        | Kind::OrphansCleanup
        | Kind::FileRemoteSetLabel
        | Kind::FileRemoteUnsetLabel
        | Kind::FileRepositorySetLabel
        | Kind::FileRepositoryUnsetLabel
        | Kind::FileRepositoryModify
        | Kind::FileRepositorySync
        | Kind::FileRepositoryVersionRepair
        | Kind::FileContentUpload
        | Kind::UploadCommit
        | Kind::TestTasks => &[M::POST],
        Kind::Orphans => &[M::DELETE],
        Kind::Task => &[M::GET, M::PATCH, M::DELETE],
        Kind::Artifact | Kind::FilePublication | Kind::FileRepositoryVersion => {
            &[M::GET, M::DELETE]
        }
        Kind::Artifacts
        | Kind::FileRemotes
        | Kind::FileRepositories
        | Kind::FilePublications
        | Kind::FileDistributions
        | Kind::FileContents
        | Kind::Uploads => &[M::GET, M::POST],
        Kind::FileRemote | Kind::FileRepository | Kind::FileDistribution => {
            &[M::GET, M::PUT, M::PATCH, M::DELETE]
        }
        Kind::Upload => &[M::GET, M::PUT, M::DELETE],
    }
}

/// Endpoints answered without credentials.
pub fn is_open(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Root | Kind::Status | Kind::Livez | Kind::Docs | Kind::DocsJson | Kind::DocsYaml
    )
}

/// A path matched against [`ROUTES`].
#[derive(Debug, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// The route template it matched.
    pub template: &'static str,
    /// The endpoint.
    pub kind: Kind,
    /// The ids in the path, in order.
    pub ids: Vec<&'a str>,
}

/// Matches a path under `api/v3/` split into segments.
pub fn resolve<'a>(segs: &[&'a str], test_tasks: bool) -> Option<Resolved<'a>> {
    'routes: for (template, kind) in ROUTES {
        if *kind == Kind::TestTasks && !test_tasks {
            continue;
        }
        let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
        if parts.len() != segs.len() {
            continue;
        }
        let mut ids = Vec::new();
        for (p, s) in parts.iter().zip(segs) {
            if *p == "{}" {
                ids.push(*s);
            } else if p != s {
                continue 'routes;
            }
        }
        return Some(Resolved {
            template,
            kind: *kind,
            ids,
        });
    }
    None
}

async fn dispatch(
    ctx: &Ctx,
    req: &mut Req,
    kind: Kind,
    ids: &[&str],
) -> Result<Response, ApiError> {
    use Method as M;
    use api::{
        artifacts, content, orphans, publishing, remotes, repositories as repos, status, tasks,
        testing, uploads, workers,
    };
    let m = req.method.clone();
    let id = ids.first().copied().unwrap_or("");
    let n = ids.get(1).copied().unwrap_or("");
    match kind {
        Kind::Root => Ok(status::root(ctx, req)),
        Kind::Status => status::status(ctx).await,
        Kind::Livez => Ok(status::livez()),
        Kind::Docs => Ok(crate::openapi::docs_page()),
        Kind::DocsJson => crate::openapi::serve(ctx, req, false),
        Kind::DocsYaml => crate::openapi::serve(ctx, req, true),
        Kind::Tasks => tasks::list(ctx, req).await,
        Kind::TasksPurge => tasks::purge(ctx, req).await,
        Kind::Task => match m {
            M::PATCH => tasks::cancel(ctx, req, id).await,
            M::DELETE => tasks::delete(ctx, id).await,
            _ => tasks::read(ctx, req, id).await,
        },
        Kind::Workers => workers::list(ctx, req).await,
        Kind::Worker => workers::read(ctx, req, id).await,
        Kind::Artifacts if m == M::POST => artifacts::create(ctx, req).await,
        Kind::Artifacts => artifacts::list(ctx, req).await,
        Kind::Artifact if m == M::DELETE => artifacts::delete(ctx, id).await,
        Kind::Artifact => artifacts::read(ctx, req, id).await,
        Kind::OrphansCleanup | Kind::Orphans => orphans::cleanup(ctx, req).await,
        Kind::Remotes => remotes::list(ctx, req).await,
        Kind::FileRemotes if m == M::POST => remotes::create(ctx, req).await,
        Kind::FileRemotes => remotes::list(ctx, req).await,
        Kind::FileRemote => match m {
            M::PUT => remotes::update(ctx, req, id, false).await,
            M::PATCH => remotes::update(ctx, req, id, true).await,
            M::DELETE => remotes::delete(ctx, id).await,
            _ => remotes::read(ctx, req, id).await,
        },
        Kind::FileRemoteSetLabel => remotes::label(ctx, req, id, true).await,
        Kind::FileRemoteUnsetLabel => remotes::label(ctx, req, id, false).await,
        Kind::Repositories => repos::list(ctx, req).await,
        Kind::RepositoryVersions => repos::list_versions(ctx, req, None).await,
        Kind::FileRepositories if m == M::POST => repos::create(ctx, req).await,
        Kind::FileRepositories => repos::list(ctx, req).await,
        Kind::FileRepository => match m {
            M::PUT => repos::update(ctx, req, id, false).await,
            M::PATCH => repos::update(ctx, req, id, true).await,
            M::DELETE => repos::delete(ctx, id).await,
            _ => repos::read(ctx, req, id).await,
        },
        Kind::FileRepositorySetLabel => repos::label(ctx, req, id, true).await,
        Kind::FileRepositoryUnsetLabel => repos::label(ctx, req, id, false).await,
        Kind::FileRepositoryModify => content::modify(ctx, req, id).await,
        Kind::FileRepositorySync => repos::sync(ctx, req, id).await,
        Kind::FileRepositoryVersions => repos::list_versions(ctx, req, Some(id)).await,
        Kind::FileRepositoryVersion if m == M::DELETE => repos::delete_version(ctx, id, n).await,
        Kind::FileRepositoryVersion => repos::read_version(ctx, req, id, n).await,
        Kind::FileRepositoryVersionRepair => repos::repair_version(ctx, req, id, n).await,
        Kind::Publications => publishing::list_publications(ctx, req).await,
        Kind::FilePublications if m == M::POST => publishing::create_publication(ctx, req).await,
        Kind::FilePublications => publishing::list_publications(ctx, req).await,
        Kind::FilePublication if m == M::DELETE => publishing::delete_publication(ctx, id).await,
        Kind::FilePublication => publishing::read_publication(ctx, req, id).await,
        Kind::Distributions => publishing::list_distributions(ctx, req).await,
        Kind::FileDistributions if m == M::POST => publishing::create_distribution(ctx, req).await,
        Kind::FileDistributions => publishing::list_distributions(ctx, req).await,
        Kind::FileDistribution if m == M::GET || m == M::HEAD => {
            publishing::read_distribution(ctx, req, id).await
        }
        Kind::FileDistribution => publishing::change_distribution(ctx, req, id, &m).await,
        Kind::FileContents if m == M::POST => content::create(ctx, req).await,
        Kind::FileContents => content::list(ctx, req).await,
        Kind::FileContentUpload => content::upload(ctx, req).await,
        Kind::FileContent => content::read(ctx, req, id).await,
        Kind::Uploads if m == M::POST => uploads::create(ctx, req).await,
        Kind::Uploads => uploads::list(ctx, req).await,
        Kind::Upload => match m {
            M::PUT => uploads::put_chunk(ctx, req, id).await,
            M::DELETE => uploads::delete(ctx, id).await,
            _ => uploads::read(ctx, req, id).await,
        },
        Kind::UploadCommit => uploads::commit(ctx, req, id).await,
        Kind::TestTasks => testing::dispatch(ctx, req).await,
    }
}
