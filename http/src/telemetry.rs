//! The HTTP layer's measurements, through the `metrics` facade (the binary decides where they
//! go: Prometheus on `/metrics`, OTLP, or nowhere), and the `/metrics` page.
//!
//! Names follow Pulp's where Pulp has one (`api.request_duration`, `content.request_duration`,
//! `tasks_unblocked_queue`, `tasks_longest_unblocked_time`; Prometheus shows dots as
//! underscores); the rest are Pith's own, prefixed `pith_`.

use std::time::Duration;

use pith_entities::Db;
use warp::http::{Method, StatusCode};

use crate::request::{Response, text};
use crate::{ApiError, HttpState, Req};

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// The handles of one label combination, registered once: recording then costs no key
/// building and no registry lookups in the recorders (with telemetry on there are two).
struct Handles {
    duration: metrics::Histogram,
    requests: metrics::Counter,
}

type HandleKey = (bool, &'static str, u16, &'static str);

static HANDLES: std::sync::LazyLock<dashmap::DashMap<HandleKey, std::sync::Arc<Handles>>> =
    std::sync::LazyLock::new(dashmap::DashMap::new);

fn handles(
    content: bool,
    method: &'static str,
    status: u16,
    route: &'static str,
) -> std::sync::Arc<Handles> {
    let key = (content, method, status, route);
    if let Some(h) = HANDLES.get(&key) {
        return h.clone();
    }
    let class = status_class(status);
    let h = std::sync::Arc::new(if content {
        Handles {
            duration: metrics::histogram!("content.request_duration", "http.method" => method,
                "http.status_code" => class, "http.route" => "content"),
            requests: metrics::counter!("pith_http_requests", "route" => "content", "status" => status.to_string()),
        }
    } else {
        Handles {
            duration: metrics::histogram!("api.request_duration", "http.method" => method,
                "http.status_code" => class, "http.target" => route),
            requests: metrics::counter!("pith_http_requests", "route" => route, "status" => status.to_string()),
        }
    });
    HANDLES.insert(key, h.clone());
    h
}

/// Requests being answered right now (warp does not expose connections, so this stands in
/// for "active connections").
static ACTIVE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
static ACTIVE_GAUGE: std::sync::LazyLock<metrics::Gauge> =
    std::sync::LazyLock::new(|| metrics::gauge!("pith_http_active_requests"));

/// Counts a request in; the guard counts it out when dropped.
pub fn active() -> ActiveGuard {
    let n = ACTIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    ACTIVE_GAUGE.set(n as f64);
    ActiveGuard
}

/// See [`active`].
pub struct ActiveGuard;

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let n = ACTIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) - 1;
        ACTIVE_GAUGE.set(n as f64);
    }
}

/// Records one answered request. `template` is the matched route under `api/v3/` (unmatched
/// paths share one empty label, so that scanners cannot blow up the series).
pub fn record_request(
    content: bool,
    method: &Method,
    template: Option<&'static str>,
    status: u16,
    resp: &Response,
    took: Duration,
) {
    let m = method_label(method);
    let h = handles(content, m, status, template.unwrap_or(""));
    h.duration.record(took.as_secs_f64() * 1000.0);
    h.requests.increment(1);
    if content && m == "GET" && status < 300 {
        let bytes = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        metrics::counter!("pith_content_bytes_served").increment(bytes);
    }
}

/// `GET /metrics`: Prometheus text (a 404 when metrics are off).
pub async fn metrics_page(state: &HttpState, req: &Req) -> Result<Response, ApiError> {
    let Some(render) = &state.metrics else {
        return Err(ApiError::NotFound("Not found.".into()));
    };
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return Err(ApiError::MethodNotAllowed(req.method.to_string()));
    }
    refresh_gauges(&state.db).await;
    Ok(text(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        render(),
    ))
}

/// Sets the gauges that come from the database: tasks per state, the unblocked queue (Pulp's
/// two worker gauges) and cluster members. Cheap; run at every scrape and periodically (for
/// OTLP).
pub async fn refresh_gauges(db: &Db) {
    let now = pith_entities::time::now_micros();
    if let Ok((by_state, n, oldest)) = pith_entities::tasks::gauges(db, now - 5_000_000).await {
        for (st, n) in ["waiting", "running", "canceling"]
            .into_iter()
            .zip(by_state)
        {
            metrics::gauge!("pith_tasks", "state" => st).set(n as f64);
        }
        // Waiting tasks unblocked for more than 5 s (as Pulp counts them) and the oldest one.
        metrics::gauge!("tasks_unblocked_queue").set(n as f64);
        metrics::gauge!("tasks_longest_unblocked_time")
            .set(oldest.map_or(0.0, |o| (now - o) as f64 / 1e6));
    }
    if let Ok(n) = pith_entities::nodes::live_members(db).await {
        metrics::gauge!("pith_cluster_members").set(n as f64);
    }
}
