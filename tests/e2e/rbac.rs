//! Users, groups, roles and access policies end to end: what a user other than a superuser
//! may do, decided by roles and the viewsets' policies, on the next request after a change.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::content_guards::{created, task};
use crate::fixture::Fixture;
use crate::support::{Env, PASSWORD, Server};

/// Creates a user whose password is `<name>-pass-1234` (what [`as_user`] sends); its href.
async fn new_user(s: &Server, name: &str) -> String {
    let (code, u) = s
        .send(
            Method::POST,
            "/pulp/api/v3/users/",
            json!({"username": name, "password": format!("{name}-pass-1234")}),
        )
        .await;
    assert_eq!(code, 201, "{u}");
    u["pulp_href"].as_str().unwrap().to_owned()
}

/// One request as a user made by [`new_user`]: the status and the JSON body (null if none).
/// The future borrows nothing, so closures can hand it out for any path.
fn as_user(
    s: &Server,
    user: &str,
    m: Method,
    path: &str,
    body: Value,
) -> impl Future<Output = (u16, Value)> + use<> {
    let request = s
        .client
        .request(m, s.url(path))
        .basic_auth(user, Some(format!("{user}-pass-1234")))
        .json(&body);
    async move {
        let r = request.send().await.unwrap();
        let code = r.status().as_u16();
        (code, r.json::<Value>().await.unwrap_or(Value::Null))
    }
}

both_backends!(users_roles_and_rbac_downloads);

