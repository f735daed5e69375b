//! Chunked uploads (`uploads/`, chunk `PUT`s, `commit/`), content from an upload, from a
//! `file_url` and through the synchronous `content/file/files/upload/`; repository version
//! delete and repair.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::both_backends;
use crate::fixture::Fixture;
use crate::support::{Env, PASSWORD, Server};

both_backends!(
    chunked_uploads_and_content_sources,
    version_delete_and_repair
);

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// `PUT` one chunk; returns the status and body.
async fn put_chunk(
    s: &Server,
    href: &str,
    range: Option<String>,
    bytes: &[u8],
    chunk_sha: Option<String>,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("chunk"),
    );
    if let Some(h) = chunk_sha {
        form = form.text("sha256", h);
    }
    let mut rq = s
        .client
        .put(s.url(href))
        .basic_auth("admin", Some(PASSWORD))
        .multipart(form);
    if let Some(r) = range {
        rq = rq.header("Content-Range", r);
    }
    let r = rq.send().await.expect("put");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Creates an upload of `data` sent in `chunk`-byte pieces (last piece first); returns its href.
async fn upload_in_chunks(s: &Server, data: &[u8], chunk: usize) -> String {
    let (code, u) = s
        .send(
            Method::POST,
            "/pulp/api/v3/uploads/",
            json!({"size": data.len()}),
        )
        .await;
    assert_eq!(code, 201, "{u}");
    let href = u["pulp_href"].as_str().expect("href").to_owned();
    let mut pieces: Vec<(usize, &[u8])> = data
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| (i * chunk, c))
        .collect();
    pieces.reverse();
    for (start, c) in pieces {
        let range = format!("bytes {start}-{}/{}", start + c.len() - 1, data.len());
        let (code, v) = put_chunk(s, &href, Some(range), c, Some(sha(c))).await;
        assert_eq!(code, 200, "{v}");
    }
    href
}

