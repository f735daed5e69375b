//! Recording artifacts: one way to turn verified bytes into a stored, recorded artifact.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entity::artifact;
use crate::store::TempArtifact;
use crate::time::now_micros;
use crate::{ArtifactStore, Db, DbError, Digests};

/// Inserts one artifact row ([`row_values`]; md5 and sha1 are not allowed checksums).
const INSERT_ONE: &str = "INSERT INTO core_artifact (pulp_id, pulp_created, pulp_last_updated, file, size, md5, sha1, \
     sha224, sha256, sha384, sha512, timestamp_of_interest) VALUES ($1,$2,$2,$3,$4,NULL,NULL,$5,$6,$7,$8,$2)";

fn row_values(m: &artifact::Model) -> Vec<sea_orm::Value> {
    vec![
        m.pulp_id.clone().into(),
        m.pulp_created.into(),
        m.file.clone().into(),
        m.size.into(),
        m.sha224.clone().into(),
        m.sha256.clone().into(),
        m.sha384.clone().into(),
        m.sha512.clone().into(),
    ]
}

/// Moves a verified temporary file to its place in the store; returns the row to record for it
/// (md5 and sha1 are not allowed checksums, so they stay empty).
async fn persisted(
    store: &ArtifactStore,
    temp: TempArtifact,
    d: &Digests,
) -> Result<artifact::Model, DbError> {
    let file = temp
        .persist(store, &d.sha256)
        .await
        .map_err(|e| DbError::Corrupt(e.to_string()))?;
    let now = now_micros();
    Ok(artifact::Model {
        pulp_id: uuid::Uuid::now_v7().to_string(),
        pulp_created: now,
        pulp_last_updated: now,
        file,
        size: d.size as i64,
        md5: None,
        sha1: None,
        sha224: Some(d.sha224.clone()),
        sha256: d.sha256.clone(),
        sha384: Some(d.sha384.clone()),
        sha512: Some(d.sha512.clone()),
        timestamp_of_interest: now,
    })
}

/// Moves a verified temporary file into the store and records its artifact. When an artifact
/// with the same sha256 exists (before, or created concurrently), that one is returned instead
/// and the temporary file is discarded. Returns the artifact and whether it is new.
pub async fn store(
    db: &Db,
    store: &ArtifactStore,
    temp: TempArtifact,
    d: &Digests,
) -> Result<(artifact::Model, bool), DbError> {
    let existing = || async {
        artifact::Entity::find()
            .filter(artifact::Column::Sha256.eq(d.sha256.clone()))
            .one(&db.read)
            .await
    };
    if let Some(a) = existing().await? {
        repair(store, temp, &a).await?;
        return Ok((a, false));
    }
    let m = persisted(store, temp, d).await?;
    // One plain statement: no insert-then-select round trip on the single write connection.
    let inserted = db
        .write
        .execute_raw(db.stmt(INSERT_ONE, row_values(&m)))
        .await;
    match inserted {
        Ok(_) => Ok((m, true)),
        // The unique sha256 lost a race: the winner's row is the artifact.
        Err(e) => existing().await?.map(|a| (a, false)).ok_or(DbError::Db(e)),
    }
}

/// Puts verified bytes back where a recorded artifact's file should be when that file is gone
/// or has the wrong size (a damaged store): a re-upload repairs it, as in Pulp. The rename is
/// atomic, so a reader sees the old file or the whole new one.
async fn repair(
    store: &ArtifactStore,
    temp: TempArtifact,
    a: &artifact::Model,
) -> Result<(), DbError> {
    let intact = tokio::fs::metadata(store.path_of(&a.file))
        .await
        .is_ok_and(|m| m.len() == a.size as u64);
    if !intact {
        tracing::warn!(file = %a.file, "re-stored the missing or damaged file of an artifact");
        temp.persist_as(store, a.file.clone())
            .await
            .map_err(|e| DbError::Corrupt(e.to_string()))?;
    }
    Ok(())
}

