//! On-demand and streamed content: syncs that download nothing, and the content app's
//! fetchers that download on the first request (one upstream request however many clients
//! ask at once), verify, and keep (`on_demand`) or forget (`streamed`) the bytes.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;

use crate::both_backends;
use crate::fixture::Fixture;
use crate::support::{Env, Server};

both_backends!(on_demand_fetch_once_and_keep, streamed_and_failures);

/// Remote (with `policy`), repository, sync, publication and distribution at `base_path`.
async fn distribute(s: &Server, fx: &Fixture, name: &str, policy: &str) -> String {
    let (code, remote) = s
        .send(
            Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": name, "url": fx.manifest_url(), "policy": policy, "max_retries": 0}),
        )
        .await;
    assert_eq!(code, 201, "{remote}");
    let (_, repo) = s
        .send(
            Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": name, "remote": remote["pulp_href"], "autopublish": true}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().expect("repo").to_owned();
    let (_, t) = s
        .send(Method::POST, &format!("{repo_href}sync/"), json!({}))
        .await;
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    let (_, t) = s
        .send(
            Method::POST,
            "/pulp/api/v3/distributions/file/file/",
            json!({"name": name, "base_path": name, "repository": repo_href}),
        )
        .await;
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    repo_href
}

async fn get(s: &Server, path: &str) -> (u16, Result<Vec<u8>, String>) {
    let r = s.client.get(s.url(path)).send().await.expect("request");
    let status = r.status().as_u16();
    (
        status,
        r.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string()),
    )
}

async fn artifact_count(s: &Server) -> u64 {
    s.json("/pulp/api/v3/artifacts/").await.1["count"]
        .as_u64()
        .expect("count")
}

async fn on_demand_fetch_once_and_keep(env: Env) {
    let s = env.start(&[]);
    let fx = Fixture::start().await;
    let big: Vec<u8> = (0..50 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let small = b"a small file, fetched on demand\n".to_vec();
    fx.publish(&[("big.bin", big.clone()), ("dir/small.txt", small.clone())]);

    let before = artifact_count(&s).await;
    let repo = distribute(&s, &fx, "od", "on_demand").await;
    assert_eq!(
        fx.hits.load(Ordering::SeqCst),
        1,
        "the sync fetched only the manifest"
    );
    // The publication's PULP_MANIFEST is stored; no content artifact is.
    assert_eq!(artifact_count(&s).await, before + 1);
    let (_, content) = s
        .json(&format!(
            "/pulp/api/v3/content/file/files/?repository_version={repo}versions/1/&relative_path=dir/small.txt"
        ))
        .await;
    assert_eq!(content["results"][0]["artifact"], Value::Null, "{content}");
    let (_, listing) = get(&s, "/pulp/content/od/").await;
    let listing = String::from_utf8(listing.expect("listing")).expect("utf8");
    assert!(
        listing.contains("big.bin") && listing.contains("dir/"),
        "{listing}"
    );

    // HEAD answers from what the remote promised, without fetching.
    let r = s
        .client
        .head(s.url("/pulp/content/od/big.bin"))
        .send()
        .await
        .expect("head");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-length"], big.len().to_string());
    assert_eq!(fx.hits.load(Ordering::SeqCst), 1);

    // 20 clients at once: one upstream request, 20 identical and correct bodies.
    let mut clients = Vec::new();
    for _ in 0..20 {
        let (c, url) = (s.client.clone(), s.url("/pulp/content/od/big.bin"));
        clients.push(tokio::spawn(async move {
            let r = c.get(url).send().await.expect("request");
            assert_eq!(r.status().as_u16(), 200);
            hex::encode(Sha256::digest(r.bytes().await.expect("body")))
        }));
    }
    let want = hex::encode(Sha256::digest(&big));
    for c in clients {
        assert_eq!(c.await.expect("client"), want);
    }
    assert_eq!(
        fx.hits.load(Ordering::SeqCst),
        2,
        "one upstream request for 20 clients"
    );

    // A range of bytes not stored yet: fetched whole, verified, then the range is answered.
    let r = s
        .client
        .get(s.url("/pulp/content/od/dir/small.txt"))
        .header("Range", "bytes=2-6")
        .send()
        .await
        .expect("range");
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 2-6/{}", small.len())
    );
    assert_eq!(r.bytes().await.expect("body").as_ref(), &small[2..7]);

    // Kept: the content now has an artifact and later requests never go upstream.
    let (code, body) = get(&s, "/pulp/content/od/dir/small.txt").await;
    assert_eq!((code, body.expect("body")), (200, small.clone()));
    let hits = fx.hits.load(Ordering::SeqCst);
    for _ in 0..3 {
        let (code, body) = get(&s, "/pulp/content/od/dir/small.txt").await;
        assert_eq!((code, body.expect("body")), (200, small.clone()));
    }
    assert_eq!(fx.hits.load(Ordering::SeqCst), hits);
    assert_eq!(artifact_count(&s).await, before + 3);
    let (_, content) = s
        .json(&format!(
            "/pulp/api/v3/content/file/files/?repository_version={repo}versions/1/&relative_path=dir/small.txt"
        ))
        .await;
    assert!(content["results"][0]["artifact"].is_string(), "{content}");
    assert_eq!(
        content["results"][0]["sha256"],
        hex::encode(Sha256::digest(&small))
    );

    // An immediate sync afterwards downloads only what is still missing (nothing here).
    let hits = fx.hits.load(Ordering::SeqCst);
    let (_, imm) = s
        .send(
            Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "od-now", "url": fx.manifest_url()}),
        )
        .await;
    let (_, t) = s
        .send(
            Method::POST,
            &format!("{repo}sync/"),
            json!({"remote": imm["pulp_href"]}),
        )
        .await;
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(
        fx.hits.load(Ordering::SeqCst),
        hits + 1,
        "only the manifest"
    );
}