/// Users, groups and roles through the API: a new user may do nothing an access policy does
/// not allow (views without a policy, like `users/`, admit superusers only), downloads through an
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
        // `users/` has no access policy, as in Pulp: superusers only.
        let url = s.url("/pulp/api/v3/users/");
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

    // The same through the guard's own role endpoints (Pulp's role mixin).
    let g_href = guard["pulp_href"].as_str().unwrap().to_owned();
    let body = json!({"role": "core.rbaccontentguard_downloader", "users": ["alice"]});
    let (code, added) = s
        .send(Method::POST, &format!("{g_href}add_role/"), body.clone())
        .await;
    assert_eq!(code, 201, "{added}");
    assert_eq!(
        s.send(Method::POST, &format!("{g_href}add_role/"), body.clone())
            .await
            .0,
        400
    );
    let (code, e) = s
        .send(
            Method::POST,
            &format!("{g_href}add_role/"),
            json!({"role": "core.task_viewer", "users": ["alice"]}),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    assert_eq!(download("alice-pass-1").await, 200);
    let (_, listed) = s.json(&format!("{g_href}list_roles/")).await;
    assert_eq!(
        listed,
        json!({"roles": [{"role": "core.rbaccontentguard_downloader", "users": ["alice"], "groups": []}]})
    );
    assert_eq!(
        s.send(Method::POST, &format!("{g_href}remove_role/"), body)
            .await
            .0,
        201
    );
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

both_backends!(access_policies_decide_and_scope);

/// Uploads under Pulp's default policy: creating needs `core.add_upload`, the creator owns
/// what they create, lists and reads show only what the user may view (404 otherwise);
/// artifacts cannot be deleted through the API, even by a superuser; a customized policy
/// applies at once and `reset/` restores the default.
async fn access_policies_decide_and_scope(env: Env) {
    let s = env.start(&[]);
    let ann_href = new_user(&s, "ann").await;
    new_user(&s, "bob").await;
    let (code, a) = s
        .send(
            Method::POST,
            &format!("{ann_href}roles/"),
            json!({"role": "core.upload_creator", "content_object": null}),
        )
        .await;
    assert_eq!(code, 201, "{a}");
    let ann = |m, p: &str, b| as_user(&s, "ann", m, p, b);
    let bob = |m, p: &str, b| as_user(&s, "bob", m, p, b);
    let c = &s.client;

    let (code, up) = ann(Method::POST, "/pulp/api/v3/uploads/", json!({"size": 10})).await;
    assert_eq!(code, 201, "{up}");
    let href = up["pulp_href"].as_str().unwrap().to_owned();
    assert_eq!(
        bob(Method::POST, "/pulp/api/v3/uploads/", json!({"size": 10}))
            .await
            .0,
        403
    );
    assert_eq!(ann(Method::GET, &href, Value::Null).await.0, 200);
    assert_eq!(bob(Method::GET, &href, Value::Null).await.0, 404);
    assert_eq!(bob(Method::DELETE, &href, Value::Null).await.0, 404);
    assert_eq!(
        ann(Method::GET, "/pulp/api/v3/uploads/", Value::Null)
            .await
            .1["count"],
        1
    );
    assert_eq!(
        bob(Method::GET, "/pulp/api/v3/uploads/", Value::Null)
            .await
            .1["count"],
        0
    );
    let (_, mine) = ann(Method::GET, &format!("{href}my_permissions/"), Value::Null).await;
    assert_eq!(
        mine["permissions"],
        json!([
            "core.change_upload",
            "core.delete_upload",
            "core.manage_roles_upload",
            "core.view_upload"
        ])
    );
    // Ann's commit is Ann's task: she follows it, Bob does not see it.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"0123456789".to_vec()).file_name("chunk"),
    );
    let r = c
        .put(s.url(&href))
        .basic_auth("ann", Some("ann-pass-1234"))
        .header("Content-Range", "bytes 0-9/10")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"0123456789"));
    let (code, t) = ann(
        Method::POST,
        &format!("{href}commit/"),
        json!({"sha256": digest}),
    )
    .await;
    assert_eq!(code, 202, "{t}");
    let task_href = t["task"].as_str().unwrap().to_owned();
    let done = s.finished(&task_href).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(ann(Method::GET, &task_href, Value::Null).await.0, 200);
    assert_eq!(bob(Method::GET, &task_href, Value::Null).await.0, 404);
    let mine = ann(Method::GET, "/pulp/api/v3/tasks/", Value::Null).await.1;
    assert_eq!(mine["count"], 1, "{mine}");
    assert_eq!(
        bob(Method::GET, "/pulp/api/v3/tasks/", Value::Null).await.1["count"],
        0
    );
    assert_eq!(
        bob(Method::POST, "/pulp/api/v3/tasks/purge/", json!({}))
            .await
            .0,
        403
    );
    let (code, up) = ann(Method::POST, "/pulp/api/v3/uploads/", json!({"size": 10})).await;
    assert_eq!(code, 201, "{up}");
    let href = up["pulp_href"].as_str().unwrap().to_owned();

    // The admin sees everything, and still may not delete an artifact.
    assert_eq!(s.json("/pulp/api/v3/uploads/").await.1["count"], 1);
    let r = s
        .client
        .delete(s.url(&format!("/pulp/api/v3/artifacts/{}/", uuid::Uuid::nil())))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (_, policies) = s
        .json("/pulp/api/v3/access_policies/?viewset_name=uploads")
        .await;
    let policy = policies["results"][0].clone();
    assert_eq!(policy["customized"], false, "{policies}");

    // Customized: nobody but superusers lists uploads; reset brings the default back.
    let policy_href = policy["pulp_href"].as_str().unwrap().to_owned();
    let (code, p) = s
        .send(
            Method::PATCH,
            &policy_href,
            json!({"statements": [{"action": ["list"], "principal": "admin", "effect": "allow"}]}),
        )
        .await;
    assert_eq!((code, &p["customized"]), (200, &json!(true)), "{p}");
    assert_eq!(
        ann(Method::GET, "/pulp/api/v3/uploads/", Value::Null)
            .await
            .0,
        403
    );
    let (code, p) = s
        .send(Method::POST, &format!("{policy_href}reset/"), json!({}))
        .await;
    assert_eq!((code, &p["customized"]), (200, &json!(false)), "{p}");
    assert_eq!(ann(Method::DELETE, &href, Value::Null).await.0, 204);
    // Deny wins over allow.
    let (code, _) = s
        .send(
            Method::PATCH,
            &policy_href,
            json!({"statements": [
                {"action": ["list"], "principal": "authenticated", "effect": "allow"},
                {"action": ["list"], "principal": "id:0", "effect": "deny"},
                {"action": ["list"], "principal": "authenticated", "effect": "deny",
                 "condition": "has_model_perms:core.add_upload"}]}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        ann(Method::GET, "/pulp/api/v3/uploads/", Value::Null)
            .await
            .0,
        403
    );
    assert_eq!(
        bob(Method::GET, "/pulp/api/v3/uploads/", Value::Null)
            .await
            .0,
        200
    );
}

