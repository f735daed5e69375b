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

/// Counts and latest change times of distributions and publications: any create, update or
/// delete of either changes at least one of them (the content app's index rebuilds on it).
pub async fn fingerprint(db: &Db) -> Result<[i64; 4], DbError> {
    let row = db
        .read
        .query_one_raw(db.stmt(
            "SELECT (SELECT COUNT(*) FROM core_distribution) AS a, \
             (SELECT COALESCE(MAX(pulp_last_updated), 0) FROM core_distribution) AS b, \
             (SELECT COUNT(*) FROM core_publication) AS c, \
             (SELECT COALESCE(MAX(pulp_last_updated), 0) FROM core_publication) AS d",
            vec![],
        ))
        .await?
        .ok_or_else(|| DbError::Corrupt("empty fingerprint".into()))?;
    Ok([
        row.try_get("", "a")?,
        row.try_get("", "b")?,
        row.try_get("", "c")?,
        row.try_get("", "d")?,
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
}

/// Every distribution, as the content app serves them.
pub async fn serving(db: &Db) -> Result<Vec<ServingRow>, DbError> {
    db.read
        .query_all_raw(db.stmt(
            "SELECT pulp_id, pulp_type, base_path, hidden, publication_id, repository_version_id, repository_id, \
             remote_id FROM core_distribution",
            vec![],
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
            })
        })
        .collect()
}
