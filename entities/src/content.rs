//! Content, the master model every plugin's content type extends (Pulp's `Content` and
//! `ContentArtifact`, and core's `ContentSaver` and `RemoteArtifactSaver` stages): finding or
//! creating units of any type by its natural key, linking their artifacts, and recording where
//! each artifact can be downloaded from. A plugin declares its detail table as a
//! [`ContentTable`]; it never writes `core_content` or `core_contentartifact` itself.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, Value};

use crate::db::{placeholders, value_rows};
use crate::time::now_micros;
use crate::{Db, DbError};

/// A content type's detail table: one row per unit, keyed by `content_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentTable {
    /// The table (`<app_label>_<model>`).
    pub name: &'static str,
    /// The natural key (Pulp's `natural_key_fields`): text columns that together identify a
    /// unit; two declarations with the same values are the same unit.
    pub natural_key: &'static [&'static str],
    /// The other columns written when a unit is created.
    pub fields: &'static [&'static str],
}

/// One unit referring to another (Pulp's foreign keys between content models: a container tag
/// names its manifest, a manifest lists its blobs, a provenance names its package): rows of
/// `table` whose `from` column holds the referring unit's id and whose `to` column holds the
/// referred unit's id. A detail-table foreign key is `{table: <detail>, from: "content_id",
/// to: <column>}`; a many-to-many link is its through table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The table holding the reference.
    pub table: &'static str,
    /// Its column with the referring unit's id.
    pub from: &'static str,
    /// Its column with the referred unit's id.
    pub to: &'static str,
}

/// `ids` and every unit they refer to, directly or through others (what `modify` adds when
/// asked to add `ids`, so a version never holds a unit without what it refers to).
pub async fn with_references(
    db: &Db,
    conn: &impl ConnectionTrait,
    refs: &[Reference],
    ids: &[String],
) -> Result<Vec<String>, DbError> {
    let mut all: Vec<String> = ids.to_vec();
    let mut seen: std::collections::HashSet<String> = ids.iter().cloned().collect();
    let mut frontier: Vec<String> = ids.to_vec();
    while !frontier.is_empty() && !refs.is_empty() {
        let mut next = Vec::new();
        for r in refs {
            let sql = format!(
                "SELECT {} AS id FROM {} WHERE {} IN ({{ids}})",
                r.to, r.table, r.from
            );
            for id in db
                .select_in(conn, &sql, &[], &frontier, |row| {
                    row.try_get::<String>("", "id")
                })
                .await?
            {
                if seen.insert(id.clone()) {
                    next.push(id);
                }
            }
        }
        all.extend(next.iter().cloned());
        frontier = next;
    }
    Ok(all)
}

/// The condition (over `core_content` aliased `alias`) that no unit refers to it.
fn unreferenced(alias: &str, refs: &[Reference]) -> String {
    refs.iter()
        .map(|r| {
            format!(
                " AND NOT EXISTS (SELECT 1 FROM {} r WHERE r.{} = {alias}.pulp_id)",
                r.table, r.to
            )
        })
        .collect()
}

/// Orphaned content (Pulp's `Content.objects.orphaned`): in no repository version, not touched
/// since `cutoff`, not published metadata, and referred to by no other unit (a referred unit
/// goes in a later cleanup, after the units referring to it); only among `only` if given.
pub async fn orphans(
    db: &Db,
    cutoff: i64,
    only: Option<&[String]>,
    refs: &[Reference],
) -> Result<Vec<String>, DbError> {
    let mut sql = format!(
        "SELECT c.pulp_id FROM core_content c WHERE c.timestamp_of_interest < $1 \
         AND c.pulp_type <> 'core.publishedmetadata' \
         AND NOT EXISTS (SELECT 1 FROM core_repositorycontent rc WHERE rc.content_id = c.pulp_id){}",
        unreferenced("c", refs)
    );
    let mut values: Vec<Value> = vec![cutoff.into()];
    if let Some(ids) = only {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(
            " AND c.pulp_id IN ({})",
            placeholders(2, ids.len())
        ));
        values.extend(ids.iter().map(|s| Value::from(s.clone())));
    }
    db.read
        .query_all_raw(db.stmt(&sql, values))
        .await?
        .into_iter()
        .map(|r| r.try_get::<String>("", "pulp_id").map_err(DbError::from))
        .collect()
}