both_backends!(remote_roles_decide);

/// A plugin viewset under its default policy (file remotes): creating needs the creator
/// role and makes the creator owner; a user sees only remotes they hold a role on (404
/// otherwise), a viewer may read but not change (403), an owner may hand out roles on the
/// object, and a superuser sees everything.
async fn remote_roles_decide(env: Env) {
    let s = env.start(&[]);
    let ann_href = new_user(&s, "ann").await;
    new_user(&s, "bob").await;
    let (code, a) = s
        .send(
            Method::POST,
            &format!("{ann_href}roles/"),
            json!({"role": "file.fileremote_creator", "content_object": null}),
        )
        .await;
    assert_eq!(code, 201, "{a}");
    let call = |user, m, path: String, body| as_user(&s, user, m, &path, body);
    let list = "/pulp/api/v3/remotes/file/file/".to_owned();
    let new = json!({"name": "r", "url": "http://127.0.0.1:9/PULP_MANIFEST"});
    assert_eq!(
        call("bob", Method::POST, list.clone(), new.clone()).await.0,
        403
    );
    let (code, remote) = call("ann", Method::POST, list.clone(), new).await;
    assert_eq!(code, 201, "{remote}");
    let href = remote["pulp_href"].as_str().unwrap().to_owned();
    let (code, admins) = s
        .send(
            Method::POST,
            &list,
            json!({"name": "admins", "url": "http://127.0.0.1:9/PULP_MANIFEST"}),
        )
        .await;
    assert_eq!(code, 201, "{admins}");

    assert_eq!(
        call("ann", Method::GET, list.clone(), Value::Null).await.1["count"],
        1
    );
    assert_eq!(
        call("bob", Method::GET, list.clone(), Value::Null).await.1["count"],
        0
    );
    assert_eq!(s.json(&list).await.1["count"], 2);
    assert_eq!(
        call("bob", Method::GET, href.clone(), Value::Null).await.0,
        404
    );
    let patch = json!({"download_concurrency": 3});
    assert_eq!(
        call("bob", Method::PATCH, href.clone(), patch.clone())
            .await
            .0,
        404
    );
    let (_, mine) = call(
        "ann",
        Method::GET,
        format!("{href}my_permissions/"),
        Value::Null,
    )
    .await;
    assert_eq!(
        mine["permissions"],
        json!([
            "file.change_fileremote",
            "file.delete_fileremote",
            "file.manage_roles_fileremote",
            "file.view_fileremote"
        ])
    );

    // Ann hands Bob a viewer role on her remote: he reads it and may not change it.
    let (code, r) = call(
        "ann",
        Method::POST,
        format!("{href}add_role/"),
        json!({"role": "file.fileremote_viewer", "users": ["bob"]}),
    )
    .await;
    assert_eq!(code, 201, "{r}");
    assert_eq!(
        call("bob", Method::GET, href.clone(), Value::Null).await.0,
        200
    );
    assert_eq!(
        call("bob", Method::GET, list.clone(), Value::Null).await.1["count"],
        1
    );
    assert_eq!(
        call("bob", Method::PATCH, href.clone(), patch.clone())
            .await
            .0,
        403
    );
    assert_eq!(
        call(
            "bob",
            Method::POST,
            format!("{href}add_role/"),
            json!({"role": "file.fileremote_owner", "users": ["bob"]})
        )
        .await
        .0,
        403
    );
    let (code, _) = call("ann", Method::PATCH, href.clone(), patch).await;
    assert!(code == 200 || code == 202, "{code}");
    let (_, roles) = call(
        "ann",
        Method::GET,
        format!("{href}list_roles/"),
        Value::Null,
    )
    .await;
    let names: Vec<&str> = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["file.fileremote_owner", "file.fileremote_viewer"],
        "{roles}"
    );

    // The role mixin of an object that does not exist is a 404, even for a superuser.
    let missing = format!("{list}{}/", uuid::Uuid::nil());
    for tail in ["list_roles/", "my_permissions/"] {
        assert_eq!(s.json(&format!("{missing}{tail}")).await.0, 404, "{tail}");
    }
    let body = json!({"role": "file.fileremote_viewer", "users": ["bob"]});
    assert_eq!(
        s.send(Method::POST, &format!("{missing}add_role/"), body)
            .await
            .0,
        404
    );

    // Neither may touch the admin's remote; Ann deletes her own.
    let other = admins["pulp_href"].as_str().unwrap().to_owned();
    assert_eq!(call("ann", Method::DELETE, other, Value::Null).await.0, 404);
    let (code, t) = call("ann", Method::DELETE, href.clone(), Value::Null).await;
    assert_eq!(code, 202, "{t}");
    let done = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(s.json(&list).await.1["count"], 1);
}

