//! The cluster's secret, checked before a node joins: the database keeps a salted SHA-256
//! fingerprint of it (`pith_cluster`), so a node started with another secret is refused at
//! once, with a message saying why, instead of joining nothing while it competes for the
//! lock-service lease. The first node on a database sets the fingerprint; a node with another
//! secret replaces it only when no other node is alive (that is how the secret is changed:
//! stop every node, start them with the new one).

use sha2::{Digest, Sha256};

use pith_entities::{Db, DbError};

/// Why a node may not join.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Live nodes use another secret.
    #[error(
        "PULP_CLUSTER_SECRET differs from the secret of the {0} node(s) already running on this database: they would refuse \
         this node. Use the same secret on every node (to change it, stop every node, then start them with the new one)"
    )]
    Mismatch(usize),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<pith_entities::sea_orm::DbErr> for SecretError {
    fn from(e: pith_entities::sea_orm::DbErr) -> Self {
        SecretError::Db(e.into())
    }
}

fn fingerprint(salt: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

async fn stored(db: &Db) -> Result<Option<(String, String)>, DbError> {
    pith_entities::nodes::cluster_secret(db).await
}

async fn live_nodes(db: &Db, except: &str) -> Result<usize, DbError> {
    let nodes = pith_entities::nodes::live(db).await?;
    Ok(nodes
        .iter()
        .filter(|n| n.cluster_addr.is_some() && n.incarnation != except)
        .count())
}

/// Cluster nodes with a fresh heartbeat.
pub async fn cluster_nodes_alive(db: &Db) -> Result<usize, DbError> {
    live_nodes(db, "").await
}

/// Checks `secret` against the cluster's, setting it when there is none (or nobody alive to
/// disagree). `incarnation` is this process (not counted as alive).
pub async fn check(db: &Db, secret: &str, incarnation: &str) -> Result<(), SecretError> {
    let salt = uuid::Uuid::new_v4().simple().to_string();
    let mine = fingerprint(&salt, secret);
    pith_entities::nodes::init_cluster_secret(db, &salt, &mine).await?;
    let Some((their_salt, theirs)) = stored(db).await? else {
        return Err(DbError::Corrupt("pith_cluster has no row".into()).into());
    };
    if fingerprint(&their_salt, secret) == theirs {
        return Ok(());
    }
    let live = live_nodes(db, incarnation).await?;
    if live > 0 {
        return Err(SecretError::Mismatch(live));
    }
    // Nobody alive uses the old one: this is a change of secret. Conditional, so that of two
    // nodes starting with different secrets only one wins.
    if pith_entities::nodes::replace_cluster_secret(db, &salt, &mine, &theirs).await? {
        tracing::warn!(
            "PULP_CLUSTER_SECRET changed: no other node was running, so this node's secret is now the cluster's"
        );
        Ok(())
    } else {
        Err(SecretError::Mismatch(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pith_entities::sea_orm::ConnectionTrait;

    #[tokio::test]
    async fn first_secret_wins_while_nodes_live_and_can_change_when_none_do() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/db.sqlite3", dir.path().display()))
            .await
            .unwrap();
        pith_entities::migration::migrate(&db, Vec::new())
            .await
            .unwrap();
        check(&db, "one", "a").await.unwrap();
        check(&db, "one", "b").await.unwrap();
        // Nobody alive: a new secret replaces the old one.
        check(&db, "two", "c").await.unwrap();
        // "c" is alive now.
        db.write
            .execute_raw(db.stmt(
                &format!(
                    "INSERT INTO core_appstatus (pulp_id, name, app_type, node, incarnation, pulp_created, pulp_last_updated, \
                     last_heartbeat, ttl, versions, cluster_addr) VALUES ('x','w','worker','n','c',0,0,{},30,'{{}}','h:1')",
                    db.now_sql()
                ),
                vec![],
            ))
            .await
            .unwrap();
        assert!(matches!(
            check(&db, "one", "d").await,
            Err(SecretError::Mismatch(1))
        ));
        check(&db, "two", "d").await.unwrap();
        let (_, f) = stored(&db).await.unwrap().unwrap();
        assert!(!f.contains("two"), "only a fingerprint is stored");
    }
}
