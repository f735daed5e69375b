//! Routing: splits the path, checks authentication where Pulp requires it, enforces methods,
//! and stamps every response with the request's correlation id.

use std::sync::Arc;

use warp::http::{HeaderValue, Method, StatusCode};

use crate::api::Ctx;
use crate::openapi::Op;
use crate::request::{Response, json, moved};
use crate::{ApiError, HttpState, Req, content};

/// Answers one request.
pub async fn handle(state: Arc<HttpState>, mut req: Req) -> Response {
    // pulp-glue adopts the first id it sees and insists on it afterwards: echo it unchanged.
    let cid = req
        .header(crate::CORRELATION_ID)
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
        h.insert(crate::CORRELATION_ID, v);
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
    // A plugin's own top-level prefix (`/pypi/`, `/v2/`), on the services that answer it.
    let served = [
        (crate::plugin::Service::Api, state.parts.api),
        (crate::plugin::Service::Content, state.parts.content),
    ];
    if let Some(p) = served
        .into_iter()
        .filter(|(_, on)| *on)
        .find_map(|(service, _)| state.platform.prefix(&req.path, service))
        .cloned()
    {
        *template = Some(p.path);
        let user = if p.open {
            None
        } else {
            Some(state.auth.authenticate(req.header("authorization")).await?)
        };
        let ctx = Ctx {
            state: state.clone(),
            user,
            cid: cid.to_owned(),
            scope: crate::api::Scope::All,
        };
        admin_only(&ctx)?;
        let rest = req.path[p.path.len()..].to_owned();
        return (p.handler)(&ctx, req, &[rest.as_str()]).await;
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
    let routes = state.platform.routes.clone();
    if !rest.is_empty() && !rest.ends_with('/') && !routes.has_template(&rest) {
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
    let Some((endpoint, ids)) = routes.resolve(&segs) else {
        return Err(ApiError::NotFound("Not found.".into()));
    };
    *template = Some(endpoint.template);
    let user = if endpoint.open {
        None
    } else {
        let (user, via_session) = state.auth.identify(&req.headers).await?;
        let safe = matches!(
            req.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        );
        if via_session && !safe {
            crate::auth::check_csrf(&req.headers, &req.base_url())?;
        }
        Some(user)
    };
    let mut ctx = Ctx {
        state: state.clone(),
        user,
        cid: cid.to_owned(),
        scope: crate::api::Scope::All,
    };
    let want = if req.method == Method::HEAD {
        Method::GET
    } else {
        req.method.clone()
    };
    let Some(operation) = endpoint.operations.iter().find(|o| o.op.method == want) else {
        return Err(ApiError::MethodNotAllowed(req.method.to_string()));
    };
    match endpoint.policy {
        Some(viewset) if !endpoint.open => {
            crate::api::access_policies::authorize(&mut ctx, req, viewset, &operation.op, &ids)
                .await?
        }
        _ => admin_only(&ctx)?,
    }
    (operation.handler)(&ctx, req, &ids).await
}

/// Pulp's answer for a view without an access policy: only superusers pass.
fn admin_only(ctx: &Ctx) -> Result<(), ApiError> {
    match &ctx.user {
        Some(u) if !u.is_superuser => Err(ApiError::Forbidden),
        _ => Ok(()),
    }
}

/// A running handler.
pub type HandlerFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, ApiError>> + Send + 'a>>;

/// Answers one method of an endpoint: the context, the request and the ids in its path.
pub type Handler =
    Arc<dyn for<'a> Fn(&'a Ctx, &'a mut Req, &'a [&'a str]) -> HandlerFuture<'a> + Send + Sync>;

/// Wraps a closure as a [`Handler`] (the bound makes the closure's lifetimes come out right).
pub fn handler<F>(f: F) -> Handler
where
    F: for<'a> Fn(&'a Ctx, &'a mut Req, &'a [&'a str]) -> HandlerFuture<'a> + Send + Sync + 'static,
{
    Arc::new(f)
}

/// One method of an endpoint: what the schema says of it and what answers it.
#[derive(Clone)]
pub struct Operation {
    /// Its OpenAPI operation (method, operationId, parameters, body, responses).
    pub op: Op,
    /// Its handler.
    pub handler: Handler,
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation")
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}

/// One path of the API and every method it answers: the single row from which the router
/// resolves, authenticates and dispatches, the schema documents and metrics label requests.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The path under `api/v3/`; `{}` stands for an id (`repositories/<app>/<type>/{}/sync/`).
    /// Only the schema files have no trailing slash, as in Pulp.
    pub template: &'static str,
    /// Answered without credentials (status, docs).
    pub open: bool,
    /// The schema's href path parameter (`<app>_<type>_repository_href`) and the names of the
    /// ids in the `pk_path=1` form; `None` for paths without ids.
    pub href: Option<(&'static str, &'static [&'static str])>,
    /// Whether it is served only with `PITH_TEST_TASKS`.
    pub test_only: bool,
    /// Its methods (HEAD goes with GET).
    pub operations: Vec<Operation>,
    /// The viewset whose access policy decides its requests (`None`: superusers only).
    pub policy: Option<&'static str>,
}

impl Endpoint {
    /// An endpoint that needs authentication, without ids in its path.
    pub fn new(template: &'static str) -> Endpoint {
        Endpoint {
            template,
            open: false,
            href: None,
            test_only: false,
            operations: Vec::new(),
            policy: None,
        }
    }

    /// Decided by viewset `name`'s access policy.
    pub fn policy(mut self, name: &'static str) -> Endpoint {
        self.policy = Some(name);
        self
    }

    /// With the href parameter of a path with ids.
    pub fn href(mut self, name: &'static str, ids: &'static [&'static str]) -> Endpoint {
        self.href = Some((name, ids));
        self
    }

    /// Answered without credentials.
    pub fn open(mut self) -> Endpoint {
        self.open = true;
        self
    }

    /// Adds a method.
    pub fn on(mut self, op: Op, handler: Handler) -> Endpoint {
        self.operations.push(Operation { op, handler });
        self
    }

    /// The methods it answers.
    pub fn methods(&self) -> Vec<Method> {
        self.operations
            .iter()
            .map(|o| o.op.method.clone())
            .collect()
    }
}

/// Leaks a route template built at start-up (endpoints live as long as the process; metrics
/// and spans label requests with `&'static str`).
pub fn template(s: String) -> &'static str {
    s.leak()
}

/// Every endpoint of core and the running plugins.
#[derive(Clone, Debug, Default)]
pub struct Routes {
    endpoints: Vec<Endpoint>,
}

impl Routes {
    /// The table of `endpoints`, leaving out the test-only ones unless `test_tasks`. Rows with
    /// the same template are one endpoint (a plugin adds `create` to the list core builds for
    /// its publication type).
    ///
    /// # Panics
    /// When two rows claim the same method of one path: a plugin that claims a core operation
    /// (or another plugin's) is a programming error, found at start-up.
    pub fn new(endpoints: Vec<Endpoint>, test_tasks: bool) -> Routes {
        let mut merged: Vec<Endpoint> = Vec::new();
        for e in endpoints.into_iter().filter(|e| test_tasks || !e.test_only) {
            match merged.iter_mut().find(|m| m.template == e.template) {
                Some(m) => {
                    for o in e.operations {
                        assert!(
                            !m.methods().contains(&o.op.method),
                            "two endpoints claim {} {}",
                            o.op.method,
                            e.template
                        );
                        m.operations.push(o);
                    }
                    m.open |= e.open;
                    m.href = m.href.or(e.href);
                }
                None => merged.push(e),
            }
        }
        Routes { endpoints: merged }
    }

    /// Every endpoint, in declaration order.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Whether `path` is exactly a template (the schema files, which have no slash).
    pub fn has_template(&self, path: &str) -> bool {
        self.endpoints.iter().any(|e| e.template == path)
    }

    /// The endpoint for a path under `api/v3/` split into segments, and the ids in it. A
    /// literal segment wins over an id in the same place (`content/file/files/upload/` is not
    /// the detail of a unit with id `upload`).
    pub fn resolve<'a>(&self, segs: &[&'a str]) -> Option<(&Endpoint, Vec<&'a str>)> {
        let mut best: Option<(&Endpoint, Vec<&'a str>)> = None;
        'routes: for e in &self.endpoints {
            let parts = e.template.split('/').filter(|s| !s.is_empty());
            if parts.clone().count() != segs.len() {
                continue;
            }
            let mut ids = Vec::new();
            for (p, s) in parts.zip(segs) {
                if p == "{}" {
                    ids.push(*s);
                } else if p != *s {
                    continue 'routes;
                }
            }
            if best.as_ref().is_none_or(|(_, b)| ids.len() < b.len()) {
                best = Some((e, ids));
            }
        }
        best
    }
}