/// A multipart form sent as a user made by [`new_user`] (text fields, and `file` if given).
async fn form_as_user(
    s: &Server,
    user: &str,
    path: &str,
    fields: &[(&str, &str)],
    file: Option<Vec<u8>>,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    if let Some(bytes) = file {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("f"),
        );
    }
    let r = s
        .client
        .post(s.url(path))
        .basic_auth(user, Some(format!("{user}-pass-1234")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json::<Value>().await.unwrap_or(Value::Null))
}

both_backends!(repository_content_and_publication_roles_decide);

/// pulp_file's repository, version, content, publication and distribution policies: a
/// creator owns the repository they make; content goes only into a repository one may
/// modify (none named: Pulp's 400), and a user sees content through the repositories they
/// may see; a publication or distribution a task makes belongs to the task's user, on the
/// worker that made it.
async fn repository_content_and_publication_roles_decide(env: Env) {
    let s = env.start(&[]);
    let ann = new_user(&s, "ann").await;
    let bob = new_user(&s, "bob").await;
    for role in [
        "file.filerepository_creator",
        "file.filepublication_creator",
        "file.filedistribution_creator",
    ] {
        let body = json!({"role": role, "content_object": null});
        let (code, a) = s.send(Method::POST, &format!("{ann}roles/"), body).await;
        assert_eq!(code, 201, "{a}");
    }
    let repos = "/pulp/api/v3/repositories/file/file/";
    assert_eq!(
        as_user(&s, "bob", Method::POST, repos, json!({"name": "b"}))
            .await
            .0,
        403
    );
    let (code, repo) = as_user(&s, "ann", Method::POST, repos, json!({"name": "a"})).await;
    assert_eq!(code, 201, "{repo}");
    let repo_href = repo["pulp_href"].as_str().unwrap().to_owned();
    assert_eq!(
        as_user(&s, "bob", Method::GET, repos, Value::Null).await.1["count"],
        0
    );
    assert_eq!(
        as_user(&s, "bob", Method::GET, &repo_href, Value::Null)
            .await
            .0,
        404
    );
    let versions = format!("{repo_href}versions/");
    assert_eq!(
        as_user(&s, "bob", Method::GET, &versions, Value::Null)
            .await
            .0,
        403
    );
    assert_eq!(
        as_user(&s, "ann", Method::GET, &versions, Value::Null)
            .await
            .1["count"],
        1
    );

    // Content: into a repository one may modify, and only there. The 2 MiB file is kept on
    // disk while its form is read for the decision, then stored whole.
    let files = "/pulp/api/v3/content/file/files/";
    let big: Vec<u8> = (0..2 << 20).map(|i| (i % 251) as u8).collect();
    let (code, e) = form_as_user(&s, "bob", files, &[("relative_path", "x")], Some(vec![1])).await;
    assert_eq!(code, 400, "{e}");
    assert_eq!(
        e,
        json!(["Destination upload repository was not provided."])
    );
    let into_ann = [
        ("relative_path", "big.bin"),
        ("repository", repo_href.as_str()),
    ];
    let (code, _) = form_as_user(&s, "bob", files, &into_ann, Some(big.clone())).await;
    assert_eq!(code, 403);
    let (code, t) = form_as_user(&s, "ann", files, &into_ann, Some(big.clone())).await;
    assert_eq!(code, 202, "{t}");
    let done = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (_, listed) = as_user(&s, "ann", Method::GET, files, Value::Null).await;
    assert_eq!(listed["count"], 1, "{listed}");
    let content = listed["results"][0]["pulp_href"]
        .as_str()
        .unwrap()
        .to_owned();
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&big));
    assert_eq!(listed["results"][0]["sha256"], digest.as_str());
    assert_eq!(
        as_user(&s, "bob", Method::GET, files, Value::Null).await.1["count"],
        0
    );
    assert_eq!(
        as_user(&s, "bob", Method::GET, &content, Value::Null)
            .await
            .0,
        404
    );
    let labelled = [
        ("relative_path", "l.txt"),
        ("repository", repo_href.as_str()),
        ("pulp_labels", r#"{"k": "v"}"#),
    ];
    let (code, e) = form_as_user(&s, "ann", files, &labelled, Some(b"l".to_vec())).await;
    assert_eq!(code, 400, "{e}");
    assert!(
        e[0].as_str().unwrap().starts_with("pulp_labels cannot"),
        "{e}"
    );

    // A viewer role on the repository shows it, its versions and its content; no more.
    let (code, r) = as_user(
        &s,
        "ann",
        Method::POST,
        &format!("{repo_href}add_role/"),
        json!({"role": "file.filerepository_viewer", "users": ["bob"]}),
    )
    .await;
    assert_eq!(code, 201, "{r}");
    assert_eq!(
        as_user(&s, "bob", Method::GET, &content, Value::Null)
            .await
            .0,
        200
    );
    assert_eq!(
        as_user(&s, "bob", Method::GET, &versions, Value::Null)
            .await
            .1["count"],
        2
    );
    let modify = format!("{repo_href}modify/");
    let (code, _) = as_user(&s, "bob", Method::POST, &modify, json!({})).await;
    assert_eq!(code, 403);

    // Synchronous upload needs `file.upload_files` (the uploader role), model-wide.
    let upload = "/pulp/api/v3/content/file/files/upload/";
    let one = [("relative_path", "u.txt")];
    let (code, _) = form_as_user(&s, "bob", upload, &one, Some(b"u".to_vec())).await;
    assert_eq!(code, 403);
    let body = json!({"role": "file.file_uploader", "content_object": null});
    assert_eq!(
        s.send(Method::POST, &format!("{bob}roles/"), body).await.0,
        201
    );
    let (code, u) = form_as_user(&s, "bob", upload, &one, Some(b"u".to_vec())).await;
    assert_eq!(code, 201, "{u}");

    // What a task makes for Ann is Ann's.
    let pubs = "/pulp/api/v3/publications/file/file/";
    let (code, t) = as_user(
        &s,
        "ann",
        Method::POST,
        pubs,
        json!({"repository": repo_href}),
    )
    .await;
    assert_eq!(code, 202, "{t}");
    let done = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done}");
    let publication = done["created_resources"][0].as_str().unwrap().to_owned();
    let (_, mine) = as_user(&s, "ann", Method::GET, pubs, Value::Null).await;
    assert_eq!(mine["count"], 1, "{mine}");
    assert_eq!(
        as_user(&s, "bob", Method::GET, pubs, Value::Null).await.1["count"],
        0
    );
    let dists = "/pulp/api/v3/distributions/file/file/";
    let new = json!({"name": "d", "base_path": "d", "publication": publication});
    assert_eq!(
        as_user(&s, "bob", Method::POST, dists, new.clone()).await.0,
        403
    );
    let (code, t) = as_user(&s, "ann", Method::POST, dists, new).await;
    assert_eq!(code, 202, "{t}");
    let done = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done}");
    let dist = done["created_resources"][0].as_str().unwrap().to_owned();
    let (_, perms) = as_user(
        &s,
        "ann",
        Method::GET,
        &format!("{dist}my_permissions/"),
        Value::Null,
    )
    .await;
    assert_eq!(
        perms["permissions"],
        json!([
            "file.change_filedistribution",
            "file.delete_filedistribution",
            "file.manage_roles_filedistribution",
            "file.view_filedistribution"
        ])
    );
    assert_eq!(
        as_user(&s, "bob", Method::GET, &dist, Value::Null).await.0,
        404
    );
}

