//! Detail tables: the fields a plugin's type adds to a master model (Pulp's multi-table
//! inheritance: a repository type's table beside `core_repository`), one row per object keyed by
//! the master row's id. Core reads, writes and serializes them from the declaration alone,
//! so a plugin's repository, remote, publication or distribution fields need no core code.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, Value};
use serde_json::{Map, Value as Json};

use crate::db::placeholders;
use crate::{Db, DbError};

/// A field's type, as stored and as the API shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A string, or null (`TEXT NULL`).
    Text,
    /// A boolean (`BOOLEAN NOT NULL`).
    Bool,
    /// A JSON object (`TEXT NOT NULL`, JSON text).
    Json,
}

/// One field of a detail table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetailField {
    /// Column and API name.
    pub name: &'static str,
    /// Its type.
    pub kind: FieldKind,
    /// Its value for objects that never set it (JSON text: `null`, `false`, `{}`).
    pub default: &'static str,
    /// Set by tasks only (shown, never accepted from a request: Pulp's read-only fields).
    pub read_only: bool,
}

impl DetailField {
    /// The default as JSON.
    pub fn default_value(&self) -> Json {
        serde_json::from_str(self.default).unwrap_or(Json::Null)
    }

    /// Checks a request's value; the error is Pulp's message.
    pub fn validate(&self, v: &Json) -> Result<Json, String> {
        match (self.kind, v) {
            (FieldKind::Text, Json::Null | Json::String(_)) => Ok(v.clone()),
            (FieldKind::Text, _) => Err("Not a valid string.".into()),
            (FieldKind::Bool, Json::Bool(_)) => Ok(v.clone()),
            (FieldKind::Bool, _) => Err("Must be a valid boolean.".into()),
            (FieldKind::Json, Json::Object(_)) => Ok(v.clone()),
            (FieldKind::Json, _) => Err("Value must be valid JSON.".into()),
        }
    }

    fn to_db(self, v: &Json) -> Value {
        match self.kind {
            FieldKind::Text => Value::from(v.as_str().map(str::to_owned)),
            FieldKind::Bool => Value::from(v.as_bool().unwrap_or(false)),
            FieldKind::Json => Value::from(v.to_string()),
        }
    }
}

/// A type's detail table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetailTable {
    /// The table.
    pub name: &'static str,
    /// Its key column, the master row's id (`repository_id`).
    pub key: &'static str,
    /// Its fields, in the order the API shows them.
    pub fields: &'static [DetailField],
}

impl DetailTable {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&DetailField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Every field at its default.
    pub fn defaults(&self) -> Map<String, Json> {
        self.fields
            .iter()
            .map(|f| (f.name.to_owned(), f.default_value()))
            .collect()
    }
}

/// The fields of each of `ids` (defaults for objects without a row).
pub async fn load(
    db: &Db,
    conn: &impl ConnectionTrait,
    t: &DetailTable,
    ids: &[String],
) -> Result<HashMap<String, Map<String, Json>>, DbError> {
    let mut out: HashMap<String, Map<String, Json>> =
        ids.iter().map(|i| (i.clone(), t.defaults())).collect();
    let cols: Vec<&str> = t.fields.iter().map(|f| f.name).collect();
    let sql = format!(
        "SELECT {key}, {cols} FROM {table} WHERE {key} IN ({{ids}})",
        key = t.key,
        cols = cols.join(", "),
        table = t.name
    );
    let rows = db
        .select_in(conn, &sql, &[], ids, |r| {
            let mut fields = Map::new();
            for f in t.fields {
                let v = match f.kind {
                    FieldKind::Text => r
                        .try_get::<Option<String>>("", f.name)?
                        .map_or(Json::Null, Json::String),
                    FieldKind::Bool => Json::Bool(r.try_get("", f.name)?),
                    FieldKind::Json => serde_json::from_str(&r.try_get::<String>("", f.name)?)
                        .unwrap_or_else(|_| f.default_value()),
                };
                fields.insert(f.name.to_owned(), v);
            }
            Ok((r.try_get::<String>("", t.key)?, fields))
        })
        .await?;
    out.extend(rows);
    Ok(out)
}

/// Writes `values` (validated; names not in the table are ignored) for object `id`: a new row
/// takes defaults for the rest, an existing one keeps them.
pub async fn save(
    db: &Db,
    conn: &impl ConnectionTrait,
    t: &DetailTable,
    id: &str,
    values: &Map<String, Json>,
) -> Result<(), DbError> {
    let given: Vec<&DetailField> = t
        .fields
        .iter()
        .filter(|f| values.contains_key(f.name))
        .collect();
    let mut binds: Vec<Value> = vec![id.to_owned().into()];
    for f in t.fields {
        let v = values
            .get(f.name)
            .cloned()
            .unwrap_or_else(|| f.default_value());
        binds.push(f.to_db(&v));
    }
    let cols: Vec<&str> = t.fields.iter().map(|f| f.name).collect();
    let on_conflict = if given.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        format!(
            "DO UPDATE SET {}",
            given
                .iter()
                .map(|f| format!("{0} = excluded.{0}", f.name))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let sql = format!(
        "INSERT INTO {table} ({key}, {cols}) VALUES ({ph}) ON CONFLICT ({key}) {on_conflict}",
        table = t.name,
        key = t.key,
        cols = cols.join(", "),
        ph = placeholders(1, binds.len()),
    );
    conn.execute_raw(db.stmt(&sql, binds)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: DetailTable = DetailTable {
        name: "test_detail",
        key: "repository_id",
        fields: &[
            DetailField {
                name: "manifest",
                kind: FieldKind::Text,
                default: "null",
                read_only: false,
            },
            DetailField {
                name: "autopublish",
                kind: FieldKind::Bool,
                default: "false",
                read_only: false,
            },
            DetailField {
                name: "details",
                kind: FieldKind::Json,
                default: "{}",
                read_only: true,
            },
        ],
    };

    #[tokio::test]
    async fn load_save_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        db.write
            .execute_raw(db.stmt(
                "CREATE TABLE test_detail (repository_id TEXT PRIMARY KEY, manifest TEXT, autopublish BOOLEAN NOT NULL, details TEXT NOT NULL)",
                vec![],
            ))
            .await
            .unwrap();
        let ids = vec!["a".to_owned(), "b".to_owned()];
        let mut first = Map::new();
        first.insert("manifest".into(), Json::from("M"));
        save(&db, &db.write, &T, "a", &first).await.unwrap();
        let mut second = Map::new();
        second.insert("autopublish".into(), Json::Bool(true));
        second.insert("details".into(), serde_json::json!({"k": 1}));
        save(&db, &db.write, &T, "a", &second).await.unwrap();
        let got = load(&db, &db.read, &T, &ids).await.unwrap();
        assert_eq!(
            Json::Object(got["a"].clone()),
            serde_json::json!({"manifest": "M", "autopublish": true, "details": {"k": 1}})
        );
        assert_eq!(
            Json::Object(got["b"].clone()),
            serde_json::json!({"manifest": null, "autopublish": false, "details": {}})
        );
        assert!(T.fields[1].validate(&Json::from("yes")).is_err());
        assert!(T.fields[0].validate(&Json::Null).is_ok());
    }
}
