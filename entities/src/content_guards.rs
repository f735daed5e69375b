//! Content guards (Pulp's `ContentGuard`): the master rows every guard type shares, the
//! members of composite guards, the redirect guards' secrets, and the distributions that name
//! a guard. A type's own fields live in its declared detail table ([`crate::detail`]).

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{Map, Value as Json};

use crate::detail::DetailTable;
use crate::entity::content_guard;
use crate::time::now_micros;
use crate::{Db, DbError};

/// The composite guards' member table.
const MEMBERS: &str = "core_compositecontentguard_guards";
/// The redirect guards' secrets.
const SECRETS: &str = "core_contentredirectcontentguard";

/// A guard to create or the changes to one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuardFields {
    /// `name` (required on create).
    pub name: Option<String>,
    /// `description` (`Some(None)`: set to null).
    pub description: Option<Option<String>>,
    /// The type's detail table and the values given for it.
    pub detail: Option<(DetailTable, Map<String, Json>)>,
    /// A composite guard's members (`Some`: replace them).
    pub members: Option<Vec<String>>,
}

/// Creates a guard of `pulp_type`; a redirect guard gets `secret`. Returns the row.
pub async fn create(
    db: &Db,
    pulp_type: &str,
    f: &GuardFields,
    secret: Option<&str>,
) -> Result<content_guard::Model, DbError> {
    let now = now_micros();
    let row = content_guard::Model {
        pulp_id: uuid::Uuid::now_v7().to_string(),
        pulp_type: pulp_type.to_owned(),
        name: f.name.clone().unwrap_or_default(),
        description: f.description.clone().flatten(),
        pulp_created: now,
        pulp_last_updated: now,
    };
    let txn = db.write.begin().await?;
    txn.execute_raw(db.stmt(
        "INSERT INTO core_contentguard (pulp_id, pulp_type, name, description, pulp_created, pulp_last_updated) \
         VALUES ($1,$2,$3,$4,$5,$5)",
        vec![
            row.pulp_id.clone().into(),
            row.pulp_type.clone().into(),
            row.name.clone().into(),
            row.description.clone().into(),
            now.into(),
        ],
    ))
    .await?;
    if let Some(s) = secret {
        txn.execute_raw(db.stmt(
            &format!("INSERT INTO {SECRETS} (contentguard_id, shared_secret) VALUES ($1,$2)"),
            vec![row.pulp_id.clone().into(), s.to_owned().into()],
        ))
        .await?;
    }
    write_rest(db, &txn, &row.pulp_id, f).await?;
    txn.commit().await?;
    Ok(row)
}

/// Applies `f` to guard `id`; `false` when it is gone.
pub async fn update(db: &Db, id: &str, f: &GuardFields) -> Result<bool, DbError> {
    let txn = db.write.begin().await?;
    let mut sets = vec!["pulp_last_updated = $1".to_owned()];
    let mut values: Vec<sea_orm::Value> = vec![now_micros().into()];
    if let Some(n) = &f.name {
        values.push(n.clone().into());
        sets.push(format!("name = ${}", values.len()));
    }
    if let Some(d) = &f.description {
        values.push(d.clone().into());
        sets.push(format!("description = ${}", values.len()));
    }
    values.push(id.to_owned().into());
    let n = txn
        .execute_raw(db.stmt(
            &format!(
                "UPDATE core_contentguard SET {} WHERE pulp_id = ${}",
                sets.join(", "),
                values.len()
            ),
            values,
        ))
        .await?
        .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    write_rest(db, &txn, id, f).await?;
    txn.commit().await?;
    Ok(true)
}

/// The detail fields and members of `f`.
async fn write_rest(
    db: &Db,
    conn: &impl ConnectionTrait,
    id: &str,
    f: &GuardFields,
) -> Result<(), DbError> {
    if let Some((table, values)) = &f.detail {
        crate::detail::save(db, conn, table, id, values).await?;
    }
    if let Some(members) = &f.members {
        conn.execute_raw(db.stmt(
            &format!("DELETE FROM {MEMBERS} WHERE composite_id = $1"),
            vec![id.to_owned().into()],
        ))
        .await?;
        for m in members {
            conn.execute_raw(db.stmt(
                &format!("INSERT INTO {MEMBERS} (composite_id, guard_id) VALUES ($1,$2) ON CONFLICT DO NOTHING"),
                vec![id.to_owned().into(), m.clone().into()],
            ))
            .await?;
        }
    }
    Ok(())
}

