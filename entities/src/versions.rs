//! Repository versions as Pulp stores them: membership rows with ranges
//! (`version_added <= N < version_removed`), so a new version costs O(changes), not O(size).

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, Value};

use crate::time::now_micros;
use crate::{Db, DbError};

/// What to remove when building a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remove {
    /// These content ids.
    Ids(Vec<String>),
    /// Everything (`["*"]`).
    All,
}

use crate::db::placeholders as ph;

/// The one "content of version N" condition over `core_repositorycontent` rows aliased
/// `alias`: the row's range `version_added <= N < version_removed` holds `number` (an SQL
/// expression: a placeholder, a literal or a column).
pub fn in_version(alias: &str, number: &str) -> String {
    format!(
        "{alias}.version_added <= {number} AND ({alias}.version_removed IS NULL OR {alias}.version_removed > {number})"
    )
}

/// Content ids present in version `number` of a repository.
pub async fn content_ids(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
    number: i64,
) -> Result<BTreeSet<String>, DbError> {
    let rows = conn
        .query_all_raw(db.stmt(
            &format!(
                "SELECT rc.content_id FROM core_repositorycontent rc WHERE rc.repository_id = $1 AND {}",
                in_version("rc", "$2")
            ),
            vec![repo.to_owned().into(), number.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| r.try_get::<String>("", "content_id").map_err(DbError::from))
        .collect()
}

/// A condition on `core_artifact.pulp_id` (for a list query): the artifact belongs to content
/// in version `number` of `repo` (Pulp's artifact `repository_version` filter).
pub fn artifacts_in(
    backend: crate::Backend,
    repo: &str,
    number: i64,
) -> sea_orm::sea_query::SimpleExpr {
    crate::db::condition(
        backend,
        &format!(
            "pulp_id IN (SELECT ca.artifact_id FROM core_contentartifact ca JOIN core_repositorycontent rc \
             ON rc.content_id = ca.content_id WHERE ca.artifact_id IS NOT NULL AND rc.repository_id = ? AND {})",
            in_version("rc", "?")
        ),
        // `in_version` names the number twice.
        vec![repo.to_owned().into(), number.into(), number.into()],
    )
}

/// The complete versions that contain any of `content` (Pulp's `with_content`).
pub async fn with_content(db: &Db, content: &[String]) -> Result<Vec<String>, DbError> {
    let mut ids: Vec<String> = db.select_in(
        &db.read,
        &format!(
            "SELECT DISTINCT v.pulp_id FROM core_repositoryversion v JOIN core_repositorycontent rc \
             ON rc.repository_id = v.repository_id WHERE v.complete = $1 AND {} AND rc.content_id IN ({{ids}})",
            in_version("rc", "v.number")
        ),
        &[true.into()],
        content,
        |r| r.try_get("", "pulp_id"),
    )
    .await?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Whether unit `content` is in the latest complete version of repository `repo`.
pub async fn latest_contains(db: &Db, repo: &str, content: &str) -> Result<bool, DbError> {
    let n = latest_number(db, &db.read, repo).await?;
    let row = db
        .read
        .query_one_raw(db.stmt(
            &format!(
                "SELECT 1 AS x FROM core_repositorycontent rc WHERE rc.repository_id = $1 \
                 AND rc.content_id = $2 AND {}",
                in_version("rc", "$3")
            ),
            vec![repo.to_owned().into(), content.to_owned().into(), n.into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// The highest complete version number of a repository.
pub async fn latest_number(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
) -> Result<i64, DbError> {
    let rows = conn
        .query_all_raw(db.stmt(
            "SELECT MAX(number) AS n FROM core_repositoryversion WHERE repository_id = $1 AND complete = $2",
            vec![repo.to_owned().into(), true.into()],
        ))
        .await?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| r.try_get::<Option<i64>>("", "n").ok().flatten())
        .unwrap_or(0))
}

/// The latest complete version number of each of `repos` (one query for a whole page).
pub async fn latest_numbers(db: &Db, repos: &[String]) -> Result<BTreeMap<String, i64>, DbError> {
    let mut out = BTreeMap::new();
    for chunk in repos.chunks(crate::MAX_BIND) {
        let sql = format!(
            "SELECT repository_id, MAX(number) AS n FROM core_repositoryversion WHERE complete = $1 \
             AND repository_id IN ({}) GROUP BY repository_id",
            ph(2, chunk.len())
        );
        let mut values: Vec<Value> = vec![true.into()];
        values.extend(chunk.iter().map(|s| Value::from(s.clone())));
        for r in db.read.query_all_raw(db.stmt(&sql, values)).await? {
            out.insert(r.try_get("", "repository_id")?, r.try_get("", "n")?);
        }
    }
    Ok(out)
}

/// A repository type's key (Pulp's `repo_key_fields`): the columns of a content detail table
/// that identify a unit within one version. Adding a unit whose key another unit in the
/// version has replaces that unit. Declared by the plugin that owns the repository type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepoKey {
    /// The content detail table (one row per unit, keyed by `content_id`).
    pub table: &'static str,
    /// Its key columns; empty: units never replace each other.
    pub columns: &'static [&'static str],
}

impl RepoKey {
    /// A key that never matches: every unit stays.
    pub const NONE: RepoKey = RepoKey {
        table: "",
        columns: &[],
    };
}

/// The key of each of `ids` that has a row in the key's table (the columns joined with
/// U+001F, which no key column holds).
pub async fn keys(
    db: &Db,
    conn: &impl ConnectionTrait,
    key: &RepoKey,
    ids: &BTreeSet<String>,
) -> Result<BTreeMap<String, String>, DbError> {
    let mut out = BTreeMap::new();
    if key.columns.is_empty() {
        return Ok(out);
    }
    let ids: Vec<&String> = ids.iter().collect();
    for chunk in ids.chunks(crate::MAX_BIND) {
        let sql = format!(
            "SELECT content_id, {} FROM {} WHERE content_id IN ({})",
            key.columns.join(", "),
            key.table,
            ph(1, chunk.len())
        );
        let values: Vec<Value> = chunk.iter().map(|s| Value::from((*s).clone())).collect();
        for r in conn.query_all_raw(db.stmt(&sql, values)).await? {
            let mut parts = Vec::with_capacity(key.columns.len());
            for c in key.columns {
                parts.push(r.try_get::<String>("", c)?);
            }
            out.insert(r.try_get("", "content_id")?, parts.join("\u{1f}"));
        }
    }
    Ok(out)
}

/// Inserts version 0 (empty, complete) of a new repository.
pub async fn create_version_zero(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
) -> Result<String, DbError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_micros();
    conn.execute_raw(db.stmt(
        "INSERT INTO core_repositoryversion (pulp_id, repository_id, number, complete, base_version_id, pulp_created, pulp_last_updated) \
         VALUES ($1,$2,0,$3,NULL,$4,$4)",
        vec![id.clone().into(), repo.to_owned().into(), true.into(), now.into()],
    ))
    .await?;
    Ok(id)
}

/// The version a new version is built from when not the latest (Pulp's `base_version`): any
/// repository's, so a repository can start from another's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Base {
    /// Its repository.
    pub repository: String,
    /// Its number.
    pub number: i64,
}

/// Builds the next version from the latest (or from `base`): `remove` first, then `add`;
/// among content with the same repository key the newly added unit wins. Returns the new
/// version's `(id, number)`, or `None` (and writes nothing) when the content would not change.
/// Run it inside the caller's transaction.
pub async fn new_version(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
    key: &RepoKey,
    base: Option<&Base>,
    add: &[String],
    remove: &Remove,
) -> Result<Option<(String, i64)>, DbError> {
    let latest = latest_number(db, conn, repo).await?;
    let current = content_ids(db, conn, repo, latest).await?;
    let mut target = match base {
        Some(b) if b.repository != repo || b.number != latest => {
            content_ids(db, conn, &b.repository, b.number).await?
        }
        _ => current.clone(),
    };
    match remove {
        Remove::All => target.clear(),
        Remove::Ids(ids) => {
            for id in ids {
                target.remove(id);
            }
        }
    }
    let added: BTreeSet<String> = add.iter().cloned().collect();
    // Key collisions: the unit being added replaces the one already there.
    let paths = keys(db, conn, key, &target.union(&added).cloned().collect()).await?;
    let new_paths: BTreeSet<&String> = added.iter().filter_map(|id| paths.get(id)).collect();
    target.retain(|id| added.contains(id) || paths.get(id).is_none_or(|p| !new_paths.contains(p)));
    target.extend(added);
    let to_add: Vec<&String> = target.difference(&current).collect();
    let to_remove: Vec<&String> = current.difference(&target).collect();
    if to_add.is_empty() && to_remove.is_empty() {
        return Ok(None);
    }
    let rows = conn
        .query_all_raw(db.stmt(
            "SELECT next_version FROM core_repository WHERE pulp_id = $1",
            vec![repo.to_owned().into()],
        ))
        .await?;
    let number: i64 = rows
        .into_iter()
        .next()
        .map(|r| r.try_get("", "next_version"))
        .transpose()?
        .ok_or_else(|| DbError::Corrupt(format!("repository {repo} vanished")))?;
    let base_id = match base {
        Some(b) => conn
            .query_all_raw(db.stmt(
                "SELECT pulp_id FROM core_repositoryversion WHERE repository_id = $1 AND number = $2",
                vec![b.repository.clone().into(), b.number.into()],
            ))
            .await?
            .into_iter()
            .next()
            .map(|r| r.try_get::<String>("", "pulp_id"))
            .transpose()?,
        None => None,
    };
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_micros();
    conn.execute_raw(db.stmt(
        "INSERT INTO core_repositoryversion (pulp_id, repository_id, number, complete, base_version_id, pulp_created, pulp_last_updated) \
         VALUES ($1,$2,$3,$4,$5,$6,$6)",
        vec![id.clone().into(), repo.to_owned().into(), number.into(), true.into(), base_id.into(), now.into()],
    ))
    .await?;
    for chunk in to_add.chunks(crate::MAX_BIND / 4) {
        let mut sql = String::from(
            "INSERT INTO core_repositorycontent (pulp_id, repository_id, content_id, version_added, version_removed) VALUES ",
        );
        let mut values: Vec<Value> = Vec::new();
        for (i, c) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},NULL)",
                i * 4 + 1,
                i * 4 + 2,
                i * 4 + 3,
                i * 4 + 4
            ));
            values.extend([
                uuid::Uuid::now_v7().to_string().into(),
                repo.to_owned().into(),
                (*c).clone().into(),
                number.into(),
            ]);
        }
        conn.execute_raw(db.stmt(&sql, values)).await?;
    }
    for chunk in to_remove.chunks(crate::MAX_BIND) {
        let sql = format!(
            "UPDATE core_repositorycontent SET version_removed = $1 WHERE repository_id = $2 AND version_removed IS NULL \
             AND content_id IN ({})",
            ph(3, chunk.len())
        );
        let mut values: Vec<Value> = vec![number.into(), repo.to_owned().into()];
        values.extend(chunk.iter().map(|c| Value::from((*c).clone())));
        conn.execute_raw(db.stmt(&sql, values)).await?;
    }
    conn.execute_raw(db.stmt(
        "UPDATE core_repository SET next_version = $1, pulp_last_updated = $2 WHERE pulp_id = $3",
        vec![(number + 1).into(), now.into(), repo.to_owned().into()],
    ))
    .await?;
    Ok(Some((id, number)))
}

