//! `remotes/file/file/`: create, validation, list and filters, labels, updates (immediate
//! tasks, 200 when nothing changes), deletes (deferred tasks).

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::Env;

both_backends!(remotes_crud_validation_labels_and_tasks);

async fn remotes_crud_validation_labels_and_tasks(env: Env) {
    use reqwest::Method as M;
    let s = env.start(&[]);
    let base = "/pulp/api/v3/remotes/file/file/";

    let r = s
        .post(
            base,
            &json!({"name": "one", "url": "http://127.0.0.1:1/PULP_MANIFEST"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let one: Value = r.json().await.unwrap();
    assert_eq!(one["pulp_href"], loc.as_str());
    assert!(
        one["prn"]
            .as_str()
            .unwrap()
            .starts_with("prn:file.fileremote:")
    );
    assert_eq!(
        (one["policy"].as_str(), one["tls_validation"].as_bool()),
        (Some("immediate"), Some(true))
    );
    assert_eq!(one["headers"], json!([]));
    assert_eq!(one["pulp_labels"], json!({}));
    assert!(
        one["hidden_fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["is_set"] == false)
    );
    let keys: Vec<&str> = one
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys[..6],
        [
            "pulp_href",
            "prn",
            "pulp_created",
            "pulp_last_updated",
            "name",
            "url"
        ]
    );

    let (code, two) = s.send(M::POST, base, json!({
        "name": "two", "url": "https://example.invalid/x/", "policy": "on_demand", "username": "u", "password": "p",
        "download_concurrency": 4, "total_timeout": 30.5, "headers": [{"X-A": "1"}], "pulp_labels": {"env": "prod"},
        "proxy_url": "http://proxy:3128", "proxy_username": "pu", "proxy_password": "pp"
    })).await;
    assert_eq!(code, 201, "{two}");
    assert!(two.get("password").is_none() && two.get("username").is_none());
    let hidden: Vec<(String, bool)> = two["hidden_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["is_set"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        hidden.contains(&("password".into(), true))
            && hidden.contains(&("client_key".into(), false))
    );
    assert_eq!(
        (
            two["download_concurrency"].as_i64(),
            two["total_timeout"].as_f64()
        ),
        (Some(4), Some(30.5))
    );

    // Validation, all errors at once, in Pulp's words.
    let (code, e) = s.send(M::POST, base, json!({})).await;
    assert_eq!(
        (code, e),
        (
            400,
            json!({"name": ["This field is required."], "url": ["This field is required."]})
        )
    );
    let (code, e) = s.send(M::POST, base, json!({"name": "one", "url": "http://x/", "policy": "bogus", "download_concurrency": 0, "total_timeout": -1, "bogus": 1})).await;
    assert_eq!(code, 400);
    assert_eq!(e["name"], json!(["This field must be unique."]));
    assert_eq!(e["policy"], json!(["\"bogus\" is not a valid choice."]));
    assert_eq!(
        e["download_concurrency"],
        json!(["Ensure this value is greater than or equal to 1."])
    );
    assert_eq!(
        e["total_timeout"],
        json!(["Ensure this value is greater than or equal to 0.0."])
    );
    assert_eq!(e["bogus"], json!(["Unexpected field"]));
    let (code, e) = s
        .send(
            M::POST,
            base,
            json!({"name": "x", "url": "http://user:pw@host/"}),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        e["url"][0]
            .as_str()
            .unwrap()
            .contains("username or password")
    );
    let (code, e) = s
        .send(
            M::POST,
            base,
            json!({"name": "x", "url": "http://h/", "proxy_username": "a", "proxy_password": "b"}),
        )
        .await;
    assert_eq!(
        (code, e),
        (
            400,
            json!({"non_field_errors": ["proxy credentials cannot be specified without a proxy"]})
        )
    );
    let (code, e) = s
        .send(
            M::POST,
            base,
            json!({"name": "x", "url": "http://h/", "ca_cert": "not a pem"}),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        e["ca_cert"][0]
            .as_str()
            .unwrap()
            .starts_with("No ca_cert specified")
    );

    // Lists and filters.
    assert_eq!(s.json(base).await.1["count"], 2);
    assert_eq!(s.json(&format!("{base}?name=one")).await.1["count"], 1);
    assert_eq!(
        s.json(&format!("{base}?name__icontains=TW")).await.1["count"],
        1
    );
    assert_eq!(
        s.json(&format!("{base}?pulp_label_select=env=prod"))
            .await
            .1["count"],
        1
    );
    assert_eq!(s.json("/pulp/api/v3/remotes/").await.1["count"], 2);

    // Labels.
    let href = one["pulp_href"].as_str().unwrap();
    let (code, l) = s
        .send(
            M::POST,
            &format!("{href}set_label/"),
            json!({"key": "tier", "value": "gold"}),
        )
        .await;
    assert_eq!((code, l), (201, json!({"key": "tier", "value": "gold"})));
    assert_eq!(
        s.json(&format!("{base}?pulp_label_select=tier~GOL"))
            .await
            .1["count"],
        1
    );
    let (code, l) = s
        .send(
            M::POST,
            &format!("{href}unset_label/"),
            json!({"key": "tier"}),
        )
        .await;
    assert_eq!((code, l), (201, json!({"key": "tier", "value": "gold"})));
    assert_eq!(
        s.send(
            M::POST,
            &format!("{href}unset_label/"),
            json!({"key": "tier"})
        )
        .await
        .0,
        400
    );
    assert_eq!(
        s.send(
            M::POST,
            &format!("{href}set_label/"),
            json!({"key": "bad/key", "value": "v"})
        )
        .await
        .0,
        400
    );

    // Updates: unchanged → 200; changed → 202 with an immediate task, final when answered.
    let (code, same) = s
        .send(
            M::PATCH,
            href,
            json!({"url": "http://127.0.0.1:1/PULP_MANIFEST"}),
        )
        .await;
    assert_eq!((code, same["name"].as_str()), (200, Some("one")));
    let (code, t) = s
        .send(
            M::PATCH,
            href,
            json!({"url": "http://127.0.0.1:2/PULP_MANIFEST", "password": "s"}),
        )
        .await;
    assert_eq!(code, 202, "{t}");
    let task = s.json(t["task"].as_str().unwrap()).await.1;
    assert_eq!(
        task["state"], "completed",
        "immediate update on a free remote: {task}"
    );
    assert_eq!(task["name"], "pulpcore.app.tasks.base.ageneral_update");
    assert!(
        task["reserved_resources_record"]
            .as_array()
            .unwrap()
            .contains(&one["prn"])
    );
    let now = s.json(href).await.1;
    assert_eq!(now["url"], "http://127.0.0.1:2/PULP_MANIFEST");
    assert!(
        now["hidden_fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "password" && f["is_set"] == true)
    );
    assert_eq!(
        s.send(M::PUT, href, json!({"url": "http://h/"})).await.1,
        json!({"name": ["This field is required."]})
    );
    assert_eq!(
        s.send(M::PATCH, href, json!({"name": "two"})).await.1,
        json!({"name": ["This field must be unique."]})
    );

    // An update waits behind a task that holds the remote, then runs on a worker.
    let holder = s
        .test_task(json!({"seconds": 0.5, "exclusive_resources": [one["prn"]]}))
        .await;
    s.wait_task(&holder, |t| t["state"] == "running").await;
    let (code, t) = s
        .send(M::PATCH, href, json!({"tls_validation": false}))
        .await;
    assert_eq!(code, 202);
    let t = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(t["state"], "completed");
    assert!(
        t["started_at"].as_str().unwrap()
            >= s.finished(&holder).await["finished_at"].as_str().unwrap()
    );
    assert_eq!(s.json(href).await.1["tls_validation"], false);

    // Delete is a deferred task.
    let (code, t) = s.send(M::DELETE, href, json!({})).await;
    assert_eq!(code, 202);
    let t = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(
        (t["state"].as_str(), t["name"].as_str()),
        (
            Some("completed"),
            Some("pulpcore.app.tasks.base.general_delete")
        )
    );
    assert_eq!(s.json(href).await.0, 404);
    assert_eq!(s.json(base).await.1["count"], 1);
}
