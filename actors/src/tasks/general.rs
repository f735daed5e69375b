//! Pulp's generic update and delete tasks, for remotes.

use pith_entities::entity::remote;
use pith_entities::remotes::set_field;
use pith_entities::sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use pith_entities::time::now_micros;

use super::{TaskContext, TaskOutput, db_err};

fn remote_id(ctx: &TaskContext) -> Result<String, String> {
    ctx.args
        .get("remote")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| "Missing argument 'remote'.".to_owned())
}

/// `ageneral_update`: applies validated field values to a remote.
pub(super) async fn update(ctx: TaskContext) -> Result<TaskOutput, String> {
    let id = remote_id(&ctx)?;
    let db = &ctx.deps.db;
    let Some(row) = remote::Entity::find_by_id(id.clone())
        .one(&db.read)
        .await
        .map_err(db_err)?
    else {
        return Err(format!("Remote {id} no longer exists."));
    };
    let mut am = row.into_active_model();
    if let Some(fields) = ctx.args.get("fields").and_then(|v| v.as_object()) {
        for (k, v) in fields {
            set_field(&mut am, k, v)?;
        }
    }
    am.pulp_last_updated = Set(now_micros());
    am.update(&db.write).await.map_err(db_err)?;
    Ok(TaskOutput::default())
}

/// `general_delete`: deletes a remote.
pub(super) async fn delete(ctx: TaskContext) -> Result<TaskOutput, String> {
    let id = remote_id(&ctx)?;
    let res = remote::Entity::delete_by_id(id)
        .exec(&ctx.deps.db.write)
        .await
        .map_err(db_err)?;
    Ok(TaskOutput {
        result: Some(serde_json::json!({ "core.Remote": res.rows_affected })),
        created: Vec::new(),
    })
}
