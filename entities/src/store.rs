//! The content-addressed artifact store on the filesystem, in Pulp's layout:
//! `<media_root>/artifact/<sha256[0:2]>/<sha256[2:]>`.
//!
//! Bytes land in a temporary file under `<media_root>/tmp/` while every allowed digest is
//! computed; only after the caller has checked size and digests is the file renamed into place
//! (same filesystem, so the rename is atomic). A dropped [`TempArtifact`] deletes its file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use tokio::io::AsyncWriteExt;

/// Errors of the artifact store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Filesystem trouble.
    #[error("artifact storage: {0}")]
    Io(#[from] std::io::Error),
}

/// Size and the digests Pulp allows by default (`ALLOWED_CONTENT_CHECKSUMS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digests {
    /// Bytes.
    pub size: u64,
    /// Hex digests.
    pub sha224: String,
    /// Hex digests.
    pub sha256: String,
    /// Hex digests.
    pub sha384: String,
    /// Hex digests.
    pub sha512: String,
}

/// The store rooted at `MEDIA_ROOT`.
///
/// Bytes in flight (downloads, uploads being hashed) are written in a working directory of the
/// process, `tmp/<node>/<incarnation>/` (on the store's filesystem, so placing a verified file
/// is a rename), never shared with another process: a process killed mid-download leaves its
/// partial files there, and they go once that process is known dead
/// ([`ArtifactStore::sweep_working_dirs`]; at once when the next process is alone on the media
/// root, [`ArtifactStore::clear_other_working_dirs`]), as Pulp wipes a dead worker's working
/// directory.
#[derive(Clone, Debug)]
pub struct ArtifactStore {
    root: PathBuf,
    working: PathBuf,
}

/// How old a file directly under `tmp/` (where partial downloads went before working
/// directories) must be before a sweep removes it.
const LEGACY_TMP_AGE: Duration = Duration::from_secs(24 * 3600);

impl ArtifactStore {
    /// Opens (and creates) the store's directories; temporary files go directly in `tmp/`
    /// until [`ArtifactStore::with_working_dir`] names the process.
    pub fn open(root: impl Into<PathBuf>) -> Result<ArtifactStore, StoreError> {
        let root = root.into();
        std::fs::create_dir_all(root.join("artifact"))?;
        std::fs::create_dir_all(root.join("tmp"))?;
        let working = root.join("tmp");
        Ok(ArtifactStore { root, working })
    }

    /// The store with this process's own working directory `tmp/<node>/<incarnation>/`
    /// (created). Node names need not be unique (two `pith worker` on one host share one), so
    /// nothing of the node's other incarnations is touched here: the sweeps remove them once
    /// they are known dead.
    pub fn with_working_dir(
        &self,
        node: &str,
        incarnation: &str,
    ) -> Result<ArtifactStore, StoreError> {
        let working = self
            .root
            .join("tmp")
            .join(safe_name(node))
            .join(safe_name(incarnation));
        std::fs::create_dir_all(&working)?;
        Ok(ArtifactStore {
            root: self.root.clone(),
            working,
        })
    }

    /// Removes the working directories of processes that are gone: an incarnation not in
    /// `live` whose directory has not changed for `quiet` (a process that just started may not
    /// have registered yet), and files directly under `tmp/` older than a day (written before
    /// working directories existed). Returns how many entries went.
    pub fn sweep_working_dirs(
        &self,
        live: &std::collections::HashSet<String>,
        quiet: std::time::Duration,
    ) -> usize {
        self.sweep(live, quiet, LEGACY_TMP_AGE)
    }

    /// Removes every working file but this process's, for a process that alone uses the media
    /// root (`pith serve` on SQLite): whatever else is there was left by a dead process.
    pub fn clear_other_working_dirs(&self) -> usize {
        self.sweep(&Default::default(), Duration::ZERO, Duration::ZERO)
    }

