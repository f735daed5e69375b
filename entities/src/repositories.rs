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
        "autopublish" => am.autopublish = Set(v.as_bool().unwrap_or(false)),
        "manifest" => am.manifest = Set(text(v)),
        other => return Err(format!("unknown repository field {other:?}")),
    }
    Ok(())
}
