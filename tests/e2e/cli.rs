//! The command line and settings: errors name what is wrong; passwords can be reset.

use serde_json::Value;

use crate::support::{Backend, Env};

fn run(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let mut c = env.command(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("run pith");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn bad_settings_stop_startup_with_a_message_naming_them() {
    let env = Env::new(Backend::Sqlite).unwrap();
    let cfg = env.dir.path().join("pith.toml");
    std::fs::write(
        &cfg,
        "content_origin = \"https://pulp.example\"\nbogus_setting = 1\n",
    )
    .unwrap();
    let (ok, out) = run(&env, &["--config", cfg.to_str().unwrap(), "migrate"], &[]);
    assert!(!ok && out.contains("bogus_setting"), "{out}");

    let (ok, out) = run(&env, &["migrate"], &[("PULP_WORKER_TTL", "soon")]);
    assert!(!ok && out.to_lowercase().contains("worker_ttl"), "{out}");
    let (ok, out) = run(&env, &["migrate"], &[("PULP_API_ROOT", "pulp")]);
    assert!(!ok && out.contains("API_ROOT"), "{out}");

    // Unknown PULP_* variables only warn.
    let (ok, out) = run(
        &env,
        &["migrate"],
        &[("PULP_SOMETHING_ELSE", "1"), ("RUST_LOG", "warn")],
    );
    assert!(ok && out.contains("PULP_SOMETHING_ELSE"), "{out}");

    // Separate services need PostgreSQL.
    let (ok, out) = run(&env, &["api", "--bind", "127.0.0.1:0"], &[]);
    assert!(
        !ok && out.contains("SQLite") && out.contains("PULP_DATABASE_URL"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_password_takes_effect_and_sqlite_is_single_process() {
    let env = Env::new(Backend::Sqlite).unwrap();
    let (ok, out) = run(
        &env,
        &["admin", "reset-password", "--password", "n3w-pass"],
        &[],
    );
    assert!(ok, "{out}");
    // No PULP_ADMIN_PASSWORD this time, so the reset password stays.
    let mut c = env.command(&["serve", "--bind", "127.0.0.1:0"]);
    c.env_remove("PULP_ADMIN_PASSWORD");
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"))
        .unwrap();
    let base = format!(
        "http://{}",
        line.split("http://")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
    );
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{base}/pulp/api/v3/tasks/"))
        .basic_auth("admin", Some("n3w-pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["count"].is_number());

    // A second process on the same SQLite data directory is refused, a password reset too
    // (the server caches users; change a password through the API while it runs).
    let (ok, out) = run(&env, &["serve", "--bind", "127.0.0.1:0"], &[]);
    assert!(!ok && out.contains("another Pith process"), "{out}");
    let (ok, out) = run(
        &env,
        &["admin", "reset-password", "--password", "x-pass-1234"],
        &[],
    );
    assert!(!ok && out.contains("another Pith process"), "{out}");
    drop(child);
}
