//! The fields a plugin's type adds to a master model (its detail table, see
//! [`pith_entities::detail`]): loaded for serializers, validated for requests, by the
//! declaration alone.

use std::collections::HashMap;

use pith_actors::plugin::{Master, Types};
use pith_entities::{Db, DbError};
use serde_json::{Map, Value};

use super::Ctx;
use crate::ApiError;

/// The detail fields of each `(id, pulp_type)`, for types with a detail table.
pub async fn load(
    ctx: &Ctx,
    master: Master,
    rows: &[(&str, &str)],
) -> Result<HashMap<String, Map<String, Value>>, ApiError> {
    let p = &ctx.state.platform;
    Ok(fields(&ctx.state.db, &p.types, master, rows).await?)
}

/// The detail fields of each `(id, pulp_type)` of `master` whose type has a detail table
/// (one query per type), for serializers.
pub async fn fields(
    db: &Db,
    types: &Types,
    master: Master,
    rows: &[(&str, &str)],
) -> Result<HashMap<String, Map<String, Value>>, DbError> {
    let mut by_type: HashMap<&str, Vec<String>> = Default::default();
    for (id, t) in rows {
        by_type.entry(t).or_default().push(id.to_string());
    }
    let mut out = HashMap::new();
    for (t, ids) in by_type {
        if let Some(table) = types.table(master, t) {
            out.extend(pith_entities::detail::load(db, &db.read, table, &ids).await?);
        }
    }
    Ok(out)
}

/// Checks a request's value of a detail field of type `pulp_type`: `None` when the type has
/// no such (writable) field.
pub fn validate(
    ctx: &Ctx,
    master: Master,
    pulp_type: &str,
    name: &str,
    value: &Value,
) -> Option<Result<Value, String>> {
    let table = ctx.state.platform.types.table(master, pulp_type)?;
    let field = table.field(name).filter(|f| !f.read_only)?;
    Some(field.validate(value))
}