/// Deletes guard `id` (with its fields in `tables`, its memberships and its secret);
/// distributions it guarded serve unguarded, as Pulp's `SET NULL` leaves them. Returns
/// whether it existed.
pub async fn delete(db: &Db, id: &str, tables: &[DetailTable]) -> Result<bool, DbError> {
    let txn = db.write.begin().await?;
    let one = || vec![sea_orm::Value::from(id.to_owned())];
    txn.execute_raw(db.stmt(
        "UPDATE core_distribution SET content_guard_id = NULL, pulp_last_updated = $2 WHERE content_guard_id = $1",
        vec![id.to_owned().into(), now_micros().into()],
    ))
    .await?;
    txn.execute_raw(db.stmt(
        &format!("DELETE FROM {MEMBERS} WHERE composite_id = $1 OR guard_id = $1"),
        one(),
    ))
    .await?;
    txn.execute_raw(db.stmt(
        &format!("DELETE FROM {SECRETS} WHERE contentguard_id = $1"),
        one(),
    ))
    .await?;
    for t in tables {
        txn.execute_raw(db.stmt(
            &format!("DELETE FROM {} WHERE {} = $1", t.name, t.key),
            one(),
        ))
        .await?;
    }
    let n = txn
        .execute_raw(db.stmt("DELETE FROM core_contentguard WHERE pulp_id = $1", one()))
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(n > 0)
}

/// The guards among `ids` (any order).
pub async fn rows(db: &Db, ids: &[String]) -> Result<Vec<content_guard::Model>, DbError> {
    db.select_in(
        &db.read,
        "SELECT pulp_id, pulp_type, name, description, pulp_created, pulp_last_updated \
         FROM core_contentguard WHERE pulp_id IN ({ids})",
        &[],
        ids,
        |r| {
            Ok(content_guard::Model {
                pulp_id: r.try_get("", "pulp_id")?,
                pulp_type: r.try_get("", "pulp_type")?,
                name: r.try_get("", "name")?,
                description: r.try_get("", "description")?,
                pulp_created: r.try_get("", "pulp_created")?,
                pulp_last_updated: r.try_get("", "pulp_last_updated")?,
            })
        },
    )
    .await
}

/// The members of each composite guard among `ids`, in the order they were added.
pub async fn members(db: &Db, ids: &[String]) -> Result<HashMap<String, Vec<String>>, DbError> {
    let pairs: Vec<(String, String)> = db
        .select_in(
            &db.read,
            &format!("SELECT composite_id, guard_id FROM {MEMBERS} WHERE composite_id IN ({{ids}}) ORDER BY guard_id"),
            &[],
            ids,
            |r| Ok((r.try_get("", "composite_id")?, r.try_get("", "guard_id")?)),
        )
        .await?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (c, g) in pairs {
        out.entry(c).or_default().push(g);
    }
    Ok(out)
}

/// A redirect guard's secret (hex).
pub async fn secret(db: &Db, id: &str) -> Result<Option<String>, DbError> {
    Ok(db
        .read
        .query_one_raw(db.stmt(
            &format!("SELECT shared_secret FROM {SECRETS} WHERE contentguard_id = $1"),
            vec![id.to_owned().into()],
        ))
        .await?
        .map(|r| r.try_get::<String>("", "shared_secret"))
        .transpose()?)
}

/// Count and latest change of the guards: the content app's index rebuilds when they change.
pub async fn fingerprint(db: &Db) -> Result<(i64, i64), DbError> {
    let r = db
        .read
        .query_one_raw(db.stmt(
            "SELECT COUNT(*) AS n, COALESCE(MAX(pulp_last_updated), 0) AS t FROM core_contentguard",
            vec![],
        ))
        .await?
        .ok_or_else(|| DbError::Corrupt("empty fingerprint".into()))?;
    Ok((r.try_get("", "n")?, r.try_get("", "t")?))
}