/// Deletes version `number`, folding its changes into the next version so every other version
/// keeps exactly its content (the latest version is undone instead: what it added goes, what
/// it removed comes back). Its publications go with it; distributions that served them or the
/// version serve nothing until pointed elsewhere. Run inside the caller's transaction.
pub async fn delete_version(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
    number: i64,
) -> Result<(), DbError> {
    let next = conn
        .query_all_raw(db.stmt(
            "SELECT MIN(number) AS n FROM core_repositoryversion WHERE repository_id = $1 AND number > $2",
            vec![repo.to_owned().into(), number.into()],
        ))
        .await?
        .into_iter()
        .next()
        .and_then(|r| r.try_get::<Option<i64>>("", "n").ok().flatten());
    match next {
        Some(next) => {
            let params =
                || -> Vec<Value> { vec![repo.to_owned().into(), number.into(), next.into()] };
            // Added in `number` and already removed by `next`: never visible in any other version.
            conn.execute_raw(db.stmt(
                "DELETE FROM core_repositorycontent WHERE repository_id = $1 AND version_added = $2 AND version_removed = $3",
                params(),
            ))
            .await?;
            // Removed in `number` and added again by `next`: one unbroken presence, so the
            // earlier row takes the later one's end and the later row goes.
            conn.execute_raw(db.stmt(
                "UPDATE core_repositorycontent SET version_removed = (SELECT r2.version_removed FROM core_repositorycontent r2 \
                 WHERE r2.repository_id = $1 AND r2.content_id = core_repositorycontent.content_id AND r2.version_added = $3) \
                 WHERE repository_id = $1 AND version_removed = $2 AND content_id IN \
                 (SELECT content_id FROM core_repositorycontent WHERE repository_id = $1 AND version_added = $3)",
                params(),
            ))
            .await?;
            conn.execute_raw(db.stmt(
                "DELETE FROM core_repositorycontent WHERE repository_id = $1 AND version_added = $3 AND EXISTS \
                 (SELECT 1 FROM core_repositorycontent r1 WHERE r1.repository_id = $1 AND r1.content_id = core_repositorycontent.content_id \
                 AND r1.version_added < $2 AND (r1.version_removed IS NULL OR r1.version_removed > $3))",
                params(),
            ))
            .await?;
            conn.execute_raw(db.stmt("UPDATE core_repositorycontent SET version_added = $3 WHERE repository_id = $1 AND version_added = $2", params()))
                .await?;
            conn.execute_raw(db.stmt("UPDATE core_repositorycontent SET version_removed = $3 WHERE repository_id = $1 AND version_removed = $2", params()))
                .await?;
        }
        None => {
            let params = || -> Vec<Value> { vec![repo.to_owned().into(), number.into()] };
            conn.execute_raw(db.stmt(
                "DELETE FROM core_repositorycontent WHERE repository_id = $1 AND version_added = $2",
                params(),
            ))
            .await?;
            conn.execute_raw(db.stmt(
                "UPDATE core_repositorycontent SET version_removed = NULL WHERE repository_id = $1 AND version_removed = $2",
                params(),
            ))
            .await?;
        }
    }
    let version =
        "(SELECT pulp_id FROM core_repositoryversion WHERE repository_id = $1 AND number = $2)";
    let params = || -> Vec<Value> { vec![repo.to_owned().into(), number.into()] };
    let publications =
        format!("(SELECT pulp_id FROM core_publication WHERE repository_version_id = {version})");
    for sql in [
        format!(
            "UPDATE core_distribution SET publication_id = NULL WHERE publication_id IN {publications}"
        ),
        format!(
            "UPDATE core_distribution SET repository_version_id = NULL WHERE repository_version_id = {version}"
        ),
        format!("DELETE FROM core_publishedmetadata WHERE publication_id IN {publications}"),
        format!("DELETE FROM core_publication WHERE repository_version_id = {version}"),
    ] {
        conn.execute_raw(db.stmt(&sql, params())).await?;
    }
    conn.execute_raw(db.stmt(
        "DELETE FROM core_repositoryversion WHERE repository_id = $1 AND number = $2",
        params(),
    ))
    .await?;
    Ok(())
}

