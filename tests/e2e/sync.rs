//! Sync from a `PULP_MANIFEST` served by a local fixture server.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::both_backends;
use crate::fixture::Fixture;
use crate::support::{Env, Server};

both_backends!(sync_resync_mirror_and_failures);

async fn sync(s: &Server, repo: &str, body: Value) -> Value {
    let (code, t) = s
        .send(reqwest::Method::POST, &format!("{repo}sync/"), body)
        .await;
    assert_eq!(code, 202, "{t}");
    s.finished(t["task"].as_str().unwrap()).await
}

fn files(n: usize, tag: &str) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("dir/f{i}.txt"),
                format!("{tag}-{i}-").repeat(50 + i).into_bytes(),
            )
        })
        .collect()
}

async fn sync_resync_mirror_and_failures(env: Env) {
    let s = env.start(&[]);
    let fx = Fixture::start().await;
    let set: Vec<(String, Vec<u8>)> = files(10, "a");
    fx.publish(
        &set.iter()
            .map(|(p, b)| (p.as_str(), b.clone()))
            .collect::<Vec<_>>(),
    );

    let (_, remote) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "fx", "url": fx.manifest_url(), "download_concurrency": 3}),
        )
        .await;
    let (_, repo) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "synced", "remote": remote["pulp_href"]}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().unwrap().to_owned();

    let t = sync(&s, &repo_href, json!({})).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["name"], "pulp_file.app.tasks.synchronizing.synchronize");
    assert_eq!(t["result"]["number"], 1);
    assert_eq!(
        t["result"]["content_summary"]["present"]["file.file"]["count"],
        10
    );
    let codes: Vec<&str> = t["progress_reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "sync.downloading.metadata",
            "sync.parsing.metadata",
            "sync.downloading.artifacts",
            "associating.content"
        ]
    );
    assert_eq!(t["progress_reports"][2]["done"], 10);
    let reserved = t["reserved_resources_record"].as_array().unwrap();
    assert!(
        reserved.contains(&repo["prn"])
            && reserved.contains(&json!(format!(
                "shared:{}",
                remote["prn"].as_str().unwrap()
            )))
    );
    let files_url = format!(
        "/pulp/api/v3/content/file/files/?repository_version={repo_href}versions/1/&relative_path=dir/f3.txt"
    );
    let (_, c) = s.json(&files_url).await;
    assert_eq!(
        c["results"][0]["sha256"],
        hex::encode(Sha256::digest(&set[3].1))
    );
    let details = s.json(&repo_href).await.1["last_sync_details"].clone();
    assert_eq!(
        (
            details["mirror"].as_bool(),
            details["most_recent_version"].as_i64()
        ),
        (Some(false), Some(1))
    );

    // Nothing changed upstream: no new version, nothing downloaded but the manifest.
    let before = fx.hits.load(std::sync::atomic::Ordering::Relaxed);
    let t = sync(&s, &repo_href, json!({})).await;
    assert_eq!(
        (t["state"].as_str(), &t["result"]),
        (Some("completed"), &Value::Null)
    );
    assert_eq!(
        fx.hits.load(std::sync::atomic::Ordering::Relaxed) - before,
        1
    );
    assert_eq!(
        s.json(&repo_href).await.1["latest_version_href"],
        format!("{repo_href}versions/1/")
    );

    // Mirror: two files gone upstream, one new.
    let mut next: Vec<(String, Vec<u8>)> = set[..8].to_vec();
    next.push(("new.txt".into(), b"brand new".to_vec()));
    fx.publish(
        &next
            .iter()
            .map(|(p, b)| (p.as_str(), b.clone()))
            .collect::<Vec<_>>(),
    );
    let t = sync(&s, &repo_href, json!({"mirror": true})).await;
    let summary = &t["result"]["content_summary"];
    assert_eq!(
        (
            summary["present"]["file.file"]["count"].as_i64(),
            summary["added"]["file.file"]["count"].as_i64(),
            summary["removed"]["file.file"]["count"].as_i64()
        ),
        (Some(9), Some(1), Some(2)),
        "{t}"
    );

    // A corrupted file upstream: the sync fails, names the file, stores nothing of it.
    let root = fx.dir.path().join("repo");
    let good = b"the real bytes".to_vec();
    std::fs::write(root.join("bad.txt"), b"tampered bytes").unwrap();
    let mut m = std::fs::read_to_string(root.join("PULP_MANIFEST")).unwrap();
    m.push_str(&format!(
        "bad.txt,{},{}\n",
        hex::encode(Sha256::digest(&good)),
        b"tampered bytes".len()
    ));
    std::fs::write(root.join("PULP_MANIFEST"), m).unwrap();
    let before = fx.hits.load(std::sync::atomic::Ordering::Relaxed);
    let t = sync(&s, &repo_href, json!({})).await;
    assert_eq!(t["state"], "failed");
    let msg = t["error"]["description"].as_str().unwrap();
    assert!(
        msg.contains("bad.txt") && msg.contains("expected sha256"),
        "{msg}"
    );
    // Bytes that do not match are downloaded again, as often as the remote's max_retries
    // allows (Pulp's default: 3): the manifest, then bad.txt four times.
    assert_eq!(
        fx.hits.load(std::sync::atomic::Ordering::Relaxed) - before,
        1 + 4
    );
    let tampered = hex::encode(Sha256::digest(b"tampered bytes"));
    assert_eq!(
        s.json(&format!("/pulp/api/v3/artifacts/?sha256={tampered}"))
            .await
            .1["count"],
        0
    );
    assert_eq!(
        s.json(&repo_href).await.1["latest_version_href"],
        format!("{repo_href}versions/2/")
    );

    // A malformed manifest, a missing one, a repository without a remote.
    std::fs::write(root.join("PULP_MANIFEST"), "just,two\n").unwrap();
    let t = sync(&s, &repo_href, json!({})).await;
    assert!(
        t["error"]["description"]
            .as_str()
            .unwrap()
            .contains("Parsing of the manifest file failed on line:1"),
        "{t}"
    );
    let (_, gone) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "gone", "url": format!("{}/nowhere/PULP_MANIFEST", fx.base)}),
        )
        .await;
    let t = sync(&s, &repo_href, json!({"remote": gone["pulp_href"]})).await;
    assert!(
        t["error"]["description"].as_str().unwrap().contains("404"),
        "{t}"
    );
    let (_, bare) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "bare"}),
        )
        .await;
    let (code, e) = s
        .send(
            reqwest::Method::POST,
            &format!("{}sync/", bare["pulp_href"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(
        (code, e),
        (
            400,
            json!({"remote": ["This field is required since a remote is not set on the repository."]})
        )
    );
}
