//! The one sync pipeline, the role of Pulp's `DeclarativeVersion` (`pulpcore.plugin.stages`):
//! a plugin's sync reads its upstream's metadata and declares content with the artifacts each
//! unit needs ([`DeclarativeContent`]); core does the rest, the same for every plugin:
//!
//! 1. finds the artifacts already stored (by sha256);
//! 2. with the `immediate` policy downloads the others, with the remote's bounded concurrency,
//!    verifying size and sha256 before anything is stored, retrying a download whose bytes do
//!    not match up to the remote's `max_retries`; `on_demand` and `streamed` download nothing;
//! 3. finds or creates the content by its type's natural key, linking stored artifacts;
//! 4. records where each artifact can be fetched from the remote (remote artifacts);
//! 5. makes one new version (none when nothing changed) with the declared content added, or,
//!    with `mirror`, exactly the declared content, which the repository type's
//!    `finalize_new_version` may still reject,
//!
//! writing Pulp's progress reports (`Downloading Artifacts`, `Associating Content`) on the way.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::StreamExt;
use pith_entities::Digests;
use pith_entities::content::{NewContent, RemoteArtifact};
use pith_entities::entity::{artifact, remote, repository};
use pith_entities::sea_orm::{TransactionTrait, Value};
use pith_entities::store::TempArtifact;
use pith_entities::versions::Remove;

use crate::download::{DownloadError, Downloader, download_to_temp};
use crate::plugin::ContentType;
use crate::tasks::repository::new_version;
use crate::tasks::{TaskContext, TaskError};

/// Pulp's default `download_concurrency`.
const DEFAULT_CONCURRENCY: usize = 10;

/// Verified downloads not yet recorded, flushed as one batch.
const RECORD_BATCH: usize = 256;

/// One artifact of declared content: where the unit keeps it, where to get it and what it
/// must be (Pulp's `DeclarativeArtifact`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclarativeArtifact {
    /// The artifact's path in the unit (`core_contentartifact.relative_path`).
    pub relative_path: String,
    /// Its URL at the remote.
    pub url: String,
    /// The size the upstream declares, checked before anything is stored.
    pub size: Option<u64>,
    /// The sha256 the upstream declares (lower-case hex), checked before anything is stored;
    /// `None`: unknown until downloaded (never deduplicated before the download).
    pub sha256: Option<String>,
}

/// One unit a sync declares (Pulp's `DeclarativeContent`).
#[derive(Clone, Debug, PartialEq)]
pub struct DeclarativeContent {
    /// Its type.
    pub content_type: ContentType,
    /// Values of the type's natural key, in order.
    pub key: Vec<String>,
    /// Values of the type's other fields, in order.
    pub fields: Vec<Value>,
    /// The artifacts it needs (none for metadata-only content).
    pub artifacts: Vec<DeclarativeArtifact>,
}

/// A sync of one repository from one remote.
#[derive(Clone, Copy, Debug)]
pub struct DeclarativeVersion<'a> {
    /// The repository that gets the new version.
    pub repository: &'a repository::Model,
    /// The remote synced from (its policy, concurrency and retries apply).
    pub remote: &'a remote::Model,
    /// The remote's client, which the plugin's metadata downloads used too (one `rate_limit`
    /// for the whole sync).
    pub downloader: &'a Downloader,
    /// The new version holds exactly the declared content (else: added to the latest).
    pub mirror: bool,
    /// Position of the pipeline's first progress report (the plugin's own come before it).
    pub progress_from: i32,
}

