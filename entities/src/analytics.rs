//! What the analytics reporter reads and claims (Pulp's `AnalyticsPayload` sources and one
//! post per period across the cluster).

use sea_orm::ConnectionTrait;

use crate::{Backend, Db, DbError};

/// This installation's system id (empty before migration made one).
pub async fn system_id(db: &Db) -> Result<String, DbError> {
    Ok(db
        .read
        .query_one_raw(db.stmt("SELECT pulp_id FROM core_systemid", vec![]))
        .await?
        .map(|r| r.try_get("", "pulp_id"))
        .transpose()?
        .unwrap_or_default())
}

/// `(name, app_type)` of every app whose heartbeat is fresh at `now`.
pub async fn online_apps(db: &Db, now: i64) -> Result<Vec<(String, String)>, DbError> {
    db.read
        .query_all_raw(db.stmt(
            "SELECT name, app_type FROM core_appstatus WHERE last_heartbeat + ttl * 1000000 > $1",
            vec![now.into()],
        ))
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get("", "name")?, r.try_get("", "app_type")?)))
        .collect()
}

/// PostgreSQL's `server_version_num` (`None` on SQLite).
pub async fn postgresql_version(db: &Db) -> Result<Option<u32>, DbError> {
    Ok(match db.backend {
        Backend::Postgres => db
            .read
            .query_one_raw(db.stmt("SELECT current_setting('server_version_num') AS v", vec![]))
            .await?
            .and_then(|r| r.try_get::<String>("", "v").ok())
            .and_then(|v| v.parse().ok()),
        Backend::Sqlite => None,
    })
}

/// How many users there are.
pub async fn users(db: &Db) -> Result<i64, DbError> {
    Ok(db
        .read
        .query_one_raw(db.stmt("SELECT COUNT(*) AS n FROM auth_user", vec![]))
        .await?
        .map(|r| r.try_get("", "n"))
        .transpose()?
        .unwrap_or(0))
}

/// Claims the post due at or before `now`, moving the next one to `next`: true for exactly
/// one node.
pub async fn claim(db: &Db, now: i64, next: i64) -> Result<bool, DbError> {
    Ok(db
        .write
        .execute_raw(db.stmt(
            "UPDATE pith_analytics SET next_post_at = $1 WHERE id = 1 AND next_post_at <= $2",
            vec![next.into(), now.into()],
        ))
        .await?
        .rows_affected()
        == 1)
}

/// When the next post is due (µs), if recorded.
pub async fn next_post_at(db: &Db) -> Result<Option<i64>, DbError> {
    db.read
        .query_one_raw(db.stmt(
            "SELECT next_post_at FROM pith_analytics WHERE id = 1",
            vec![],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "next_post_at").map_err(DbError::from))
        .transpose()
}
