//! Repository version maintenance: deleting a version, and repairing one whose stored files
//! are missing or corrupted.

use crate::tasks::TaskError;
use pith_entities::entity::{remote, repository};
use pith_entities::sea_orm::{EntityTrait, TransactionTrait};
use serde_json::Value;
use sha2::Digest;
use tokio::io::AsyncReadExt;

use super::{TaskContext, TaskOutput, db_err};

fn args(ctx: &TaskContext) -> Result<(String, i64), TaskError> {
    let repo = ctx
        .args
        .get("repository")
        .and_then(Value::as_str)
        .ok_or_else(|| TaskError::invalid("Missing argument 'repository'."))?;
    let number = ctx
        .args
        .get("number")
        .and_then(Value::as_i64)
        .ok_or_else(|| TaskError::invalid("Missing argument 'number'."))?;
    Ok((repo.to_owned(), number))
}

/// `pulpcore.app.tasks.repository.delete_version`: `{repository, number}`.
pub(super) async fn delete_version(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let (repo, number) = args(&ctx)?;
    let db = &ctx.deps.db;
    let txn = db.write.begin().await.map_err(db_err)?;
    let numbers = pith_entities::versions::numbers(db, &txn, &repo).await?;
    if !numbers.contains(&number) {
        return Err(TaskError::Invalid(format!(
            "Repository version {number} no longer exists."
        )));
    }
    if numbers.len() <= 1 {
        return Err(TaskError::invalid(
            "Cannot delete repository version. Repositories must have at least one repository version.",
        ));
    }
    // A distribution may have started serving it since the request was accepted.
    if pith_entities::versions::is_protected(db, &txn, &repo, number).await? {
        return Err(TaskError::invalid(super::PROTECTED_VERSION_MESSAGE));
    }
    pith_entities::versions::delete_version(db, &txn, &repo, number)
        .await
        .map_err(db_err)?;
    txn.commit().await.map_err(db_err)?;
    Ok(TaskOutput::default())
}

/// One stored file of the version.
use pith_entities::versions::StoredArtifact as Unit;

/// Whether the stored file is there and (when `verify`) has the recorded size and sha256.
async fn intact(path: &std::path::Path, u: &Unit, verify: bool) -> bool {
    let Ok(mut f) = tokio::fs::File::open(path).await else {
        return false;
    };
    if !verify {
        return true;
    }
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n_total = 0i64;
    loop {
        match f.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                h.update(&buf[..n]);
                n_total += n as i64;
            }
            Err(_) => return false,
        }
    }
    n_total == u.size && hex::encode(h.finalize()) == u.sha256
}

/// `pulpcore.app.tasks.repository.repair_version`: `{repository, number, verify_checksums}`.
/// Finds stored files that are missing (or, with `verify_checksums`, corrupted) and downloads
/// them again from the repository's remote, verifying them before they replace anything.
pub(super) async fn repair_version(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let (repo_id, number) = args(&ctx)?;
    let verify = ctx
        .args
        .get("verify_checksums")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let db = &ctx.deps.db;
    let units = pith_entities::versions::stored_artifacts(db, &repo_id, number).await?;
    let mut missing = Vec::new();
    let mut corrupted = Vec::new();
    for u in units {
        let path = ctx.deps.store.path_of(&u.file);
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            missing.push(u);
        } else if !intact(&path, &u, verify).await {
            corrupted.push(u);
        }
    }
    let total = (missing.len() + corrupted.len()) as i64;
    ctx.progress(
        0,
        "Identify missing units",
        "repair.missing",
        "completed",
        None,
        missing.len() as i64,
    )
    .await;
    ctx.progress(
        1,
        "Identify corrupted units",
        "repair.corrupted",
        "completed",
        None,
        corrupted.len() as i64,
    )
    .await;
    let repo = repository::Entity::find_by_id(repo_id.clone())
        .one(&db.read)
        .await
        .map_err(db_err)?
        .ok_or_else(|| TaskError::invalid("The repository no longer exists."))?;
    let remote = match &repo.remote_id {
        Some(id) => remote::Entity::find_by_id(id.clone())
            .one(&db.read)
            .await
            .map_err(db_err)?,
        None => None,
    };
    let mut repaired = 0i64;
    let mut failed = Vec::new();
    for u in missing.into_iter().chain(corrupted) {
        let Some(r) = &remote else {
            failed.push(format!(
                "{} (the repository has no remote)",
                u.relative_path
            ));
            continue;
        };
        match refetch(&ctx, r, &u).await {
            Ok(()) => repaired += 1,
            Err(e) => failed.push(format!("{} ({e})", u.relative_path)),
        }
    }
    ctx.progress(
        2,
        "Repair corrupted units",
        "repair.repaired",
        "completed",
        Some(total),
        repaired,
    )
    .await;
    if !failed.is_empty() {
        return Err(TaskError::Invalid(format!(
            "{} of {total} damaged files could not be repaired: {}",
            failed.len(),
            failed.join("; ")
        )));
    }
    Ok(TaskOutput::default())
}

/// Downloads one unit again and, once verified, puts it in place of the damaged file.
async fn refetch(ctx: &TaskContext, r: &remote::Model, u: &Unit) -> Result<(), TaskError> {
    let url = crate::download::join_url(&r.url, &u.relative_path);
    let client = crate::download::client(r)?;
    let mut t = crate::download::download_to_temp(&ctx.deps.store, &client, r, &url).await?;
    let d = t.finish().await?;
    if d.sha256 != u.sha256 || d.size as i64 != u.size {
        return Err(TaskError::Invalid(format!(
            "{url} has sha256 {} ({} bytes), expected {} ({} bytes)",
            d.sha256, d.size, u.sha256, u.size
        )));
    }
    t.persist_as(&ctx.deps.store, u.file.clone()).await?;
    Ok(())
}
