//! Upgrades keep data: a data directory written by an earlier binary (before the file plugin
//! had migrations of its own; `tests/fixtures/upgrade/make.sh` made it) is migrated in place
//! by this one, and everything in it is served as before and can still be changed.

use crate::support::Env;

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read fixture") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

#[tokio::test]
async fn a_data_directory_of_the_previous_release_is_upgraded_in_place() {
    let env = Env::new(crate::support::Backend::Sqlite).expect("sqlite");
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade/data");
    copy_dir(&fixture, env.dir.path());
    let s = env.start(&[]);

    let (code, repos) = s.json("/pulp/api/v3/repositories/file/file/").await;
    assert_eq!(code, 200, "{repos}");
    assert_eq!(repos["count"], 1, "{repos}");
    let repo = &repos["results"][0];
    assert_eq!(repo["name"], "up");
    assert_eq!(repo["manifest"], "PULP_MANIFEST");
    let repo_href = repo["pulp_href"].as_str().expect("href").to_owned();
    assert_eq!(
        repo["latest_version_href"],
        format!("{repo_href}versions/2/")
    );

    let (_, v2) = s.json(&format!("{repo_href}versions/2/")).await;
    assert_eq!(
        v2["content_summary"]["present"]["file.file"]["count"], 3,
        "{v2}"
    );
    assert_eq!(
        v2["content_summary"]["added"]["file.file"]["count"], 1,
        "{v2}"
    );
    let (_, v1) = s.json(&format!("{repo_href}versions/1/")).await;
    assert_eq!(
        v1["content_summary"]["present"]["file.file"]["count"], 2,
        "{v1}"
    );

    let (_, content) = s
        .json(&format!(
            "/pulp/api/v3/content/file/files/?repository_version={repo_href}versions/2/"
        ))
        .await;
    let mut paths: Vec<&str> = content["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|c| c["relative_path"].as_str())
        .collect();
    paths.sort();
    assert_eq!(paths, ["a.txt", "c.txt", "sub/b.txt"]);

    let (_, pubs) = s.json("/pulp/api/v3/publications/file/file/").await;
    assert_eq!(pubs["count"], 1);
    // Its manifest moved from core's table into the plugin's (whose default is null).
    assert_eq!(pubs["results"][0]["manifest"], "PULP_MANIFEST", "{pubs}");
    assert_eq!(
        pubs["results"][0]["repository_version"],
        format!("{repo_href}versions/1/")
    );
    let (_, dists) = s.json("/pulp/api/v3/distributions/").await;
    assert_eq!(dists["count"], 2, "{dists}");

    // Served as before: the publication (with its PULP_MANIFEST), and through the repository's
    // distribution its latest publication (version 1: c.txt came later).
    let get = |p: &str| s.client.get(s.url(p)).send();
    let r = get("/pulp/content/up/pub/sub/b.txt").await.expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), "beta\n");
    let r = get("/pulp/content/up/pub/PULP_MANIFEST")
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(
        get("/pulp/content/up/pub/c.txt")
            .await
            .expect("get")
            .status(),
        404
    );
    assert_eq!(
        get("/pulp/content/up/latest/c.txt")
            .await
            .expect("get")
            .status(),
        404
    );
    let r = get("/pulp/content/up/latest/a.txt").await.expect("get");
    assert_eq!(r.text().await.expect("body"), "alpha\n");

    // And it can still change: a unit with an existing path replaces it in a new version.
    let form = reqwest::multipart::Form::new()
        .text("relative_path", "a.txt")
        .text("repository", repo_href.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"alpha 2\n".to_vec()).file_name("a.txt"),
        );
    let t: serde_json::Value = s
        .client
        .post(s.url("/pulp/api/v3/content/file/files/"))
        .basic_auth("admin", Some(crate::support::PASSWORD))
        .multipart(form)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    let (_, v3) = s.json(&format!("{repo_href}versions/3/")).await;
    assert_eq!(
        v3["content_summary"]["present"]["file.file"]["count"], 3,
        "{v3}"
    );
    let (code, t) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/publications/file/file/",
            serde_json::json!({"repository": repo_href}),
        )
        .await;
    assert_eq!(code, 202, "{t}");
    let t = s.finished(t["task"].as_str().expect("task")).await;
    assert_eq!(t["state"], "completed", "{t}");
    let r = get("/pulp/content/up/latest/a.txt").await.expect("get");
    assert_eq!(r.text().await.expect("body"), "alpha 2\n");
}