    fn sweep(
        &self,
        live: &std::collections::HashSet<String>,
        quiet: Duration,
        legacy_age: Duration,
    ) -> usize {
        let old = |p: &Path, age: Duration| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|e| e >= age)
        };
        let mut removed = 0;
        let Ok(nodes) = std::fs::read_dir(self.root.join("tmp")) else {
            return 0;
        };
        for n in nodes.flatten() {
            let path = n.path();
            if !path.is_dir() {
                if old(&path, legacy_age) && std::fs::remove_file(&path).is_ok() {
                    removed += 1;
                }
                continue;
            }
            let Ok(incarnations) = std::fs::read_dir(&path) else {
                continue;
            };
            for i in incarnations.flatten() {
                let name = i.file_name().to_string_lossy().into_owned();
                if i.path() != self.working && !live.contains(&name) && old(&i.path(), quiet) {
                    remove_all(&i.path());
                    removed += 1;
                }
            }
            // An empty node directory goes too (fails harmlessly when not empty).
            let _ = std::fs::remove_dir(&path);
        }
        removed
    }

    /// The media root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The storage-relative name Pulp shows in an artifact's `file` field.
    pub fn relative_name(sha256: &str) -> String {
        format!("artifact/{}/{}", &sha256[..2], &sha256[2..])
    }

    /// Makes everything written to the store so far durable: one `syncfs` for a whole batch
    /// of files (file data and the renames that placed them) instead of an `fsync` per file.
    pub async fn sync(&self) -> Result<(), StoreError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let dir = std::fs::File::open(&root)?;
            rustix::fs::syncfs(&dir).map_err(std::io::Error::from)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
        Ok(())
    }

    /// Absolute path of a stored artifact.
    pub fn path_of(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Starts a temporary file to stream bytes into.
    pub async fn temp(&self) -> Result<TempArtifact, StoreError> {
        let path = self.working.join(uuid::Uuid::new_v4().simple().to_string());
        let file = tokio::fs::File::create(&path).await?;
        Ok(TempArtifact {
            path: Some(path),
            file: Some(file),
            size: 0,
            h224: Sha224::new(),
            h256: Sha256::new(),
            h384: Sha384::new(),
            h512: Sha512::new(),
        })
    }

    /// Removes a stored file (a missing file is not an error: the goal is that it is gone).
    pub async fn remove(&self, relative: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path_of(relative)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Total and free bytes of the filesystem holding the media root.
    pub fn disk_usage(&self) -> Option<(u64, u64)> {
        let st = rustix::fs::statvfs(&self.root).ok()?;
        Some((st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize))
    }
}

/// Bytes on their way into the store.
#[derive(Debug)]
pub struct TempArtifact {
    path: Option<PathBuf>,
    file: Option<tokio::fs::File>,
    size: u64,
    h224: Sha224,
    h256: Sha256,
    h384: Sha384,
    h512: Sha512,
}

impl TempArtifact {
    /// Appends a chunk, hashing it on a blocking thread when it is large.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(chunk).await?;
        }
        self.size += chunk.len() as u64;
        self.h224.update(chunk);
        self.h256.update(chunk);
        self.h384.update(chunk);
        self.h512.update(chunk);
        Ok(())
    }

    /// Hands everything written so far to the operating system, so that other descriptors of
    /// the file (readers following a download) see it.
    pub async fn flush(&mut self) -> Result<(), StoreError> {
        if let Some(f) = self.file.as_mut() {
            f.flush().await?;
        }
        Ok(())
    }

    /// Where the temporary file is (for readers that follow it while it is written).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Flushes the file to disk and returns its digests. The file stays temporary until
    /// [`Self::persist`].
    pub async fn finish(&mut self) -> Result<Digests, StoreError> {
        if let Some(f) = self.file.as_mut() {
            f.flush().await?;
            f.sync_all().await?;
        }
        self.finish_unsynced().await
    }

    /// Like [`Self::finish`] without the `fsync`: for batches, whose caller makes them durable
    /// all at once with [`ArtifactStore::sync`] before recording any of them.
    pub async fn finish_unsynced(&mut self) -> Result<Digests, StoreError> {
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
        }
        Ok(Digests {
            size: self.size,
            sha224: hex::encode(self.h224.clone().finalize()),
            sha256: hex::encode(self.h256.clone().finalize()),
            sha384: hex::encode(self.h384.clone().finalize()),
            sha512: hex::encode(self.h512.clone().finalize()),
        })
    }

    /// Moves the verified file into its content-addressed place and returns the relative name.
    /// An existing file there is replaced (atomically, by a rename): its bytes are the same if
    /// it was recorded, and it may be a torn leftover of a crash if it was not.
    pub async fn persist(self, store: &ArtifactStore, sha256: &str) -> Result<String, StoreError> {
        let rel = ArtifactStore::relative_name(sha256);
        self.persist_as(store, rel).await
    }

    /// Moves the file to `rel` inside the store (replacing what is there) and returns `rel`.
    pub async fn persist_as(
        mut self,
        store: &ArtifactStore,
        rel: String,
    ) -> Result<String, StoreError> {
        let dest = store.path_of(&rel);
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        if let Some(src) = self.path.take() {
            tokio::fs::rename(&src, &dest).await?;
        }
        Ok(rel)
    }
}