both_backends!(sessions_groups_and_master_lists);

/// `login/`: a session opened with Basic credentials authenticates later requests by cookie
/// alone, unsafe ones only with the CSRF token (Django's double-submit rule); logout and a
/// new password end it. Groups under their policy (a creator owns the groups they make), guard
/// creation by a creator role, and the master lists showing what each type's policy shows.
async fn sessions_groups_and_master_lists(env: Env) {
    let s = env.start(&[]);
    let ann = new_user(&s, "ann").await;
    for role in ["core.group_creator", "core.rbaccontentguard_creator"] {
        let body = json!({"role": role, "content_object": null});
        assert_eq!(
            s.send(Method::POST, &format!("{ann}roles/"), body).await.0,
            201
        );
    }
    let login = s.url("/pulp/api/v3/login/");
    assert_eq!(s.client.get(&login).send().await.unwrap().status(), 401);
    // Trusted-proxy headers mean nothing unless configured.
    let r = s
        .client
        .get(&login)
        .header("remote-user", "ann")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .client
        .post(&login)
        .basic_auth("ann", Some("ann-pass-1234"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let value = |name: &str| {
        cookies
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_owned()
    };
    let (session, csrf) = (value("sessionid"), value("csrftoken"));
    assert_eq!(r.json::<Value>().await.unwrap()["username"], "ann");
    let jar = format!("sessionid={session}; csrftoken={csrf}");
    let me = s
        .client
        .get(&login)
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(me.json::<Value>().await.unwrap()["username"], "ann");

    // Unsafe methods on a session need the CSRF token, and a foreign Origin is refused.
    let groups = s.url("/pulp/api/v3/groups/");
    let post = |body: Value, token: Option<&str>, origin: Option<&str>| {
        let mut rb = s.client.post(&groups).header("cookie", &jar).json(&body);
        if let Some(t) = token {
            rb = rb.header("x-csrftoken", t);
        }
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        async move {
            let r = rb.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (code, e) = post(json!({"name": "g"}), None, None).await;
    assert_eq!(
        (code, e["detail"].as_str().unwrap()),
        (403, "CSRF Failed: CSRF token missing.")
    );
    let (code, _) = post(
        json!({"name": "g"}),
        Some(&csrf),
        Some("http://elsewhere.example"),
    )
    .await;
    assert_eq!(code, 403);
    let (code, g) = post(json!({"name": "g"}), Some(&csrf), Some(&s.base)).await;
    assert_eq!(code, 201, "{g}");
    let g_href = g["pulp_href"].as_str().unwrap().to_owned();

    // Groups: the creator owns hers; others see none of them.
    new_user(&s, "bob").await;
    let list = "/pulp/api/v3/groups/";
    assert_eq!(
        as_user(&s, "ann", Method::GET, list, Value::Null).await.1["count"],
        1
    );
    assert_eq!(
        as_user(&s, "bob", Method::GET, list, Value::Null).await.1["count"],
        0
    );
    let members = format!("{g_href}users/");
    let add = json!({"username": "bob"});
    assert_eq!(
        as_user(&s, "bob", Method::POST, &members, add.clone())
            .await
            .0,
        403
    );
    assert_eq!(as_user(&s, "ann", Method::POST, &members, add).await.0, 201);
    let (_, mine) = as_user(
        &s,
        "ann",
        Method::GET,
        &format!("{g_href}my_permissions/"),
        Value::Null,
    )
    .await;
    assert_eq!(
        mine["permissions"],
        json!([
            "core.change_group",
            "core.delete_group",
            "core.manage_roles_group",
            "core.view_group"
        ])
    );

    // A guard made by a creator role is its maker's; the master list shows it to her only.
    let rbac = "/pulp/api/v3/contentguards/core/rbac/";
    let (code, guard) = as_user(&s, "ann", Method::POST, rbac, json!({"name": "mine"})).await;
    assert_eq!(code, 201, "{guard}");
    s.send(Method::POST, rbac, json!({"name": "admins"})).await;
    let all = "/pulp/api/v3/contentguards/";
    assert_eq!(
        as_user(&s, "ann", Method::GET, all, Value::Null).await.1["count"],
        1
    );
    assert_eq!(
        as_user(&s, "bob", Method::GET, all, Value::Null).await.1["count"],
        0
    );
    assert_eq!(s.json(all).await.1["count"], 2);

    // Logging out ends the session; so does a new password.
    let r = s
        .client
        .delete(&login)
        .header("cookie", &jar)
        .header("x-csrftoken", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let gone = s
        .client
        .get(&login)
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 401);
    let r = s
        .client
        .post(&login)
        .basic_auth("ann", Some("ann-pass-1234"))
        .send()
        .await
        .unwrap();
    let again = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| v.to_str().unwrap().strip_prefix("sessionid="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let (code, e) = as_user(
        &s,
        "ann",
        Method::PATCH,
        "/pulp/api/v3/login/",
        json!({"new_password": "ann-pass-5678"}),
    )
    .await;
    assert_eq!(code, 400, "{e}");
    let (code, e) = as_user(
        &s,
        "ann",
        Method::PATCH,
        "/pulp/api/v3/login/",
        json!({"old_password": "ann-pass-1234", "new_password": "ann-pass-5678", "email": "a@example.com"}),
    )
    .await;
    assert_eq!((code, &e["email"]), (200, &json!("a@example.com")), "{e}");
    let old = s
        .client
        .get(&login)
        .header("cookie", format!("sessionid={again}"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);
}

both_backends!(trusted_proxy_identities);

/// Behind a trusted proxy (off by default): the JSON identity header (Pulp's
/// `AUTHENTICATION_JSON_HEADER` with its jq path) and `REMOTE_USER` name the user, who is
/// created on first sight without privileges; a header naming nobody is a 401, and Basic
/// credentials still come first.
async fn trusted_proxy_identities(env: Env) {
    use base64::Engine;
    let s = env.start(&[
        ("PULP_AUTHENTICATION_JSON_HEADER", "HTTP_X_RH_IDENTITY"),
        (
            "PULP_AUTHENTICATION_JSON_HEADER_JQ_FILTER",
            ".identity.user.username",
        ),
        (
            "PULP_AUTHENTICATION_JSON_HEADER_OPENAPI_SECURITY_SCHEME",
            r#"@json {"type": "apiKey", "in": "header", "name": "x-rh-identity"}"#,
        ),
        ("PULP_REMOTE_USER_ENVIRON_NAME", "HTTP_REMOTE_USER"),
    ]);
    let identity = |doc: Value| base64::engine::general_purpose::STANDARD.encode(doc.to_string());
    let get = |path: &str, header: (&'static str, String)| {
        let rb = s.client.get(s.url(path)).header(header.0, header.1);
        async move {
            let r = rb.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let carol = identity(json!({"identity": {"user": {"username": "carol"}}}));
    let (code, me) = get("/pulp/api/v3/login/", ("x-rh-identity", carol.clone())).await;
    assert_eq!((code, &me["username"]), (200, &json!("carol")), "{me}");
    // Provisioned without privileges: admin-only views stay closed.
    assert_eq!(
        get("/pulp/api/v3/users/", ("x-rh-identity", carol)).await.0,
        403
    );
    let (_, users) = s.json("/pulp/api/v3/users/?username=carol").await;
    assert_eq!(users["count"], 1, "{users}");
    let (code, _) = get(
        "/pulp/api/v3/login/",
        (
            "x-rh-identity",
            identity(json!({"identity": {"name": "carol"}})),
        ),
    )
    .await;
    assert_eq!(code, 401);
    let (code, _) = get(
        "/pulp/api/v3/login/",
        ("x-rh-identity", "not base64!".into()),
    )
    .await;
    assert_eq!(code, 401);
    let (code, me) = get("/pulp/api/v3/login/", ("remote-user", "dave".into())).await;
    assert_eq!((code, &me["username"]), (200, &json!("dave")), "{me}");
    // Basic comes first: wrong credentials are a 401 whatever the proxy says.
    let r = s
        .client
        .get(s.url("/pulp/api/v3/login/"))
        .basic_auth("admin", Some("wrong"))
        .header("remote-user", "dave")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (_, schema) = s.json("/pulp/api/v3/docs/api.json").await;
    assert_eq!(
        schema["components"]["securitySchemes"]["json_header_remote_authentication"],
        json!({"type": "apiKey", "in": "header", "name": "x-rh-identity"})
    );
}

/// Revocation on a cluster (one worker, two API nodes, one content node on one PostgreSQL):
/// a role removal, a password change, deactivation and deletion made through one API node
/// apply to the very next request on the other API node and on the content node (each
/// request reads its user's row; only the argon2 verification is cached, against the hash).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_is_immediate_across_nodes() {
    let Some(env) = Env::new(crate::support::Backend::Postgres) else {
        return;
    };
    let cluster = [
        ("PULP_CLUSTER_SECRET", "e2e-cluster"),
        ("PULP_CLUSTER_BIND", "127.0.0.1:0"),
    ];
    let _worker = env.spawn(
        &["worker", "--workers", "1"],
        &cluster,
        "running with 1 workers",
    );
    let a = env.spawn(
        &["api", "--bind", "127.0.0.1:0"],
        &cluster,
        "listening on http://",
    );
    let b = env.spawn(
        &["api", "--bind", "127.0.0.1:0"],
        &cluster,
        "listening on http://",
    );
    let c = env.spawn(
        &["content", "--bind", "127.0.0.1:0"],
        &cluster,
        "listening on http://",
    );

    let eve = new_user(&a, "eve").await;
    let (_, repo) = a
        .send(
            Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "r"}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().unwrap().to_owned();
    let (_, grant) = a
        .send(
            Method::POST,
            &format!("{eve}roles/"),
            json!({"role": "file.filerepository_viewer", "content_object": repo_href}),
        )
        .await;
    let guard = created(&a, "rbac", json!({"name": "g"})).await;
    let g_href = guard["pulp_href"].as_str().unwrap().to_owned();
    let body = json!({"role": "core.rbaccontentguard_downloader", "users": ["eve"]});
    assert_eq!(
        a.send(Method::POST, &format!("{g_href}add_role/"), body.clone())
            .await
            .0,
        201
    );
    task(
        &a,
        Method::POST,
        "/pulp/api/v3/distributions/file/file/",
        json!({"name": "d", "base_path": "d", "content_guard": g_href}),
    )
    .await;
    let download = |pw: &str| {
        let rb = c
            .client
            .get(c.url("/pulp/content/d/"))
            .basic_auth("eve", Some(pw.to_owned()));
        async move { rb.send().await.unwrap().status().as_u16() }
    };
    let read = |pw: &str| {
        let rb = b
            .client
            .get(b.url(&repo_href))
            .basic_auth("eve", Some(pw.to_owned()));
        async move { rb.send().await.unwrap().status().as_u16() }
    };
    let pw = "eve-pass-1234";
    // Permitted: the repository reads, the guarded (empty) distribution answers 404.
    assert_eq!((read(pw).await, download(pw).await), (200, 404));

    // Role removals, through node A, are seen at once by B and C.
    let (code, _) = a
        .send(
            Method::DELETE,
            grant["pulp_href"].as_str().unwrap(),
            Value::Null,
        )
        .await;
    assert_eq!(code, 204);
    assert_eq!(read(pw).await, 404);
    assert_eq!(
        a.send(Method::POST, &format!("{g_href}remove_role/"), body.clone())
            .await
            .0,
        201
    );
    assert_eq!(download(pw).await, 403);
    assert_eq!(
        a.send(Method::POST, &format!("{g_href}add_role/"), body)
            .await
            .0,
        201
    );
    assert_eq!(download(pw).await, 404);

    // A new password: the old one stops working everywhere with the next request.
    let (code, _) = a
        .send(Method::PATCH, &eve, json!({"password": "eve-pass-5678"}))
        .await;
    assert_eq!(code, 200);
    assert_eq!((read(pw).await, download(pw).await), (401, 403));
    let pw = "eve-pass-5678";
    assert_eq!((read(pw).await, download(pw).await), (404, 404));

    // Deactivated, then deleted.
    assert_eq!(
        a.send(Method::PATCH, &eve, json!({"is_active": false}))
            .await
            .0,
        200
    );
    assert_eq!((read(pw).await, download(pw).await), (401, 403));
    assert_eq!(
        a.send(Method::PATCH, &eve, json!({"is_active": true}))
            .await
            .0,
        200
    );
    assert_eq!(download(pw).await, 404);
    let (code, _) = a.send(Method::DELETE, &eve, Value::Null).await;
    assert_eq!(code, 204);
    assert_eq!((read(pw).await, download(pw).await), (401, 403));
}
