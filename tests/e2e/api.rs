//! The core REST API and the content app's health check, as a client sees them.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::both_backends;
use crate::support::{Env, PASSWORD};

both_backends!(
    status_auth_and_conventions,
    artifacts_verify_before_storing,
    orphan_cleanup_removes_unreferenced_artifacts,
    lists_paginate_filter_and_select
);

async fn status_auth_and_conventions(env: Env) {
    let s = env.start(&[]);
    let c = &s.client;

    // Open endpoints.
    let r = c.get(s.url("/pulp/api/v3/status/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let st: Value = r.json().await.unwrap();
    assert_eq!(st["database_connection"]["connected"], true);
    assert_eq!(st["versions"][0]["component"], "core");
    assert!(!st["online_workers"].as_array().unwrap().is_empty(), "{st}");
    assert!(!st["online_api_apps"].as_array().unwrap().is_empty());
    assert!(!st["online_content_apps"].as_array().unwrap().is_empty());
    assert!(
        st["storage"]["free"].as_u64().unwrap() > 0 && st["storage"]["total"].as_u64().unwrap() > 0
    );
    assert_eq!(
        st["content_settings"]["content_path_prefix"],
        "/pulp/content/"
    );
    assert_eq!(st["domain_enabled"], false);
    assert_eq!(
        c.post(s.url("/pulp/api/v3/status/"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    let r = c.get(s.url("/pulp/api/v3/livez/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().is_empty());
    let root: Value = c
        .get(s.url("/pulp/api/v3/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        root["tasks"]
            .as_str()
            .unwrap()
            .ends_with("/pulp/api/v3/tasks/")
    );

    // Auth.
    let r = c.get(s.url("/pulp/api/v3/tasks/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"api\"");
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"detail": "Authentication credentials were not provided."})
    );
    let r = c
        .get(s.url("/pulp/api/v3/tasks/"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"detail": "Invalid username/password."})
    );
    let r = c
        .get(s.url("/pulp/api/v3/tasks/"))
        .basic_auth("nobody", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for _ in 0..3 {
        assert_eq!(
            s.get("/pulp/api/v3/tasks/").send().await.unwrap().status(),
            200,
            "cached login keeps working"
        );
    }

    // Correlation id echoed unchanged, or generated.
    let r = s
        .get("/pulp/api/v3/tasks/")
        .header("Correlation-ID", "my-own-id")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["correlation-id"], "my-own-id");
    let r = s.get("/pulp/api/v3/tasks/").send().await.unwrap();
    assert_eq!(r.headers()["correlation-id"].len(), 32);
    // On the wire, in the spelling the client used (the bindings read it case-sensitively).
    for name in ["Correlation-ID", "correlation-id"] {
        let head = raw_head(&s, &format!("{name}: wire-id")).await;
        assert!(head.contains(&format!("\r\n{name}: wire-id\r\n")), "{head}");
    }

    // Trailing slashes, unknown paths, unknown ids.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(s.url("/pulp/api/v3/tasks?limit=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "/pulp/api/v3/tasks/?limit=1");
    assert_eq!(
        s.get("/pulp/api/v3/nothing/")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let (code, body) = s.json("/pulp/api/v3/tasks/not-a-uuid/").await;
    assert_eq!(
        (code, body),
        (404, json!({"detail": "No Task matches the given query."}))
    );
    let (code, _) = s
        .json(&format!("/pulp/api/v3/tasks/{}/", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(code, 404);
    let (code, body) = s.json("/pulp/api/v3/tasks/?bogus=1").await;
    assert_eq!(
        (code, body),
        (400, json!({"errors": ["Invalid Filter: 'bogus'"]}))
    );
    let (code, body) = s.json("/pulp/api/v3/tasks/?ordering=bogus").await;
    assert_eq!(code, 400);
    assert!(body["ordering"][0].as_str().unwrap().contains("bogus"));

    // Content app health check.
    let r = c.head(s.url("/pulp/content/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let r = c.get(s.url("/pulp/content/")).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("Index of /pulp/content/"));
    assert_eq!(
        c.get(s.url("/pulp/content/missing/file"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Workers.
    let (code, w) = s.json("/pulp/api/v3/workers/?online=true").await;
    assert_eq!(code, 200);
    assert_eq!(w["count"], 2, "{w}");
    let href = w["results"][0]["pulp_href"].as_str().unwrap().to_owned();
    let (code, one) = s.json(&href).await;
    assert_eq!(code, 200);
    assert!(one["name"].as_str().unwrap().contains('@'));
    assert!(one.get("current_task").is_some() && one.get("last_heartbeat").is_some());
    assert_eq!(
        s.json("/pulp/api/v3/workers/?missing=true").await.1["count"],
        0
    );
}

async fn upload(
    s: &crate::support::Server,
    bytes: &[u8],
    extra: &[(&str, String)],
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("f.bin"),
    );
    for (k, v) in extra {
        form = form.text(k.to_string(), v.clone());
    }
    s.client
        .post(s.url("/pulp/api/v3/artifacts/"))
        .basic_auth("admin", Some(PASSWORD))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn stored_files(env: &Env) -> usize {
    fn walk(p: &std::path::Path) -> usize {
        std::fs::read_dir(p)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&env.dir.path().join("artifact"))
}

async fn artifacts_verify_before_storing(env: Env) {
    let s = env.start(&[]);
    let data = b"hello pith artifact".repeat(1000);
    let sha = hex::encode(Sha256::digest(&data));

    // Wrong checksum, wrong size, forbidden digest: 400 and nothing stored.
    let r = upload(&s, &data, &[("sha256", "0".repeat(64))]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"non_field_errors": ["The sha256 checksum did not match."]})
    );
    let r = upload(&s, &data, &[("size", "3".into())]).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"non_field_errors": ["The size did not match actual size of file."]})
    );
    let r = upload(&s, &data, &[("md5", "abc".into())]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(stored_files(&env), 0);
    // Below the process's working directory (`tmp/<node>/<incarnation>/`).
    fn files(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            files(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    assert_eq!(
        files(&env.dir.path().join("tmp")),
        0,
        "temporary files are removed"
    );
    assert_eq!(s.json("/pulp/api/v3/artifacts/").await.1["count"], 0);

    // Correct upload.
    let r = upload(
        &s,
        &data,
        &[("sha256", sha.clone()), ("size", data.len().to_string())],
    )
    .await;
    assert_eq!(r.status(), 201);
    let href = r.headers()["location"].to_str().unwrap().to_owned();
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["pulp_href"], href.as_str());
    assert_eq!(a["sha256"], sha.as_str());
    assert_eq!(a["size"], data.len());
    assert_eq!(a["md5"], Value::Null);
    assert_eq!(a["file"], format!("artifact/{}/{}", &sha[..2], &sha[2..]));
    assert!(a["prn"].as_str().unwrap().starts_with("prn:core.artifact:"));
    let on_disk = std::fs::read(env.dir.path().join(a["file"].as_str().unwrap())).unwrap();
    assert_eq!(on_disk, data);

    // Duplicate.
    let r = upload(&s, &data, &[]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"non_field_errors": [format!("Artifact with sha256 checksum of '{sha}' already exists.")]})
    );
    // Missing file.
    let r = s
        .client
        .post(s.url("/pulp/api/v3/artifacts/"))
        .basic_auth("admin", Some(PASSWORD))
        .multipart(reqwest::multipart::Form::new().text("size", "1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"file": ["No file was submitted."]})
    );

    // Filters and show.
    assert_eq!(
        s.json(&format!("/pulp/api/v3/artifacts/?sha256={sha}"))
            .await
            .1["count"],
        1
    );
    assert_eq!(
        s.json(&format!(
            "/pulp/api/v3/artifacts/?sha256={}",
            "1".repeat(64)
        ))
        .await
        .1["count"],
        0
    );
    let (code, one) = s.json(&href).await;
    assert_eq!((code, one["sha256"].clone()), (200, json!(sha)));
    let (_, some) = s.json(&format!("{href}?fields=sha256,size")).await;
    assert_eq!(some, json!({"sha256": sha, "size": data.len()}));

    // Pulp 3.123's artifact policy allows no `destroy`, not even to a superuser: an artifact
    // goes with orphan cleanup.
    let r = s
        .client
        .delete(s.url(&href))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.json(&href).await.0, 200);
    let (code, t) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/orphans/cleanup/",
            json!({"orphan_protection_time": 0}),
        )
        .await;
    assert_eq!(code, 202, "{t}");
    s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(s.json(&href).await.0, 404);
    assert_eq!(stored_files(&env), 0);
}

async fn orphan_cleanup_removes_unreferenced_artifacts(env: Env) {
    let s = env.start(&[]);
    let r = upload(&s, b"orphan bytes", &[]).await;
    assert_eq!(r.status(), 201);
    let a: Value = r.json().await.unwrap();
    let href = a["pulp_href"].as_str().unwrap();

    // The default protection time keeps a fresh orphan.
    let r = s
        .post("/pulp/api/v3/orphans/cleanup/", &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let t = s
        .finished(r.json::<Value>().await.unwrap()["task"].as_str().unwrap())
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(s.json(href).await.0, 200);

    let r = s
        .post(
            "/pulp/api/v3/orphans/cleanup/",
            &json!({"orphan_protection_time": -1}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["orphan_protection_time"].is_array());

    let r = s
        .post(
            "/pulp/api/v3/orphans/cleanup/",
            &json!({"orphan_protection_time": 0}),
        )
        .send()
        .await
        .unwrap();
    let t = s
        .finished(r.json::<Value>().await.unwrap()["task"].as_str().unwrap())
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["name"], "pulpcore.app.tasks.orphan.orphan_cleanup");
    let codes: Vec<&str> = t["progress_reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["clean-up.content", "clean-up.artifacts"]);
    assert_eq!(t["progress_reports"][1]["done"], 1);
    assert!(
        t["reserved_resources_record"][0]
            .as_str()
            .unwrap()
            .ends_with(":orphans")
    );
    assert_eq!(s.json(href).await.0, 404);
    assert_eq!(stored_files(&env), 0);
}

async fn lists_paginate_filter_and_select(env: Env) {
    let s = env.start(&[]);
    // One at a time, so that they also start in order (`ordering=-started_at` below): several
    // workers may start tasks dispatched together in any order.
    let mut hrefs = Vec::new();
    for i in 0..5 {
        let h = s.test_task(json!({"result": i})).await;
        assert_eq!(s.finished(&h).await["state"], "completed");
        hrefs.push(h);
    }
    let r = s
        .get("/pulp/api/v3/tasks/?limit=2&offset=2&fields=pulp_href,state")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "pulp.example.com")
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["count"], 5);
    assert_eq!(
        page["next"],
        "https://pulp.example.com/pulp/api/v3/tasks/?fields=pulp_href%2Cstate&limit=2&offset=4"
    );
    assert_eq!(
        page["previous"],
        "https://pulp.example.com/pulp/api/v3/tasks/?fields=pulp_href%2Cstate&limit=2"
    );
    assert_eq!(page["results"][0].as_object().unwrap().len(), 2);
    // Newest first.
    let (_, all) = s.json("/pulp/api/v3/tasks/").await;
    assert_eq!(all["results"][0]["pulp_href"], hrefs[4].as_str());
    assert_eq!(all["results"][4]["pulp_href"], hrefs[0].as_str());
    // Walk `next` to the end.
    let mut url = "/pulp/api/v3/tasks/?limit=2".to_owned();
    let mut seen = 0;
    for _ in 0..10 {
        let (_, p) = s.json(&url).await;
        seen += p["results"].as_array().unwrap().len();
        match p["next"].as_str() {
            Some(n) => url = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, 5);
    let (_, ex) = s
        .json("/pulp/api/v3/tasks/?exclude_fields=progress_reports,error")
        .await;
    assert!(
        ex["results"][0].get("progress_reports").is_none()
            && ex["results"][0].get("state").is_some()
    );
    assert_eq!(
        s.json("/pulp/api/v3/tasks/?state=completed&name=pith.app.tasks.test.sleep")
            .await
            .1["count"],
        5
    );
    assert_eq!(
        s.json("/pulp/api/v3/tasks/?state__in=failed,canceled")
            .await
            .1["count"],
        0
    );
    assert_eq!(
        s.json("/pulp/api/v3/tasks/?name__contains=test.sl").await.1["count"],
        5
    );
    assert_eq!(
        s.json("/pulp/api/v3/tasks/?started_at__gte=2000-01-01T00:00:00Z")
            .await
            .1["count"],
        5
    );
    assert_eq!(
        s.json("/pulp/api/v3/tasks/?started_at__gte=not-a-date")
            .await
            .0,
        400
    );
    assert_eq!(s.json("/pulp/api/v3/tasks/?state=bogus").await.0, 400);
    assert_eq!(
        s.json(&format!("/pulp/api/v3/tasks/?pulp_href__in={}", hrefs[1]))
            .await
            .1["count"],
        1
    );
    let (code, huge) = s
        .json("/pulp/api/v3/tasks/?limit=18446744073709551615&offset=9223372036854775807")
        .await;
    assert_eq!(
        (code, huge["results"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{huge}"
    );
    let (_, mini) = s.json("/pulp/api/v3/tasks/?minimal=true&limit=1").await;
    assert!(mini["results"][0].get("progress_reports").is_none());
    assert_eq!(
        s.json("/pulp/api/v3/tasks/?ordering=-started_at&limit=1")
            .await
            .1["results"][0]["pulp_href"],
        hrefs[4].as_str()
    );
}

/// The status line and headers of `GET status/` with `extra` header lines, read off the socket.
async fn raw_head(s: &crate::support::Server, extra: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /pulp/api/v3/status/ HTTP/1.1\r\nHost: {addr}\r\n{extra}\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    conn.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned() + "\r\n"
}
