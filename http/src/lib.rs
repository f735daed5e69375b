//! Pith's HTTP surface: the REST API under `API_ROOT` + `api/v3/` and the content app under
//! `CONTENT_PATH_PREFIX`, served by warp.
//!
//! One warp filter captures each request whole and [`router`] dispatches on the path in plain
//! Rust against the endpoint table ([`router::Routes`], core's rows in [`urls`] and each
//! plugin's, see [`plugin`]): Pulp's URL rules (trailing slashes, 301s, 405s, href-shaped ids)
//! are easier to get exactly right that way than as a tree of filters, and it keeps compile
//! times down.
//! Domain errors become Pulp's JSON shapes in one place, [`error`].

pub mod api;
pub mod auth;
pub mod config;
pub mod content;
pub mod content_index;
pub mod error;
pub mod form;
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

/// Serves `state` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<HttpState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
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
    warp::serve(filter)
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}