/// Stores verified bytes fetched on demand and links them to the content artifact that was
/// waiting for them, in one transaction: the content is served from the store from then on.
pub async fn store_linked(
    db: &Db,
    store: &ArtifactStore,
    temp: TempArtifact,
    d: &Digests,
    content_artifact: &str,
) -> Result<artifact::Model, DbError> {
    use sea_orm::TransactionTrait;
    let m = persisted(store, temp, d).await?;
    let txn = db.write.begin().await?;
    txn.execute_raw(db.stmt(
        &format!("{INSERT_ONE} ON CONFLICT (sha256) DO NOTHING"),
        row_values(&m),
    ))
    .await?;
    let a = artifact::Entity::find()
        .filter(artifact::Column::Sha256.eq(d.sha256.clone()))
        .one(&txn)
        .await?
        .ok_or_else(|| DbError::Corrupt("the artifact vanished".into()))?;
    txn.execute_raw(db.stmt(
        "UPDATE core_contentartifact SET artifact_id = $1 WHERE pulp_id = $2 AND artifact_id IS NULL",
        vec![a.pulp_id.clone().into(), content_artifact.to_owned().into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(a)
}

/// Rows per multi-row `INSERT` (8 parameters each; see [`crate::MAX_BIND`]).
const BATCH_ROWS: usize = crate::MAX_BIND / 8;

/// Records a batch of verified temporary files (a sync's downloads): existing artifacts are
/// re-used, the rest are moved into the store, made durable with one `syncfs`, and recorded
/// with multi-row inserts in one transaction. Returns the artifacts by sha256.
pub async fn store_batch(
    db: &Db,
    store: &ArtifactStore,
    items: Vec<(TempArtifact, Digests)>,
) -> Result<Vec<artifact::Model>, DbError> {
    use sea_orm::TransactionTrait;
    let mut wanted: Vec<String> = items.iter().map(|(_, d)| d.sha256.clone()).collect();
    wanted.sort();
    wanted.dedup();
    let mut found = by_sha256(&db.read, &wanted).await?;
    let mut seen: std::collections::HashSet<String> =
        found.iter().map(|a| a.sha256.clone()).collect();
    let mut fresh: Vec<artifact::Model> = Vec::new();
    for (temp, d) in items {
        if !seen.insert(d.sha256.clone()) {
            continue; // the temporary file is removed when dropped
        }
        fresh.push(persisted(store, temp, &d).await?);
    }
    if fresh.is_empty() {
        return Ok(found);
    }
    store
        .sync()
        .await
        .map_err(|e| DbError::Corrupt(e.to_string()))?;
    let txn = db.write.begin().await?;
    for chunk in fresh.chunks(BATCH_ROWS) {
        let mut sql = String::from(
            "INSERT INTO core_artifact (pulp_id, pulp_created, pulp_last_updated, file, size, md5, sha1, sha224, sha256, \
             sha384, sha512, timestamp_of_interest) VALUES ",
        );
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 8);
        for (i, m) in chunk.iter().enumerate() {
            let b = i * 8;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},${},NULL,NULL,${},${},${},${},${})",
                b + 1,
                b + 2,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 2
            ));
            values.extend(row_values(m));
        }
        // A concurrent sync may have recorded the same bytes: its row wins, ours is dropped.
        sql.push_str(" ON CONFLICT (sha256) DO NOTHING");
        txn.execute_raw(db.stmt(&sql, values)).await?;
    }
    txn.commit().await?;
    let new: Vec<String> = fresh.into_iter().map(|m| m.sha256).collect();
    found.extend(by_sha256(&db.write, &new).await?);
    Ok(found)
}

/// The artifacts with these sha256s (any number of them).
pub async fn by_sha256(
    conn: &impl ConnectionTrait,
    sha256s: &[String],
) -> Result<Vec<artifact::Model>, DbError> {
    let mut out = Vec::with_capacity(sha256s.len());
    for chunk in sha256s.chunks(crate::MAX_BIND) {
        out.extend(
            artifact::Entity::find()
                .filter(artifact::Column::Sha256.is_in(chunk.to_vec()))
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}

/// Artifacts no content and no published metadata refers to, not touched since `cutoff`
/// (Pulp's `Artifact.objects.orphaned`): their ids and stored file names.
pub async fn orphans(db: &Db, cutoff: i64) -> Result<Vec<(String, String)>, DbError> {
    let rows = db
        .read
        .query_all_raw(db.stmt(
            "SELECT a.pulp_id, a.file FROM core_artifact a WHERE a.timestamp_of_interest < $1 \
             AND NOT EXISTS (SELECT 1 FROM core_contentartifact ca WHERE ca.artifact_id = a.pulp_id) \
             AND NOT EXISTS (SELECT 1 FROM core_publishedmetadata pm WHERE pm.artifact_id = a.pulp_id)",
            vec![cutoff.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get("", "pulp_id")?, r.try_get("", "file")?)))
        .collect()
}

/// Deletes those of `ids` that are still orphans (re-checked in the statement: a concurrent
/// upload may have claimed one) and returns the ids that are really gone, whose files may now
/// be removed once the caller's transaction has committed.
pub async fn delete_orphans(
    db: &Db,
    conn: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<String>, DbError> {
    let mut gone = Vec::new();
    for chunk in ids.chunks(crate::MAX_BIND) {
        let ph = crate::db::placeholders(1, chunk.len());
        let values: Vec<sea_orm::Value> = chunk.iter().map(|s| s.clone().into()).collect();
        conn.execute_raw(db.stmt(
            &format!(
                "DELETE FROM core_artifact WHERE pulp_id IN ({ph}) AND NOT EXISTS \
                 (SELECT 1 FROM core_contentartifact ca WHERE ca.artifact_id = core_artifact.pulp_id) \
                 AND NOT EXISTS (SELECT 1 FROM core_publishedmetadata pm WHERE pm.artifact_id = core_artifact.pulp_id)"
            ),
            values.clone(),
        ))
        .await?;
        let still: std::collections::HashSet<String> = conn
            .query_all_raw(db.stmt(
                &format!("SELECT pulp_id FROM core_artifact WHERE pulp_id IN ({ph})"),
                values,
            ))
            .await?
            .into_iter()
            .map(|r| r.try_get::<String>("", "pulp_id"))
            .collect::<Result<_, _>>()?;
        gone.extend(chunk.iter().filter(|id| !still.contains(*id)).cloned());
    }
    Ok(gone)
}

/// Deletes artifact `id` unless content or published metadata refers to it; returns whether
/// it went.
pub async fn delete_unreferenced(db: &Db, id: &str) -> Result<bool, DbError> {
    Ok(db
        .write
        .execute_raw(db.stmt(
            "DELETE FROM core_artifact WHERE pulp_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM core_contentartifact ca WHERE ca.artifact_id = core_artifact.pulp_id) \
             AND NOT EXISTS (SELECT 1 FROM core_publishedmetadata pm WHERE pm.artifact_id = core_artifact.pulp_id)",
            vec![id.to_owned().into()],
        ))
        .await?
        .rows_affected()
        > 0)
}