/// Deletes those of `ids` that are still orphans (re-checked in the statement: a concurrent
/// task may have added one to a version, or a unit referring to it); returns how many went.
pub async fn delete_orphans(
    db: &Db,
    conn: &impl ConnectionTrait,
    ids: &[String],
    refs: &[Reference],
) -> Result<u64, DbError> {
    let mut n = 0;
    for chunk in ids.chunks(crate::MAX_BIND) {
        let sql = format!(
            "DELETE FROM core_content WHERE pulp_id IN ({}) AND NOT EXISTS \
             (SELECT 1 FROM core_repositorycontent rc WHERE rc.content_id = core_content.pulp_id){}",
            placeholders(1, chunk.len()),
            unreferenced("core_content", refs)
        );
        let values = chunk.iter().map(|s| Value::from(s.clone())).collect();
        n += conn
            .execute_raw(db.stmt(&sql, values))
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// One unit to find or create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewContent {
    /// Values of [`ContentTable::natural_key`], in order.
    pub key: Vec<String>,
    /// Values of [`ContentTable::fields`], in order.
    pub fields: Vec<Value>,
    /// Its artifacts: relative path and the stored artifact, if the bytes are here (`None`:
    /// not downloaded yet, served on demand).
    pub artifacts: Vec<(String, Option<String>)>,
    /// The labels (a JSON object's text) a unit created now gets; a unit that exists keeps
    /// its own, as in Pulp (`None`: no labels).
    pub labels: Option<String>,
}

/// Finds or creates units of one type, in order, and returns their ids. Existing units are
/// found by natural key (one query per chunk, on the key's first column), have their
/// `timestamp_of_interest` renewed (orphan cleanup spares them) and get the given artifacts
/// linked where they had none; new ones are created with multi-row inserts into
/// `core_content`, the detail table and `core_contentartifact`.
pub async fn find_or_create(
    db: &Db,
    conn: &impl ConnectionTrait,
    pulp_type: &str,
    table: &ContentTable,
    units: &[NewContent],
) -> Result<Vec<String>, DbError> {
    let now = now_micros();
    let width = table.natural_key.len() + table.fields.len() + 1;
    let chunk_rows = (crate::MAX_BIND / width.max(6)).max(1);
    let mut known: HashMap<Vec<String>, String> = HashMap::new();
    let mut firsts: Vec<String> = units.iter().map(|u| u.key[0].clone()).collect();
    firsts.sort_unstable();
    firsts.dedup();
    let sql = format!(
        "SELECT content_id, {} FROM {} WHERE {} IN ({{ids}})",
        table.natural_key.join(", "),
        table.name,
        table.natural_key[0],
    );
    for (key, id) in db
        .select_in(conn, &sql, &[], &firsts, |r| {
            let key = table
                .natural_key
                .iter()
                .map(|c| r.try_get::<String>("", c))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((key, r.try_get::<String>("", "content_id")?))
        })
        .await?
    {
        known.insert(key, id);
    }
    let mut ids = Vec::with_capacity(units.len());
    let mut renew = Vec::new();
    let mut link: Vec<(&str, &str, String)> = Vec::new();
    let mut new: Vec<(String, &NewContent)> = Vec::new();
    for u in units {
        match known.get(&u.key) {
            Some(id) => {
                renew.push(Value::from(id.clone()));
                for (path, a) in &u.artifacts {
                    if let Some(a) = a {
                        link.push((a, path, id.clone()));
                    }
                }
                ids.push(id.clone());
            }
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                known.insert(u.key.clone(), id.clone());
                new.push((id.clone(), u));
                ids.push(id);
            }
        }
    }
    // Content synced on demand before, now downloaded: link its artifact.
    for (a, path, id) in link {
        conn.execute_raw(db.stmt(
            "UPDATE core_contentartifact SET artifact_id = $1 \
             WHERE content_id = $2 AND relative_path = $3 AND artifact_id IS NULL",
            vec![a.into(), id.into(), path.into()],
        ))
        .await?;
    }
    for chunk in renew.chunks(crate::MAX_BIND - 1) {
        let mut values = vec![Value::from(now)];
        values.extend(chunk.iter().cloned());
        conn.execute_raw(db.stmt(
            &format!(
                "UPDATE core_content SET timestamp_of_interest = $1 WHERE pulp_id IN ({})",
                placeholders(2, chunk.len())
            ),
            values,
        ))
        .await?;
    }
    for chunk in new.chunks(chunk_rows) {
        let mut v = Vec::with_capacity(chunk.len() * 6);
        for (id, u) in chunk {
            v.extend([
                id.clone().into(),
                now.into(),
                now.into(),
                now.into(),
                pulp_type.into(),
                u.labels.as_deref().unwrap_or("{}").into(),
            ]);
        }
        conn.execute_raw(db.stmt(
            &format!(
                "INSERT INTO core_content (pulp_id, pulp_created, pulp_last_updated, timestamp_of_interest, pulp_type, pulp_labels) \
                 VALUES {}",
                value_rows(chunk.len(), 6)
            ),
            v,
        ))
        .await?;
        let mut v = Vec::with_capacity(chunk.len() * width);
        for (id, u) in chunk {
            v.push(Value::from(id.clone()));
            v.extend(u.key.iter().map(|k| Value::from(k.clone())));
            v.extend(u.fields.iter().cloned());
        }
        let cols: Vec<&str> = table
            .natural_key
            .iter()
            .chain(table.fields)
            .copied()
            .collect();
        conn.execute_raw(db.stmt(
            &format!(
                "INSERT INTO {} (content_id, {}) VALUES {}",
                table.name,
                cols.join(", "),
                value_rows(chunk.len(), width)
            ),
            v,
        ))
        .await?;
        let artifacts: Vec<(&String, &(String, Option<String>))> = chunk
            .iter()
            .flat_map(|(id, u)| u.artifacts.iter().map(move |a| (id, a)))
            .collect();
        for part in artifacts.chunks(crate::MAX_BIND / 4) {
            let mut v = Vec::with_capacity(part.len() * 4);
            for (id, (path, a)) in part {
                v.extend([
                    Value::from(uuid::Uuid::now_v7().to_string()),
                    Value::from((*id).clone()),
                    Value::from(a.clone()),
                    Value::from(path.clone()),
                ]);
            }
            conn.execute_raw(db.stmt(
                &format!(
                    "INSERT INTO core_contentartifact (pulp_id, content_id, artifact_id, relative_path) VALUES {}",
                    value_rows(part.len(), 4)
                ),
                v,
            ))
            .await?;
        }
    }
    Ok(ids)
}

