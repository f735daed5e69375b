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
    let mut resp = match route(state, &mut req, &cid).await {
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

async fn route(state: Arc<HttpState>, req: &mut Req, cid: &str) -> Result<Response, ApiError> {
    let v3 = state.config.v3();
    if state.parts.content && req.path.starts_with(&state.config.content_path_prefix) {
        return content::handle(&state, req).await;
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
    if !rest.is_empty() && !rest.ends_with('/') {
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
    let Some(route) = resolve(&segs, state.config.test_tasks) else {
        return Err(ApiError::NotFound("Not found.".into()));
    };
    let open = matches!(route, Route::Root | Route::Status | Route::Livez);
    let user = if open {
        None
    } else {
        Some(state.auth.authenticate(req.header("authorization")).await?)
    };
    let ctx = Ctx {
        state: state.clone(),
        user,
        cid: cid.to_owned(),
    };
    dispatch(&ctx, req, route).await
}

/// Every API endpoint, with the ids its path carries. One list: what is not here is a 404
/// (answered before authentication, as Pulp does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route<'a> {
    Root,
    Status,
    Livez,
    Tasks,
    TasksPurge,
    Task(&'a str),
    Workers,
    Worker(&'a str),
    Artifacts,
    Artifact(&'a str),
    OrphansCleanup,
    Orphans,
    Remotes,
    FileRemotes,
    FileRemote(&'a str),
    FileRemoteLabel(&'a str, bool),
    Repositories,
    RepositoryVersions,
    FileRepositories,
    FileRepository(&'a str),
    FileRepositoryLabel(&'a str, bool),
    FileRepositoryModify(&'a str),
    FileRepositorySync(&'a str),
    FileRepositoryVersions(&'a str),
    FileRepositoryVersion(&'a str, &'a str),
    Publications,
    FilePublications,
    FilePublication(&'a str),
    Distributions,
    FileDistributions,
    FileDistribution(&'a str),
    FileContents,
    FileContentUpload,
    FileContent(&'a str),
    Uploads,
    Upload(&'a str),
    UploadCommit(&'a str),
    FileRepositoryVersionRepair(&'a str, &'a str),
    TestTasks,
}

fn resolve<'a>(segs: &[&'a str], test_tasks: bool) -> Option<Route<'a>> {
    Some(match segs {
        [] => Route::Root,
        ["status"] => Route::Status,
        ["livez"] => Route::Livez,
        ["tasks"] => Route::Tasks,
        ["tasks", "purge"] => Route::TasksPurge,
        ["tasks", id] => Route::Task(id),
        ["workers"] => Route::Workers,
        ["workers", id] => Route::Worker(id),
        ["artifacts"] => Route::Artifacts,
        ["artifacts", id] => Route::Artifact(id),
        ["orphans", "cleanup"] => Route::OrphansCleanup,
        ["orphans"] => Route::Orphans,
        ["remotes"] => Route::Remotes,
        ["remotes", "file", "file"] => Route::FileRemotes,
        ["remotes", "file", "file", id] => Route::FileRemote(id),
        ["remotes", "file", "file", id, "set_label"] => Route::FileRemoteLabel(id, true),
        ["remotes", "file", "file", id, "unset_label"] => Route::FileRemoteLabel(id, false),
        ["repositories"] => Route::Repositories,
        ["repository_versions"] => Route::RepositoryVersions,
        ["repositories", "file", "file"] => Route::FileRepositories,
        ["repositories", "file", "file", id] => Route::FileRepository(id),
        ["repositories", "file", "file", id, "set_label"] => Route::FileRepositoryLabel(id, true),
        ["repositories", "file", "file", id, "unset_label"] => {
            Route::FileRepositoryLabel(id, false)
        }
        ["repositories", "file", "file", id, "modify"] => Route::FileRepositoryModify(id),
        ["repositories", "file", "file", id, "sync"] => Route::FileRepositorySync(id),
        ["repositories", "file", "file", id, "versions"] => Route::FileRepositoryVersions(id),
        ["repositories", "file", "file", id, "versions", n] => Route::FileRepositoryVersion(id, n),
        ["publications"] => Route::Publications,
        ["publications", "file", "file"] => Route::FilePublications,
        ["publications", "file", "file", id] => Route::FilePublication(id),
        ["distributions"] => Route::Distributions,
        ["distributions", "file", "file"] => Route::FileDistributions,
        ["distributions", "file", "file", id] => Route::FileDistribution(id),
        ["content", "file", "files"] => Route::FileContents,
        ["content", "file", "files", "upload"] => Route::FileContentUpload,
        ["content", "file", "files", id] => Route::FileContent(id),
        ["uploads"] => Route::Uploads,
        ["uploads", id] => Route::Upload(id),
        ["uploads", id, "commit"] => Route::UploadCommit(id),
        ["repositories", "file", "file", id, "versions", n, "repair"] => {
            Route::FileRepositoryVersionRepair(id, n)
        }
        ["pith", "test", "tasks"] if test_tasks => Route::TestTasks,
        _ => return None,
    })
}

async fn dispatch(ctx: &Ctx, req: &mut Req, route: Route<'_>) -> Result<Response, ApiError> {
    use Method as M;
    use api::{
        artifacts, content, orphans, publishing, remotes, repositories as repos, status, tasks,
        testing, uploads, workers,
    };
    let m = req.method.clone();
    match route {
        Route::Root => allow(req, &[M::GET]).map(|_| status::root(ctx, req)),
        Route::Status => {
            allow(req, &[M::GET])?;
            status::status(ctx).await
        }
        Route::Livez => allow(req, &[M::GET]).map(|_| status::livez()),
        Route::Tasks => {
            allow(req, &[M::GET])?;
            tasks::list(ctx, req).await
        }
        Route::TasksPurge => {
            allow(req, &[M::POST])?;
            tasks::purge(ctx, req).await
        }
        Route::Task(id) => {
            allow(req, &[M::GET, M::PATCH, M::DELETE])?;
            match m {
                M::PATCH => tasks::cancel(ctx, req, id).await,
                M::DELETE => tasks::delete(ctx, id).await,
                _ => tasks::read(ctx, req, id).await,
            }
        }
        Route::Workers => {
            allow(req, &[M::GET])?;
            workers::list(ctx, req).await
        }
        Route::Worker(id) => {
            allow(req, &[M::GET])?;
            workers::read(ctx, req, id).await
        }
        Route::Artifacts => {
            allow(req, &[M::GET, M::POST])?;
            if m == M::POST {
                artifacts::create(ctx, req).await
            } else {
                artifacts::list(ctx, req).await
            }
        }
        Route::Artifact(id) => {
            allow(req, &[M::GET, M::DELETE])?;
            if m == M::DELETE {
                artifacts::delete(ctx, id).await
            } else {
                artifacts::read(ctx, req, id).await
            }
        }
        Route::OrphansCleanup => {
            allow(req, &[M::POST])?;
            orphans::cleanup(ctx, req).await
        }
        Route::Orphans => {
            allow(req, &[M::DELETE])?;
            orphans::cleanup(ctx, req).await
        }
        Route::Remotes => {
            allow(req, &[M::GET])?;
            remotes::list(ctx, req).await
        }
        Route::FileRemotes => {
            allow(req, &[M::GET, M::POST])?;
            if m == M::POST {
                remotes::create(ctx, req).await
            } else {
                remotes::list(ctx, req).await
            }
        }
        Route::FileRemote(id) => {
            allow(req, &[M::GET, M::PUT, M::PATCH, M::DELETE])?;
            match m {
                M::PUT => remotes::update(ctx, req, id, false).await,
                M::PATCH => remotes::update(ctx, req, id, true).await,
                M::DELETE => remotes::delete(ctx, id).await,
                _ => remotes::read(ctx, req, id).await,
            }
        }
        Route::FileRemoteLabel(id, set) => {
            allow(req, &[M::POST])?;
            remotes::label(ctx, req, id, set).await
        }
        Route::Repositories => {
            allow(req, &[M::GET])?;
            repos::list(ctx, req).await
        }
        Route::RepositoryVersions => {
            allow(req, &[M::GET])?;
            repos::list_versions(ctx, req, None).await
        }
        Route::FileRepositories => {
            allow(req, &[M::GET, M::POST])?;
            if m == M::POST {
                repos::create(ctx, req).await
            } else {
                repos::list(ctx, req).await
            }
        }
        Route::FileRepository(id) => {
            allow(req, &[M::GET, M::PUT, M::PATCH, M::DELETE])?;
            match m {
                M::PUT => repos::update(ctx, req, id, false).await,
                M::PATCH => repos::update(ctx, req, id, true).await,
                M::DELETE => repos::delete(ctx, id).await,
                _ => repos::read(ctx, req, id).await,
            }
        }
        Route::FileRepositoryLabel(id, set) => {
            allow(req, &[M::POST])?;
            repos::label(ctx, req, id, set).await
        }
        Route::FileRepositoryModify(id) => {
            allow(req, &[M::POST])?;
            content::modify(ctx, req, id).await
        }
        Route::FileRepositorySync(id) => {
            allow(req, &[M::POST])?;
            repos::sync(ctx, req, id).await
        }
        Route::FileRepositoryVersions(id) => {
            allow(req, &[M::GET])?;
            repos::list_versions(ctx, req, Some(id)).await
        }
        Route::FileRepositoryVersion(id, n) => {
            allow(req, &[M::GET, M::DELETE])?;
            if m == M::DELETE {
                repos::delete_version(ctx, id, n).await
            } else {
                repos::read_version(ctx, req, id, n).await
            }
        }
        Route::FileRepositoryVersionRepair(id, n) => {
            allow(req, &[M::POST])?;
            repos::repair_version(ctx, req, id, n).await
        }
        Route::Publications => {
            allow(req, &[M::GET])?;
            publishing::list_publications(ctx, req).await
        }
        Route::FilePublications => {
            allow(req, &[M::GET, M::POST])?;
            if m == M::POST {
                publishing::create_publication(ctx, req).await
            } else {
                publishing::list_publications(ctx, req).await
            }
        }
        Route::FilePublication(id) => {
            allow(req, &[M::GET, M::DELETE])?;
            if m == M::DELETE {
                publishing::delete_publication(ctx, id).await
            } else {
                publishing::read_publication(ctx, req, id).await
            }
        }
        Route::Distributions => {
            allow(req, &[M::GET])?;
            publishing::list_distributions(ctx, req).await
        }
        Route::FileDistributions => {
            allow(req, &[M::GET, M::POST])?;
            if m == M::POST {
                publishing::create_distribution(ctx, req).await
            } else {
                publishing::list_distributions(ctx, req).await
            }
        }
        Route::FileDistribution(id) => {
            allow(req, &[M::GET, M::PUT, M::PATCH, M::DELETE])?;
            if m == M::GET || m == M::HEAD {
                publishing::read_distribution(ctx, req, id).await
            } else {
                publishing::change_distribution(ctx, req, id, &m).await
            }
        }
        Route::FileContents => {
            allow(req, &[M::GET, M::POST])?;
            if m == M::POST {
                content::create(ctx, req).await
            } else {
                content::list(ctx, req).await
            }
        }
        Route::FileContentUpload => {
            allow(req, &[M::POST])?;
            content::upload(ctx, req).await
        }
        Route::FileContent(id) => {
            allow(req, &[M::GET])?;
            content::read(ctx, req, id).await
        }
        Route::Uploads => {
            allow(req, &[M::GET, M::POST])?;
            if m == M::POST {
                uploads::create(ctx, req).await
            } else {
                uploads::list(ctx, req).await
            }
        }
        Route::Upload(id) => {
            allow(req, &[M::GET, M::PUT, M::DELETE])?;
            match m {
                M::PUT => uploads::put_chunk(ctx, req, id).await,
                M::DELETE => uploads::delete(ctx, id).await,
                _ => uploads::read(ctx, req, id).await,
            }
        }
        Route::UploadCommit(id) => {
            allow(req, &[M::POST])?;
            uploads::commit(ctx, req, id).await
        }
        Route::TestTasks => {
            allow(req, &[M::POST])?;
            testing::dispatch(ctx, req).await
        }
    }
}
