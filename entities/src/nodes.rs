//! The node registry as the cluster reads it: processes whose heartbeat (in `core_appstatus`,
//! on the database's clock) is younger than their ttl.

use sea_orm::ConnectionTrait;

use crate::{Db, DbError};

/// A live process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveNode {
    /// Its process incarnation.
    pub incarnation: String,
    /// Where other nodes dial it (`None`: it runs no cluster node).
    pub cluster_addr: Option<String>,
}

/// Every live process, once each.
pub async fn live(db: &Db) -> Result<Vec<LiveNode>, DbError> {
    let sql = format!(
        "SELECT DISTINCT incarnation, cluster_addr FROM core_appstatus WHERE last_heartbeat >= {} - ttl * 1000000",
        db.now_sql()
    );
    let mut nodes = Vec::new();
    for r in db.read.query_all_raw(db.stmt(&sql, vec![])).await? {
        nodes.push(LiveNode {
            incarnation: r.try_get("", "incarnation")?,
            cluster_addr: r.try_get("", "cluster_addr")?,
        });
    }
    Ok(nodes)
}

/// How many distinct processes have a live heartbeat, on the database's clock.
pub async fn live_members(db: &Db) -> Result<i64, DbError> {
    let sql = format!(
        "SELECT COUNT(DISTINCT incarnation) AS n FROM core_appstatus WHERE last_heartbeat + ttl * 1000000 > {}",
        db.now_sql()
    );
    Ok(db
        .read
        .query_one_raw(db.stmt(&sql, vec![]))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

/// The incarnations of every process with a fresh heartbeat (whose working directories are
/// in use).
pub async fn live_incarnations(db: &Db) -> Result<std::collections::HashSet<String>, DbError> {
    let sql = format!(
        "SELECT DISTINCT incarnation FROM core_appstatus WHERE last_heartbeat + ttl * 1000000 > {}",
        db.now_sql()
    );
    db.read
        .query_all_raw(db.stmt(&sql, vec![]))
        .await?
        .into_iter()
        .map(|r| {
            r.try_get::<String>("", "incarnation")
                .map_err(DbError::from)
        })
        .collect()
}

/// The default domain's id (Pulp's `core_domain` row named `default`), if migrated.
pub async fn default_domain(db: &Db) -> Result<Option<String>, DbError> {
    db.read
        .query_one_raw(db.stmt(
            "SELECT pulp_id FROM core_domain WHERE name = 'default'",
            vec![],
        ))
        .await?
        .map(|r| r.try_get::<String>("", "pulp_id").map_err(DbError::from))
        .transpose()
}

/// One app status row a process registers (Pulp's `AppStatus`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAppStatus<'a> {
    /// The app's name (`<uuid>@<host>` for workers).
    pub name: &'a str,
    /// `api`, `content` or `worker`.
    pub app_type: &'a str,
    /// The node's name.
    pub node: &'a str,
    /// The process's incarnation.
    pub incarnation: &'a str,
    /// Heartbeat TTL in seconds.
    pub ttl_secs: i64,
    /// Component versions (JSON text).
    pub versions: String,
    /// Where other nodes dial this process.
    pub cluster_addr: Option<&'a str>,
}

/// Registers an app (replacing any row of the same name), its first heartbeat now on the
/// database's clock.
pub async fn register(db: &Db, app: &NewAppStatus<'_>, now: i64) -> Result<(), DbError> {
    unregister(db, app.name).await?;
    db.write
        .execute_raw(db.stmt(
            &format!(
                "INSERT INTO core_appstatus (pulp_id, name, app_type, node, incarnation, pulp_created, pulp_last_updated, \
                 last_heartbeat, ttl, current_task, versions, cluster_addr) VALUES ($1,$2,$3,$4,$5,$6,$6,{},$7,NULL,$8,$9)",
                db.now_sql()
            ),
            vec![
                uuid::Uuid::now_v7().to_string().into(),
                app.name.into(),
                app.app_type.into(),
                app.node.into(),
                app.incarnation.into(),
                now.into(),
                app.ttl_secs.into(),
                app.versions.clone().into(),
                app.cluster_addr.map(str::to_owned).into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Removes app `name`'s status row.
pub async fn unregister(db: &Db, name: &str) -> Result<(), DbError> {
    db.write
        .execute_raw(db.stmt(
            "DELETE FROM core_appstatus WHERE name = $1",
            vec![name.to_owned().into()],
        ))
        .await?;
    Ok(())
}

/// The cluster secret's stored salt and fingerprint, if set.
pub async fn cluster_secret(db: &Db) -> Result<Option<(String, String)>, DbError> {
    db.write
        .query_one_raw(db.stmt(
            "SELECT salt, fingerprint FROM pith_cluster WHERE id = 1",
            vec![],
        ))
        .await?
        .map(|r| Ok((r.try_get("", "salt")?, r.try_get("", "fingerprint")?)))
        .transpose()
}

/// Sets the cluster secret's fingerprint unless one is set.
pub async fn init_cluster_secret(db: &Db, salt: &str, fingerprint: &str) -> Result<(), DbError> {
    db.write
        .execute_raw(db.stmt(
            "INSERT INTO pith_cluster (id, salt, fingerprint) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
            vec![salt.into(), fingerprint.into()],
        ))
        .await?;
    Ok(())
}

/// Replaces the cluster secret's fingerprint if it still is `old` (of two nodes starting with
/// different secrets only one wins); returns whether it did.
pub async fn replace_cluster_secret(
    db: &Db,
    salt: &str,
    fingerprint: &str,
    old: &str,
) -> Result<bool, DbError> {
    Ok(db
        .write
        .execute_raw(db.stmt(
            "UPDATE pith_cluster SET salt = $1, fingerprint = $2 WHERE id = 1 AND fingerprint = $3",
            vec![salt.into(), fingerprint.into(), old.into()],
        ))
        .await?
        .rows_affected()
        == 1)
}