/// Sets a content unit's `pulp_labels` (given with its creation).
pub async fn set_labels(
    db: &Db,
    conn: &impl ConnectionTrait,
    id: &str,
    labels: &serde_json::Value,
) -> Result<(), DbError> {
    conn.execute_raw(db.stmt(
        "UPDATE core_content SET pulp_labels = $1 WHERE pulp_id = $2",
        vec![labels.to_string().into(), id.to_owned().into()],
    ))
    .await?;
    Ok(())
}

/// Where one artifact of one unit can be downloaded from (Pulp's `RemoteArtifact`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteArtifact {
    /// The unit.
    pub content_id: String,
    /// The artifact's relative path in the unit.
    pub relative_path: String,
    /// Its URL at the remote.
    pub url: String,
    /// Expected size, if declared.
    pub size: Option<u64>,
    /// Expected sha256, if declared.
    pub sha256: Option<String>,
}

/// Records where artifacts can be fetched from `remote` (the content app uses it for content
/// not downloaded yet, repair for damaged files): one row per content artifact and remote,
/// refreshed (and its failure mark cleared) on every sync.
pub async fn record_remote_artifacts(
    db: &Db,
    conn: &impl ConnectionTrait,
    remote: &str,
    rows: &[RemoteArtifact],
) -> Result<(), DbError> {
    let mut content_ids: Vec<String> = rows.iter().map(|r| r.content_id.clone()).collect();
    content_ids.sort_unstable();
    content_ids.dedup();
    let ca_of: HashMap<(String, String), String> = db
        .select_in(
            conn,
            "SELECT pulp_id, content_id, relative_path FROM core_contentartifact WHERE content_id IN ({ids})",
            &[],
            &content_ids,
            |row| {
                Ok((
                    (
                        row.try_get("", "content_id")?,
                        row.try_get("", "relative_path")?,
                    ),
                    row.try_get("", "pulp_id")?,
                ))
            },
        )
        .await?
        .into_iter()
        .collect();
    let now = now_micros();
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<(&String, &RemoteArtifact)> = rows
        .iter()
        .filter_map(|r| {
            ca_of
                .get(&(r.content_id.clone(), r.relative_path.clone()))
                .map(|ca| (ca, r))
        })
        .filter(|(ca, _)| seen.insert(*ca))
        .collect();
    for chunk in rows.chunks(crate::MAX_BIND / 7) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 7);
        for (ca, r) in chunk {
            values.extend([
                uuid::Uuid::now_v7().to_string().into(),
                (*ca).clone().into(),
                remote.into(),
                r.url.clone().into(),
                r.size.map(|s| s as i64).into(),
                r.sha256.clone().into(),
                now.into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO core_remoteartifact (pulp_id, content_artifact_id, remote_id, url, size, sha256, pulp_created) \
             VALUES {} ON CONFLICT (content_artifact_id, remote_id) DO UPDATE SET url = excluded.url, \
             size = excluded.size, sha256 = excluded.sha256, failed_at = NULL",
            value_rows(chunk.len(), 7)
        );
        conn.execute_raw(db.stmt(&sql, values)).await?;
    }
    Ok(())
}