impl DeclarativeVersion<'_> {
    /// Runs the pipeline over `content`; returns the new version's id and number, committed,
    /// or `None` when the repository already held exactly that.
    pub async fn create(
        &self,
        ctx: &TaskContext,
        content: Vec<DeclarativeContent>,
    ) -> Result<Option<(String, i64)>, TaskError> {
        let db = &ctx.deps.db;
        let mut digests: Vec<String> = declared_digests(&content).map(str::to_owned).collect();
        digests.sort_unstable();
        digests.dedup();
        let mut have: HashMap<String, artifact::Model> =
            pith_entities::artifacts::by_sha256(&db.read, &digests)
                .await?
                .into_iter()
                .map(|a| (a.sha256.clone(), a))
                .collect();
        // `on_demand` and `streamed` download nothing now: the content app fetches on request.
        let deferred = self.remote.policy != "immediate";
        let downloaded = if deferred {
            HashMap::new()
        } else {
            self.download(ctx, &content, &mut have).await?
        };

        let mut units = Vec::with_capacity(content.len());
        for (ci, c) in content.iter().enumerate() {
            let mut artifacts = Vec::with_capacity(c.artifacts.len());
            for (ai, a) in c.artifacts.iter().enumerate() {
                let sha = a.sha256.as_ref().or(downloaded.get(&(ci, ai)));
                let id = sha.and_then(|s| have.get(s)).map(|m| m.pulp_id.clone());
                if id.is_none() && !deferred {
                    return Err(TaskError::Invalid(format!(
                        "{}: artifact missing after download",
                        a.relative_path
                    )));
                }
                artifacts.push((a.relative_path.clone(), id));
            }
            units.push(NewContent {
                key: c.key.clone(),
                fields: c.fields.clone(),
                artifacts,
                labels: None,
            });
        }

        let txn = db.write.begin().await?;
        let ids = save_content(db, &txn, &content, &units).await?;
        let remote_artifacts: Vec<RemoteArtifact> = content
            .iter()
            .zip(&ids)
            .flat_map(|(c, id)| {
                c.artifacts.iter().map(move |a| RemoteArtifact {
                    content_id: id.clone(),
                    relative_path: a.relative_path.clone(),
                    url: a.url.clone(),
                    size: a.size,
                    sha256: a.sha256.clone(),
                })
            })
            .collect();
        pith_entities::content::record_remote_artifacts(
            db,
            &txn,
            &self.remote.pulp_id,
            &remote_artifacts,
        )
        .await?;
        let remove = if self.mirror {
            Remove::All
        } else {
            Remove::Ids(Vec::new())
        };
        let made = new_version(ctx, &txn, self.repository, None, &ids, &remove).await?;
        txn.commit().await?;
        let n = ids.len() as i64;
        ctx.progress(
            self.progress_from + 1,
            "Associating Content",
            "associating.content",
            "completed",
            Some(n),
            n,
        )
        .await;
        Ok(made)
    }

    /// Downloads every declared artifact not stored yet (one download per sha256), records
    /// them in batches into `have`, and returns the sha256 found for each artifact that
    /// declared none, by (content, artifact) index.
    async fn download(
        &self,
        ctx: &TaskContext,
        content: &[DeclarativeContent],
        have: &mut HashMap<String, artifact::Model>,
    ) -> Result<HashMap<(usize, usize), String>, TaskError> {
        let mut wanted: HashSet<&str> = HashSet::new();
        let mut missing: Vec<((usize, usize), DeclarativeArtifact)> = Vec::new();
        for (ci, c) in content.iter().enumerate() {
            for (ai, a) in c.artifacts.iter().enumerate() {
                let needed = match &a.sha256 {
                    Some(s) => !have.contains_key(s) && wanted.insert(s.as_str()),
                    None => true,
                };
                if needed {
                    missing.push(((ci, ai), a.clone()));
                }
            }
        }
        let total = missing.len() as i64;
        self.report(ctx, "running", total, 0).await;
        let concurrency = self
            .remote
            .download_concurrency
            .map_or(DEFAULT_CONCURRENCY, |n| n.clamp(1, 64) as usize);
        let (client, remote) = (self.downloader, self.remote);
        let mut stream =
            futures_util::stream::iter(missing.into_iter().map(|(at, a)| async move {
                download_verified(ctx, client, remote, &a)
                    .await
                    .map(|(t, d)| (at, t, d))
            }))
            .buffer_unordered(concurrency);
        let mut found = HashMap::new();
        let mut done = 0i64;
        let mut last_report = std::time::Instant::now();
        let mut pending = Vec::new();
        while let Some(res) = stream.next().await {
            let (at, t, d) = res?;
            if content[at.0].artifacts[at.1].sha256.is_none() {
                found.insert(at, d.sha256.clone());
            }
            pending.push((t, d));
            if pending.len() >= RECORD_BATCH {
                record(ctx, &mut pending, have).await?;
            }
            done += 1;
            if last_report.elapsed() > Duration::from_millis(500) {
                self.report(ctx, "running", total, done).await;
                last_report = std::time::Instant::now();
            }
        }
        drop(stream);
        record(ctx, &mut pending, have).await?;
        self.report(ctx, "completed", total, done).await;
        Ok(found)
    }

    async fn report(&self, ctx: &TaskContext, state: &str, total: i64, done: i64) {
        ctx.progress(
            self.progress_from,
            "Downloading Artifacts",
            "sync.downloading.artifacts",
            state,
            Some(total),
            done,
        )
        .await;
    }
}

/// The sha256s the declarations name.
fn declared_digests(content: &[DeclarativeContent]) -> impl Iterator<Item = &str> {
    content
        .iter()
        .flat_map(|c| &c.artifacts)
        .filter_map(|a| a.sha256.as_deref())
}

