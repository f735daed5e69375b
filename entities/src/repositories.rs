//! Writing repository fields from already-validated JSON values (shared by the API's create
//! and the update task).

use sea_orm::ActiveValue::Set;
use serde_json::Value;

use crate::entity::repository;

/// Sets one field (`remote` takes the remote's id, already resolved from its href).
pub fn set_field(am: &mut repository::ActiveModel, key: &str, v: &Value) -> Result<(), String> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    match key {
        "name" => am.name = Set(text(v).unwrap_or_default()),
        "description" => am.description = Set(text(v)),
        "pulp_labels" => {
            am.pulp_labels = Set(if v.is_null() {
                "{}".into()
            } else {
                v.to_string()
            })
        }
        "retain_repo_versions" => am.retain_repo_versions = Set(v.as_i64()),
        "retain_checkpoints" => am.retain_checkpoints = Set(v.as_i64()),
        "remote" => am.remote_id = Set(text(v)),
        other => return Err(format!("unknown repository field {other:?}")),
    }
    Ok(())
}

/// Deletes repository `id` with its versions and their content memberships. Returns how many
/// repositories went (0: it was already gone).
pub async fn delete(db: &crate::Db, id: &str) -> Result<u64, crate::DbError> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let txn = db.write.begin().await?;
    // Distributions forget what they served of it (Pulp: `SET NULL`); its publications go
    // with its versions (Pulp: `CASCADE`).
    const PUBLICATIONS: &str = "SELECT p.pulp_id FROM core_publication p JOIN core_repositoryversion v \
         ON v.pulp_id = p.repository_version_id WHERE v.repository_id = $1";
    for sql in [
        format!(
            "UPDATE core_distribution SET publication_id = NULL WHERE publication_id IN ({PUBLICATIONS})"
        ),
        "UPDATE core_distribution SET repository_version_id = NULL WHERE repository_version_id IN \
         (SELECT pulp_id FROM core_repositoryversion WHERE repository_id = $1)"
            .into(),
        "UPDATE core_distribution SET repository_id = NULL WHERE repository_id = $1".into(),
        format!("DELETE FROM core_publishedmetadata WHERE publication_id IN ({PUBLICATIONS})"),
        format!("DELETE FROM core_publishedartifact WHERE publication_id IN ({PUBLICATIONS})"),
        format!("DELETE FROM core_publication WHERE pulp_id IN ({PUBLICATIONS})"),
        "DELETE FROM core_repositorycontent WHERE repository_id = $1".into(),
        "DELETE FROM core_repositoryversion WHERE repository_id = $1".into(),
    ] {
        let sql = sql.as_str();
        txn.execute_raw(db.stmt(sql, vec![id.to_owned().into()]))
            .await?;
    }
    let n = txn
        .execute_raw(db.stmt(
            "DELETE FROM core_repository WHERE pulp_id = $1",
            vec![id.to_owned().into()],
        ))
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(n)
}

/// `(id, pulp_type)` of each of `ids` that exists.
pub async fn types_of(
    db: &crate::Db,
    ids: &[String],
) -> Result<Vec<(String, String)>, crate::DbError> {
    db.select_in(
        &db.read,
        "SELECT pulp_id, pulp_type FROM core_repository WHERE pulp_id IN ({ids})",
        &[],
        ids,
        |r| Ok((r.try_get("", "pulp_id")?, r.try_get("", "pulp_type")?)),
    )
    .await
}

/// A condition for the repository list: the repository has unit `content` in some version
/// (Pulp's `with_content`) or, with `latest`, in its latest one (`latest_with_content`).
pub fn with_content(
    backend: crate::Backend,
    content: &str,
    latest: bool,
) -> sea_orm::sea_query::SimpleExpr {
    let latest = if latest {
        " AND version_removed IS NULL"
    } else {
        ""
    };
    crate::db::condition(
        backend,
        &format!(
            "pulp_id IN (SELECT repository_id FROM core_repositorycontent WHERE content_id = ?{latest})"
        ),
        vec![content.to_owned().into()],
    )
}
