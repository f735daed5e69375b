//! `core_accesspolicy` (Pulp's `AccessPolicy`): each viewset's policy as JSON text.

use sea_orm::ConnectionTrait;

use crate::time::now_micros;
use crate::{Db, DbError};

/// One stored policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRow {
    /// Its id.
    pub id: String,
    /// The viewset's URL pattern (`uploads`).
    pub viewset_name: String,
    /// JSON list.
    pub statements: String,
    /// JSON list.
    pub creation_hooks: String,
    /// JSON object or null.
    pub queryset_scoping: Option<String>,
    /// Changed by an admin.
    pub customized: bool,
    /// Creation time (µs).
    pub created: i64,
    /// Last change (µs).
    pub updated: i64,
}

impl PolicyRow {
    /// The policy as one JSON object (`statements`, `creation_hooks`, `queryset_scoping`).
    pub fn policy_json(&self) -> String {
        format!(
            "{{\"statements\": {}, \"creation_hooks\": {}, \"queryset_scoping\": {}}}",
            self.statements,
            self.creation_hooks,
            self.queryset_scoping.as_deref().unwrap_or("null")
        )
    }
}

/// Every stored policy, by viewset name.
pub async fn all(db: &Db) -> Result<Vec<PolicyRow>, DbError> {
    db.read
        .query_all_raw(db.stmt(
            "SELECT pulp_id, viewset_name, statements, creation_hooks, queryset_scoping, customized, \
             pulp_created, pulp_last_updated FROM core_accesspolicy ORDER BY viewset_name",
            vec![],
        ))
        .await?
        .iter()
        .map(|r| {
            Ok(PolicyRow {
                id: r.try_get("", "pulp_id")?,
                viewset_name: r.try_get("", "viewset_name")?,
                statements: r.try_get("", "statements")?,
                creation_hooks: r.try_get("", "creation_hooks")?,
                queryset_scoping: r.try_get("", "queryset_scoping")?,
                customized: r.try_get("", "customized")?,
                created: r.try_get("", "pulp_created")?,
                updated: r.try_get("", "pulp_last_updated")?,
            })
        })
        .collect()
}

/// Writes policy `viewset_name` (its three parts as JSON text); `customized` marks an admin's
/// change. `only_default`: leave a customized policy alone (start-up seeding).
pub async fn save(
    db: &Db,
    viewset_name: &str,
    parts: (&str, &str, Option<&str>),
    customized: bool,
    only_default: bool,
) -> Result<(), DbError> {
    let (statements, hooks, scoping) = parts;
    let guard = if only_default {
        " WHERE core_accesspolicy.customized = $8 AND (core_accesspolicy.statements <> excluded.statements \
         OR core_accesspolicy.creation_hooks <> excluded.creation_hooks \
         OR COALESCE(core_accesspolicy.queryset_scoping, '') <> COALESCE(excluded.queryset_scoping, ''))"
    } else {
        ""
    };
    let mut values: Vec<sea_orm::Value> = vec![
        uuid::Uuid::now_v7().to_string().into(),
        viewset_name.to_owned().into(),
        statements.to_owned().into(),
        hooks.to_owned().into(),
        scoping.map(str::to_owned).into(),
        customized.into(),
        now_micros().into(),
    ];
    if only_default {
        values.push(false.into());
    }
    db.write
        .execute_raw(db.stmt(
            &format!(
                "INSERT INTO core_accesspolicy (pulp_id, viewset_name, statements, creation_hooks, queryset_scoping, \
                 customized, pulp_created, pulp_last_updated) VALUES ($1,$2,$3,$4,$5,$6,$7,$7) \
                 ON CONFLICT (viewset_name) DO UPDATE SET statements = excluded.statements, \
                 creation_hooks = excluded.creation_hooks, queryset_scoping = excluded.queryset_scoping, \
                 customized = excluded.customized, pulp_last_updated = excluded.pulp_last_updated{guard}"
            ),
            values,
        ))
        .await?;
    Ok(())
}

/// The roles creation hooks give an object's creator: each `add_roles_for_object_creator`
/// hook's `roles` parameter (one name or a list), in order.
pub fn creator_roles(hooks: &[serde_json::Value]) -> Vec<String> {
    use serde_json::Value;
    hooks
        .iter()
        .filter(|h| h["function"] == "add_roles_for_object_creator")
        .flat_map(|h| match &h["parameters"]["roles"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// Gives `user` the roles `names` on `object` (PRN type, id): what creation hooks do.
pub async fn grant_creator_roles(
    db: &Db,
    user: i64,
    names: &[String],
    object: (&str, &str),
) -> Result<(), DbError> {
    if names.is_empty() {
        return Ok(());
    }
    for role in crate::rbac::roles(db, Some(names)).await? {
        crate::rbac::assign(db, crate::rbac::Holder::User(user), &role.id, Some(object)).await?;
    }
    Ok(())
}

/// Runs the stored creation hooks of viewset `viewset_name` for `object` (PRN type, id) that
/// user `user` just created, reading the policy as it stands (an admin may have customized
/// it): a worker runs them for what a task creates on its dispatcher's behalf.
pub async fn run_creation_hooks(
    db: &Db,
    viewset_name: &str,
    user: i64,
    object: (&str, &str),
) -> Result<(), DbError> {
    let row = db
        .read
        .query_one_raw(db.stmt(
            "SELECT creation_hooks FROM core_accesspolicy WHERE viewset_name = $1",
            vec![viewset_name.to_owned().into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let hooks: String = row.try_get("", "creation_hooks")?;
    let hooks: Vec<serde_json::Value> = serde_json::from_str(&hooks).unwrap_or_default();
    grant_creator_roles(db, user, &creator_roles(&hooks), object).await
}
