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
    let open = matches!(segs.as_slice(), [] | ["status"] | ["livez"]);
    let known = matches!(
        segs.as_slice(),
        [] | ["status"]
            | ["livez"]
            | ["tasks"]
            | ["tasks", "purge"]
            | ["tasks", _]
            | ["workers"]
            | ["workers", _]
            | ["artifacts"]
            | ["artifacts", _]
            | ["orphans"]
            | ["orphans", "cleanup"]
            | ["remotes"]
            | ["remotes", "file", "file"]
            | ["remotes", "file", "file", _]
            | ["remotes", "file", "file", _, "set_label" | "unset_label"]
            | ["repositories"]
            | ["repository_versions"]
            | ["repositories", "file", "file"]
            | ["repositories", "file", "file", _]
            | [
                "repositories",
                "file",
                "file",
                _,
                "set_label" | "unset_label" | "versions" | "modify"
            ]
            | ["repositories", "file", "file", _, "versions", _]
            | ["content", "file", "files"]
            | ["content", "file", "files", _]
    ) || (state.config.test_tasks && segs.as_slice() == ["pith", "test", "tasks"]);
    if !known {
        return Err(ApiError::NotFound("Not found.".into()));
    }
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
    use Method as M;
    match segs.as_slice() {
        [] => allow(req, &[M::GET]).map(|_| api::status::root(&ctx, req)),
        ["status"] => {
            allow(req, &[M::GET])?;
            api::status::status(&ctx).await
        }
        ["livez"] => allow(req, &[M::GET]).map(|_| api::status::livez()),
        ["tasks"] => {
            allow(req, &[M::GET])?;
            api::tasks::list(&ctx, req).await
        }
        ["tasks", "purge"] => {
            allow(req, &[M::POST])?;
            api::tasks::purge(&ctx, req).await
        }
        ["tasks", id] => {
            allow(req, &[M::GET, M::PATCH, M::DELETE])?;
            match req.method {
                M::PATCH => api::tasks::cancel(&ctx, req, id).await,
                M::DELETE => api::tasks::delete(&ctx, id).await,
                _ => api::tasks::read(&ctx, req, id).await,
            }
        }
        ["workers"] => {
            allow(req, &[M::GET])?;
            api::workers::list(&ctx, req).await
        }
        ["workers", id] => {
            allow(req, &[M::GET])?;
            api::workers::read(&ctx, req, id).await
        }
        ["artifacts"] => {
            allow(req, &[M::GET, M::POST])?;
            if req.method == M::POST {
                api::artifacts::create(&ctx, req).await
            } else {
                api::artifacts::list(&ctx, req).await
            }
        }
        ["artifacts", id] => {
            allow(req, &[M::GET, M::DELETE])?;
            if req.method == M::DELETE {
                api::artifacts::delete(&ctx, id).await
            } else {
                api::artifacts::read(&ctx, req, id).await
            }
        }
        ["orphans", "cleanup"] => {
            allow(req, &[M::POST])?;
            api::orphans::cleanup(&ctx, req).await
        }
        ["orphans"] => {
            allow(req, &[M::DELETE])?;
            api::orphans::cleanup(&ctx, req).await
        }
        ["remotes"] => {
            allow(req, &[M::GET])?;
            api::remotes::list(&ctx, req).await
        }
        ["remotes", "file", "file"] => {
            allow(req, &[M::GET, M::POST])?;
            if req.method == M::POST {
                api::remotes::create(&ctx, req).await
            } else {
                api::remotes::list(&ctx, req).await
            }
        }
        ["remotes", "file", "file", id] => {
            allow(req, &[M::GET, M::PUT, M::PATCH, M::DELETE])?;
            match req.method {
                M::PUT => api::remotes::update(&ctx, req, id, false).await,
                M::PATCH => api::remotes::update(&ctx, req, id, true).await,
                M::DELETE => api::remotes::delete(&ctx, id).await,
                _ => api::remotes::read(&ctx, req, id).await,
            }
        }
        ["remotes", "file", "file", id, action] => {
            allow(req, &[M::POST])?;
            api::remotes::label(&ctx, req, id, *action == "set_label").await
        }
        ["repositories"] => {
            allow(req, &[M::GET])?;
            api::repositories::list(&ctx, req).await
        }
        ["repository_versions"] => {
            allow(req, &[M::GET])?;
            api::repositories::list_versions(&ctx, req, None).await
        }
        ["repositories", "file", "file"] => {
            allow(req, &[M::GET, M::POST])?;
            if req.method == M::POST {
                api::repositories::create(&ctx, req).await
            } else {
                api::repositories::list(&ctx, req).await
            }
        }
        ["repositories", "file", "file", id] => {
            allow(req, &[M::GET, M::PUT, M::PATCH, M::DELETE])?;
            match req.method {
                M::PUT => api::repositories::update(&ctx, req, id, false).await,
                M::PATCH => api::repositories::update(&ctx, req, id, true).await,
                M::DELETE => api::repositories::delete(&ctx, id).await,
                _ => api::repositories::read(&ctx, req, id).await,
            }
        }
        ["repositories", "file", "file", id, "versions"] => {
            allow(req, &[M::GET])?;
            api::repositories::list_versions(&ctx, req, Some(id)).await
        }
        ["repositories", "file", "file", id, "versions", n] => {
            allow(req, &[M::GET])?;
            api::repositories::read_version(&ctx, req, id, n).await
        }
        ["repositories", "file", "file", id, "modify"] => {
            allow(req, &[M::POST])?;
            api::content::modify(&ctx, req, id).await
        }
        ["content", "file", "files"] => {
            allow(req, &[M::GET, M::POST])?;
            if req.method == M::POST {
                api::content::create(&ctx, req).await
            } else {
                api::content::list(&ctx, req).await
            }
        }
        ["content", "file", "files", id] => {
            allow(req, &[M::GET])?;
            api::content::read(&ctx, req, id).await
        }
        ["repositories", "file", "file", id, action] => {
            allow(req, &[M::POST])?;
            api::repositories::label(&ctx, req, id, *action == "set_label").await
        }
        ["pith", "test", "tasks"] => {
            allow(req, &[M::POST])?;
            api::testing::dispatch(&ctx, req).await
        }
        _ => Err(ApiError::NotFound("Not found.".into())),
    }
}