/// Marks remote artifact `id` as failed now (the content app tries other sources first).
pub async fn mark_remote_artifact_failed(db: &Db, id: &str) -> Result<(), DbError> {
    db.write
        .execute_raw(db.stmt(
            "UPDATE core_remoteartifact SET failed_at = $1 WHERE pulp_id = $2",
            vec![now_micros().into(), id.to_owned().into()],
        ))
        .await?;
    Ok(())
}

/// The stored artifact of content artifact `id` — file, size, sha256, creation time — if its
/// bytes are here.
pub async fn stored_artifact(
    db: &Db,
    id: &str,
) -> Result<Option<(String, i64, String, i64)>, DbError> {
    db.read
        .query_one_raw(db.stmt(
            "SELECT a.file, a.size, a.sha256, a.pulp_created FROM core_contentartifact ca \
             JOIN core_artifact a ON a.pulp_id = ca.artifact_id WHERE ca.pulp_id = $1",
            vec![id.to_owned().into()],
        ))
        .await?
        .map(|r| {
            Ok((
                r.try_get("", "file")?,
                r.try_get("", "size")?,
                r.try_get("", "sha256")?,
                r.try_get("", "pulp_created")?,
            ))
        })
        .transpose()
}

/// A content artifact `remote` was already pulled through from `url` (Pulp's lookup of a
/// `RemoteArtifact` by remote and URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PulledThrough {
    /// The content artifact.
    pub content_artifact: String,
    /// Its unit.
    pub content_id: String,
    /// The sha256 the remote artifact records.
    pub sha256: Option<String>,
    /// Its size, if known.
    pub size: Option<i64>,
}

/// The content artifact whose remote artifact at `remote` has `url`, if any.
pub async fn pulled_through(
    db: &Db,
    remote: &str,
    url: &str,
) -> Result<Option<PulledThrough>, DbError> {
    db.read
        .query_one_raw(db.stmt(
            "SELECT ra.content_artifact_id, ca.content_id, ra.sha256, ra.size FROM core_remoteartifact ra \
             JOIN core_contentartifact ca ON ca.pulp_id = ra.content_artifact_id \
             WHERE ra.remote_id = $1 AND ra.url = $2 ORDER BY ra.pulp_created LIMIT 1",
            vec![remote.to_owned().into(), url.to_owned().into()],
        ))
        .await?
        .map(|r| {
            Ok(PulledThrough {
                content_artifact: r.try_get("", "content_artifact_id")?,
                content_id: r.try_get("", "content_id")?,
                sha256: r.try_get("", "sha256")?,
                size: r.try_get("", "size")?,
            })
        })
        .transpose()
}

/// Where content artifact `id` can be fetched from: `(remote artifact, url, remote)` of those
/// not failed since `cutoff`, oldest first.
pub async fn fetch_sources(
    db: &Db,
    id: &str,
    cutoff: i64,
) -> Result<Vec<(String, String, String)>, DbError> {
    db.read
        .query_all_raw(db.stmt(
            "SELECT pulp_id, url, remote_id FROM core_remoteartifact WHERE content_artifact_id = $1 \
             AND (failed_at IS NULL OR failed_at <= $2) ORDER BY pulp_created",
            vec![id.to_owned().into(), cutoff.into()],
        ))
        .await?
        .into_iter()
        .map(|r| {
            Ok((
                r.try_get("", "pulp_id")?,
                r.try_get("", "url")?,
                r.try_get("", "remote_id")?,
            ))
        })
        .collect()
}

