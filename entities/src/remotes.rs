//! Writing remote fields from already-validated JSON values (shared by the API's create and
//! the update task, so both store exactly the same representation).

use sea_orm::ActiveValue::Set;
use serde_json::Value;

use crate::entity::remote;

/// Every writable field of a remote.
pub const FIELDS: [&str; 21] = [
    "name",
    "url",
    "ca_cert",
    "client_cert",
    "client_key",
    "tls_validation",
    "proxy_url",
    "proxy_username",
    "proxy_password",
    "username",
    "password",
    "pulp_labels",
    "download_concurrency",
    "max_retries",
    "policy",
    "total_timeout",
    "connect_timeout",
    "sock_connect_timeout",
    "sock_read_timeout",
    "headers",
    "rate_limit",
];

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// Sets one field; `Err` names a field this function does not know (a bug in the caller).
pub fn set_field(am: &mut remote::ActiveModel, key: &str, v: &Value) -> Result<(), String> {
    match key {
        "name" => am.name = Set(text(v).unwrap_or_default()),
        "url" => am.url = Set(text(v).unwrap_or_default()),
        "policy" => am.policy = Set(text(v).unwrap_or_else(|| "immediate".into())),
        "ca_cert" => am.ca_cert = Set(text(v)),
        "client_cert" => am.client_cert = Set(text(v)),
        "client_key" => am.client_key = Set(text(v)),
        "proxy_url" => am.proxy_url = Set(text(v)),
        "proxy_username" => am.proxy_username = Set(text(v)),
        "proxy_password" => am.proxy_password = Set(text(v)),
        "username" => am.username = Set(text(v)),
        "password" => am.password = Set(text(v)),
        "tls_validation" => am.tls_validation = Set(v.as_bool().unwrap_or(true)),
        "pulp_labels" => {
            am.pulp_labels = Set(if v.is_null() {
                "{}".into()
            } else {
                v.to_string()
            })
        }
        "headers" => {
            am.headers = Set(if v.is_null() {
                "[]".into()
            } else {
                v.to_string()
            })
        }
        "download_concurrency" => am.download_concurrency = Set(v.as_i64()),
        "max_retries" => am.max_retries = Set(v.as_i64()),
        "rate_limit" => am.rate_limit = Set(v.as_i64()),
        "total_timeout" => am.total_timeout = Set(v.as_f64()),
        "connect_timeout" => am.connect_timeout = Set(v.as_f64()),
        "sock_connect_timeout" => am.sock_connect_timeout = Set(v.as_f64()),
        "sock_read_timeout" => am.sock_read_timeout = Set(v.as_f64()),
        other => return Err(format!("unknown remote field {other:?}")),
    }
    Ok(())
}

/// Deletes remote `id`; repositories and distributions that used it forget it (Pulp:
/// `SET NULL`). Returns how many remotes went (0: it was already gone).
pub async fn delete(db: &crate::Db, id: &str) -> Result<u64, crate::DbError> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let txn = db.write.begin().await?;
    for table in ["core_repository", "core_distribution"] {
        txn.execute_raw(db.stmt(
            &format!("UPDATE {table} SET remote_id = NULL WHERE remote_id = $1"),
            vec![id.to_owned().into()],
        ))
        .await?;
    }
    let n = txn
        .execute_raw(db.stmt(
            "DELETE FROM core_remote WHERE pulp_id = $1",
            vec![id.to_owned().into()],
        ))
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(n)
}