async fn streamed_and_failures(env: Env) {
    let s = env.start(&[("PULP_REMOTE_CONTENT_FETCH_FAILURE_COOLDOWN", "0")]);
    let fx = Fixture::start().await;
    let good = b"streamed bytes, never kept\n".to_vec();
    let tricky = b"these bytes are what the manifest promises".to_vec();
    fx.publish(&[("s.txt", good.clone()), ("t.txt", tricky.clone())]);
    let before = artifact_count(&s).await;
    distribute(&s, &fx, "st", "streamed").await;
    let hits = fx.hits.load(Ordering::SeqCst);

    // Streamed: served every time from upstream, nothing stored.
    for _ in 0..2 {
        let (code, body) = get(&s, "/pulp/content/st/s.txt").await;
        assert_eq!((code, body.expect("body")), (200, good.clone()));
    }
    assert_eq!(fx.hits.load(Ordering::SeqCst), hits + 2);
    assert_eq!(
        artifact_count(&s).await,
        before + 1,
        "only the published manifest"
    );

    // Corrupted upstream bytes (same length): the client's transfer fails, nothing is stored;
    // once upstream is right again the bytes are served.
    let path = fx.dir.path().join("repo/t.txt");
    std::fs::write(&path, b"these bytes are NOT what the manifest said").expect("corrupt");
    let (_, body) = get(&s, "/pulp/content/st/t.txt").await;
    assert!(
        body.is_err(),
        "the transfer of corrupted bytes is cut short: {body:?}"
    );
    assert_eq!(artifact_count(&s).await, before + 1);
    std::fs::write(&path, &tricky).expect("repair upstream");
    let (code, body) = get(&s, "/pulp/content/st/t.txt").await;
    assert_eq!((code, body.expect("body")), (200, tricky.clone()));

    // The same with on_demand: the corrected bytes are then kept.
    let od = Fixture::start().await;
    let keep = b"kept after a bad first attempt".to_vec();
    od.publish(&[("k.txt", keep.clone())]);
    distribute(&s, &od, "od2", "on_demand").await;
    let kpath = od.dir.path().join("repo/k.txt");
    std::fs::write(&kpath, b"kept after a BAD first attempt").expect("corrupt");
    let (_, body) = get(&s, "/pulp/content/od2/k.txt").await;
    assert!(body.is_err(), "{body:?}");
    let stored = artifact_count(&s).await;
    std::fs::write(&kpath, &keep).expect("repair upstream");
    let (code, body) = get(&s, "/pulp/content/od2/k.txt").await;
    assert_eq!((code, body.expect("body")), (200, keep.clone()));
    assert_eq!(artifact_count(&s).await, stored + 1);

    // A fetcher that crashes fails its client at once (no hang); the node keeps serving.
    let crash = Fixture::start().await;
    crash.publish(&[("pith-test-panic.txt", b"never served".to_vec())]);
    distribute(&s, &crash, "crash", "on_demand").await;
    for _ in 0..2 {
        let (code, _) = get(&s, "/pulp/content/crash/pith-test-panic.txt").await;
        assert_eq!(code, 502, "a crashed fetch is a bad gateway, every time");
    }
    let (code, body) = get(&s, "/pulp/content/od2/k.txt").await;
    assert_eq!((code, body.expect("body")), (200, keep.clone()));

    // Upstream gone: content never fetched is a 404 (what was kept is still served).
    drop(od);
    drop(fx);
    let (code, _) = get(&s, "/pulp/content/st/s.txt").await;
    assert_eq!(code, 404);
    let (code, body) = get(&s, "/pulp/content/od2/k.txt").await;
    assert_eq!((code, body.expect("body")), (200, keep));
}

