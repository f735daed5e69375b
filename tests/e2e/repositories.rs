//! `repositories/file/file/`: create (with version 0), validation, filters, labels, updates,
//! versions, deletes.

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::Env;

both_backends!(repositories_crud_versions_and_tasks);

async fn repositories_crud_versions_and_tasks(env: Env) {
    use reqwest::Method as M;
    let s = env.start(&[]);
    let base = "/pulp/api/v3/repositories/file/file/";
    let (_, remote) = s
        .send(
            M::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "r", "url": "http://127.0.0.1:1/PULP_MANIFEST"}),
        )
        .await;
    let remote_href = remote["pulp_href"].as_str().unwrap().to_owned();

    let (code, repo) = s
        .send(
            M::POST,
            base,
            json!({"name": "demo", "remote": remote_href}),
        )
        .await;
    assert_eq!(code, 201, "{repo}");
    let href = repo["pulp_href"].as_str().unwrap().to_owned();
    assert_eq!(repo["latest_version_href"], format!("{href}versions/0/"));
    assert_eq!(repo["versions_href"], format!("{href}versions/"));
    assert_eq!(repo["remote"], remote_href.as_str());
    assert_eq!(
        (repo["manifest"].as_str(), repo["autopublish"].as_bool()),
        (Some("PULP_MANIFEST"), Some(false))
    );
    assert_eq!(repo["last_sync_details"], json!({}));
    assert!(
        repo["prn"]
            .as_str()
            .unwrap()
            .starts_with("prn:file.filerepository:")
    );

    // Version 0 exists and is empty.
    let (code, v0) = s.json(&format!("{href}versions/0/")).await;
    assert_eq!(code, 200);
    assert_eq!(
        (v0["number"].as_i64(), v0["repository"].as_str()),
        (Some(0), Some(href.as_str()))
    );
    assert_eq!(
        v0["content_summary"],
        json!({"added": {}, "removed": {}, "present": {}})
    );
    assert_eq!(s.json(&format!("{href}versions/")).await.1["count"], 1);
    assert_eq!(s.json(&format!("{href}versions/1/")).await.0, 404);
    assert_eq!(
        s.json("/pulp/api/v3/repository_versions/").await.1["count"],
        1
    );
    assert_eq!(
        s.json(&format!("{href}versions/?number__gte=1")).await.1["count"],
        0
    );

    // Validation.
    assert_eq!(
        s.send(M::POST, base, json!({"name": "demo"})).await,
        (400, json!({"name": ["This field must be unique."]}))
    );
    assert_eq!(
        s.send(M::POST, base, json!({})).await,
        (400, json!({"name": ["This field is required."]}))
    );
    let (code, e) = s.send(M::POST,
        base,
        json!({"name": "x", "retain_repo_versions": 0, "remote": format!("{remote_href}nope/")}),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        e["retain_repo_versions"],
        json!(["Ensure this value is greater than or equal to 1."])
    );
    assert!(e["remote"].is_array());

    // Lists and filters.
    let (_, other) = s
        .send(M::POST, base, json!({"name": "other", "description": "d"}))
        .await;
    assert_eq!(s.json(base).await.1["count"], 2);
    assert_eq!(
        s.json(&format!("{base}?remote={remote_href}")).await.1["count"],
        1
    );
    assert_eq!(
        s.json(&format!("{base}?name__startswith=oth")).await.1["count"],
        1
    );
    assert_eq!(s.json("/pulp/api/v3/repositories/").await.1["count"], 2);
    let (code, _) = s
        .send(
            M::POST,
            &format!("{href}set_label/"),
            json!({"key": "env", "value": "prod"}),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(
        s.json(&format!("{base}?pulp_label_select=env=prod"))
            .await
            .1["results"][0]["name"],
        "demo"
    );

    // Updates.
    assert_eq!(
        s.send(M::PATCH, &href, json!({"name": "demo"})).await.0,
        200
    );
    let (code, t) = s
        .send(
            M::PATCH,
            &href,
            json!({"description": "new", "retain_repo_versions": 3}),
        )
        .await;
    assert_eq!(code, 202);
    assert_eq!(
        s.json(t["task"].as_str().unwrap()).await.1["state"],
        "completed"
    );
    let now = s.json(&href).await.1;
    assert_eq!(
        (
            now["description"].as_str(),
            now["retain_repo_versions"].as_i64()
        ),
        (Some("new"), Some(3))
    );

    // Deleting the remote detaches it; deleting a repository removes it and its versions.
    let (_, t) = s.send(M::DELETE, &remote_href, json!({})).await;
    assert_eq!(
        s.finished(t["task"].as_str().unwrap()).await["state"],
        "completed"
    );
    assert_eq!(s.json(&href).await.1["remote"], Value::Null);
    let (code, t) = s
        .send(M::DELETE, other["pulp_href"].as_str().unwrap(), json!({}))
        .await;
    assert_eq!(code, 202);
    assert_eq!(
        s.finished(t["task"].as_str().unwrap()).await["state"],
        "completed"
    );
    assert_eq!(s.json(base).await.1["count"], 1);
    assert_eq!(
        s.json("/pulp/api/v3/repository_versions/").await.1["count"],
        1
    );
}