/// Finds or creates the units, type by type, and returns their ids in declaration order.
async fn save_content(
    db: &pith_entities::Db,
    txn: &pith_entities::sea_orm::DatabaseTransaction,
    content: &[DeclarativeContent],
    units: &[NewContent],
) -> Result<Vec<String>, TaskError> {
    let mut by_type: Vec<(ContentType, Vec<usize>)> = Vec::new();
    for (i, c) in content.iter().enumerate() {
        match by_type.iter_mut().find(|(t, _)| *t == c.content_type) {
            Some((_, idx)) => idx.push(i),
            None => by_type.push((c.content_type, vec![i])),
        }
    }
    let mut ids = vec![String::new(); content.len()];
    for (t, idx) in by_type {
        let batch: Vec<NewContent> = idx.iter().map(|&i| units[i].clone()).collect();
        let made =
            pith_entities::content::find_or_create(db, txn, t.detail.pulp_type, &t.table, &batch)
                .await?;
        for (i, id) in idx.into_iter().zip(made) {
            ids[i] = id;
        }
    }
    Ok(ids)
}

/// Downloads one artifact into a temporary file and checks it against what was declared; an
/// answer cut off part-way or bytes that do not match are fetched again, up to the remote's
/// `max_retries` (Pulp's default: 3) with backoff, one budget for both (429, 5xx and failed
/// connections are retried by [`crate::download::get`] itself). The caller records it (in a
/// batch, see [`pith_entities::artifacts::store_batch`]).
async fn download_verified(
    ctx: &TaskContext,
    client: &Downloader,
    r: &remote::Model,
    a: &DeclarativeArtifact,
) -> Result<(TempArtifact, Digests), TaskError> {
    let retries = r.max_retries.unwrap_or(3).clamp(0, 10) as u32;
    let mut attempt = 0;
    loop {
        let failure = match download_to_temp(&ctx.deps.store, client, r, &a.url).await {
            Ok(mut t) => {
                let d = t.finish_unsynced().await?;
                match mismatch(a, &d) {
                    None => return Ok((t, d)),
                    Some(msg) => DownloadError::Mismatch(msg),
                }
            }
            Err(e @ DownloadError::Interrupted { .. }) => e,
            Err(e) => return Err(e.into()),
        };
        if attempt >= retries {
            return Err(failure.into());
        }
        attempt += 1;
        tracing::warn!(url = %a.url, attempt, error = %failure, "downloading again");
        tokio::time::sleep(Duration::from_millis(100 << attempt.min(6))).await;
    }
}

/// What is wrong with downloaded bytes `d`, if anything.
fn mismatch(a: &DeclarativeArtifact, d: &Digests) -> Option<String> {
    if let Some(size) = a.size.filter(|s| *s != d.size) {
        return Some(format!(
            "{} ({}): expected size {size} bytes, got {} bytes; nothing was stored.",
            a.relative_path, a.url, d.size
        ));
    }
    match &a.sha256 {
        Some(s) if !s.eq_ignore_ascii_case(&d.sha256) => Some(format!(
            "{} ({}): expected sha256 {s}, got {}; nothing was stored.",
            a.relative_path, a.url, d.sha256
        )),
        _ => None,
    }
}

async fn record(
    ctx: &TaskContext,
    pending: &mut Vec<(TempArtifact, Digests)>,
    have: &mut HashMap<String, artifact::Model>,
) -> Result<(), TaskError> {
    let batch = std::mem::take(pending);
    for a in pith_entities::artifacts::store_batch(&ctx.deps.db, &ctx.deps.store, batch).await? {
        have.insert(a.sha256.clone(), a);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(size: Option<u64>, sha256: Option<&str>) -> DeclarativeArtifact {
        DeclarativeArtifact {
            relative_path: "a.txt".into(),
            url: "http://h/a.txt".into(),
            size,
            sha256: sha256.map(str::to_owned),
        }
    }

    #[test]
    fn declared_size_and_digest_are_checked() {
        let d = Digests {
            size: 3,
            sha224: String::new(),
            sha256: "ab".into(),
            sha384: String::new(),
            sha512: String::new(),
        };
        assert_eq!(mismatch(&artifact(Some(3), Some("AB")), &d), None);
        assert_eq!(mismatch(&artifact(None, None), &d), None);
        let size = mismatch(&artifact(Some(4), Some("ab")), &d).unwrap();
        assert!(
            size.contains("expected size 4 bytes, got 3 bytes"),
            "{size}"
        );
        let digest = mismatch(&artifact(Some(3), Some("cd")), &d).unwrap();
        assert!(digest.contains("expected sha256 cd, got ab"), "{digest}");
    }
}
