//! `synchronize` for file repositories: fetch `PULP_MANIFEST`, download what is missing with
//! bounded concurrency (verifying size and sha256 before anything is stored), then create the
//! content and exactly one new version (none when nothing changed). `mirror` makes the new
//! version hold exactly what the manifest lists.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use pith_entities::Digests;
use pith_entities::entity::{artifact, remote, repository};
use pith_entities::sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Set, TransactionTrait,
};
use pith_entities::store::TempArtifact;
use pith_entities::versions::{self, Remove};
use serde_json::{Value, json};
use sha2::Digest;

use pith_actors::download::{Downloader, client, download_to_temp, get, join_url};
use pith_actors::tasks::repository::{after_new_version, created_version, version_json};
use pith_actors::tasks::{TaskContext, TaskOutput, db_err, placeholders};

use crate::content::{Unit, find_or_create_many};
use crate::models::{FILE_REPO_KEY, FILE_REPOSITORY};

/// Pulp's default `download_concurrency`.
const DEFAULT_CONCURRENCY: usize = 10;

/// One manifest line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Path in the repository.
    pub relative_path: String,
    /// Expected sha256 (lower-case hex).
    pub sha256: String,
    /// Expected size.
    pub size: u64,
}

/// Parses a `PULP_MANIFEST`: `relative_path,sha256,size` per line, split on the last two
/// commas (paths may contain commas); blank lines and `#` comments are skipped.
pub fn parse_manifest(text: &str) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = || {
            format!(
                "Error: Parsing of the manifest file failed on line:{} ({line:?}): expected relative_path,sha256,size.",
                i + 1
            )
        };
        let mut parts = line.rsplitn(3, ',');
        let (size, digest, path) = (
            parts.next().ok_or_else(fail)?,
            parts.next().ok_or_else(fail)?,
            parts.next().ok_or_else(fail)?,
        );
        let (path, digest, size) = (path.trim(), digest.trim().to_ascii_lowercase(), size.trim());
        let path_ok = !path.is_empty()
            && !path.starts_with('/')
            && !path.ends_with('/')
            && path
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != "..");
        let digest_ok = digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit());
        let size = size.parse::<u64>().map_err(|_| fail())?;
        if !path_ok || !digest_ok {
            return Err(fail());
        }
        out.push(Entry {
            relative_path: path.to_owned(),
            sha256: digest,
            size,
        });
    }
    Ok(out)
}

/// Downloads one file into a temporary file and verifies it; the caller records it (in a
/// batch, see [`pith_entities::artifacts::store_batch`]).
async fn download(
    ctx: &TaskContext,
    client: &Downloader,
    r: &remote::Model,
    url: String,
    e: Entry,
) -> Result<(TempArtifact, Digests), String> {
    let mut t = download_to_temp(&ctx.deps.store, client, r, &url).await?;
    let d = t.finish_unsynced().await.map_err(|err| err.to_string())?;
    if d.size != e.size {
        return Err(format!(
            "{} ({url}): expected size {} bytes, got {} bytes; nothing was stored.",
            e.relative_path, e.size, d.size
        ));
    }
    if d.sha256 != e.sha256 {
        return Err(format!(
            "{} ({url}): expected sha256 {}, got {}; nothing was stored.",
            e.relative_path, e.sha256, d.sha256
        ));
    }
    Ok((t, d))
}

/// Downloads verified but not yet recorded, flushed as one batch.
const RECORD_BATCH: usize = 256;

async fn record(
    ctx: &TaskContext,
    pending: &mut Vec<(TempArtifact, Digests)>,
    have: &mut BTreeMap<String, artifact::Model>,
) -> Result<(), String> {
    let batch = std::mem::take(pending);
    for a in pith_entities::artifacts::store_batch(&ctx.deps.db, &ctx.deps.store, batch)
        .await
        .map_err(|err| format!("Could not record downloaded artifacts: {err}"))?
    {
        have.insert(a.sha256.clone(), a);
    }
    Ok(())
}

