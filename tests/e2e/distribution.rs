//! The whole path: sync, publish, distribute, download through the content app.

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixture::Fixture;
use crate::support::{Env, Server};

both_backends!(publish_distribute_and_download);

async fn task(s: &Server, path: &str, body: Value) -> Value {
    let (code, t) = s.send(reqwest::Method::POST, path, body).await;
    assert_eq!(code, 202, "{path}: {t}");
    let t = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(t["state"], "completed", "{t}");
    t
}

async fn publish_distribute_and_download(env: Env) {
    let s = env.start(&[]);
    let fx = Fixture::start().await;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    fx.publish(&[
        ("readme.txt", b"hello content app".to_vec()),
        ("dir/data.bin", big.clone()),
        ("dir/sub/x.json", b"{}".to_vec()),
    ]);
    let (_, remote) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "fx", "url": fx.manifest_url()}),
        )
        .await;
    let (_, repo) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "pub", "remote": remote["pulp_href"]}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().unwrap().to_owned();
    task(&s, &format!("{repo_href}sync/"), json!({})).await;

    let t = task(
        &s,
        "/pulp/api/v3/publications/file/file/",
        json!({"repository": repo_href}),
    )
    .await;
    assert_eq!(t["name"], "pulp_file.app.tasks.publishing.publish");
    let publication = t["result"].clone();
    assert_eq!(
        publication["repository_version"],
        format!("{repo_href}versions/1/")
    );
    assert_eq!(publication["manifest"], "PULP_MANIFEST");
    assert_eq!(t["created_resources"][0], publication["pulp_href"]);
    let (code, e) = s.send(reqwest::Method::POST, "/pulp/api/v3/publications/file/file/",
        json!({"repository": repo_href, "repository_version": publication["repository_version"]}),
    )
    .await;
    assert_eq!(code, 400, "{e}");

    let t = task(&s, "/pulp/api/v3/distributions/file/file/", json!({"name": "demo", "base_path": "demo", "publication": publication["pulp_href"], "repository": null})).await;
    let dist = t["result"].clone();
    assert_eq!(
        (dist["base_path"].as_str(), dist["base_url"].as_str()),
        (Some("demo"), Some("/pulp/content/demo/"))
    );
    assert_eq!(dist["publication"], publication["pulp_href"]);
    assert_eq!(
        s.json(publication["pulp_href"].as_str().unwrap()).await.1["distributions"],
        json!([dist["pulp_href"]])
    );

    // Downloads.
    let c = &s.client;
    let get = |p: &str| c.get(s.url(p));
    let r = get("/pulp/content/demo/readme.txt").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert!(r.headers()["etag"].to_str().unwrap().starts_with('"'));
    let etag = r.headers()["etag"].clone();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello content app");
    let r = get("/pulp/content/demo/dir/data.bin").send().await.unwrap();
    assert_eq!(
        r.headers()["content-length"],
        big.len().to_string().as_str()
    );
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        big.as_slice(),
        "a large file streams intact"
    );
    let r = get("/pulp/content/demo/dir/data.bin")
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 100-199/{}", big.len()).as_str()
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &big[100..200]);
    let r = get("/pulp/content/demo/readme.txt")
        .header("Range", "bytes=999-")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["content-range"].to_str().unwrap()
        ),
        (416, "bytes */17")
    );
    let r = get("/pulp/content/demo/readme.txt")
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = c
        .head(s.url("/pulp/content/demo/readme.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["content-length"].to_str().unwrap()
        ),
        (200, "17")
    );
    let manifest = get("/pulp/content/demo/PULP_MANIFEST")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(manifest.lines().count(), 3);
    assert!(manifest.contains("dir/data.bin,"));

    // Listings, redirects, 404s, no escapes.
    let listing = get("/pulp/content/demo/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listing.contains("PULP_MANIFEST")
            && listing.contains("dir/")
            && listing.contains("readme.txt"),
        "{listing}"
    );
    let sub = get("/pulp/content/demo/dir/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        sub.contains("data.bin") && sub.contains("sub/") && !sub.contains("readme"),
        "{sub}"
    );
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(
        no_redirect
            .get(s.url("/pulp/content/demo"))
            .send()
            .await
            .unwrap()
            .status(),
        301
    );
    assert_eq!(
        no_redirect
            .get(s.url("/pulp/content/demo/dir"))
            .send()
            .await
            .unwrap()
            .status(),
        301
    );
    assert!(
        get("/pulp/content/")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("demo/")
    );
    for bad in [
        "/pulp/content/demo/nope.txt",
        "/pulp/content/nothing/x",
        "/pulp/content/demo/%2e%2e/x",
    ] {
        assert_eq!(get(bad).send().await.unwrap().status(), 404, "{bad}");
    }

    // Validation and other distribution targets.
    let (code, e) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/distributions/file/file/",
            json!({"name": "x", "base_path": "demo/sub"}),
        )
        .await;
    assert_eq!(
        (code, e),
        (
            400,
            json!({"base_path": {"base_path": "Overlaps with an existing distribution."}})
        )
    );
    let (code, e) = s.send(reqwest::Method::POST, "/pulp/api/v3/distributions/file/file/", json!({"name": "y", "base_path": "y", "repository": repo_href, "publication": publication["pulp_href"]})).await;
    assert_eq!(
        (code, e),
        (
            400,
            json!({"non_field_errors": ["Only one of the attributes 'repository' and 'publication' may be used simultaneously."]})
        )
    );
    task(
        &s,
        "/pulp/api/v3/distributions/file/file/",
        json!({"name": "latest", "base_path": "latest/files", "repository": repo_href}),
    )
    .await;
    assert_eq!(
        get("/pulp/content/latest/files/readme.txt")
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "a repository serves its latest publication"
    );
    assert!(
        get("/pulp/content/latest/")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("files/")
    );
    let (_, bare) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "unpublished"}),
        )
        .await;
    task(
        &s,
        "/pulp/api/v3/distributions/file/file/",
        json!({"name": "np", "base_path": "np", "repository": bare["pulp_href"]}),
    )
    .await;
    assert_eq!(
        get("/pulp/content/np/anything")
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "no publication, nothing served"
    );
    assert_eq!(
        s.json(&format!(
            "/pulp/api/v3/publications/file/file/?repository={repo_href}"
        ))
        .await
        .1["count"],
        1
    );
    assert_eq!(
        s.json("/pulp/api/v3/distributions/?base_path__contains=lat")
            .await
            .1["count"],
        1
    );
    // Lists render whole pages at once; ordering is honoured both ways.
    let (_, t) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/publications/file/file/",
            json!({"repository": repo_href}),
        )
        .await;
    s.finished(t["task"].as_str().unwrap()).await;
    let created = |list: &Value| -> Vec<String> {
        list["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pulp_created"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, asc) = s
        .json("/pulp/api/v3/publications/?ordering=pulp_created")
        .await;
    let (_, desc) = s
        .json("/pulp/api/v3/publications/?ordering=-pulp_created")
        .await;
    let mut want = created(&asc);
    assert!(want.len() >= 2, "{asc}");
    assert!(want.windows(2).all(|w| w[0] <= w[1]), "{asc}");
    want.reverse();
    assert_eq!(created(&desc), want);
    let (_, dists) = s.json("/pulp/api/v3/distributions/file/file/").await;
    for d in dists["results"].as_array().unwrap() {
        if let Some(v) = d["repository_version"].as_str() {
            assert_eq!(s.json(v).await.0, 200, "{d}");
        }
    }

    // Update (immediate task) and delete.
    let dist_href = dist["pulp_href"].as_str().unwrap().to_owned();
    let r = s
        .client
        .patch(s.url(&dist_href))
        .basic_auth("admin", Some(crate::support::PASSWORD))
        .json(&json!({"base_path": "moved"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(s.json(&dist_href).await.1["base_path"], "moved");
    assert_eq!(
        get("/pulp/content/moved/readme.txt")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = s
        .client
        .delete(s.url(publication["pulp_href"].as_str().unwrap()))
        .basic_auth("admin", Some(crate::support::PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        get("/pulp/content/moved/readme.txt")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let r = s
        .client
        .delete(s.url(&dist_href))
        .basic_auth("admin", Some(crate::support::PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(s.json(&dist_href).await.0, 404);
}

both_backends!(autopublish_retention_and_serialized_sync_publish);

async fn autopublish_retention_and_serialized_sync_publish(env: Env) {
    let s = env.start(&[]);
    let fx = Fixture::start().await;
    fx.publish(&[("a.txt", b"one".to_vec())]);
    let (_, remote) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "fx", "url": fx.manifest_url()}),
        )
        .await;
    let (_, repo) = s.send(reqwest::Method::POST, "/pulp/api/v3/repositories/file/file/", json!({"name": "auto", "remote": remote["pulp_href"], "autopublish": true, "retain_repo_versions": 2})).await;
    let repo_href = repo["pulp_href"].as_str().unwrap().to_owned();
    task(
        &s,
        "/pulp/api/v3/distributions/file/file/",
        json!({"name": "auto", "base_path": "auto", "repository": repo_href}),
    )
    .await;

    // A sync and a publish of the same repository, dispatched together, never overlap.
    let (_, t1) = s
        .send(
            reqwest::Method::POST,
            &format!("{repo_href}sync/"),
            json!({}),
        )
        .await;
    let (_, t2) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/publications/file/file/",
            json!({"repository": repo_href}),
        )
        .await;
    let (a, b) = (
        s.finished(t1["task"].as_str().unwrap()).await,
        s.finished(t2["task"].as_str().unwrap()).await,
    );
    assert_eq!(
        (a["state"].as_str(), b["state"].as_str()),
        (Some("completed"), Some("completed")),
        "{a}\n{b}"
    );
    let (a_start, a_end, b_start, b_end) = (
        a["started_at"].as_str().unwrap(),
        a["finished_at"].as_str().unwrap(),
        b["started_at"].as_str().unwrap(),
        b["finished_at"].as_str().unwrap(),
    );
    assert!(
        b_start >= a_end || a_start >= b_end,
        "sync {a_start}..{a_end} overlaps publish {b_start}..{b_end}"
    );

    // Autopublish: the new version is served at once.
    assert_eq!(
        s.client
            .get(s.url("/pulp/content/auto/a.txt"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "one"
    );
    for (i, body) in [b"two".to_vec(), b"three".to_vec(), b"four".to_vec()]
        .into_iter()
        .enumerate()
    {
        fx.publish(&[("a.txt", body.clone())]);
        let t = task(&s, &format!("{repo_href}sync/"), json!({})).await;
        assert_eq!(t["result"]["number"], i + 2);
        assert_eq!(
            s.client
                .get(s.url("/pulp/content/auto/a.txt"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .as_ref(),
            body.as_slice()
        );
    }
    // retain_repo_versions = 2: only the newest two unprotected versions stay (autopublished ones are protected).
    let (_, versions) = s.json(&format!("{repo_href}versions/")).await;
    let numbers: Vec<i64> = versions["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert!(numbers.contains(&4) && numbers.contains(&3), "{numbers:?}");
}

both_backends!(checkpoints_serve_dated_views_and_protect_their_versions);

/// Checkpoint publications and a checkpoint distribution, as Pulp serves them: the base path
/// lists the checkpoints, each serves its own version's files under its timestamp, a version a
/// distributed checkpoint publishes survives `retain_repo_versions`, and `retain_checkpoints`
/// demotes the oldest.
async fn checkpoints_serve_dated_views_and_protect_their_versions(env: Env) {
    let s = env.start(&[]);
    let fx = Fixture::start().await;
    fx.publish(&[("a.txt", b"one".to_vec())]);
    let (_, remote) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "fx", "url": fx.manifest_url()}),
        )
        .await;
    let (_, repo) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "cp", "remote": remote["pulp_href"], "retain_repo_versions": 1}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().unwrap().to_owned();
    let publications = "/pulp/api/v3/publications/file/file/";
    let distributions = "/pulp/api/v3/distributions/file/file/";

    // `checkpoint` goes with `repository` only, on publications and distributions alike.
    let (code, e) = s
        .send(
            reqwest::Method::POST,
            publications,
            json!({"repository_version": format!("{repo_href}versions/0/"), "checkpoint": true}),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    assert_eq!(
        e["non_field_errors"][0],
        "'checkpoint' may only be used with 'repository'"
    );
    let (code, e) = s
        .send(
            reqwest::Method::POST,
            distributions,
            json!({"name": "cp", "base_path": "cp", "checkpoint": true}),
        )
        .await;
    assert_eq!(code, 400, "{e}");

    task(&s, &format!("{repo_href}sync/"), json!({})).await;
    let first = task(
        &s,
        publications,
        json!({"repository": repo_href, "checkpoint": true}),
    )
    .await["result"]
        .clone();
    assert_eq!(first["checkpoint"], true);
    let dist = task(
        &s,
        distributions,
        json!({"name": "cp", "base_path": "cp", "repository": repo_href, "checkpoint": true}),
    )
    .await["result"]
        .clone();
    assert_eq!(dist["checkpoint"], true);
    fx.publish(&[("a.txt", b"one".to_vec()), ("b.txt", b"two".to_vec())]);
    task(&s, &format!("{repo_href}sync/"), json!({})).await;
    let second = task(
        &s,
        publications,
        json!({"repository": repo_href, "checkpoint": true}),
    )
    .await["result"]
        .clone();
    fx.publish(&[("c.txt", b"three".to_vec())]);
    task(&s, &format!("{repo_href}sync/"), json!({})).await;

    // Both checkpointed versions survive retain_repo_versions = 1; so does the latest.
    let (_, versions) = s.json(&format!("{repo_href}versions/")).await;
    let numbers: Vec<i64> = versions["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1], "{versions}");
    let (_, listed) = s.json(&format!("{publications}?checkpoint=true")).await;
    assert_eq!(listed["count"], 2, "{listed}");
    let (_, listed) = s.json(&format!("{distributions}?checkpoint=false")).await;
    assert_eq!(listed["count"], 0, "{listed}");

    // The base path lists the checkpoints; each serves its own version.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let stamp = |p: &Value| {
        let t = pith_entities::time::parse_rfc3339(p["pulp_created"].as_str().unwrap()).unwrap();
        pith_entities::time::to_checkpoint(t)
    };
    let (t1, t2) = (stamp(&first), stamp(&second));
    let listing = s
        .client
        .get(s.url("/pulp/content/cp/"))
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), 200);
    let listing = listing.text().await.unwrap();
    assert!(
        listing.contains(&format!("href=\"./{t1}/\"")) && listing.contains(&format!("./{t2}/")),
        "{listing}"
    );
    let r = plain
        .get(s.url(&format!("/pulp/content/cp/{t2}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    let got = |path: String| {
        let c = s.client.clone();
        let url = s.url(&path);
        async move {
            let r = c.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(
        got(format!("/pulp/content/cp/{t2}/b.txt")).await,
        (200, "two".into())
    );
    // c.txt was never checkpointed; nothing before the first checkpoint, in the future, or
    // that is not a timestamp exists.
    assert_eq!(got(format!("/pulp/content/cp/{t2}/c.txt")).await.0, 404);
    assert_eq!(
        got("/pulp/content/cp/20000101T000000Z/a.txt".into())
            .await
            .0,
        404
    );
    assert_eq!(
        got("/pulp/content/cp/29991231T000000Z/a.txt".into())
            .await
            .0,
        404
    );
    assert_eq!(got("/pulp/content/cp/latest/a.txt".into()).await.0, 404);
    if t1 != t2 {
        assert_eq!(got(format!("/pulp/content/cp/{t1}/b.txt")).await.0, 404);
        assert_eq!(
            got(format!("/pulp/content/cp/{t1}/a.txt")).await,
            (200, "one".into())
        );
    }
    // A time after the newest checkpoint redirects to it (or is it, within its second).
    let now = pith_entities::time::to_checkpoint(pith_entities::time::now_micros());
    let r = plain
        .get(s.url(&format!("/pulp/content/cp/{now}/b.txt")))
        .send()
        .await
        .unwrap();
    if now == t2 {
        assert_eq!(r.status(), 200);
    } else {
        assert_eq!(r.status(), 301);
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("/pulp/content/cp/{t2}/b.txt")
        );
    }

    // retain_checkpoints = 1 keeps the newest checkpoint only.
    let (code, t) = s
        .send(
            reqwest::Method::PATCH,
            &repo_href,
            json!({"retain_checkpoints": 1}),
        )
        .await;
    assert_eq!(code, 202, "{t}");
    s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(
        s.json(first["pulp_href"].as_str().unwrap()).await.1["checkpoint"],
        false
    );
    assert_eq!(
        s.json(second["pulp_href"].as_str().unwrap()).await.1["checkpoint"],
        true
    );
}
