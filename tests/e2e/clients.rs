//! Pulp's own clients against Pith, unchanged: pulp-cli (and so pulp-glue, which builds every
//! request from our OpenAPI schema), the generated pulpcore-client / pulp-file-client
//! bindings, and the browsable docs rendered by headless Chromium. The tools are set up by
//! `scripts/ensure-python-tools.sh` and `scripts/ensure-chromium.sh` (run by `scripts/test.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fixture::Fixture;
use crate::support::{Backend, Env, PASSWORD, Server};

/// The virtual environment with pulp-cli and the bindings; `None` (skip) outside CI.
fn venv() -> Option<PathBuf> {
    let dir = std::env::var_os("PITH_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/pith/venv")))?;
    if dir.join("bin/pulp").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but pulp-cli is missing: run scripts/ensure-python-tools.sh"
    );
    eprintln!("pulp-cli not found in {}: skipping", dir.display());
    None
}

/// Runs `pulp <args>` against `s` with a private config and schema cache; returns stdout as
/// JSON (or `Null` when it printed nothing).
async fn pulp(venv: &Path, home: &Path, s: &Server, args: &[&str]) -> Value {
    let mut c = Command::new(venv.join("bin/pulp"));
    c.args([
        "--base-url",
        &s.base,
        "--username",
        "admin",
        "--password",
        PASSWORD,
    ])
    .args(args)
    .env("XDG_CONFIG_HOME", home.join("config"))
    .env("XDG_CACHE_HOME", home.join("cache"))
    .env("HOME", home);
    let out = tokio::task::spawn_blocking(move || c.output())
        .await
        .expect("join")
        .expect("run pulp");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "pulp {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("pulp {args:?}: {e}: {stdout}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulp_cli_workflow() {
    let Some(venv) = venv() else { return };
    let env = Env::new(Backend::Sqlite).expect("env");
    let s = env.start(&[]);
    let home = tempfile::tempdir().expect("home");
    let fx = Fixture::start().await;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("a.txt", b"alpha from the fixture\n".to_vec()),
        ("dir/b.bin", (0..20_000u32).map(|i| (i % 7) as u8).collect()),
    ];
    fx.publish(&files);
    let h = home.path();

    let status = pulp(&venv, h, &s, &["status"]).await;
    assert_eq!(status["versions"][0]["component"], "core", "{status}");
    let remote = pulp(
        &venv,
        h,
        &s,
        &[
            "file",
            "remote",
            "create",
            "--name",
            "cli",
            "--url",
            &fx.manifest_url(),
        ],
    )
    .await;
    assert_eq!(remote["policy"], "immediate", "{remote}");
    pulp(
        &venv,
        h,
        &s,
        &[
            "file",
            "repository",
            "create",
            "--name",
            "cli",
            "--remote",
            "cli",
        ],
    )
    .await;
    pulp(
        &venv,
        h,
        &s,
        &["file", "repository", "sync", "--name", "cli"],
    )
    .await;
    let publication = pulp(
        &venv,
        h,
        &s,
        &["file", "publication", "create", "--repository", "cli"],
    )
    .await;
    let pub_href = publication["pulp_href"].as_str().expect("publication");
    let dist = pulp(
        &venv,
        h,
        &s,
        &[
            "file",
            "distribution",
            "create",
            "--name",
            "cli",
            "--base-path",
            "cli/files",
            "--publication",
            pub_href,
        ],
    )
    .await;
    assert_eq!(dist["base_path"], "cli/files", "{dist}");
    let content = pulp(&venv, h, &s, &["file", "content", "list"]).await;
    assert_eq!(content.as_array().map(Vec::len), Some(2), "{content}");
    let tasks = pulp(&venv, h, &s, &["task", "list", "--limit", "3"]).await;
    let first = tasks[0]["pulp_href"].as_str().expect("task").to_owned();
    let shown = pulp(&venv, h, &s, &["task", "show", "--href", &first]).await;
    assert_eq!(shown["state"], "completed", "{shown}");
    let versions = pulp(
        &venv,
        h,
        &s,
        &[
            "file",
            "repository",
            "version",
            "list",
            "--repository",
            "cli",
        ],
    )
    .await;
    assert_eq!(versions[0]["number"], 1, "{versions}");

    // Uploads: a small file in one request, a larger one in chunks, into the repository.
    let small = h.join("small.txt");
    std::fs::write(&small, b"uploaded by pulp-cli\n").expect("write");
    let up = pulp(
        &venv,
        h,
        &s,
        &[
            "file",
            "content",
            "upload",
            "--file",
            small.to_str().expect("path"),
            "--relative-path",
            "up/small.txt",
        ],
    )
    .await;
    assert_eq!(up["relative_path"], "up/small.txt", "{up}");
    let big: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    let big_path = h.join("big.bin");
    std::fs::write(&big_path, &big).expect("write");
    let up = pulp(
        &venv,
        h,
        &s,
        &[
            "file",
            "content",
            "upload",
            "--file",
            big_path.to_str().expect("path"),
            "--relative-path",
            "up/big.bin",
            "--chunk-size",
            "1000000",
            "--repository",
            "cli",
        ],
    )
    .await;
    assert_eq!(up["sha256"], hex::encode(Sha256::digest(&big)), "{up}");
    pulp(
        &venv,
        h,
        &s,
        &["orphan", "cleanup", "--protection-time", "0"],
    )
    .await;

    // The distributed file, byte for byte.
    let got = s
        .client
        .get(s.url("/pulp/content/cli/files/dir/b.bin"))
        .send()
        .await
        .expect("download");
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), &files[1].1[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_bindings_workflow() {
    let Some(venv) = venv() else { return };
    let env = Env::new(Backend::Sqlite).expect("env");
    let s = env.start(&[]);
    let fx = Fixture::start().await;
    let body = b"served through the bindings\n".to_vec();
    let sha = hex::encode(Sha256::digest(&body));
    fx.publish(&[("x/y.txt", body)]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/py/bindings_flow.py");
    let mut c = Command::new(venv.join("bin/python"));
    c.arg(script)
        .args([&s.base, PASSWORD, &fx.manifest_url(), "x/y.txt", &sha]);
    let out = tokio::task::spawn_blocking(move || c.output())
        .await
        .expect("join")
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("bindings flow ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_and_docs_page() {
    let env = Env::new(Backend::Sqlite).expect("env");
    let s = env.start(&[]);
    // The schema is public, agrees with status/, and YAML says the same as JSON.
    let r = s
        .client
        .get(s.url("/pulp/api/v3/docs/api.json"))
        .send()
        .await
        .expect("schema");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let schema: Value = r.json().await.expect("json");
    let (_, status) = s.json("/pulp/api/v3/status/").await;
    for v in status["versions"].as_array().expect("versions") {
        let c = v["component"].as_str().expect("component");
        assert_eq!(schema["info"]["x-pulp-app-versions"][c], v["version"]);
    }
    assert!(schema["paths"]["{file_file_repository_href}sync/"]["post"].is_object());
    let pk: Value = s
        .client
        .get(s.url("/pulp/api/v3/docs/api.json?pk_path=1"))
        .send()
        .await
        .expect("schema")
        .json()
        .await
        .expect("json");
    assert!(pk["paths"]["/pulp/api/v3/repositories/file/file/{pulp_id}/sync/"]["post"].is_object());
    let r = s
        .client
        .get(s.url("/pulp/api/v3/docs/api.json?component=nope"))
        .send()
        .await
        .expect("schema");
    assert_eq!(r.status().as_u16(), 400);

    if let Some(venv) = venv() {
        let yaml = s
            .client
            .get(s.url("/pulp/api/v3/docs/api.yaml"))
            .send()
            .await
            .expect("yaml")
            .text()
            .await
            .expect("text");
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("a.yaml"), yaml).expect("write");
        std::fs::write(dir.path().join("a.json"), schema.to_string()).expect("write");
        let out = Command::new(venv.join("bin/python"))
            .arg("-c")
            .arg("import json,sys,yaml; assert yaml.safe_load(open(sys.argv[1])) == json.load(open(sys.argv[2])); print('same')")
            .arg(dir.path().join("a.yaml"))
            .arg(dir.path().join("a.json"))
            .output()
            .expect("python");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("same"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The docs page renders every operation in a real browser, offline.
    let chromium = ["chromium", "/usr/bin/chromium"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok());
    let Some(chromium) = chromium else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but chromium is missing: run scripts/ensure-chromium.sh"
        );
        eprintln!("chromium not found: skipping the docs rendering check");
        return;
    };
    let profile = tempfile::tempdir().expect("profile");
    let url = s.url("/pulp/api/v3/docs/");
    let mut c = Command::new(chromium);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--virtual-time-budget=15000",
        "--dump-dom",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(&url);
    let out = tokio::task::spawn_blocking(move || c.output())
        .await
        .expect("join")
        .expect("chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let ops: Vec<&str> = schema["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("item").values())
        .map(|op| op["operationId"].as_str().expect("id"))
        .collect();
    assert!(ops.len() > 60, "{}", ops.len());
    for id in ops {
        assert!(
            dom.contains(&format!("class=\"operation-id\">{id}<")),
            "operation {id} missing from the rendered docs:\n{}",
            &dom[..dom.len().min(2000)]
        );
    }
}

/// pulp-cli's RBAC commands, unchanged: users, groups and members, custom roles, role
/// assignments, access policies (show, update, reset) and an RBAC content guard's download
/// role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulp_cli_rbac_commands() {
    let Some(venv) = venv() else { return };
    let env = Env::new(Backend::Sqlite).expect("env");
    let s = env.start(&[]);
    let home = tempfile::tempdir().expect("home");
    let (v, h, server) = (venv.as_path(), home.path(), &s);
    let run = move |args: &'static [&'static str]| pulp(v, h, server, args);

    let carl = run(&[
        "user",
        "create",
        "--username",
        "carl",
        "--password",
        "carl-pass-1234",
    ])
    .await;
    assert_eq!(carl["username"], "carl", "{carl}");
    let team = run(&["group", "create", "--name", "team"]).await;
    assert_eq!(team["name"], "team");
    run(&[
        "group",
        "user",
        "add",
        "--group",
        "team",
        "--username",
        "carl",
    ])
    .await;
    let members = run(&["group", "user", "list", "--group", "team"]).await;
    assert_eq!(members[0]["username"], "carl", "{members}");
    let role = run(&[
        "role",
        "create",
        "--name",
        "my.repo_viewer",
        "--permission",
        "file.view_filerepository",
    ])
    .await;
    assert_eq!(role["locked"], false, "{role}");
    run(&[
        "user",
        "role-assignment",
        "add",
        "--username",
        "carl",
        "--role",
        "file.filerepository_creator",
        "--object",
        "",
    ])
    .await;
    let held = run(&["user", "role-assignment", "list", "--username", "carl"]).await;
    assert_eq!(held[0]["role"], "file.filerepository_creator", "{held}");
    run(&[
        "group",
        "role-assignment",
        "add",
        "--group",
        "team",
        "--role",
        "my.repo_viewer",
        "--object",
        "",
    ])
    .await;

    let policy = run(&["access-policy", "show", "--viewset-name", "tasks"]).await;
    assert_eq!(policy["customized"], false, "{policy}");
    run(&[
        "access-policy",
        "update",
        "--viewset-name",
        "tasks",
        "--statements",
        r#"[{"action": ["list"], "principal": "admin", "effect": "allow"}]"#,
    ])
    .await;
    let changed = run(&["access-policy", "show", "--viewset-name", "tasks"]).await;
    assert_eq!(changed["customized"], true, "{changed}");
    let reset = run(&["access-policy", "reset", "--viewset-name", "tasks"]).await;
    assert_eq!(reset["customized"], false, "{reset}");

    let guard = run(&["content-guard", "rbac", "create", "--name", "dl"]).await;
    run(&[
        "content-guard",
        "rbac",
        "assign",
        "--name",
        "dl",
        "--user",
        "carl",
    ])
    .await;
    let (_, roles) = s
        .json(&format!(
            "{}list_roles/",
            guard["pulp_href"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        roles["roles"][0]["users"],
        serde_json::json!(["carl"]),
        "{roles}"
    );
    let all = run(&["content-guard", "list"]).await;
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    run(&[
        "content-guard",
        "rbac",
        "remove",
        "--name",
        "dl",
        "--user",
        "carl",
    ])
    .await;
}
