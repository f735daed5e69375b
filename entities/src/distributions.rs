//! Distributions (Pulp's `Distribution`): what a base path serves.

use sea_orm::ConnectionTrait;

use crate::{Db, DbError};

/// Deletes distribution `id`; returns how many went (0: it was already gone).
pub async fn delete(db: &Db, id: &str) -> Result<u64, DbError> {
    Ok(db
        .write
        .execute_raw(db.stmt(
            "DELETE FROM core_distribution WHERE pulp_id = $1",
            vec![id.to_owned().into()],
        ))
        .await?
        .rows_affected())
}

/// Counts and latest change times of distributions, publications and content guards: any
/// create, update or delete of one changes at least one of them (the content app's index rebuilds on it).
pub async fn fingerprint(db: &Db) -> Result<[i64; 6], DbError> {
    let row = db
        .read
        .query_one_raw(db.stmt(
            "SELECT (SELECT COUNT(*) FROM core_distribution) AS a, \
             (SELECT COALESCE(MAX(pulp_last_updated), 0) FROM core_distribution) AS b, \
             (SELECT COUNT(*) FROM core_publication) AS c, \
             (SELECT COALESCE(MAX(pulp_last_updated), 0) FROM core_publication) AS d, \
             (SELECT COUNT(*) FROM core_contentguard) AS e, \
             (SELECT COALESCE(MAX(pulp_last_updated), 0) FROM core_contentguard) AS f",
            vec![],
        ))
        .await?
        .ok_or_else(|| DbError::Corrupt("empty fingerprint".into()))?;
    Ok([
        row.try_get("", "a")?,
        row.try_get("", "b")?,
        row.try_get("", "c")?,
        row.try_get("", "d")?,
        row.try_get("", "e")?,
        row.try_get("", "f")?,
    ])
}

/// What the content app needs of a distribution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServingRow {
    /// Its id.
    pub id: String,
    /// Its type.
    pub pulp_type: String,
    /// Its base path.
    pub base_path: String,
    /// Hidden from listings.
    pub hidden: bool,
    /// The publication it serves, if named.
    pub publication_id: Option<String>,
    /// The version it serves, if named.
    pub repository_version_id: Option<String>,
    /// The repository whose latest publication it serves, if named.
    pub repository_id: Option<String>,
    /// The remote it pulls content through from, if named.
    pub remote_id: Option<String>,
    /// Serves its repository's checkpoints, each under its timestamp.
    pub checkpoint: bool,
    /// The content guard asked before serving, if any.
    pub content_guard_id: Option<String>,
}

/// Every distribution, as the content app serves them.
pub async fn serving(db: &Db) -> Result<Vec<ServingRow>, DbError> {
    serving_rows(db, None).await
}

/// Distributions as the content app serves them: all, or the one with id `only`.
async fn serving_rows(db: &Db, only: Option<&str>) -> Result<Vec<ServingRow>, DbError> {
    let (filter, values) = match only {
        Some(id) => (" WHERE pulp_id = $1", vec![id.to_owned().into()]),
        None => ("", vec![]),
    };
    db.read
        .query_all_raw(db.stmt(
            &format!(
                "SELECT pulp_id, pulp_type, base_path, hidden, publication_id, repository_version_id, repository_id, \
                 remote_id, checkpoint, content_guard_id FROM core_distribution{filter}"
            ),
            values,
        ))
        .await?
        .into_iter()
        .map(|r| {
            Ok(ServingRow {
                id: r.try_get("", "pulp_id")?,
                pulp_type: r.try_get("", "pulp_type")?,
                base_path: r.try_get("", "base_path")?,
                hidden: r.try_get("", "hidden")?,
                publication_id: r.try_get("", "publication_id")?,
                repository_version_id: r.try_get("", "repository_version_id")?,
                repository_id: r.try_get("", "repository_id")?,
                remote_id: r.try_get("", "remote_id")?,
                checkpoint: r.try_get("", "checkpoint")?,
                content_guard_id: r.try_get("", "content_guard_id")?,
            })
        })
        .collect()
}

