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