/// The ids of `repo`'s protected versions (Pulp's `protected_versions`): those a distribution
/// serves, by naming the version, a publication of it, or the repository (then the latest
/// version that has a complete publication, which is what the content app serves), and, while
/// a checkpoint distribution serves the repository, every version a checkpoint publishes.
pub async fn protected(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
) -> Result<BTreeSet<String>, DbError> {
    let rows = conn
        .query_all_raw(db.stmt(
            "SELECT d.repository_version_id AS id FROM core_distribution d \
               JOIN core_repositoryversion v ON v.pulp_id = d.repository_version_id WHERE v.repository_id = $1 \
             UNION SELECT p.repository_version_id AS id FROM core_distribution d \
               JOIN core_publication p ON p.pulp_id = d.publication_id \
               JOIN core_repositoryversion v ON v.pulp_id = p.repository_version_id WHERE v.repository_id = $1 \
             UNION SELECT p.repository_version_id AS id FROM core_publication p \
               JOIN core_repositoryversion v ON v.pulp_id = p.repository_version_id \
               WHERE v.repository_id = $1 AND p.checkpoint = $2 \
               AND EXISTS (SELECT 1 FROM core_distribution d WHERE d.repository_id = $1 AND d.checkpoint = $2) \
             UNION SELECT id FROM (SELECT v.pulp_id AS id FROM core_repositoryversion v \
               WHERE v.repository_id = $1 \
               AND EXISTS (SELECT 1 FROM core_distribution d WHERE d.repository_id = $1 AND d.checkpoint = $3) \
               AND EXISTS (SELECT 1 FROM core_publication p WHERE p.repository_version_id = v.pulp_id AND p.complete = $2) \
               ORDER BY v.number DESC LIMIT 1) latest",
            vec![repo.to_owned().into(), true.into(), false.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| r.try_get::<String>("", "id").map_err(DbError::from))
        .collect()
}

/// Whether version `number` of `repo` is protected (see [`protected`]).
pub async fn is_protected(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
    number: i64,
) -> Result<bool, DbError> {
    let id = conn
        .query_one_raw(db.stmt(
            "SELECT pulp_id FROM core_repositoryversion WHERE repository_id = $1 AND number = $2",
            vec![repo.to_owned().into(), number.into()],
        ))
        .await?
        .map(|r| r.try_get::<String>("", "pulp_id"))
        .transpose()?;
    Ok(match id {
        Some(id) => protected(db, conn, repo).await?.contains(&id),
        None => false,
    })
}

/// Applies `retain_repo_versions` as Pulp does: of the complete versions that are not
/// protected, keeps the newest `keep` and deletes (squashes) the rest, oldest first.
pub async fn retain(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
    keep: i64,
) -> Result<(), DbError> {
    let protected = protected(db, conn, repo).await?;
    let rows = conn
        .query_all_raw(db.stmt(
            "SELECT pulp_id, number FROM core_repositoryversion WHERE repository_id = $1 AND complete = $2 \
             ORDER BY number DESC",
            vec![repo.to_owned().into(), true.into()],
        ))
        .await?;
    let mut candidates = Vec::new();
    for r in rows {
        let id: String = r.try_get("", "pulp_id")?;
        if !protected.contains(&id) {
            candidates.push(r.try_get::<i64>("", "number")?);
        }
    }
    let mut old: Vec<i64> = candidates.into_iter().skip(keep.max(1) as usize).collect();
    // Oldest first, so each squash folds into a version that still exists.
    old.sort();
    for n in old {
        delete_version(db, conn, repo, n).await?;
    }
    Ok(())
}

/// Units of version `number` that share a repository key with another unit of it (Pulp's
/// `validate_duplicate_content`): each duplicated key with its units' ids.
pub async fn duplicate_keys(
    db: &Db,
    conn: &impl ConnectionTrait,
    key: &RepoKey,
    repo: &str,
    number: i64,
) -> Result<BTreeMap<String, Vec<String>>, DbError> {
    if key.columns.is_empty() {
        return Ok(BTreeMap::new());
    }
    let cols: Vec<String> = key.columns.iter().map(|c| format!("k.{c}")).collect();
    let sql = format!(
        "SELECT k.content_id, {cols} FROM {table} k JOIN core_repositorycontent rc ON rc.content_id = k.content_id \
         WHERE rc.repository_id = $1 AND {present} AND ({cols}) IN (\
           SELECT {cols} FROM {table} k JOIN core_repositorycontent rc ON rc.content_id = k.content_id \
           WHERE rc.repository_id = $1 AND {present} GROUP BY {cols} HAVING COUNT(*) > 1)",
        cols = cols.join(", "),
        table = key.table,
        present = in_version("rc", "$2"),
    );
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in conn
        .query_all_raw(db.stmt(&sql, vec![repo.to_owned().into(), number.into()]))
        .await?
    {
        let parts = key
            .columns
            .iter()
            .map(|c| r.try_get::<String>("", c))
            .collect::<Result<Vec<_>, _>>()?;
        out.entry(parts.join("\u{1f}"))
            .or_default()
            .push(r.try_get("", "content_id")?);
    }
    Ok(out)
}

/// The relative paths of version `number`'s content artifacts, one per distinct (path,
/// artifact) pair (an artifact shared by two units at one path counts once), for Pulp's
/// `validate_version_paths`.
pub async fn artifact_paths(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
    number: i64,
) -> Result<Vec<String>, DbError> {
    let sql = format!(
        "SELECT DISTINCT ca.relative_path, ca.artifact_id FROM core_contentartifact ca \
         JOIN core_repositorycontent rc ON rc.content_id = ca.content_id \
         WHERE rc.repository_id = $1 AND {}",
        in_version("rc", "$2")
    );
    conn.query_all_raw(db.stmt(&sql, vec![repo.to_owned().into(), number.into()]))
        .await?
        .into_iter()
        .map(|r| {
            r.try_get::<String>("", "relative_path")
                .map_err(DbError::from)
        })
        .collect()
}

/// The numbers of a repository's complete versions.
pub async fn numbers(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
) -> Result<Vec<i64>, DbError> {
    conn.query_all_raw(db.stmt(
        "SELECT number FROM core_repositoryversion WHERE repository_id = $1 AND complete = $2",
        vec![repo.to_owned().into(), true.into()],
    ))
    .await?
    .into_iter()
    .map(|r| r.try_get::<i64>("", "number").map_err(DbError::from))
    .collect()
}

/// One stored artifact of a version's content, where the unit keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredArtifact {
    /// The content artifact's relative path.
    pub relative_path: String,
    /// The artifact's file in the store.
    pub file: String,
    /// Its sha256.
    pub sha256: String,
    /// Its size.
    pub size: i64,
}

/// The stored artifacts of version `number`'s content (what repair checks).
pub async fn stored_artifacts(
    db: &Db,
    repo: &str,
    number: i64,
) -> Result<Vec<StoredArtifact>, DbError> {
    let sql = format!(
        "SELECT ca.relative_path, a.file, a.sha256, a.size FROM core_repositorycontent rc \
         JOIN core_repositoryversion v ON v.repository_id = rc.repository_id AND v.number = $2 \
         JOIN core_contentartifact ca ON ca.content_id = rc.content_id \
         JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
         WHERE rc.repository_id = $1 AND {}",
        in_version("rc", "$2")
    );
    db.read
        .query_all_raw(db.stmt(&sql, vec![repo.to_owned().into(), number.into()]))
        .await?
        .into_iter()
        .map(|r| {
            Ok(StoredArtifact {
                relative_path: r.try_get("", "relative_path")?,
                file: r.try_get("", "file")?,
                sha256: r.try_get("", "sha256")?,
                size: r.try_get("", "size")?,
            })
        })
        .collect()
}

/// The content artifacts of version `number`'s content: `(content artifact id, content id,
/// relative path)`, for publications that place them at paths of their own.
pub async fn content_artifacts(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
    number: i64,
) -> Result<Vec<(String, String, String)>, DbError> {
    let sql = format!(
        "SELECT ca.pulp_id, ca.content_id, ca.relative_path FROM core_contentartifact ca \
         JOIN core_repositorycontent rc ON rc.content_id = ca.content_id \
         WHERE rc.repository_id = $1 AND {} ORDER BY ca.relative_path",
        in_version("rc", "$2")
    );
    conn.query_all_raw(db.stmt(&sql, vec![repo.to_owned().into(), number.into()]))
        .await?
        .into_iter()
        .map(|r| {
            Ok((
                r.try_get("", "pulp_id")?,
                r.try_get("", "content_id")?,
                r.try_get("", "relative_path")?,
            ))
        })
        .collect()
}

/// Counts of (added, removed, present) content in a version, per content type (`pulp_type`).
pub async fn summary(
    db: &Db,
    repo: &str,
    number: i64,
) -> Result<BTreeMap<String, (i64, i64, i64)>, DbError> {
    // One pass over the rows the version touches, counted per type.
    let present = in_version("rc", "$2");
    let sql = format!(
        "SELECT c.pulp_type, \
         SUM(CASE WHEN rc.version_added = $2 THEN 1 ELSE 0 END) AS added, \
         SUM(CASE WHEN rc.version_removed = $2 THEN 1 ELSE 0 END) AS removed, \
         SUM(CASE WHEN {present} THEN 1 ELSE 0 END) AS present \
         FROM core_repositorycontent rc JOIN core_content c ON c.pulp_id = rc.content_id \
         WHERE rc.repository_id = $1 AND (rc.version_removed = $2 OR {present}) \
         GROUP BY c.pulp_type"
    );
    let rows = db
        .read
        .query_all_raw(db.stmt(&sql, vec![repo.to_owned().into(), number.into()]))
        .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        out.insert(
            r.try_get("", "pulp_type")?,
            (
                r.try_get("", "added")?,
                r.try_get("", "removed")?,
                r.try_get("", "present")?,
            ),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: RepoKey = RepoKey {
        table: "test_unit",
        columns: &["relative_path"],
    };

    async fn content(db: &Db, path: &str, digest: &str) -> String {
        let id = uuid::Uuid::now_v7().to_string();
        db.write
            .execute_raw(db.stmt(
                "INSERT INTO core_content (pulp_id, pulp_type, pulp_created, pulp_last_updated, timestamp_of_interest, pulp_labels) \
                 VALUES ($1,'test.unit',0,0,0,'{}')",
                vec![id.clone().into()],
            ))
            .await
            .unwrap();
        db.write
            .execute_raw(db.stmt(
                "INSERT INTO test_unit (content_id, relative_path, digest) VALUES ($1,$2,$3)",
                vec![id.clone().into(), path.into(), digest.into()],
            ))
            .await
            .unwrap();
        id
    }

    /// A migrated database with a detail table `test_unit` and repository `r` at version 0.
    async fn repository_r() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        crate::migration::migrate(&db, Vec::new()).await.unwrap();
        db.write
            .execute_raw(db.stmt(
                "CREATE TABLE test_unit (content_id TEXT PRIMARY KEY, relative_path TEXT NOT NULL, digest TEXT NOT NULL)",
                vec![],
            ))
            .await
            .unwrap();
        db.write
            .execute_raw(db.stmt(
                "INSERT INTO core_repository (pulp_id, pulp_type, name, pulp_labels, next_version, \
                 pulp_created, pulp_last_updated) VALUES ('r','test.repo','r','{}',1,0,0)",
                vec![],
            ))
            .await
            .unwrap();
        create_version_zero(&db, &db.write, "r").await.unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn versions_add_remove_replace_and_skip_no_change() {
        let (_dir, db) = repository_r().await;
        let (a, b, a2) = (
            content(&db, "a", "1").await,
            content(&db, "b", "2").await,
            content(&db, "a", "3").await,
        );

        let v1 = new_version(
            &db,
            &db.write,
            "r",
            &KEY,
            None,
            &[a.clone(), b.clone()],
            &Remove::Ids(vec![]),
        )
        .await
        .unwrap();
        assert_eq!(v1.map(|v| v.1), Some(1));
        assert_eq!(
            new_version(
                &db,
                &db.write,
                "r",
                &KEY,
                None,
                std::slice::from_ref(&a),
                &Remove::Ids(vec![])
            )
            .await
            .unwrap(),
            None,
            "no change, no version"
        );
        // Same relative path: the new unit replaces the old one.
        let v2 = new_version(
            &db,
            &db.write,
            "r",
            &KEY,
            None,
            std::slice::from_ref(&a2),
            &Remove::Ids(vec![]),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(v2.1, 2);
        assert_eq!(
            content_ids(&db, &db.read, "r", 2).await.unwrap(),
            BTreeSet::from([a2.clone(), b.clone()])
        );
        assert_eq!(summary(&db, "r", 2).await.unwrap()["test.unit"], (1, 1, 2));
        let v3 = new_version(
            &db,
            &db.write,
            "r",
            &KEY,
            None,
            &[],
            &Remove::Ids(vec![b.clone()]),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            content_ids(&db, &db.read, "r", v3.1).await.unwrap(),
            BTreeSet::from([a2.clone()])
        );
        // From a base version, removing everything then adding.
        let v4 = new_version(
            &db,
            &db.write,
            "r",
            &KEY,
            Some(&Base {
                repository: "r".into(),
                number: 1,
            }),
            std::slice::from_ref(&b),
            &Remove::All,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            content_ids(&db, &db.read, "r", v4.1).await.unwrap(),
            BTreeSet::from([b.clone()])
        );
        // Older versions are unchanged.
        assert_eq!(
            content_ids(&db, &db.read, "r", 1).await.unwrap(),
            BTreeSet::from([a, b])
        );
        assert_eq!(
            content_ids(&db, &db.read, "r", 0).await.unwrap(),
            BTreeSet::new()
        );
        assert_eq!(latest_number(&db, &db.read, "r").await.unwrap(), 4);

        // Squashing versions keeps every other version's content exactly.
        let before: Vec<_> = [0, 1, 2, 3, 4].to_vec();
        let mut sets = Vec::new();
        for n in &before {
            sets.push(content_ids(&db, &db.read, "r", *n).await.unwrap());
        }
        for n in [2, 1] {
            delete_version(&db, &db.write, "r", n).await.unwrap();
        }
        for (n, set) in before.iter().zip(&sets) {
            if ![1, 2].contains(n) {
                assert_eq!(
                    &content_ids(&db, &db.read, "r", *n).await.unwrap(),
                    set,
                    "version {n} changed"
                );
            }
        }
        // Deleting the latest version undoes it: the one before is what remains.
        let three = content_ids(&db, &db.read, "r", 3).await.unwrap();
        delete_version(&db, &db.write, "r", 4).await.unwrap();
        assert_eq!(latest_number(&db, &db.read, "r").await.unwrap(), 3);
        assert_eq!(content_ids(&db, &db.read, "r", 3).await.unwrap(), three);
        let rows = db
            .read
            .query_all_raw(db.stmt(
                "SELECT COUNT(*) AS n FROM core_repositorycontent WHERE repository_id = 'r' \
                 AND (version_added > 3 OR version_removed > 3)",
                vec![],
            ))
            .await
            .unwrap();
        assert_eq!(
            rows[0].try_get::<i64>("", "n").unwrap(),
            0,
            "no trace of version 4"
        );
    }

    /// Squashing a version whose removals the next version undoes leaves one presence per
    /// unit: the next version's summary counts only what really changed (Pulp's squash).
    #[tokio::test]
    async fn squash_merges_content_removed_then_added_again() {
        let (_dir, db) = repository_r().await;
        let (a, b, c) = (
            content(&db, "a", "1").await,
            content(&db, "b", "2").await,
            content(&db, "c", "3").await,
        );
        let v = |add: Vec<String>, remove: Vec<String>| {
            let db = db.clone();
            async move {
                new_version(&db, &db.write, "r", &KEY, None, &add, &Remove::Ids(remove))
                    .await
                    .unwrap()
                    .unwrap()
                    .1
            }
        };
        assert_eq!(v(vec![a.clone(), b.clone()], vec![]).await, 1);
        assert_eq!(v(vec![c.clone()], vec![b.clone()]).await, 2);
        assert_eq!(v(vec![b.clone()], vec![c.clone()]).await, 3);
        delete_version(&db, &db.write, "r", 2).await.unwrap();
        // Version 3 now holds what version 1 held: nothing added, nothing removed.
        assert_eq!(
            content_ids(&db, &db.read, "r", 3).await.unwrap(),
            BTreeSet::from([a.clone(), b.clone()])
        );
        let changed = db
            .read
            .query_one_raw(db.stmt(
                "SELECT COUNT(*) AS n FROM core_repositorycontent WHERE repository_id = 'r' \
                 AND (version_added = 3 OR version_removed = 3)",
                vec![],
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(changed.try_get::<i64>("", "n").unwrap(), 0);
    }
}