/// Those of `ids` that are stored content.
pub async fn existing(db: &Db, ids: &[String]) -> Result<Vec<String>, DbError> {
    db.select_in(
        &db.read,
        "SELECT pulp_id FROM core_content WHERE pulp_id IN ({ids})",
        &[],
        ids,
        |r| r.try_get("", "pulp_id"),
    )
    .await
}

/// Which membership of a version a content list asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    /// Present in the version.
    Present,
    /// Added by it.
    Added,
    /// Removed by it.
    Removed,
    /// Not in the version.
    Absent,
}

/// A content list's conditions on `core_content c` (and a detail table joined as `f`), with
/// their bound values: core adds the filters every content list has, a plugin its own
/// conditions on its detail table.
#[derive(Debug, Default)]
pub struct ContentQuery {
    conds: Vec<String>,
    values: Vec<Value>,
}

impl ContentQuery {
    /// Content of these types only.
    pub fn of_types(types: &[&str]) -> ContentQuery {
        let mut q = ContentQuery::default();
        q.pulp_types(types.iter().map(|t| t.to_string()).collect());
        q
    }

    /// Binds a value; returns its placeholder.
    pub fn param(&mut self, v: Value) -> String {
        self.values.push(v);
        format!("${}", self.values.len())
    }

    /// Adds a condition (written with placeholders from [`ContentQuery::param`]).
    pub fn and(&mut self, cond: String) {
        self.conds.push(cond);
    }

    /// Content of type in `types` (none: nothing).
    pub fn pulp_types(&mut self, types: Vec<String>) {
        let ps: Vec<String> = types.into_iter().map(|t| self.param(t.into())).collect();
        self.conds.push(if ps.is_empty() {
            "1 = 0".into()
        } else {
            format!("c.pulp_type IN ({})", ps.join(","))
        });
    }

    /// Content with one of these ids (none: nothing).
    pub fn ids(&mut self, ids: Vec<String>) {
        let ps: Vec<String> = ids.into_iter().map(|i| self.param(i.into())).collect();
        self.conds.push(if ps.is_empty() {
            "1 = 0".into()
        } else {
            format!("c.pulp_id IN ({})", ps.join(","))
        });
    }

    /// Content that is or was in a repository of one of `types` or with one of `ids`
    /// (Pulp's `repositories__in`: any version counts); neither: nothing.
    pub fn in_repositories(&mut self, types: &[String], ids: &[String]) {
        let mut any = Vec::new();
        if !types.is_empty() {
            let ps: Vec<String> = types.iter().map(|t| self.param(t.clone().into())).collect();
            any.push(format!(
                "rc.repository_id IN (SELECT r.pulp_id FROM core_repository r WHERE r.pulp_type IN ({}))",
                ps.join(",")
            ));
        }
        if !ids.is_empty() {
            let ps: Vec<String> = ids.iter().map(|i| self.param(i.clone().into())).collect();
            any.push(format!("rc.repository_id IN ({})", ps.join(",")));
        }
        self.conds.push(if any.is_empty() {
            "1 = 0".into()
        } else {
            format!(
                "c.pulp_id IN (SELECT rc.content_id FROM core_repositorycontent rc WHERE {})",
                any.join(" OR ")
            )
        });
    }

    /// Where the conditions end now, for [`ContentQuery::take_since`].
    pub fn mark(&self) -> usize {
        self.conds.len()
    }

    /// Takes the conditions added since `mark` back out as one (their conjunction; `1 = 1`
    /// for none), to be combined into a larger expression (Pulp's `q`); their bound values
    /// stay bound.
    pub fn take_since(&mut self, mark: usize) -> String {
        let taken: Vec<String> = self.conds.drain(mark..).collect();
        if taken.is_empty() {
            "1 = 1".into()
        } else {
            format!("({})", taken.join(" AND "))
        }
    }