/// Records the publication distribution `id` serves now (Pulp's `set_distributed_publication`):
/// the one it names, or the latest of the version or repository it names. When that changed,
/// the one served before is marked superseded now (it keeps serving for the retention period);
/// a distribution that serves nothing forgets its history. Call after the change's commit.
pub async fn record_served(db: &Db, id: &str) -> Result<(), DbError> {
    use crate::publications::{Served, served};
    use sea_orm::TransactionTrait;
    let Some(d) = serving_rows(db, Some(id)).await?.into_iter().next() else {
        return Ok(());
    };
    // A checkpoint distribution serves dated snapshots that never change under a client.
    let what = Served::of(
        d.publication_id.as_deref(),
        d.repository_version_id.as_deref(),
        d.repository_id.as_deref(),
    )
    .filter(|_| !d.checkpoint);
    let current = match what {
        Some(w) => served(db, w).await?.map(|(p, _)| p),
        None => None,
    };
    let txn = db.write.begin().await?;
    let Some(publication) = current else {
        txn.execute_raw(db.stmt(
            "DELETE FROM core_distributedpublication WHERE distribution_id = $1",
            vec![id.to_owned().into()],
        ))
        .await?;
        txn.commit().await?;
        return Ok(());
    };
    let now = crate::time::now_micros();
    txn.execute_raw(db.stmt(
        "UPDATE core_distributedpublication SET superseded_at = $1 \
         WHERE distribution_id = $2 AND superseded_at IS NULL AND publication_id <> $3",
        vec![now.into(), id.to_owned().into(), publication.clone().into()],
    ))
    .await?;
    txn.execute_raw(db.stmt(
        "INSERT INTO core_distributedpublication (pulp_id, distribution_id, publication_id, pulp_created, superseded_at) \
         VALUES ($1,$2,$3,$4,NULL) ON CONFLICT (distribution_id, publication_id) \
         DO UPDATE SET superseded_at = NULL, pulp_created = excluded.pulp_created",
        vec![
            uuid::Uuid::now_v7().to_string().into(),
            id.to_owned().into(),
            publication.into(),
            now.into(),
        ],
    ))
    .await?;
    txn.commit().await?;
    Ok(())
}

/// [`record_served`] for every distribution that may serve a new publication of version
/// `version`: those naming the version or its repository.
pub async fn record_served_for_version(db: &Db, version: &str) -> Result<(), DbError> {
    let rows = db
        .read
        .query_all_raw(db.stmt(
            "SELECT d.pulp_id FROM core_distribution d WHERE d.repository_version_id = $1 \
             OR d.repository_id = (SELECT repository_id FROM core_repositoryversion WHERE pulp_id = $1)",
            vec![version.to_owned().into()],
        ))
        .await?;
    for r in rows {
        let id: String = r.try_get("", "pulp_id")?;
        record_served(db, &id).await?;
    }
    Ok(())
}

/// The stored file at `relative_path` in a publication distribution `id` served until it was
/// superseded at or after `since` (µs), newest first (Pulp's `get_fallback_ca`): file, size,
/// sha256 and creation time.
pub async fn superseded_file(
    db: &Db,
    id: &str,
    since: i64,
    relative_path: &str,
) -> Result<Option<(String, i64, String, i64)>, DbError> {
    let sql = format!(
        "SELECT a.file, a.size, a.sha256, a.pulp_created, dp.pulp_created AS at FROM core_distributedpublication dp \
         JOIN core_publication p ON p.pulp_id = dp.publication_id \
         JOIN core_repositoryversion v ON v.pulp_id = p.repository_version_id \
         JOIN core_repositorycontent rc ON rc.repository_id = v.repository_id AND {} \
         JOIN core_contentartifact ca ON ca.content_id = rc.content_id AND ca.relative_path = $3 \
         JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
         WHERE dp.distribution_id = $1 AND dp.superseded_at >= $2 AND p.pass_through = $4 \
         UNION ALL \
         SELECT a.file, a.size, a.sha256, a.pulp_created, dp.pulp_created AS at FROM core_distributedpublication dp \
         JOIN core_publishedartifact pa ON pa.publication_id = dp.publication_id AND pa.relative_path = $3 \
         JOIN core_contentartifact ca ON ca.pulp_id = pa.content_artifact_id \
         JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
         WHERE dp.distribution_id = $1 AND dp.superseded_at >= $2 \
         ORDER BY at DESC LIMIT 1",
        crate::versions::in_version("rc", "v.number")
    );
    db.read
        .query_one_raw(db.stmt(
            &sql,
            vec![
                id.to_owned().into(),
                since.into(),
                relative_path.to_owned().into(),
                true.into(),
            ],
        ))
        .await?
        .map(|r| {
            Ok((
                r.try_get("", "file")?,
                r.try_get("", "size")?,
                r.try_get("", "sha256")?,
                r.try_get("", "pulp_created")?,
            ))
        })
        .transpose()
}
