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

use super::content::{Unit, find_or_create_many, version_json};
use super::{TaskContext, TaskOutput, db_err};

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

/// The HTTP client for a remote: its timeouts, proxy, headers and TLS options (`ca_cert`
/// trusted besides the system's roots, `client_cert` + `client_key` as the client identity,
/// `tls_validation=false` accepting any server certificate).
pub(crate) fn client(r: &remote::Model) -> Result<Downloader, String> {
    crate::tls::install_provider();
    let mut b = reqwest::Client::builder();
    if !r.tls_validation {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    if let Some(pem) = r.ca_cert.as_deref().filter(|p| !p.trim().is_empty()) {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| format!("The remote's ca_cert cannot be used: {e}"))?;
        b = b.tls_certs_merge(certs);
    }
    match (r.client_cert.as_deref(), r.client_key.as_deref()) {
        (Some(cert), Some(key)) if !cert.trim().is_empty() && !key.trim().is_empty() => {
            let identity = reqwest::Identity::from_pem(format!("{cert}\n{key}").as_bytes())
                .map_err(|e| format!("The remote's client_cert/client_key cannot be used: {e}"))?;
            b = b.identity(identity);
        }
        _ => {}
    }
    if let Some(t) = r.total_timeout {
        b = b.timeout(Duration::from_secs_f64(t));
    }
    if let Some(t) = r.connect_timeout.or(r.sock_connect_timeout) {
        b = b.connect_timeout(Duration::from_secs_f64(t));
    }
    if let Some(t) = r.sock_read_timeout {
        b = b.read_timeout(Duration::from_secs_f64(t));
    }
    if let Some(p) = &r.proxy_url {
        let mut proxy =
            reqwest::Proxy::all(p).map_err(|e| format!("Invalid proxy_url {p:?}: {e}"))?;
        if let (Some(u), Some(pw)) = (&r.proxy_username, &r.proxy_password) {
            proxy = proxy.basic_auth(u, pw);
        }
        b = b.proxy(proxy);
    }
    let mut headers = reqwest::header::HeaderMap::new();
    let list: Vec<Value> = serde_json::from_str(&r.headers).unwrap_or_default();
    for h in list.iter().filter_map(Value::as_object) {
        for (k, v) in h {
            let v = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                reqwest::header::HeaderValue::from_str(&v),
            ) {
                headers.insert(name, value);
            }
        }
    }
    let client = b
        .default_headers(headers)
        .build()
        .map_err(|e| format!("Could not build the HTTP client: {e}"))?;
    Ok(Downloader {
        client,
        limit: r.rate_limit.filter(|n| *n > 0).map(|n| RateLimit {
            interval: Duration::from_secs_f64(1.0 / n as f64),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }),
    })
}

/// An error with its chain of causes (reqwest's own message rarely says what went wrong, e.g.
/// which certificate check failed).
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        cur = c.source();
    }
    out
}

/// A remote's HTTP client with its request-rate limit.
pub(crate) struct Downloader {
    client: reqwest::Client,
    limit: Option<RateLimit>,
}

/// `rate_limit`: at most that many requests per second, shared by every concurrent download
/// of one task (requests are spaced evenly rather than sent in bursts).
struct RateLimit {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl RateLimit {
    async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = Ord::max(*next, tokio::time::Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// GET with Pulp's retry rules: 429, 5xx and transport errors are retried with backoff.
pub(crate) async fn get(
    d: &Downloader,
    r: &remote::Model,
    url: &str,
) -> Result<reqwest::Response, String> {
    let retries = r.max_retries.unwrap_or(3).clamp(0, 10) as u32;
    let mut attempt = 0;
    loop {
        if let Some(l) = &d.limit {
            l.wait().await;
        }
        let mut req = d.client.get(url);
        if let Some(u) = &r.username {
            req = req.basic_auth(u, r.password.as_deref());
        }
        let res = req.send().await;
        let retry = match &res {
            Ok(resp) => resp.status().as_u16() == 429 || resp.status().is_server_error(),
            Err(_) => true,
        };
        if !retry || attempt >= retries {
            return match res {
                Ok(resp) if resp.status().is_success() => Ok(resp),
                Ok(resp) => Err(format!(
                    "{} {} for url {url}",
                    resp.status().as_u16(),
                    resp.status().canonical_reason().unwrap_or("")
                )),
                Err(e) => Err(format!("Could not download {url}: {}", causes(&e))),
            };
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(100 << attempt.min(6))).await;
    }
}

pub(super) fn join_url(manifest_url: &str, relative: &str) -> String {
    let base = match manifest_url.rfind('/') {
        Some(i) => &manifest_url[..=i],
        None => manifest_url,
    };
    let quoted: Vec<String> = relative
        .split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        })
        .collect();
    format!("{base}{}", quoted.join("/"))
}

/// GETs `url` (with the remote's retries) into a temporary file, hashed on the way and not yet
/// finished: the caller verifies and stores it.
pub(crate) async fn download_to_temp(
    store: &pith_entities::ArtifactStore,
    client: &Downloader,
    r: &remote::Model,
    url: &str,
) -> Result<TempArtifact, String> {
    let resp = get(client, r, url).await?;
    let mut t = store.temp().await.map_err(|e| e.to_string())?;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| format!("Could not download {url}: {err}"))?;
        t.write(&chunk).await.map_err(|err| err.to_string())?;
    }
    Ok(t)
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
                    super::placeholders(1, chunk.len())
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
pub(super) async fn synchronize(ctx: TaskContext) -> Result<TaskOutput, String> {
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
    let made = versions::new_version(&db, &txn, &repo_id, None, &ids, &remove)
        .await
        .map_err(db_err)?;
    let latest = versions::latest_number(&db, &txn, &repo_id)
        .await
        .map_err(db_err)?;
    let details = json!({
        "remote_pk": remote_id, "url": r.url, "download_policy": r.policy, "mirror": mirror,
        "most_recent_version": latest, "manifest_checksum": manifest_sha,
    });
    let mut am = repo.into_active_model();
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
    super::publish::after_new_version(&ctx, &v3, &repo_id, &vid).await?;
    let v = pith_entities::entity::repository_version::Entity::find_by_id(vid.clone())
        .one(&db.read)
        .await
        .map_err(db_err)?
        .ok_or("The new version vanished.")?;
    Ok(TaskOutput {
        result: Some(version_json(&db, &v3, &v).await.map_err(db_err)?),
        created: vec![(
            format!("{v3}repositories/file/file/{repo_id}/versions/{n}/"),
            format!("prn:core.repositoryversion:{vid}"),
        )],
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