    /// One term of Pulp's `pulp_label_select` on the unit's labels: `op` `=`, `!=`
    /// (key present with another value), `~` (value contains, case-insensitively), or `""`
    /// (key present; `!key`: absent). Keys are `[\w .-]` (the caller parsed them).
    pub fn label(&mut self, backend: crate::Backend, key: &str, op: &str, value: &str) {
        let (negated, key) = match key.strip_prefix('!') {
            Some(k) => (true, k),
            None => (false, key),
        };
        let (value_of, present) = match backend {
            crate::Backend::Postgres => {
                let k = self.param(key.to_owned().into());
                (
                    format!("(c.pulp_labels::jsonb ->> {k})"),
                    format!("jsonb_exists(c.pulp_labels::jsonb, {k})"),
                )
            }
            crate::Backend::Sqlite => {
                let path = self.param(format!("$.\"{key}\"").into());
                (
                    format!("json_extract(c.pulp_labels, {path})"),
                    format!("json_type(c.pulp_labels, {path}) IS NOT NULL"),
                )
            }
        };
        let cond = match op {
            "=" => format!("{value_of} = {}", self.param(value.to_owned().into())),
            "!=" => format!("{value_of} <> {}", self.param(value.to_owned().into())),
            "~" => {
                let escaped = value
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let p = self.param(format!("%{escaped}%").into());
                format!("LOWER({value_of}) LIKE LOWER({p}) ESCAPE '\\'")
            }
            _ if negated => format!("NOT ({present})"),
            _ => present,
        };
        self.conds.push(cond);
    }

    /// Content of one of `types` or with one of `ids`; neither: nothing.
    pub fn among(&mut self, types: &[String], ids: &[String]) {
        let mut any = Vec::new();
        for (column, vals) in [("c.pulp_type", types), ("c.pulp_id", ids)] {
            if !vals.is_empty() {
                let ps: Vec<String> = vals.iter().map(|v| self.param(v.clone().into())).collect();
                any.push(format!("{column} IN ({})", ps.join(",")));
            }
        }
        self.conds.push(if any.is_empty() {
            "1 = 0".into()
        } else {
            format!("({})", any.join(" OR "))
        });
    }

    /// Content present in, added by or removed by version `number` of `repo`.
    pub fn in_version(&mut self, repo: String, number: i64, m: Membership) {
        let (r, n) = (self.param(repo.into()), self.param(number.into()));
        let range = match m {
            Membership::Present => crate::versions::in_version("rc", &n),
            Membership::Added => format!("rc.version_added = {n}"),
            Membership::Removed => format!("rc.version_removed = {n}"),
            Membership::Absent => crate::versions::in_version("rc", &n),
        };
        let op = if m == Membership::Absent {
            "NOT IN"
        } else {
            "IN"
        };
        self.conds.push(format!(
            "c.pulp_id {op} (SELECT rc.content_id FROM core_repositorycontent rc WHERE rc.repository_id = {r} AND {range})"
        ));
    }

