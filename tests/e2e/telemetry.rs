//! Telemetry: `/metrics` (Prometheus), OTLP export of spans and metrics to a local receiver,
//! and the analytics reporter posting to a local server.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use serde_json::json;
use warp::Filter;

use crate::fixture::Fixture;
use crate::support::{Backend, Env, Server};

/// Received `(path, body)` pairs.
type Bodies = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A local HTTP server that keeps every POST body by path.
struct Receiver {
    base: String,
    bodies: Bodies,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn receiver() -> Receiver {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let keep = bodies.clone();
    let route = warp::post()
        .and(warp::path::full())
        .and(warp::body::bytes())
        .map(move |p: warp::path::FullPath, b: bytes::Bytes| {
            keep.lock()
                .expect("lock")
                .push((p.as_str().to_owned(), b.to_vec()));
            warp::reply()
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        warp::serve(route)
            .incoming(listener)
            .graceful(async move {
                let _ = rx.await;
            })
            .run(),
    );
    Receiver {
        base,
        bodies,
        _stop: tx,
    }
}

impl Receiver {
    /// Waits (bounded) until `pred` holds for what was received.
    async fn wait_for(&self, what: &str, pred: impl Fn(&[(String, Vec<u8>)]) -> bool) {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if pred(&self.bodies.lock().expect("lock")) {
                return;
            }
            assert!(Instant::now() < end, "never received {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One API call, one content download, one task.
async fn exercise(s: &Server) {
    assert_eq!(s.json("/pulp/api/v3/status/").await.0, 200);
    let fx = Fixture::start().await;
    fx.publish(&[("m.txt", b"measured".to_vec())]);
    let (_, remote) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "m", "url": fx.manifest_url()}),
        )
        .await;
    let (_, repo) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "m", "remote": remote["pulp_href"], "autopublish": true}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().expect("repo").to_owned();
    let (_, t) = s
        .send(
            reqwest::Method::POST,
            &format!("{repo_href}sync/"),
            json!({}),
        )
        .await;
    s.finished(t["task"].as_str().expect("task")).await;
    let (_, t) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/distributions/file/file/",
            json!({"name": "m", "base_path": "m", "repository": repo_href}),
        )
        .await;
    s.finished(t["task"].as_str().expect("task")).await;
    let r = s
        .client
        .get(s.url("/pulp/content/m/m.txt"))
        .send()
        .await
        .expect("download");
    assert_eq!(r.status().as_u16(), 200);
}