impl Drop for TempArtifact {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A node or incarnation name as one path component (`/` and NUL cannot appear in one).
fn safe_name(s: &str) -> String {
    s.replace(['/', '\0'], "_")
}

fn remove_all(p: &Path) {
    let gone = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
    if let Err(e) = gone {
        tracing::warn!(path = %p.display(), error = %e, "could not remove a stale working directory");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Working directories: a sweep drops those of processes not alive and quiet (never the
    /// sweeper's own), and a process that alone uses the media root drops everything else.
    #[tokio::test]
    async fn working_dirs_of_dead_processes_go() {
        let dir = tempfile::tempdir().unwrap();
        let base = ArtifactStore::open(dir.path()).unwrap();
        let files = |p: &Path| walk(p);
        let old = base.with_working_dir("serve@h:1", "inc-old").unwrap();
        let mut t = old.temp().await.unwrap();
        t.write(b"partial").await.unwrap();
        t.flush().await.unwrap();
        std::mem::forget(t); // as a killed process leaves it
        let other = base.with_working_dir("worker@h:2", "inc-other").unwrap();
        let mut o = other.temp().await.unwrap();
        o.write(b"in flight").await.unwrap();
        o.flush().await.unwrap();
        std::mem::forget(o);
        std::fs::write(dir.path().join("tmp/legacy"), b"x").unwrap();
        assert_eq!(files(&dir.path().join("tmp")), 3);

        // The same node name again (a restart, or a second worker on the host): nothing of
        // the other incarnation is touched yet.
        let new = base.with_working_dir("serve@h:1", "inc-new").unwrap();
        assert_eq!(files(&dir.path().join("tmp")), 3);
        // A sweep keeps live processes' files, recent legacy ones, and quiet-period ones.
        let both = std::collections::HashSet::from(["inc-other".to_owned(), "inc-old".to_owned()]);
        assert_eq!(new.sweep_working_dirs(&both, Duration::ZERO), 0);
        let hour = Duration::from_secs(3600);
        assert_eq!(new.sweep_working_dirs(&Default::default(), hour), 0);
        assert_eq!(files(&dir.path().join("tmp")), 3);
        // Once the old incarnation is gone, its files go; then, alone, everything but ours.
        let other = std::collections::HashSet::from(["inc-other".to_owned()]);
        assert_eq!(new.sweep_working_dirs(&other, Duration::ZERO), 1);
        assert_eq!(files(&dir.path().join("tmp")), 2);
        assert_eq!(new.clear_other_working_dirs(), 2);
        assert_eq!(files(&dir.path().join("tmp")), 0);
        assert!(new.working.is_dir());
    }

    fn walk(p: &Path) -> usize {
        std::fs::read_dir(p)
            .map(|d| {
                d.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn stores_by_sha256_and_cleans_up_unpersisted() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(dir.path()).unwrap();
        let mut t = store.temp().await.unwrap();
        t.write(b"hello ").await.unwrap();
        t.write(b"world").await.unwrap();
        let d = t.finish().await.unwrap();
        assert_eq!(d.size, 11);
        assert_eq!(
            d.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let rel = t.persist(&store, &d.sha256).await.unwrap();
        assert_eq!(
            rel,
            "artifact/b9/4d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(std::fs::read(store.path_of(&rel)).unwrap(), b"hello world");

        let mut t = store.temp().await.unwrap();
        t.write(b"x").await.unwrap();
        drop(t);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