    /// A text lookup of Pulp's `NAME_FILTER_OPTIONS` on `column` (of `c`, or of the detail
    /// table joined as `f`): exact, iexact, in (comma-separated), contains, icontains,
    /// startswith, istartswith, regex, iregex. `Err` names a lookup that is none of them.
    pub fn text(
        &mut self,
        backend: crate::Backend,
        column: &str,
        lookup: &str,
        value: &str,
    ) -> Result<(), String> {
        let like = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        };
        let cond = match lookup {
            "exact" => format!("{column} = {}", self.param(value.into())),
            "iexact" => format!("LOWER({column}) = LOWER({})", self.param(value.into())),
            "in" => {
                let ps: Vec<String> = value
                    .split(',')
                    .map(|v| self.param(v.trim().into()))
                    .collect();
                format!("{column} IN ({})", ps.join(","))
            }
            "contains" | "icontains" | "startswith" | "istartswith" => {
                let pattern = if lookup.ends_with("contains") {
                    format!("%{}%", like(value))
                } else {
                    format!("{}%", like(value))
                };
                let p = self.param(pattern.into());
                if lookup.starts_with('i') {
                    format!("LOWER({column}) LIKE LOWER({p}) ESCAPE '\\'")
                } else {
                    format!("{column} LIKE {p} ESCAPE '\\'")
                }
            }
            "regex" | "iregex" => {
                let insensitive = lookup == "iregex";
                match backend {
                    crate::Backend::Postgres => {
                        let op = if insensitive { "~*" } else { "~" };
                        format!("{column} {op} {}", self.param(value.into()))
                    }
                    crate::Backend::Sqlite => {
                        let pattern = if insensitive {
                            format!("(?i){value}")
                        } else {
                            value.to_owned()
                        };
                        format!("{column} REGEXP {}", self.param(pattern.into()))
                    }
                }
            }
            other => return Err(format!("Invalid Filter: lookup '{other}'")),
        };
        self.conds.push(cond);
        Ok(())
    }

    /// Content in no version, untouched since `cutoff`.
    pub fn orphaned_since(&mut self, cutoff: i64) {
        let cutoff = self.param(cutoff.into());
        self.conds.push(format!(
            "c.timestamp_of_interest < {cutoff} AND NOT EXISTS (SELECT 1 FROM core_repositorycontent rc WHERE rc.content_id = c.pulp_id)"
        ));
    }

    /// The total count and one page of ids, ordered by `order` (a `core_content` column,
    /// descending?) or newest first, the id breaking ties; the detail table `join` is joined
    /// as `f` when given.
    pub async fn page(
        self,
        db: &Db,
        join: Option<&str>,
        order: Option<(&str, bool)>,
        limit: u64,
        offset: u64,
    ) -> Result<(u64, Vec<String>), DbError> {
        let from = self.from(join);
        let count = db
            .read
            .query_one_raw(db.stmt(&format!("SELECT COUNT(*) AS n {from}"), self.values.clone()))
            .await?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0) as u64;
        let order = match order {
            Some((col, desc)) => format!("c.{col} {}", if desc { "DESC" } else { "ASC" }),
            None => "c.pulp_created DESC".to_owned(),
        };
        let sql = format!(
            "SELECT c.pulp_id {from} ORDER BY {order}, c.pulp_id DESC LIMIT {limit} OFFSET {offset}"
        );
        let ids = db
            .read
            .query_all_raw(db.stmt(&sql, self.values))
            .await?
            .into_iter()
            .map(|r| r.try_get::<String>("", "pulp_id"))
            .collect::<Result<_, _>>()?;
        Ok((count, ids))
    }

    /// Whether any unit matches, in one query.
    pub async fn exists(self, db: &Db) -> Result<bool, DbError> {
        let sql = format!("SELECT 1 AS x {} LIMIT 1", self.from(None));
        Ok(db
            .read
            .query_one_raw(db.stmt(&sql, self.values))
            .await?
            .is_some())
    }

    /// `FROM core_content c [JOIN <join> f] WHERE <conditions>`.
    fn from(&self, join: Option<&str>) -> String {
        let join = join
            .map(|t| format!("JOIN {t} f ON f.content_id = c.pulp_id "))
            .unwrap_or_default();
        let conds = if self.conds.is_empty() {
            "1 = 1".to_owned()
        } else {
            self.conds.join(" AND ")
        };
        format!("FROM core_content c {join}WHERE {conds}")
    }
}

/// A content unit's master row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentRow {
    /// Its id.
    pub id: String,
    /// Its type.
    pub pulp_type: String,
    /// Creation time (µs).
    pub created: i64,
    /// Last update (µs).
    pub updated: i64,
    /// Its labels (JSON text).
    pub labels: String,
}

/// The master rows of `ids` (any order).
pub async fn rows(db: &Db, ids: &[String]) -> Result<Vec<ContentRow>, DbError> {
    db.select_in(
        &db.read,
        "SELECT pulp_id, pulp_type, pulp_created, pulp_last_updated, pulp_labels FROM core_content WHERE pulp_id IN ({ids})",
        &[],
        ids,
        |r| {
            Ok(ContentRow {
                id: r.try_get("", "pulp_id")?,
                pulp_type: r.try_get("", "pulp_type")?,
                created: r.try_get("", "pulp_created")?,
                updated: r.try_get("", "pulp_last_updated")?,
                labels: r.try_get("", "pulp_labels")?,
            })
        },
    )
    .await
}

