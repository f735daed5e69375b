//! `synchronize` for file repositories: fetch `PULP_MANIFEST` and declare one file content
//! unit per line to core's sync pipeline ([`DeclarativeVersion`]), which downloads what is
//! missing (verified before anything is stored) and makes exactly one new version (none when
//! nothing changed). `mirror` makes the new version hold exactly what the manifest lists.

use pith_entities::entity::{remote, repository};
use pith_entities::sea_orm::EntityTrait;
use serde_json::{Value, json};
use sha2::Digest;

use pith_actors::download::{client, get_bytes, join_url};
use pith_actors::stages::{DeclarativeArtifact, DeclarativeContent, DeclarativeVersion};
use pith_actors::tasks::repository::finish_new_version;
use pith_actors::tasks::{TaskContext, TaskError, TaskOutput};

use crate::models::FILE_CONTENT;

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

/// The declaration of the unit a manifest line names, its file at `<manifest dir>/<path>`.
fn declare(remote_url: &str, e: Entry) -> DeclarativeContent {
    DeclarativeContent {
        content_type: FILE_CONTENT,
        key: vec![e.relative_path.clone(), e.sha256.clone()],
        fields: Vec::new(),
        artifacts: vec![DeclarativeArtifact {
            url: join_url(remote_url, &e.relative_path),
            relative_path: e.relative_path,
            size: Some(e.size),
            sha256: Some(e.sha256),
        }],
    }
}

/// The task body: `{v3, repository, remote, mirror}`.
pub async fn synchronize(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let db = ctx.deps.db.clone();
    let arg = |k: &str| {
        ctx.args
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| TaskError::Invalid(format!("Missing argument '{k}'.")))
    };
    let (v3, repo_id, remote_id) = (arg("v3")?, arg("repository")?, arg("remote")?);
    let mirror = ctx
        .args
        .get("mirror")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let r = remote::Entity::find_by_id(remote_id.clone())
        .one(&db.read)
        .await?
        .ok_or_else(|| TaskError::invalid("The remote no longer exists."))?;
    let repo = repository::Entity::find_by_id(repo_id.clone())
        .one(&db.read)
        .await?
        .ok_or_else(|| TaskError::invalid("The repository no longer exists."))?;

    ctx.progress(
        0,
        "Downloading Metadata",
        "sync.downloading.metadata",
        "running",
        None,
        0,
    )
    .await;
    let downloader = client(&r)?;
    let manifest = get_bytes(&downloader, &r, &r.url).await?;
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
    let entries =
        parse_manifest(&String::from_utf8_lossy(&manifest)).map_err(TaskError::Invalid)?;
    let n = entries.len() as i64;
    ctx.progress(
        1,
        "Parsing Metadata Lines",
        "sync.parsing.metadata",
        "completed",
        Some(n),
        n,
    )
    .await;

    let declared = entries.into_iter().map(|e| declare(&r.url, e)).collect();
    let pipeline = DeclarativeVersion {
        repository: &repo,
        remote: &r,
        downloader: &downloader,
        mirror,
        progress_from: 2,
    };
    let made = pipeline.create(&ctx, declared).await?;

    // Written after the version's commit: a crash in between leaves the previous details,
    // whose `most_recent_version` no longer matches, so nothing is ever skipped on their word.
    let latest = pith_entities::versions::latest_number(&db, &db.write, &repo_id).await?;
    let details = json!({
        "remote_pk": remote_id, "url": r.url, "download_policy": r.policy, "mirror": mirror,
        "most_recent_version": latest, "manifest_checksum": manifest_sha,
    });
    let mut fields = serde_json::Map::new();
    fields.insert("last_sync_details".into(), details);
    pith_entities::detail::save(
        &db,
        &db.write,
        &crate::models::FILE_REPOSITORY_TABLE,
        &repo_id,
        &fields,
    )
    .await?;
    let new_version = made.as_ref().map(|(id, _)| id.clone());
    let mut out = finish_new_version(&ctx, &v3, &repo, made).await?;
    // Mirror mode publishes the new version with the upstream's manifest name, as pulp_file
    // does (the publication is the task's second created resource).
    if mirror && let Some(vid) = new_version {
        let name = manifest_name(&r.url);
        let (id, _) =
            crate::tasks::publishing::publish_version(&ctx, &v3, &vid, Some(name), false).await?;
        out.created.push((
            crate::models::FILE_PUBLICATION.href(&v3, &id),
            crate::models::FILE_PUBLICATION.prn(&id),
        ));
    }
    Ok(out)
}

/// The file name of the manifest at `url` (`PULP_MANIFEST` for `…/PULP_MANIFEST?x=y`).
fn manifest_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    match path.rsplit('/').next() {
        Some(n) if !n.is_empty() => n,
        _ => "PULP_MANIFEST",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_names() {
        assert_eq!(manifest_name("http://h/a/PULP_MANIFEST"), "PULP_MANIFEST");
        assert_eq!(manifest_name("http://h/a/files.csv?token=1"), "files.csv");
        assert_eq!(manifest_name("http://h/a/"), "PULP_MANIFEST");
    }

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