async fn chunked_uploads_and_content_sources(env: Env) {
    let s = env.start(&[]);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();

    // Chunk validation.
    let href = upload_in_chunks(&s, &data, 128 * 1024).await;
    let (code, v) = put_chunk(&s, &href, None, b"xx", None).await;
    assert_eq!(code, 400, "missing Content-Range: {v}");
    let (code, v) = put_chunk(&s, &href, Some("bytes 0-9/300000".into()), b"short", None).await;
    assert_eq!(code, 400, "length mismatch: {v}");
    let (code, v) = put_chunk(
        &s,
        &href,
        Some("bytes 299999-300000/300000".into()),
        b"ab",
        None,
    )
    .await;
    assert_eq!(code, 400, "past the end: {v}");
    let (code, v) = put_chunk(
        &s,
        &href,
        Some("bytes 0-1/300000".into()),
        b"ab",
        Some(sha(b"other")),
    )
    .await;
    assert_eq!(code, 400, "chunk checksum: {v}");
    assert!(v["sha256"].is_array(), "{v}");
    // Re-sending the first chunk replaces it (the bytes are the same).
    let first = &data[..128 * 1024];
    let (code, _) = put_chunk(
        &s,
        &href,
        Some(format!("bytes 0-{}/300000", first.len() - 1)),
        first,
        None,
    )
    .await;
    assert_eq!(code, 200);
    let (_, detail) = s.json(&href).await;
    let chunks = detail["chunks"].as_array().expect("chunks");
    assert_eq!(chunks.len(), 3, "{detail}");
    assert_eq!(chunks[0], json!({"offset": 0, "size": 131072}));
    let (_, list) = s.json("/pulp/api/v3/uploads/?size__gte=300000").await;
    assert_eq!(list["count"], 1, "{list}");

    // A commit with the wrong checksum fails and keeps the upload; the right one makes the
    // artifact and removes the upload.
    let (code, t) = s
        .send(
            Method::POST,
            &format!("{href}commit/"),
            json!({"sha256": sha(b"wrong")}),
        )
        .await;
    assert_eq!(code, 202, "{t}");
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "failed", "{t}");
    assert_eq!(t["name"], "pulpcore.app.tasks.upload.commit");
    assert!(
        t["error"]["description"]
            .as_str()
            .unwrap_or("")
            .contains("does not match"),
        "{t}"
    );
    assert_eq!(s.json(&href).await.0, 200);
    let (code, v) = s
        .send(
            Method::POST,
            &format!("{href}commit/"),
            json!({"sha256": "nope"}),
        )
        .await;
    assert_eq!(code, 400, "{v}");
    let (_, t) = s
        .send(
            Method::POST,
            &format!("{href}commit/"),
            json!({"sha256": sha(&data)}),
        )
        .await;
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    let artifact = t["created_resources"][0]
        .as_str()
        .expect("artifact")
        .to_owned();
    let (_, a) = s.json(&artifact).await;
    assert_eq!(a["sha256"], sha(&data), "{a}");
    assert_eq!(a["size"], data.len());
    assert_eq!(s.json(&href).await.0, 404, "a committed upload is gone");

    // Content from an upload, straight into a repository (JSON body, as the bindings send).
    let (_, repo) = s
        .send(
            Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "up"}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().expect("repo").to_owned();
    let other: Vec<u8> = data.iter().rev().copied().collect();
    let href = upload_in_chunks(&s, &other, 100_000).await;
    let (code, t) = s
        .send(
            Method::POST,
            "/pulp/api/v3/content/file/files/",
            json!({"relative_path": "big/other.bin", "upload": href, "repository": repo_href}),
        )
        .await;
    assert_eq!(code, 202, "{t}");
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["result"]["sha256"], sha(&other), "{t}");
    assert_eq!(t["created_resources"].as_array().map(Vec::len), Some(2));
    assert_eq!(s.json(&href).await.0, 404);
    // An incomplete upload cannot become content.
    let (_, u) = s
        .send(Method::POST, "/pulp/api/v3/uploads/", json!({"size": 10}))
        .await;
    let (_, t) = s
        .send(
            Method::POST,
            "/pulp/api/v3/content/file/files/",
            json!({"relative_path": "x", "upload": u["pulp_href"]}),
        )
        .await;
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "failed", "{t}");
    assert!(
        t["error"]["description"]
            .as_str()
            .unwrap_or("")
            .contains("incomplete"),
        "{t}"
    );
    let (code, _) = s
        .send(
            Method::DELETE,
            u["pulp_href"].as_str().expect("href"),
            Value::Null,
        )
        .await;
    assert_eq!(code, 204);

    // Content from a URL.
    let fx = Fixture::start().await;
    std::fs::write(fx.dir.path().join("remote.txt"), b"from far away").expect("write");
    let (_, t) = s
        .send(
            Method::POST,
            "/pulp/api/v3/content/file/files/",
            json!({"relative_path": "far.txt", "file_url": format!("{}/remote.txt", fx.base),
                   "downloader_config": {"max_retries": 1}}),
        )
        .await;
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["result"]["sha256"], sha(b"from far away"));
    let (_, t) = s
        .send(
            Method::POST,
            "/pulp/api/v3/content/file/files/",
            json!({"relative_path": "gone.txt", "file_url": format!("{}/missing.txt", fx.base)}),
        )
        .await;
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "failed", "{t}");
    assert!(
        t["error"]["description"]
            .as_str()
            .unwrap_or("")
            .contains("404"),
        "{t}"
    );
    let (code, v) = s
        .send(
            Method::POST,
            "/pulp/api/v3/content/file/files/",
            json!({"relative_path": "y", "file_url": "ftp://x/y", "upload": "/nope/"}),
        )
        .await;
    assert_eq!(code, 400, "{v}");
    assert!(v["file_url"].is_array() && v["upload"].is_array(), "{v}");

    // The synchronous upload endpoint answers 201 with the content.
    let form = reqwest::multipart::Form::new()
        .text("relative_path", "sync/now.txt")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"right now".to_vec()).file_name("now.txt"),
        );
    let r = s
        .client
        .post(s.url("/pulp/api/v3/content/file/files/upload/"))
        .basic_auth("admin", Some(PASSWORD))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status().as_u16(), 201);
    let c: Value = r.json().await.expect("json");
    assert_eq!(c["relative_path"], "sync/now.txt");
    assert_eq!(c["sha256"], sha(b"right now"));
}