/// The content artifacts of `ids`: `(content id, relative path, artifact id if stored)`.
pub async fn content_artifacts(
    db: &Db,
    ids: &[String],
) -> Result<Vec<(String, String, Option<String>)>, DbError> {
    db.select_in(
        &db.read,
        "SELECT content_id, relative_path, artifact_id FROM core_contentartifact WHERE content_id IN ({ids})",
        &[],
        ids,
        |r| {
            Ok((
                r.try_get("", "content_id")?,
                r.try_get("", "relative_path")?,
                r.try_get("", "artifact_id")?,
            ))
        },
    )
    .await
}

/// Whether content `id` is or was in a repository of one of `types` or with one of `ids`.
pub async fn in_repositories(
    db: &Db,
    id: &str,
    types: &[String],
    ids: &[String],
) -> Result<bool, DbError> {
    let mut q = ContentQuery::default();
    q.ids(vec![id.to_owned()]);
    q.in_repositories(types, ids);
    q.exists(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: ContentTable = ContentTable {
        name: "test_manifest",
        natural_key: &["digest"],
        fields: &["size"],
    };
    const TAG: ContentTable = ContentTable {
        name: "test_tag",
        natural_key: &["name", "manifest_id"],
        fields: &[],
    };
    const TAGGED: Reference = Reference {
        table: "test_tag",
        from: "content_id",
        to: "manifest_id",
    };

    fn unit(key: &[&str], fields: Vec<Value>, artifacts: &[(&str, Option<&str>)]) -> NewContent {
        NewContent {
            key: key.iter().map(|k| k.to_string()).collect(),
            fields,
            artifacts: artifacts
                .iter()
                .map(|(p, a)| (p.to_string(), a.map(str::to_owned)))
                .collect(),
            labels: None,
        }
    }

    /// Units of two types found or created by natural key, several or no artifacts, a
    /// reference followed by `with_references` and respected by orphan cleanup.
    #[tokio::test]
    async fn saver_references_and_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        crate::migration::migrate(&db, Vec::new()).await.unwrap();
        for sql in [
            "CREATE TABLE test_manifest (content_id TEXT PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE, digest TEXT NOT NULL, size BIGINT)",
            "CREATE TABLE test_tag (content_id TEXT PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE, name TEXT NOT NULL, manifest_id TEXT NOT NULL)",
        ] {
            db.write.execute_raw(db.stmt(sql, vec![])).await.unwrap();
        }
        let m = find_or_create(
            &db,
            &db.write,
            "test.manifest",
            &MANIFEST,
            &[
                unit(
                    &["m1"],
                    vec![3i64.into()],
                    &[("m1", None), ("m1.sig", None)],
                ),
                unit(&["m2"], vec![4i64.into()], &[]),
            ],
        )
        .await
        .unwrap();
        let again = find_or_create(
            &db,
            &db.write,
            "test.manifest",
            &MANIFEST,
            &[
                unit(&["m2"], vec![4i64.into()], &[]),
                unit(&["m1"], vec![3i64.into()], &[]),
            ],
        )
        .await
        .unwrap();
        assert_eq!(again, vec![m[1].clone(), m[0].clone()]);
        let t = find_or_create(
            &db,
            &db.write,
            "test.tag",
            &TAG,
            &[unit(&["latest", &m[0]], vec![], &[])],
        )
        .await
        .unwrap();
        let paths = db
            .read
            .query_all_raw(db.stmt(
                "SELECT relative_path FROM core_contentartifact WHERE content_id = $1 ORDER BY relative_path",
                vec![m[0].clone().into()],
            ))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.try_get::<String>("", "relative_path").unwrap())
            .collect::<Vec<_>>();
        assert_eq!(paths, ["m1", "m1.sig"]);

        let closure = with_references(&db, &db.read, &[TAGGED], &t).await.unwrap();
        assert_eq!(closure, vec![t[0].clone(), m[0].clone()]);

        // Everything is orphaned, but the tagged manifest is kept while its tag exists.
        let future = now_micros() + 1_000_000;
        let mut found = orphans(&db, future, None, &[TAGGED]).await.unwrap();
        found.sort();
        let mut expected = vec![t[0].clone(), m[1].clone()];
        expected.sort();
        assert_eq!(found, expected);
        let all = [t[0].clone(), m[0].clone(), m[1].clone()];
        assert_eq!(
            delete_orphans(&db, &db.write, &all, &[TAGGED])
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            orphans(&db, future, None, &[TAGGED]).await.unwrap(),
            vec![m[0].clone()]
        );
    }
}
