//! Content guards end to end: created through the API, named by a distribution, asked by the
//! content app before it answers anything of that distribution.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::fixture::Fixture;
use crate::support::{Env, PASSWORD, Server};

both_backends!(guards_refuse_and_permit_as_pulp_does);

const GUARDS: &str = "/pulp/api/v3/contentguards/";

async fn created(s: &Server, kind: &str, body: Value) -> Value {
    let (code, g) = s
        .send(Method::POST, &format!("{GUARDS}core/{kind}/"), body)
        .await;
    assert_eq!(code, 201, "{g}");
    g
}

async fn task(s: &Server, method: Method, path: &str, body: Value) -> Value {
    let (code, t) = s.send(method, path, body).await;
    assert_eq!(code, 202, "{path}: {t}");
    let t = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(t["state"], "completed", "{t}");
    t
}

async fn guards_refuse_and_permit_as_pulp_does(env: Env) {
    let s = env.start(&[
        (
            "PULP_ENVVAR_HEADER_CONTENT_GUARD_ALLOWED_VARS",
            "[\"PITH_E2E_GUARD_SECRET\"]",
        ),
        ("PITH_E2E_GUARD_SECRET", "env-secret\n"),
    ]);
    let fx = Fixture::start().await;
    fx.publish(&[("a.txt", b"guarded bytes".to_vec())]);
    let (_, remote) = s
        .send(
            Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "g", "url": fx.manifest_url()}),
        )
        .await;
    let (_, repo) = s
        .send(
            Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "g", "remote": remote["pulp_href"], "autopublish": true}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().unwrap().to_owned();
    task(&s, Method::POST, &format!("{repo_href}sync/"), json!({})).await;

    // Bad input is refused with Pulp's messages, nothing created.
    let (code, e) = s
        .send(
            Method::POST,
            &format!("{GUARDS}core/header/"),
            json!({"name": "h", "header_name": "x-secret"}),
        )
        .await;
    assert_eq!(
        (code, &e["header_value"][0]),
        (400, &json!("This field is required."))
    );
    let (code, e) = s
        .send(
            Method::POST,
            &format!("{GUARDS}core/envvar_header/"),
            json!({"name": "ev", "header_name": "x-env", "env_var": "HOME"}),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    assert!(
        e["env_var"][0]
            .as_str()
            .unwrap()
            .contains("ENVVAR_HEADER_CONTENT_GUARD_ALLOWED_VARS")
    );
    let (code, e) = s
        .send(
            Method::POST,
            &format!("{GUARDS}core/header/"),
            json!({"name": "h", "header_name": "x", "header_value": "y", "jq_filter": ".a | .b"}),
        )
        .await;
    assert_eq!(code, 400, "{e}");

    let header = created(
        &s,
        "header",
        json!({"name": "h", "header_name": "X-Secret", "header_value": "open sesame"}),
    )
    .await;
    let jq = created(
        &s,
        "header",
        json!({"name": "jq", "header_name": "X-Identity", "header_value": "42", "jq_filter": ".identity.org_id"}),
    )
    .await;
    let rbac = created(
        &s,
        "rbac",
        json!({"name": "r", "description": "admins only"}),
    )
    .await;
    assert_eq!((&rbac["users"], &rbac["groups"]), (&json!([]), &json!([])));
    let redirect = created(&s, "content_redirect", json!({"name": "redir"})).await;
    assert!(redirect.get("shared_secret").is_none(), "{redirect}");
    let envvar = created(
        &s,
        "envvar_header",
        json!({"name": "ev", "header_name": "X-Env", "env_var": "PITH_E2E_GUARD_SECRET"}),
    )
    .await;
    let (code, e) = s
        .send(
            Method::POST,
            &format!("{GUARDS}core/rbac/"),
            json!({"name": "r"}),
        )
        .await;
    assert_eq!(
        (code, &e["name"][0]),
        (400, &json!("This field must be unique."))
    );

    // The generic list, the type filter and `q`.
    let (_, all) = s.json(GUARDS).await;
    assert_eq!(all["count"], 5, "{all}");
    let (_, some) = s
        .json(&format!("{GUARDS}?pulp_type__in=core.header,core.rbac"))
        .await;
    assert_eq!(some["count"], 3, "{some}");
    let (_, q) = s
        .json(&format!(
            "{GUARDS}?q={}",
            urlencode("pulp_type=\"core.header\" AND NOT name=jq OR name__startswith=re")
        ))
        .await;
    assert_eq!(q["count"], 2, "{q}");
    let (code, e) = s
        .json(&format!("{GUARDS}?q={}", urlencode("name=h AND")))
        .await;
    assert_eq!(
        (code, e),
        (400, json!({"q": ["Syntax error in expression."]}))
    );

    // A distribution guarded by each in turn.
    let dist = task(
        &s,
        Method::POST,
        "/pulp/api/v3/distributions/file/file/",
        json!({"name": "g", "base_path": "g", "repository": repo_href, "content_guard": header["pulp_href"]}),
    )
    .await["result"]
        .clone();
    assert_eq!(dist["content_guard"], header["pulp_href"]);
    assert_eq!(dist["content_guard_prn"], header["prn"]);
    let dist_href = dist["pulp_href"].as_str().unwrap().to_owned();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let file = s.url("/pulp/content/g/a.txt");
    let c = reqwest::Client::new();
    let status =
        |r: reqwest::RequestBuilder| async move { r.send().await.unwrap().status().as_u16() };
    assert_eq!(status(c.get(&file)).await, 403);
    assert_eq!(status(c.head(&file)).await, 403);
    assert_eq!(status(c.get(s.url("/pulp/content/g/"))).await, 403);
    assert_eq!(
        status(c.get(&file).header("X-Secret", b64("wrong"))).await,
        403
    );
    let r = c
        .get(&file)
        .header("X-Secret", b64("open sesame"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "guarded bytes");

    let guard_with = |g: &Value| {
        let (s, href, g) = (&s, dist_href.clone(), g["pulp_href"].clone());
        async move {
            task(s, Method::PATCH, &href, json!({"content_guard": g})).await;
        }
    };
    guard_with(&jq).await;
    let doc = |org: &str| b64(&json!({"identity": {"org_id": org}}).to_string());
    assert_eq!(
        status(c.get(&file).header("X-Identity", doc("41"))).await,
        403
    );
    assert_eq!(
        status(c.get(&file).header("X-Identity", doc("42"))).await,
        200
    );

    guard_with(&rbac).await;
    assert_eq!(status(c.get(&file)).await, 403);
    assert_eq!(
        status(c.get(&file).basic_auth("admin", Some("nope"))).await,
        403
    );
    assert_eq!(
        status(c.get(&file).basic_auth("admin", Some(PASSWORD))).await,
        200
    );

    guard_with(&redirect).await;
    assert_eq!(status(c.get(&file)).await, 403);
    let forged = format!("{file}?expires=99999999999&validate_token=00:00");
    assert_eq!(status(c.get(&forged)).await, 403);

    guard_with(&envvar).await;
    assert_eq!(
        status(c.get(&file).header("X-Env", b64("other"))).await,
        403
    );
    assert_eq!(
        status(c.get(&file).header("X-Env", b64("env-secret"))).await,
        200
    );

    // A composite permits what any member permits; an empty one everything.
    let composite = created(
        &s,
        "composite",
        json!({"name": "any", "guards": [header["pulp_href"], rbac["pulp_href"]]}),
    )
    .await;
    assert_eq!(
        composite["guards"].as_array().unwrap().len(),
        2,
        "{composite}"
    );
    let (code, e) = s
        .send(
            Method::POST,
            &format!("{GUARDS}core/composite/"),
            json!({"name": "nested", "guards": [composite["pulp_href"]]}),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    guard_with(&composite).await;
    assert_eq!(status(c.get(&file)).await, 403);
    assert_eq!(
        status(c.get(&file).header("X-Secret", b64("open sesame"))).await,
        200
    );
    assert_eq!(
        status(c.get(&file).basic_auth("admin", Some(PASSWORD))).await,
        200
    );
    let (code, _) = s
        .send(
            Method::PATCH,
            composite["pulp_href"].as_str().unwrap(),
            json!({"guards": []}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(status(c.get(&file)).await, 200);

    // Deleting a guard leaves its distributions unguarded.
    guard_with(&header).await;
    assert_eq!(status(c.get(&file)).await, 403);
    let r = s
        .client
        .delete(s.url(header["pulp_href"].as_str().unwrap()))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.json(&dist_href).await.1["content_guard"], Value::Null);
    assert_eq!(status(c.get(&file)).await, 200);
    assert_eq!(s.json(header["pulp_href"].as_str().unwrap()).await.0, 404);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

both_backends!(users_roles_and_rbac_downloads);

/// Users, groups and roles through the API: a new user may do nothing an access policy does
/// not allow (no viewset has one of its own yet: only superusers pass), downloads through an
/// RBAC guard once a role on it (theirs or their group's) allows, and every change applies to
/// the next request.
async fn users_roles_and_rbac_downloads(env: Env) {
    let s = env.start(&[]);
    let fx = Fixture::start().await;
    fx.publish(&[("a.txt", b"for downloaders".to_vec())]);
    let (_, remote) = s
        .send(
            Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "u", "url": fx.manifest_url()}),
        )
        .await;
    let (_, repo) = s
        .send(
            Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "u", "remote": remote["pulp_href"], "autopublish": true}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().unwrap().to_owned();
    task(&s, Method::POST, &format!("{repo_href}sync/"), json!({})).await;
    let guard = created(&s, "rbac", json!({"name": "dl"})).await;
    task(
        &s,
        Method::POST,
        "/pulp/api/v3/distributions/file/file/",
        json!({"name": "u", "base_path": "u", "repository": repo_href, "content_guard": guard["pulp_href"]}),
    )
    .await;

    // Users: validation, hidden password, no superuser powers.
    let (code, e) = s
        .send(
            Method::POST,
            "/pulp/api/v3/users/",
            json!({"username": "bad name!", "password": "123"}),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    assert!(
        e["username"][0]
            .as_str()
            .unwrap()
            .starts_with("Enter a valid username")
    );
    assert_eq!(e["password"].as_array().unwrap().len(), 2, "{e}");
    let (code, user) = s
        .send(
            Method::POST,
            "/pulp/api/v3/users/",
            json!({"username": "alice", "password": "alice-pass-1"}),
        )
        .await;
    assert_eq!(code, 201, "{user}");
    assert!(user.get("password").is_none());
    assert_eq!(
        user["hidden_fields"],
        json!([{"name": "password", "is_set": true}])
    );
    let user_href = user["pulp_href"].as_str().unwrap().to_owned();
    let (code, _) = s
        .send(
            Method::POST,
            "/pulp/api/v3/users/",
            json!({"username": "alice"}),
        )
        .await;
    assert_eq!(code, 400);

    let c = reqwest::Client::new();
    let as_alice = |pw: &'static str| {
        let c = c.clone();
        let url = s.url("/pulp/api/v3/repositories/");
        async move {
            c.get(url)
                .basic_auth("alice", Some(pw))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let file = s.url("/pulp/content/u/a.txt");
    let download = |pw: &'static str| {
        let (c, file) = (c.clone(), file.clone());
        async move {
            c.get(file)
                .basic_auth("alice", Some(pw))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(as_alice("alice-pass-1").await, 403);
    assert_eq!(as_alice("wrong").await, 401);
    assert_eq!(download("alice-pass-1").await, 403);

    // Locked roles exist; one on the guard lets alice download, and only through that guard.
    let (_, roles) = s
        .json("/pulp/api/v3/roles/?name=core.rbaccontentguard_downloader")
        .await;
    assert_eq!(roles["results"][0]["locked"], true, "{roles}");
    assert_eq!(
        roles["results"][0]["permissions"],
        json!(["core.download_rbaccontentguard"])
    );
    let (code, a) = s
        .send(
            Method::POST,
            &format!("{user_href}roles/"),
            json!({"role": "core.rbaccontentguard_downloader", "content_object": guard["pulp_href"]}),
        )
        .await;
    assert_eq!(code, 201, "{a}");
    assert_eq!(a["content_object"], guard["pulp_href"]);
    assert_eq!(download("alice-pass-1").await, 200);
    let (_, g) = s.json(guard["pulp_href"].as_str().unwrap()).await;
    assert_eq!(g["users"][0]["username"], "alice", "{g}");
    let r = s
        .client
        .delete(s.url(a["pulp_href"].as_str().unwrap()))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(download("alice-pass-1").await, 403);

    // Through a group, model-wide.
    let (_, group) = s
        .send(
            Method::POST,
            "/pulp/api/v3/groups/",
            json!({"name": "readers"}),
        )
        .await;
    let group_href = group["pulp_href"].as_str().unwrap().to_owned();
    let (code, _) = s
        .send(
            Method::POST,
            &format!("{group_href}users/"),
            json!({"username": "alice"}),
        )
        .await;
    assert_eq!(code, 201);
    let (code, _) = s
        .send(
            Method::POST,
            &format!("{group_href}roles/"),
            json!({"role": "core.rbaccontentguard_downloader", "content_object": null}),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(download("alice-pass-1").await, 200);
    assert_eq!(s.json(&user_href).await.1["groups"][0]["name"], "readers");

    // A custom role; a locked one cannot change.
    let (code, custom) = s
        .send(
            Method::POST,
            "/pulp/api/v3/roles/",
            json!({"name": "my.downloader", "permissions": ["core.download_rbaccontentguard"]}),
        )
        .await;
    assert_eq!((code, &custom["locked"]), (201, &json!(false)), "{custom}");
    let (code, _) = s
        .send(
            Method::PATCH,
            roles["results"][0]["pulp_href"].as_str().unwrap(),
            json!({"permissions": []}),
        )
        .await;
    assert_eq!(code, 403);
    let (code, e) = s
        .send(
            Method::POST,
            "/pulp/api/v3/roles/",
            json!({"name": "x", "permissions": ["no.such_perm"]}),
        )
        .await;
    assert_eq!(code, 400, "{e}");

    // Password changes and deactivation apply to the next request.
    let (code, _) = s
        .send(
            Method::PATCH,
            &user_href,
            json!({"password": "alice-pass-2"}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(download("alice-pass-1").await, 403);
    assert_eq!(download("alice-pass-2").await, 200);
    let (code, _) = s
        .send(Method::PATCH, &user_href, json!({"is_active": false}))
        .await;
    assert_eq!(code, 200);
    assert_eq!(as_alice("alice-pass-2").await, 401);
    assert_eq!(download("alice-pass-2").await, 403);
    let r = s
        .client
        .delete(s.url(&user_href))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.json(&user_href).await.0, 404);
}
