//! Recording artifacts: one way to turn verified bytes into a stored, recorded artifact.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entity::artifact;
use crate::store::TempArtifact;
use crate::time::now_micros;
use crate::{ArtifactStore, Db, DbError, Digests};

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
        return Ok((a, false));
    }
    let file = temp
        .persist(store, &d.sha256)
        .await
        .map_err(|e| DbError::Corrupt(e.to_string()))?;
    let now = now_micros();
    let m = artifact::Model {
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
    };
    // One plain statement: no insert-then-select round trip on the single write connection.
    let inserted = db
        .write
        .execute_raw(db.stmt(
            "INSERT INTO core_artifact (pulp_id, pulp_created, pulp_last_updated, file, size, md5, sha1, sha224, sha256, sha384, \
             sha512, timestamp_of_interest) VALUES ($1,$2,$2,$3,$4,NULL,NULL,$5,$6,$7,$8,$2)",
            vec![
                m.pulp_id.clone().into(),
                now.into(),
                m.file.clone().into(),
                m.size.into(),
                m.sha224.clone().into(),
                m.sha256.clone().into(),
                m.sha384.clone().into(),
                m.sha512.clone().into(),
            ],
        ))
        .await;
    match inserted {
        Ok(_) => Ok((m, true)),
        // The unique sha256 lost a race: the winner's row is the artifact.
        Err(e) => existing().await?.map(|a| (a, false)).ok_or(DbError::Db(e)),
    }
}