async fn version_delete_and_repair(env: Env) {
    let s = env.start(&[]);
    let fx = Fixture::start().await;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("a.txt", b"first file".to_vec()),
        ("d/b.txt", b"second file".to_vec()),
    ];
    fx.publish(&files);
    let (_, remote) = s
        .send(
            Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "r", "url": fx.manifest_url()}),
        )
        .await;
    let (_, repo) = s
        .send(
            Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "v", "remote": remote["pulp_href"]}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().expect("repo").to_owned();
    let sync = || async {
        let (_, t) = s
            .send(Method::POST, &format!("{repo_href}sync/"), json!({}))
            .await;
        let t = s.finished(t["task"].as_str().expect("task")).await;
        assert_eq!(t["state"], "completed", "{t}");
    };
    sync().await; // version 1: a, b
    fx.publish(&[("a.txt", b"first file".to_vec())]);
    let (_, t) = s
        .send(
            Method::POST,
            &format!("{repo_href}sync/"),
            json!({"mirror": true}),
        )
        .await;
    s.finished(t["task"].as_str().expect("task")).await; // version 2: a

    // Repair: one stored file deleted, one corrupted; both come back from the remote.
    let v2 = format!("{repo_href}versions/2/");
    let (_, content) = s
        .json(&format!(
            "/pulp/api/v3/content/file/files/?repository_version={v2}"
        ))
        .await;
    let art = content["results"][0]["artifact"]
        .as_str()
        .expect("artifact")
        .to_owned();
    let (_, a) = s.json(&art).await;
    let path = env.dir.path().join(a["file"].as_str().expect("file"));
    std::fs::write(&path, b"tampered!!").expect("corrupt");
    let (code, t) = s
        .send(Method::POST, &format!("{v2}repair/"), json!({}))
        .await;
    assert_eq!(code, 202, "{t}");
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(std::fs::read(&path).expect("repaired"), b"first file");
    let reports = t["progress_reports"].as_array().expect("reports");
    let code_done = |c: &str| {
        reports
            .iter()
            .find(|r| r["code"] == c)
            .map(|r| r["done"].clone())
    };
    assert_eq!(code_done("repair.corrupted"), Some(json!(1)), "{t}");
    assert_eq!(code_done("repair.repaired"), Some(json!(1)), "{t}");
    std::fs::remove_file(&path).expect("delete");
    let (_, t) = s
        .send(
            Method::POST,
            &format!("{v2}repair/"),
            json!({"verify_checksums": false}),
        )
        .await;
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(std::fs::read(&path).expect("repaired"), b"first file");
    let (code, _) = s
        .send(
            Method::POST,
            &format!("{v2}repair/"),
            json!({"verify_checksums": 3}),
        )
        .await;
    assert_eq!(code, 400);

    // Deleting version 1 keeps version 2's content; deleting down to one version is refused.
    let (code, t) = s
        .send(
            Method::DELETE,
            &format!("{repo_href}versions/1/"),
            Value::Null,
        )
        .await;
    assert_eq!(code, 202, "{t}");
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(s.json(&format!("{repo_href}versions/1/")).await.0, 404);
    let (_, v) = s.json(&v2).await;
    assert_eq!(
        v["content_summary"]["present"]["file.file"]["count"], 1,
        "{v}"
    );
    let (_, t) = s
        .send(
            Method::DELETE,
            &format!("{repo_href}versions/0/"),
            Value::Null,
        )
        .await;
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    let (_, t) = s.send(Method::DELETE, &v2, Value::Null).await;
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "failed", "{t}");
    assert!(
        t["error"]["description"]
            .as_str()
            .unwrap_or("")
            .contains("at least one repository version"),
        "{t}"
    );
    let (_, v) = s.json(&v2).await;
    assert_eq!(
        v["content_summary"]["present"]["file.file"]["count"], 1,
        "{v}"
    );
}