fn metric_value(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_metrics() {
    let env = Env::new(Backend::Sqlite).expect("env");
    let s = env.start(&[]);
    exercise(&s).await;
    let page = |s: &Server| {
        let (c, url) = (s.client.clone(), s.url("/metrics"));
        async move {
            let r = c.get(url).send().await.expect("metrics");
            assert_eq!(r.status().as_u16(), 200);
            r.text().await.expect("text")
        }
    };
    let text = page(&s).await;
    for needle in [
        "api_request_duration",
        "content_request_duration",
        "pith_http_requests{route=\"status/\",status=\"200\"}",
        "pith_content_bytes_served",
        "pith_tasks_finished{name=\"pulp_file.app.tasks.synchronizing.synchronize\",outcome=\"completed\"}",
        "pith_task_duration_seconds",
        "pith_task_wait_seconds",
        "tasks_unblocked_queue",
        "tasks_longest_unblocked_time",
        "pith_tasks{state=\"waiting\"}",
        "pith_cluster_members",
        "pith_http_active_requests",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from /metrics:\n{text}"
        );
    }
    let status_line = "pith_http_requests{route=\"status/\",status=\"200\"}";
    let before = metric_value(&text, status_line);
    for _ in 0..3 {
        s.json("/pulp/api/v3/status/").await;
    }
    let after = metric_value(&page(&s).await, status_line);
    assert_eq!(after, before + 3.0, "the request counter moves");

    let off = Env::new(Backend::Sqlite).expect("env");
    let s = off.start(&[("PULP_METRICS_ENABLED", "false")]);
    let r = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_export() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    let rx = receiver().await;
    let env = Env::new(Backend::Sqlite).expect("env");
    let s = env.start(&[
        ("PULP_OTEL_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &rx.base),
        ("OTEL_METRIC_EXPORT_INTERVAL", "300"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ]);
    exercise(&s).await;
    // An incoming W3C trace context is continued.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let r = s
        .client
        .get(s.url("/pulp/api/v3/workers/"))
        .basic_auth("admin", Some(crate::support::PASSWORD))
        .header("traceparent", format!("00-{trace_id}-{parent}-01"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    let continued = |bodies: &[(String, Vec<u8>)]| {
        bodies
            .iter()
            .filter(|(p, _)| p == "/v1/traces")
            .filter_map(|(_, b)| ExportTraceServiceRequest::decode(b.as_slice()).ok())
            .flat_map(|r| r.resource_spans)
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
            .any(|sp| {
                hex::encode(&sp.trace_id) == trace_id && hex::encode(&sp.parent_span_id) == parent
            })
    };
    rx.wait_for("a span continuing the incoming trace", continued)
        .await;
    let spans = |bodies: &[(String, Vec<u8>)]| -> Vec<(String, Vec<String>)> {
        bodies
            .iter()
            .filter(|(p, _)| p == "/v1/traces")
            .filter_map(|(_, b)| ExportTraceServiceRequest::decode(b.as_slice()).ok())
            .flat_map(|r| r.resource_spans)
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
            .map(|sp| (sp.name, sp.attributes.into_iter().map(|a| a.key).collect()))
            .collect()
    };
    rx.wait_for("api, content and task spans", |b| {
        let s = spans(b);
        ["api_request", "content_request", "task"]
            .iter()
            .all(|n| s.iter().any(|(name, _)| name == n))
    })
    .await;
    let all = spans(&rx.bodies.lock().expect("lock"));
    let api = all
        .iter()
        .find(|(n, _)| n == "api_request")
        .expect("api span");
    assert!(api.1.contains(&"correlation_id".to_owned()), "{api:?}");
    let task = all.iter().find(|(n, _)| n == "task").expect("task span");
    assert!(
        task.1.contains(&"task.name".to_owned()) && task.1.contains(&"task.id".to_owned()),
        "{task:?}"
    );
    let metric_names = |bodies: &[(String, Vec<u8>)]| -> Vec<String> {
        bodies
            .iter()
            .filter(|(p, _)| p == "/v1/metrics")
            .filter_map(|(_, b)| ExportMetricsServiceRequest::decode(b.as_slice()).ok())
            .flat_map(|r| r.resource_metrics)
            .flat_map(|rm| rm.scope_metrics)
            .flat_map(|sm| sm.metrics)
            .map(|m| m.name)
            .collect()
    };
    rx.wait_for("request and task metrics", |b| {
        let m = metric_names(b);
        [
            "api.request_duration",
            "content.request_duration",
            "pith_tasks_finished",
        ]
        .iter()
        .all(|n| m.iter().any(|x| x == n))
    })
    .await;

    // A collector that is down never fails a request.
    let down = Env::new(Backend::Sqlite).expect("env");
    let s = down.start(&[
        ("PULP_OTEL_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ]);
    for _ in 0..20 {
        assert_eq!(s.json("/pulp/api/v3/status/").await.0, 200);
    }

    // Only http/protobuf is accepted, with a message that says so.
    let bad = Env::new(Backend::Sqlite).expect("env");
    let out = bad
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .env("PULP_OTEL_ENABLED", "true")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("http/protobuf"), "{err}");
}

/// Reads the `(field, bytes)` length-delimited fields and `(field, value)` varints of a
/// protobuf message (enough for Pulp's `Analytics`).
fn fields(mut b: &[u8]) -> Vec<(u64, Result<u64, Vec<u8>>)> {
    fn varint(b: &mut &[u8]) -> u64 {
        let mut n = 0u64;
        let mut shift = 0;
        while let Some((&x, rest)) = b.split_first() {
            *b = rest;
            n |= u64::from(x & 0x7f) << shift;
            if x & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        n
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b);
        match key & 7 {
            0 => out.push((key >> 3, Ok(varint(&mut b)))),
            2 => {
                let len = varint(&mut b) as usize;
                out.push((key >> 3, Err(b[..len].to_vec())));
                b = &b[len..];
            }
            w => panic!("unexpected wire type {w}"),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_reporter() {
    let rx = receiver().await;
    let env = Env::new(Backend::Sqlite).expect("env");
    let url = format!("{}/analytics/", rx.base);
    let on = [
        ("PULP_ANALYTICS", "true"),
        ("PULP_ANALYTICS_URL", url.as_str()),
    ];
    let s = env.start(&on);
    rx.wait_for("the start-up post", |b| !b.is_empty()).await;
    let (path, body) = rx.bodies.lock().expect("lock")[0].clone();
    assert_eq!(path, "/analytics/");
    let f = fields(&body);
    let get = |n: u64| {
        f.iter()
            .filter(|(k, _)| *k == n)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let system_id = String::from_utf8(get(1)[0].clone().expect_err("bytes")).expect("utf8");
    assert!(uuid::Uuid::parse_str(&system_id).is_ok(), "{system_id}");
    let workers = fields(&get(3)[0].clone().expect_err("bytes"));
    assert_eq!(workers[0], (1, Ok(2)), "two worker processes");
    assert_eq!(workers[1], (2, Ok(1)), "on one host");
    let content = fields(&get(2)[0].clone().expect_err("bytes"));
    assert_eq!(content[0], (1, Ok(1)));
    let component = fields(&get(4)[0].clone().expect_err("bytes"));
    assert_eq!(
        component[0],
        (1, Err(b"pith".to_vec())),
        "the component is Pith, never Pulp"
    );
    assert_eq!(
        component[1],
        (2, Err(env!("CARGO_PKG_VERSION").as_bytes().to_vec()))
    );
    assert!(get(5).is_empty(), "no PostgreSQL version on SQLite");
    let rbac = fields(&get(6)[0].clone().expect_err("bytes"));
    assert_eq!(rbac[0], (1, Ok(1)), "one user");

    // A restart does not post again before the period is over.
    drop(s);
    let s = env.start(&on);
    assert_eq!(s.json("/pulp/api/v3/status/").await.0, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        rx.bodies.lock().expect("lock").len(),
        1,
        "posted once per period"
    );

    // Off: nothing is sent, even on a fresh installation.
    let off = Env::new(Backend::Sqlite).expect("env");
    let quiet = receiver().await;
    let quiet_url = format!("{}/analytics/", quiet.base);
    let s = off.start(&[
        ("PULP_ANALYTICS", "false"),
        ("PULP_ANALYTICS_URL", quiet_url.as_str()),
    ]);
    assert_eq!(s.json("/pulp/api/v3/status/").await.0, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(quiet.bodies.lock().expect("lock").is_empty());

    // Its server down: the reporter logs it and the node carries on.
    let down = Env::new(Backend::Sqlite).expect("env");
    let s = down.start(&[
        ("PULP_ANALYTICS", "true"),
        ("PULP_ANALYTICS_URL", "http://127.0.0.1:9/"),
    ]);
    for _ in 0..5 {
        assert_eq!(s.json("/pulp/api/v3/status/").await.0, 200);
    }
}

#[test]
fn log_formats() {
    let env = Env::new(Backend::Sqlite).expect("env");
    // A warning is logged at start-up for an unknown PULP_* variable: as one JSON object per
    // line with PULP_LOG_FORMAT=json, as text by default; a bad format stops start-up.
    let run = |format: &str| {
        env.command(&["migrate"])
            .env("PULP_LOG_FORMAT", format)
            .env("PULP_NOT_A_SETTING", "1")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run")
    };
    let out = run("json");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("PULP_NOT_A_SETTING"))
        .unwrap_or_else(|| panic!("no warning in {err}"));
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(v["level"], "WARN", "{v}");
    let out = run("human");
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("PULP_NOT_A_SETTING"))
        .expect("warning");
    assert!(serde_json::from_str::<serde_json::Value>(line).is_err() && line.contains("WARN"));
    let out = run("xml");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PULP_LOG_FORMAT"));
}