/// A slow upstream (each answer takes 150 ms) that records the most requests it had in flight.
struct SlowUpstream {
    base: String,
    max_in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn slow_upstream(files: Vec<(String, Vec<u8>)>) -> SlowUpstream {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use warp::Filter;
    let mut manifest = String::new();
    for (p, b) in &files {
        manifest.push_str(&format!(
            "{p},{},{}\n",
            hex::encode(Sha256::digest(b)),
            b.len()
        ));
    }
    let mut map: std::collections::HashMap<String, Vec<u8>> = files.into_iter().collect();
    map.insert("PULP_MANIFEST".into(), manifest.into_bytes());
    let map = Arc::new(map);
    let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let max2 = max.clone();
    let route = warp::path::tail().and_then(move |tail: warp::path::Tail| {
        let (map, now, max) = (map.clone(), now.clone(), max2.clone());
        async move {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(n, Ordering::SeqCst);
            if tail.as_str() != "PULP_MANIFEST" {
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            }
            now.fetch_sub(1, Ordering::SeqCst);
            match map.get(tail.as_str()) {
                Some(b) => Ok::<_, std::convert::Infallible>(warp::http::Response::new(b.clone())),
                None => {
                    let mut r = warp::http::Response::new(Vec::new());
                    *r.status_mut() = warp::http::StatusCode::NOT_FOUND;
                    Ok(r)
                }
            }
        }
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
    SlowUpstream {
        base,
        max_in_flight: max,
        _stop: tx,
    }
}

/// `download_concurrency` bounds the content app's upstream downloads of one remote: four
/// clients asking for four different files at once wait in turn (with a higher bound the same
/// requests do overlap, which shows the measurement can see it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetchers_respect_download_concurrency() {
    let env = Env::new(crate::support::Backend::Sqlite).expect("env");
    let s = env.start(&[]);
    for (name, bound, want_max) in [("one", 1, 1), ("four", 4, 4)] {
        let files: Vec<(String, Vec<u8>)> = (0..4)
            .map(|i| {
                (
                    format!("{name}{i}.txt"),
                    format!("{name} file {i}").into_bytes(),
                )
            })
            .collect();
        let up = slow_upstream(files.clone()).await;
        let (code, remote) = s
            .send(
                Method::POST,
                "/pulp/api/v3/remotes/file/file/",
                json!({"name": name, "url": format!("{}/PULP_MANIFEST", up.base),
                       "policy": "on_demand", "download_concurrency": bound}),
            )
            .await;
        assert_eq!(code, 201, "{remote}");
        let (_, repo) = s
            .send(
                Method::POST,
                "/pulp/api/v3/repositories/file/file/",
                json!({"name": name, "remote": remote["pulp_href"], "autopublish": true}),
            )
            .await;
        let repo_href = repo["pulp_href"].as_str().expect("repo").to_owned();
        let (_, t) = s
            .send(Method::POST, &format!("{repo_href}sync/"), json!({}))
            .await;
        s.finished(t["task"].as_str().expect("task")).await;
        let (_, t) = s
            .send(
                Method::POST,
                "/pulp/api/v3/distributions/file/file/",
                json!({"name": name, "base_path": name, "repository": repo_href}),
            )
            .await;
        s.finished(t["task"].as_str().expect("task")).await;
        let mut clients = Vec::new();
        for (path, body) in files {
            let (c, url) = (
                s.client.clone(),
                s.url(&format!("/pulp/content/{name}/{path}")),
            );
            clients.push(tokio::spawn(async move {
                let r = c.get(url).send().await.expect("request");
                assert_eq!(r.status().as_u16(), 200);
                assert_eq!(r.bytes().await.expect("body").as_ref(), &body[..]);
            }));
        }
        for c in clients {
            c.await.expect("client");
        }
        let max = up.max_in_flight.load(Ordering::SeqCst);
        if bound == 1 {
            assert_eq!(
                max, want_max,
                "download_concurrency=1 allowed {max} at once"
            );
        } else {
            assert!(
                max > 1,
                "with download_concurrency=4 the downloads never overlapped"
            );
        }
    }
}
