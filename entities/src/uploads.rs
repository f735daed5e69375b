//! Chunked uploads (Pulp's `Upload` and `UploadChunk`): chunks land as files in the store and
//! rows here until the upload is committed into an artifact or deleted.

use sea_orm::{ConnectionTrait, TransactionTrait, Value};

use crate::{Db, DbError};

/// One stored chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadChunk {
    /// Its first byte's offset in the upload.
    pub offset: i64,
    /// Its size.
    pub size: i64,
    /// Its file in the store.
    pub file: String,
}

/// Creates upload `id` of `size` bytes.
pub async fn create(db: &Db, id: &str, size: i64, now: i64) -> Result<(), DbError> {
    db.write
        .execute_raw(db.stmt(
            "INSERT INTO core_upload (pulp_id, size, pulp_created, pulp_last_updated) VALUES ($1,$2,$3,$3)",
            vec![id.to_owned().into(), size.into(), now.into()],
        ))
        .await?;
    Ok(())
}

/// The declared size of upload `id`, if it exists.
pub async fn size(db: &Db, id: &str) -> Result<Option<i64>, DbError> {
    db.read
        .query_one_raw(db.stmt(
            "SELECT size FROM core_upload WHERE pulp_id = $1",
            vec![id.to_owned().into()],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "size").map_err(DbError::from))
        .transpose()
}

/// Upload `id`'s chunks, by offset.
pub async fn chunks(db: &Db, id: &str) -> Result<Vec<UploadChunk>, DbError> {
    db.read
        .query_all_raw(db.stmt(
            "SELECT chunk_offset, size, file FROM core_uploadchunk WHERE upload_id = $1 ORDER BY chunk_offset",
            vec![id.to_owned().into()],
        ))
        .await?
        .into_iter()
        .map(|r| {
            Ok(UploadChunk {
                offset: r.try_get("", "chunk_offset")?,
                size: r.try_get("", "size")?,
                file: r.try_get("", "file")?,
            })
        })
        .collect()
}

/// Records chunk `chunk` stored as `file` at `offset`, replacing (and returning the file of)
/// any chunk at that offset, and touches the upload at `now`, in one transaction.
pub async fn put_chunk(
    db: &Db,
    upload: &str,
    chunk: &str,
    offset: i64,
    size: i64,
    file: &str,
    now: i64,
) -> Result<Option<String>, DbError> {
    let old = db
        .read
        .query_one_raw(db.stmt(
            "SELECT file FROM core_uploadchunk WHERE upload_id = $1 AND chunk_offset = $2",
            vec![upload.to_owned().into(), offset.into()],
        ))
        .await?
        .map(|r| r.try_get::<String>("", "file"))
        .transpose()?;
    let txn = db.write.begin().await?;
    txn.execute_raw(db.stmt(
        "DELETE FROM core_uploadchunk WHERE upload_id = $1 AND chunk_offset = $2",
        vec![upload.to_owned().into(), offset.into()],
    ))
    .await?;
    let values: Vec<Value> = vec![
        chunk.to_owned().into(),
        upload.to_owned().into(),
        offset.into(),
        size.into(),
        file.to_owned().into(),
    ];
    txn.execute_raw(db.stmt(
        "INSERT INTO core_uploadchunk (pulp_id, upload_id, chunk_offset, size, file) VALUES ($1,$2,$3,$4,$5)",
        values,
    ))
    .await?;
    txn.execute_raw(db.stmt(
        "UPDATE core_upload SET pulp_last_updated = $1 WHERE pulp_id = $2",
        vec![now.into(), upload.to_owned().into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(old)
}

/// Deletes upload `id` with its chunk rows; returns the chunks' files, for the caller to
/// remove from the store now that nothing names them.
pub async fn delete(db: &Db, id: &str) -> Result<Vec<String>, DbError> {
    let files = db
        .read
        .query_all_raw(db.stmt(
            "SELECT file FROM core_uploadchunk WHERE upload_id = $1",
            vec![id.to_owned().into()],
        ))
        .await?
        .into_iter()
        .map(|r| r.try_get::<String>("", "file"))
        .collect::<Result<_, _>>()?;
    db.write
        .execute_raw(db.stmt(
            "DELETE FROM core_upload WHERE pulp_id = $1",
            vec![id.to_owned().into()],
        ))
        .await?;
    Ok(files)
}
