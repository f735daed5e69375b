//! Pith's HTTP surface: the REST API under `API_ROOT` + `api/v3/` and the content app under
//! `CONTENT_PATH_PREFIX`, served by warp.
//!
//! One warp filter captures each request whole and [`router`] dispatches on the path in plain
//! Rust against the endpoint table ([`router::Routes`], core's rows in [`urls`] and each
//! plugin's, see [`plugin`]): Pulp's URL rules (trailing slashes, 301s, 405s, href-shaped ids)
//! are easier to get exactly right that way than as a tree of filters, and it keeps compile
//! times down.
//! Domain errors become Pulp's JSON shapes in one place, [`error`].

pub mod access_policy;
pub mod api;
pub mod auth;
pub mod checkpoint;
pub mod config;
pub mod content;
pub mod content_guard;
pub mod content_index;
pub mod error;
pub mod expression;
pub mod form;
pub mod jq;
pub mod labels;
pub mod listing;
pub mod on_demand;
pub mod openapi;
pub mod plugin;
pub mod pull_through;
pub mod request;
pub mod router;
pub mod telemetry;
pub mod urls;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use warp::Filter;

pub use auth::{Auth, hash_password};
pub use config::HttpConfig;
pub use error::ApiError;
pub use request::Req;

use pith_actors::tasking::Tasking;
use pith_entities::{ArtifactStore, Db};

/// Which parts of the HTTP surface a process serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// The REST API.
    pub api: bool,
    /// The content app.
    pub content: bool,
}

/// Everything a request handler may need.
pub struct HttpState {
    /// Settings.
    pub config: HttpConfig,
    /// Core with the running plugins: endpoints, types, serializers, components.
    pub platform: Arc<plugin::Platform>,
    /// The database.
    pub db: Db,
    /// Dispatch and cancel.
    pub tasking: Tasking,
    /// The artifact store.
    pub store: ArtifactStore,
    /// Basic auth with its cache.
    pub auth: Auth,
    /// The viewsets' access policies, as stored.
    pub policies: access_policy::Policies,
    /// What this process serves.
    pub parts: Parts,
    /// The content app's in-memory index.
    pub content_index: content_index::ContentIndex,
    /// The content app's fetchers of on-demand content (`None` where no content app runs).
    pub fetchers: Option<pith_actors::fetch::Fetchers>,
    /// Renders `GET /metrics` (`None`: metrics are off, the path is a 404).
    pub metrics: Option<MetricsRender>,
    /// Continues an incoming trace (`traceparent`) in a request's span (`None`: tracing off).
    pub trace_parent: Option<TraceParent>,
}

/// Makes a request's span a child of the trace its headers carry.
pub type TraceParent = Arc<dyn Fn(&tracing::Span, &warp::http::HeaderMap) + Send + Sync>;

/// Renders the Prometheus text of the process's metrics.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("parts", &self.parts)
            .finish_non_exhaustive()
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets open requests finish.
///
/// This is warp's own accept loop with one HTTP/1 option warp does not expose: header case.
/// HTTP header names are case-insensitive and hyper writes them in lower case, but the
/// generated bindings hand response headers to callers as a plain dict, so a client reading the
/// `Correlation-ID` it sent finds nothing under `correlation-id`. With hyper's
/// `preserve_header_case`, a response that echoes a request header (only [`CORRELATION_ID`])
/// carries the request's recorded spelling and hyper writes that header the way the client
/// wrote it; every other header stays lower case.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<HttpState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tower_service::Service;

    let filter = warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and_then(
            move |method, path: warp::path::FullPath, query: String, headers, body| {
                let state = state.clone();
                async move {
                    let req = Req::new(method, path.as_str().to_owned(), query, headers, body);
                    Ok::<_, Infallible>(router::handle(state, req).await)
                }
            },
        );
    let routes = warp::service(filter);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let routes = routes.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    // The request's extensions hold hyper's record of its header spelling.
                    let echo = req
                        .headers()
                        .contains_key(CORRELATION_ID)
                        .then(|| req.extensions().clone());
                    let mut routes = routes.clone();
                    async move {
                        let mut resp = routes.call(req).await?;
                        if let Some(mut ext) = echo {
                            ext.remove::<hyper::upgrade::OnUpgrade>();
                            resp.extensions_mut().extend(ext);
                        }
                        Ok::<_, Infallible>(resp)
                    }
                });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // Header names go out as Django writes them (`Set-Cookie`, `Content-Type`): some
            // clients read them case-sensitively (Pulp's tests read `headers["Set-Cookie"]`).
            builder
                .http1()
                .preserve_header_case(true)
                .title_case_headers(true);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The header Pulp reads a request's correlation id from and echoes it in.
pub const CORRELATION_ID: &str = "correlation-id";

/// An `accept` error: a connection reset before it was accepted is nothing; anything else
/// (out of file descriptors) is logged, and the loop waits a second before accepting again,
/// as warp's and hyper's servers do, so that it does not spin while nothing can succeed.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}
