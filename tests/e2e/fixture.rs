//! A local HTTP server for sync tests: serves a temporary directory on a loopback port and
//! counts requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};
use warp::Filter;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub hits: Arc<AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Fixture {
    pub async fn start() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let route = warp::any()
            .map(move || {
                counter.fetch_add(1, Ordering::Relaxed);
            })
            .untuple_one()
            .and(warp::fs::dir(dir.path().to_path_buf()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            warp::serve(route)
                .incoming(listener)
                .graceful(async move {
                    let _ = rx.await;
                })
                .run(),
        );
        Fixture {
            dir,
            base,
            hits,
            _stop: tx,
        }
    }

    /// Writes files and a `PULP_MANIFEST` listing them (under `repo/`).
    pub fn publish(&self, files: &[(&str, Vec<u8>)]) {
        let root = self.dir.path().join("repo");
        let mut manifest = String::new();
        for (path, bytes) in files {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, bytes).expect("write");
            manifest.push_str(&format!(
                "{path},{},{}\n",
                hex::encode(Sha256::digest(bytes)),
                bytes.len()
            ));
        }
        std::fs::create_dir_all(&root).expect("mkdir");
        std::fs::write(root.join("PULP_MANIFEST"), manifest).expect("manifest");
    }

    pub fn manifest_url(&self) -> String {
        format!("{}/repo/PULP_MANIFEST", self.base)
    }
}
