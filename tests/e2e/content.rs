//! File content: create (upload into a repository, or from an artifact), filters by repository
//! version, `modify/` with add, remove, `*` and base versions.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::both_backends;
use crate::support::{Env, PASSWORD, Server};

both_backends!(content_upload_modify_and_versions);

async fn upload(s: &Server, path: &str, bytes: &[u8], extra: &[(&str, String)]) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new().text("relative_path", path.to_owned());
    if !bytes.is_empty() {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("x"),
        );
    }
    for (k, v) in extra {
        form = form.text(k.to_string(), v.clone());
    }
    let r = s
        .client
        .post(s.url("/pulp/api/v3/content/file/files/"))
        .basic_auth("admin", Some(PASSWORD))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn content_upload_modify_and_versions(env: Env) {
    let s = env.start(&[]);
    let (_, repo) = {
        let r = s
            .post(
                "/pulp/api/v3/repositories/file/file/",
                &json!({"name": "c"}),
            )
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    let repo_href = repo["pulp_href"].as_str().unwrap().to_owned();

    // Upload straight into the repository: version 1.
    let (code, t) = upload(
        &s,
        "dir/a.txt",
        b"alpha",
        &[("repository", repo_href.clone())],
    )
    .await;
    assert_eq!(code, 202, "{t}");
    let t = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["name"], "pulpcore.app.tasks.base.general_create");
    // Pulp's order: the version made while creating the content, then the content.
    assert_eq!(t["created_resources"][0], format!("{repo_href}versions/1/"));
    let a_href = t["created_resources"][1].as_str().unwrap().to_owned();
    assert_eq!(t["result"]["relative_path"], "dir/a.txt");
    assert_eq!(t["result"]["sha256"], hex::encode(Sha256::digest(b"alpha")));
    assert!(
        t["reserved_resources_record"]
            .as_array()
            .unwrap()
            .contains(&json!(repo["prn"]))
    );
    let (_, a) = s.json(&a_href).await;
    assert!(a["artifact"].as_str().unwrap().contains("/artifacts/"));

    // The same unit again: reused, no new version.
    let (_, t) = upload(
        &s,
        "dir/a.txt",
        b"alpha",
        &[("repository", repo_href.clone())],
    )
    .await;
    let t = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(t["created_resources"], json!([a_href]));
    assert_eq!(
        s.json(&repo_href).await.1["latest_version_href"],
        format!("{repo_href}versions/1/")
    );

    // From an existing artifact, outside any repository.
    let (_, t) = upload(&s, "b.txt", b"beta", &[]).await;
    let b_href = s.finished(t["task"].as_str().unwrap()).await["created_resources"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let b_artifact = s.json(&b_href).await.1["artifact"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, t) = upload(&s, "copy/b.txt", b"", &[("artifact", b_artifact)]).await;
    assert_eq!(code, 202, "{t}");
    let c_href = s.finished(t["task"].as_str().unwrap()).await["created_resources"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(c_href, b_href, "another relative path is another unit");

    // Validation.
    let (code, e) = upload(&s, "/abs", b"x", &[]).await;
    assert_eq!(code, 400);
    assert!(e["relative_path"].is_array(), "{e}");
    let (code, e) = upload(&s, "n.txt", b"", &[]).await;
    assert_eq!(
        (code, e),
        (
            400,
            json!({"non_field_errors": ["Exactly one of 'file', 'artifact', 'upload' or 'file_url' must be specified."]})
        )
    );

    // Filters.
    let files = "/pulp/api/v3/content/file/files/";
    assert_eq!(s.json(files).await.1["count"], 3);
    assert_eq!(
        s.json(&format!(
            "{files}?repository_version={repo_href}versions/1/"
        ))
        .await
        .1["count"],
        1
    );
    assert_eq!(
        s.json(&format!(
            "{files}?repository_version={repo_href}versions/0/"
        ))
        .await
        .1["count"],
        0
    );
    assert_eq!(
        s.json(&format!("{files}?relative_path=b.txt")).await.1["count"],
        1
    );
    assert_eq!(
        s.json(&format!(
            "{files}?sha256={}",
            hex::encode(Sha256::digest(b"beta"))
        ))
        .await
        .1["count"],
        2
    );

    // modify: add, remove, base version, everything.
    let modify = format!("{repo_href}modify/");
    let run = |body: Value| {
        let (s, modify) = (&s, modify.clone());
        async move {
            let r = s.post(&modify, &body).send().await.unwrap();
            let code = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            if code != 202 {
                return (code, v);
            }
            (code, s.finished(v["task"].as_str().unwrap()).await)
        }
    };
    let (_, t) = run(json!({"add_content_units": [b_href, c_href]})).await;
    assert_eq!(t["result"]["number"], 2, "{t}");
    assert_eq!(
        t["result"]["content_summary"]["present"]["file.file"]["count"],
        3
    );
    assert_eq!(
        t["result"]["content_summary"]["added"]["file.file"]["count"],
        2
    );
    let (_, t) = run(json!({"remove_content_units": [a_href]})).await;
    assert_eq!(
        t["result"]["content_summary"]["removed"]["file.file"]["count"],
        1
    );
    let (_, t) = run(json!({"remove_content_units": [a_href]})).await;
    assert_eq!(
        (t["state"].as_str(), &t["result"]),
        (Some("completed"), &Value::Null),
        "no change, no version"
    );
    let (_, t) = run(
        json!({"remove_content_units": ["*"], "base_version": format!("{repo_href}versions/1/")}),
    )
    .await;
    assert_eq!(t["result"]["number"], 4);
    assert_eq!(t["result"]["content_summary"]["present"], json!({}));
    assert_eq!(
        t["result"]["base_version"],
        format!("{repo_href}versions/1/")
    );
    let (code, e) =
        run(json!({"add_content_units": [format!("{files}{}/", uuid::Uuid::now_v7())]})).await;
    assert_eq!(code, 400, "{e}");
    assert_eq!(s.json(&format!("{repo_href}versions/")).await.1["count"], 5);
    assert_eq!(
        s.json(&format!(
            "{files}?repository_version_added={repo_href}versions/2/"
        ))
        .await
        .1["count"],
        2
    );

    // A version may not hold two units with one relative path, nor a path inside another
    // (Pulp's finalize_new_version for file repositories): the task fails, no version is made.
    let unit = |path: &'static str, bytes: &'static [u8]| {
        let s = &s;
        async move {
            let (code, t) = upload(s, path, bytes, &[]).await;
            assert_eq!(code, 202, "{t}");
            let t = s.finished(t["task"].as_str().unwrap()).await;
            t["created_resources"][0].as_str().unwrap().to_owned()
        }
    };
    let (d1, d2) = (unit("dup.txt", b"one").await, unit("dup.txt", b"two").await);
    let (_, t) = run(json!({"add_content_units": [d1, d2]})).await;
    assert_eq!(t["state"], "failed", "{t}");
    let msg = t["error"]["description"].as_str().unwrap();
    assert!(
        msg.starts_with("[PLP0022] Found 1 duplicate contents in repository version"),
        "{msg}"
    );
    let (o1, o2) = (unit("x", b"file").await, unit("x/y", b"under").await);
    let (_, t) = run(json!({"add_content_units": [o1, o2]})).await;
    assert_eq!(t["state"], "failed", "{t}");
    assert_eq!(
        t["error"]["description"],
        "Repository version errors : Path errors found. \nThe path for file 'x/y' overlaps: x"
    );
    assert_eq!(s.json(&format!("{repo_href}versions/")).await.1["count"], 5);

    // Orphan cleanup keeps content that any version still holds.
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
    assert_eq!(s.json(files).await.1["count"], 3);
}

both_backends!(generic_content_list);

/// `content/` lists units of every type as Pulp's `MultipleArtifactContent` (href by type,
/// artifacts by relative path), with the filters every content list has.
async fn generic_content_list(env: Env) {
    let s = env.start(&[]);
    let (_, repo) = s
        .send(
            reqwest::Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "g"}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().unwrap().to_owned();
    let (code, t) = upload(
        &s,
        "g/one.txt",
        b"one",
        &[("repository", repo_href.clone())],
    )
    .await;
    assert_eq!(code, 202, "{t}");
    let t = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(t["state"], "completed", "{t}");
    let unit = t["created_resources"][1].as_str().unwrap().to_owned();
    let (code, t) = upload(&s, "g/loose.txt", b"loose", &[]).await;
    assert_eq!(code, 202, "{t}");
    let t = s.finished(t["task"].as_str().unwrap()).await;
    let loose = t["created_resources"][0].as_str().unwrap().to_owned();

    let (code, all) = s.json("/pulp/api/v3/content/").await;
    assert_eq!(code, 200, "{all}");
    assert_eq!(all["count"], 2, "{all}");
    let one = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["pulp_href"] == json!(unit))
        .expect("the unit");
    assert!(
        one["prn"]
            .as_str()
            .unwrap()
            .starts_with("prn:file.filecontent:")
    );
    let artifact = one["artifacts"]["g/one.txt"]
        .as_str()
        .expect("artifact href");
    assert!(artifact.starts_with("/pulp/api/v3/artifacts/"), "{one}");

    let (_, inv) = s
        .json(&format!(
            "/pulp/api/v3/content/?repository_version={repo_href}versions/1/"
        ))
        .await;
    assert_eq!(inv["count"], 1, "{inv}");
    assert_eq!(inv["results"][0]["pulp_href"], json!(unit));
    let (_, typed) = s
        .json("/pulp/api/v3/content/?pulp_type__in=file.file")
        .await;
    assert_eq!(typed["count"], 2, "{typed}");
    let (_, by_href) = s
        .json(&format!("/pulp/api/v3/content/?pulp_href__in={loose}"))
        .await;
    assert_eq!(by_href["count"], 1, "{by_href}");
    assert_eq!(by_href["results"][0]["pulp_href"], json!(loose));
    let (code, bad) = s.json("/pulp/api/v3/content/?pulp_type=nope.nope").await;
    assert_eq!(code, 400, "{bad}");
    assert_eq!(
        bad["pulp_type"][0],
        "Select a valid choice. nope.nope is not one of the available choices."
    );
}

both_backends!(content_labels_select_and_q);

/// Content labels: set and unset on a unit, `pulp_label_select` on the type's list and the
/// generic one (exact, other value, contains, present, absent), and `q` combining them.
async fn content_labels_select_and_q(env: Env) {
    let s = env.start(&[]);
    let mut hrefs = Vec::new();
    for (path, labels) in [
        ("a.txt", r#"{"env": "prod", "team": "Red"}"#),
        ("b.txt", r#"{"env": "dev"}"#),
        ("c.txt", "{}"),
    ] {
        let (code, t) = upload(&s, path, path.as_bytes(), &[("pulp_labels", labels.into())]).await;
        assert_eq!(code, 202, "{t}");
        let t = s.finished(t["task"].as_str().unwrap()).await;
        assert_eq!(t["state"], "completed", "{t}");
        hrefs.push(t["created_resources"][0].as_str().unwrap().to_owned());
    }
    let count = |path: String| {
        let s = &s;
        async move {
            let (code, v) = s.json(&path).await;
            assert_eq!(code, 200, "{path}: {v}");
            v["count"].as_u64().unwrap()
        }
    };
    let files = "/pulp/api/v3/content/file/files/?pulp_label_select=";
    assert_eq!(count(format!("{files}env=prod")).await, 1);
    assert_eq!(count(format!("{files}env!=prod")).await, 1);
    assert_eq!(count(format!("{files}team~re")).await, 1);
    assert_eq!(count(format!("{files}env")).await, 2);
    assert_eq!(count(format!("{files}!env")).await, 1);
    assert_eq!(count(format!("{files}env,team")).await, 1);
    let all = "/pulp/api/v3/content/";
    assert_eq!(count(format!("{all}?pulp_label_select=env")).await, 2);
    let q = |e: &str| format!("{all}?q={}", e.replace(' ', "%20").replace('"', "%22"));
    assert_eq!(
        count(q(
            r#"pulp_label_select="env=dev" OR pulp_label_select="team""#
        ))
        .await,
        2
    );
    assert_eq!(count(q(r#"NOT pulp_label_select="env""#)).await, 1);
    let (code, _) = s.json(&q(r#"bogus="x""#)).await;
    assert_eq!(code, 400);

    // Set, change and unset one label of a unit.
    let c = &hrefs[2];
    let (code, r) = s
        .send(
            Method::POST,
            &format!("{c}set_label/"),
            json!({"key": "env", "value": "qa"}),
        )
        .await;
    assert_eq!((code, &r), (201, &json!({"key": "env", "value": "qa"})));
    assert_eq!(count(format!("{files}env=qa")).await, 1);
    let (code, _) = s
        .send(
            Method::POST,
            &format!("{c}unset_label/"),
            json!({"key": "env"}),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(s.json(c).await.1["pulp_labels"], json!({}));
    let (code, _) = s
        .send(
            Method::POST,
            &format!("{c}unset_label/"),
            json!({"key": "env"}),
        )
        .await;
    assert_eq!(code, 400);
}