/// Records where each entry's bytes can be fetched from this remote (the content app uses it
/// for content not downloaded yet, repair for damaged files): one row per content artifact
/// and remote, refreshed (and its failure mark cleared) on every sync.
async fn record_remote_artifacts(
    db: &pith_entities::Db,
    conn: &impl ConnectionTrait,
    r: &remote::Model,
    entries: &[Entry],
    content_ids: &[String],
) -> Result<(), pith_entities::DbError> {
    const CHUNK: usize = pith_entities::MAX_BIND / 7;
    let mut ca_of = std::collections::HashMap::new();
    for chunk in content_ids.chunks(CHUNK) {
        let rows = conn
            .query_all_raw(db.stmt(
                &format!(
                    "SELECT pulp_id, content_id FROM core_contentartifact WHERE content_id IN ({})",
                    placeholders(1, chunk.len())
                ),
                chunk.iter().map(|c| c.clone().into()).collect(),
            ))
            .await?;
        for row in rows {
            ca_of.insert(
                row.try_get::<String>("", "content_id")?,
                row.try_get::<String>("", "pulp_id")?,
            );
        }
    }
    let now = pith_entities::time::now_micros();
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<(&String, &Entry)> = content_ids
        .iter()
        .zip(entries)
        .filter_map(|(c, e)| ca_of.get(c).map(|ca| (ca, e)))
        .filter(|(ca, _)| seen.insert(*ca))
        .collect();
    for chunk in rows.chunks(CHUNK) {
        let mut sql = String::from(
            "INSERT INTO core_remoteartifact (pulp_id, content_artifact_id, remote_id, url, size, sha256, failed_at, pulp_created) VALUES ",
        );
        let mut values: Vec<pith_entities::sea_orm::Value> = Vec::with_capacity(chunk.len() * 7);
        for (i, (ca, e)) in chunk.iter().enumerate() {
            let b = i * 7;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},${},${},NULL,${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            ));
            values.extend([
                uuid::Uuid::now_v7().to_string().into(),
                (*ca).clone().into(),
                r.pulp_id.clone().into(),
                join_url(&r.url, &e.relative_path).into(),
                (e.size as i64).into(),
                e.sha256.clone().into(),
                now.into(),
            ]);
        }
        sql.push_str(
            " ON CONFLICT (content_artifact_id, remote_id) DO UPDATE SET url = excluded.url, \
             size = excluded.size, sha256 = excluded.sha256, failed_at = NULL",
        );
        conn.execute_raw(db.stmt(&sql, values)).await?;
    }
    Ok(())
}

