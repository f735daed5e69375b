//! The lock-service lease: one row (`core_locklease`, id 1) naming the process incarnation
//! that runs the cluster's lock service and the epoch it runs under. Every take-over raises
//! the epoch; task starts are fenced against it (`WriteOp::StartTask`), so a deposed lock
//! service can never start anything. Times are the database's clock ([`Db::now_sql`]).

use std::time::Duration;

use sea_orm::ConnectionTrait;

use crate::{Db, DbError};

async fn ensure_row(db: &Db) -> Result<(), DbError> {
    db.write
        .execute_raw(db.stmt(
            "INSERT INTO core_locklease (id, epoch, holder, renewed_at) VALUES (1, 0, NULL, 0) ON CONFLICT (id) DO NOTHING",
            vec![],
        ))
        .await?;
    Ok(())
}

fn epoch_of(rows: Vec<sea_orm::QueryResult>) -> Result<Option<i64>, DbError> {
    rows.into_iter()
        .next()
        .map(|r| r.try_get::<i64>("", "epoch"))
        .transpose()
        .map_err(DbError::from)
}

/// Takes the lease for `holder` when it is free: nobody holds it, the holder stopped renewing
/// for `ttl`, or the holder's process no longer heartbeats (or it is `holder`'s already: a
/// restarted lock service gets a new epoch). `force` takes it regardless (one
/// process owns a SQLite database). Returns the new epoch, or `None` when someone else holds
/// it. The conditional update is one statement, so two candidates never both win.
pub async fn acquire(
    db: &Db,
    holder: &str,
    ttl: Duration,
    force: bool,
) -> Result<Option<i64>, DbError> {
    ensure_row(db).await?;
    let now = db.now_sql();
    let sql = if force {
        format!(
            "UPDATE core_locklease SET epoch = epoch + 1, holder = $1, renewed_at = {now} WHERE id = 1 RETURNING epoch"
        )
    } else {
        format!(
            "UPDATE core_locklease SET epoch = epoch + 1, holder = $1, renewed_at = {now} WHERE id = 1 AND (\
               holder IS NULL OR holder = $1 OR renewed_at < {now} - $2 OR NOT EXISTS (SELECT 1 FROM core_appstatus a \
               WHERE a.incarnation = core_locklease.holder AND a.last_heartbeat >= {now} - a.ttl * 1000000)) \
             RETURNING epoch"
        )
    };
    let mut values = vec![holder.to_owned().into()];
    if !force {
        values.push((ttl.as_micros() as i64).into());
    }
    let rows = db.write.query_all_raw(db.stmt(&sql, values)).await?;
    epoch_of(rows)
}

/// Renews the lease; `false` means it is no longer ours (taken over under a newer epoch).
pub async fn renew(db: &Db, holder: &str, epoch: i64) -> Result<bool, DbError> {
    let sql = format!(
        "UPDATE core_locklease SET renewed_at = {} WHERE id = 1 AND holder = $1 AND epoch = $2",
        db.now_sql()
    );
    let n = db
        .write
        .execute_raw(db.stmt(&sql, vec![holder.to_owned().into(), epoch.into()]))
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Gives the lease up (clean shutdown), so another node takes it at once.
pub async fn release(db: &Db, holder: &str, epoch: i64) -> Result<(), DbError> {
    db.write
        .execute_raw(db.stmt(
            "UPDATE core_locklease SET holder = NULL WHERE id = 1 AND holder = $1 AND epoch = $2",
            vec![holder.to_owned().into(), epoch.into()],
        ))
        .await?;
    Ok(())
}

/// The current holder and epoch.
pub async fn current(db: &Db) -> Result<Option<(Option<String>, i64)>, DbError> {
    let rows = db
        .read
        .query_all_raw(db.stmt(
            "SELECT holder, epoch FROM core_locklease WHERE id = 1",
            vec![],
        ))
        .await?;
    match rows.into_iter().next() {
        Some(r) => Ok(Some((r.try_get("", "holder")?, r.try_get("", "epoch")?))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_a_free_lease_is_taken_and_epochs_grow() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/db.sqlite3", dir.path().display());
        let db = Db::connect(&url).await.unwrap();
        crate::migration::migrate(&db, Vec::new()).await.unwrap();
        let ttl = Duration::from_secs(30);
        let e1 = acquire(&db, "a", ttl, false).await.unwrap().unwrap();
        // "a" has no app-status row, so it counts as gone: "b" takes over.
        let e2 = acquire(&db, "b", ttl, false).await.unwrap().unwrap();
        assert!(e2 > e1);
        assert!(!renew(&db, "a", e1).await.unwrap());
        assert!(renew(&db, "b", e2).await.unwrap());
        // A live holder keeps it.
        db.write
            .execute_raw(db.stmt(
                &format!(
                    "INSERT INTO core_appstatus (pulp_id, name, app_type, node, incarnation, pulp_created, pulp_last_updated, \
                     last_heartbeat, ttl, versions) VALUES ('x','w','worker','n','b',0,0,{},30,'{{}}')",
                    db.now_sql()
                ),
                vec![],
            ))
            .await
            .unwrap();
        assert_eq!(acquire(&db, "c", ttl, false).await.unwrap(), None);
        assert_eq!(current(&db).await.unwrap(), Some((Some("b".into()), e2)));
        release(&db, "b", e2).await.unwrap();
        let e3 = acquire(&db, "c", ttl, false).await.unwrap().unwrap();
        assert_eq!(e3, e2 + 1);
        assert!(acquire(&db, "d", ttl, true).await.unwrap().unwrap() > e3);
    }
}