/// The task body: `{v3, repository, remote, mirror}`.
pub async fn synchronize(ctx: TaskContext) -> Result<TaskOutput, String> {
    let db = ctx.deps.db.clone();
    let arg = |k: &str| {
        ctx.args
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("Missing argument '{k}'."))
    };
    let (v3, repo_id, remote_id) = (arg("v3")?, arg("repository")?, arg("remote")?);
    let mirror = ctx
        .args
        .get("mirror")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let r = remote::Entity::find_by_id(remote_id.clone())
        .one(&db.read)
        .await
        .map_err(db_err)?
        .ok_or("The remote no longer exists.")?;
    let repo = repository::Entity::find_by_id(repo_id.clone())
        .one(&db.read)
        .await
        .map_err(db_err)?
        .ok_or("The repository no longer exists.")?;
    let client = client(&r)?;

    ctx.progress(
        0,
        "Downloading Metadata",
        "sync.downloading.metadata",
        "running",
        None,
        0,
    )
    .await;
    let manifest = get(&client, &r, &r.url)
        .await?
        .bytes()
        .await
        .map_err(|e| format!("Could not download {}: {e}", r.url))?;
    let manifest_sha = hex::encode(sha2::Sha256::digest(&manifest));
    ctx.progress(
        0,
        "Downloading Metadata",
        "sync.downloading.metadata",
        "completed",
        None,
        1,
    )
    .await;
    let entries = parse_manifest(&String::from_utf8_lossy(&manifest))?;
    ctx.progress(
        1,
        "Parsing Metadata Lines",
        "sync.parsing.metadata",
        "completed",
        Some(entries.len() as i64),
        entries.len() as i64,
    )
    .await;

    // Which files do we already have?
    let mut digests: Vec<String> = entries.iter().map(|e| e.sha256.clone()).collect();
    digests.sort();
    digests.dedup();
    let mut have: BTreeMap<String, artifact::Model> =
        pith_entities::artifacts::by_sha256(&db.read, &digests)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|a| (a.sha256.clone(), a))
            .collect();
    // `on_demand` and `streamed` download nothing now: the content app fetches on request.
    let deferred = r.policy != "immediate";
    let mut wanted: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let missing: Vec<Entry> = entries
        .iter()
        .filter(|e| !deferred && !have.contains_key(&e.sha256) && wanted.insert(e.sha256.as_str()))
        .cloned()
        .collect();
    let total = missing.len() as i64;
    ctx.progress(
        2,
        "Downloading Artifacts",
        "sync.downloading.artifacts",
        "running",
        Some(total),
        0,
    )
    .await;
    let concurrency = r
        .download_concurrency
        .map_or(DEFAULT_CONCURRENCY, |n| n.clamp(1, 64) as usize);
    let ctx_ref = &ctx;
    let mut stream = futures_util::stream::iter(missing.into_iter().map(|e| {
        let url = join_url(&r.url, &e.relative_path);
        let (client, r) = (&client, &r);
        async move { download(ctx_ref, client, r, url, e).await }
    }))
    .buffer_unordered(concurrency);
    let mut done = 0i64;
    let mut last_report = std::time::Instant::now();
    let mut pending = Vec::new();
    while let Some(res) = stream.next().await {
        pending.push(res?);
        if pending.len() >= RECORD_BATCH {
            record(&ctx, &mut pending, &mut have).await?;
        }
        done += 1;
        if last_report.elapsed() > Duration::from_millis(500) {
            ctx.progress(
                2,
                "Downloading Artifacts",
                "sync.downloading.artifacts",
                "running",
                Some(total),
                done,
            )
            .await;
            last_report = std::time::Instant::now();
        }
    }
    drop(stream);
    record(&ctx, &mut pending, &mut have).await?;
    ctx.progress(
        2,
        "Downloading Artifacts",
        "sync.downloading.artifacts",
        "completed",
        Some(total),
        done,
    )
    .await;

    // Content and the new version, in one transaction.
    let txn = db.write.begin().await.map_err(db_err)?;
    let mut units = Vec::with_capacity(entries.len());
    for e in &entries {
        let a = have.get(&e.sha256).map(|a| a.pulp_id.as_str());
        if a.is_none() && !deferred {
            return Err(format!(
                "{}: artifact missing after download",
                e.relative_path
            ));
        }
        units.push(Unit {
            relative_path: &e.relative_path,
            digest: &e.sha256,
            artifact: a,
        });
    }
    let ids = find_or_create_many(&db, &txn, &units)
        .await
        .map_err(db_err)?;
    record_remote_artifacts(&db, &txn, &r, &entries, &ids)
        .await
        .map_err(db_err)?;
    let remove = if mirror {
        Remove::All
    } else {
        Remove::Ids(Vec::new())
    };
    let made = versions::new_version(&db, &txn, &repo_id, &FILE_REPO_KEY, None, &ids, &remove)
        .await
        .map_err(db_err)?;
    let latest = versions::latest_number(&db, &txn, &repo_id)
        .await
        .map_err(db_err)?;
    let details = json!({
        "remote_pk": remote_id, "url": r.url, "download_policy": r.policy, "mirror": mirror,
        "most_recent_version": latest, "manifest_checksum": manifest_sha,
    });
    let mut am = repo.clone().into_active_model();
    am.last_sync_details = Set(details.to_string());
    am.update(&txn).await.map_err(db_err)?;
    txn.commit().await.map_err(db_err)?;
    ctx.progress(
        3,
        "Associating Content",
        "associating.content",
        "completed",
        Some(ids.len() as i64),
        ids.len() as i64,
    )
    .await;

    let Some((vid, n)) = made else {
        return Ok(TaskOutput::default());
    };
    after_new_version(&ctx, &v3, &repo, &vid).await?;
    let v = pith_entities::entity::repository_version::Entity::find_by_id(vid.clone())
        .one(&db.read)
        .await
        .map_err(db_err)?
        .ok_or("The new version vanished.")?;
    let repo_href = FILE_REPOSITORY.href(&v3, &repo_id);
    Ok(TaskOutput {
        result: Some(
            version_json(&db, &ctx.deps.types, &v3, &repo_href, &v)
                .await
                .map_err(db_err)?,
        ),
        created: vec![created_version(&ctx, &v3, &repo, &vid, n)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_parsing_and_urls() {
        let d = "a".repeat(64);
        let m = format!(
            "# comment\n\nfile,with,commas.txt,{d},12\n dir/b , {} , 3 \n",
            "B".repeat(64)
        );
        let e = parse_manifest(&m).unwrap();
        assert_eq!(
            e[0],
            Entry {
                relative_path: "file,with,commas.txt".into(),
                sha256: d.clone(),
                size: 12
            }
        );
        assert_eq!(e[1].sha256, "b".repeat(64));
        assert!(parse_manifest("x,y,z").unwrap_err().contains("line:1"));
        assert!(parse_manifest(&format!("/abs,{d},1")).is_err());
        assert_eq!(
            join_url("http://h/repo/PULP_MANIFEST", "a b/c#d"),
            "http://h/repo/a%20b/c%23d"
        );
    }
}
