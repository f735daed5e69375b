//! Publications (Pulp's `Publication` and `PublishedMetadata`) and the distributions that serve
//! them: creating, listing, rendering rows and deleting.

use sea_orm::{ConnectionTrait, TransactionTrait, Value};

use crate::time::now_micros;
use crate::{Db, DbError};

/// A complete publication with its version's repository, as its JSON needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicationRow {
    /// Its id.
    pub id: String,
    /// Its `pulp_type`.
    pub pulp_type: String,
    /// Creation time (µs).
    pub created: i64,
    /// Last update (µs).
    pub updated: i64,
    /// The published version's repository.
    pub repository_id: String,
    /// That repository's `pulp_type`.
    pub repository_type: String,
    /// The published version's number.
    pub number: i64,
    /// One of its repository's checkpoints.
    pub checkpoint: bool,
}

/// The complete publications among `ids` (any order).
pub async fn complete(db: &Db, ids: &[String]) -> Result<Vec<PublicationRow>, DbError> {
    db.select_in(
        &db.read,
        "SELECT p.pulp_id, p.pulp_type, p.pulp_created, p.pulp_last_updated, p.checkpoint, v.repository_id, \
         v.number, r.pulp_type AS repository_type \
         FROM core_publication p JOIN core_repositoryversion v ON v.pulp_id = p.repository_version_id \
         JOIN core_repository r ON r.pulp_id = v.repository_id \
         WHERE p.complete = $1 AND p.pulp_id IN ({ids})",
        &[true.into()],
        ids,
        |r| {
            Ok(PublicationRow {
                id: r.try_get("", "pulp_id")?,
                pulp_type: r.try_get("", "pulp_type")?,
                created: r.try_get("", "pulp_created")?,
                updated: r.try_get("", "pulp_last_updated")?,
                repository_id: r.try_get("", "repository_id")?,
                repository_type: r.try_get("", "repository_type")?,
                number: r.try_get("", "number")?,
                checkpoint: r.try_get("", "checkpoint")?,
            })
        },
    )
    .await
}

/// The distributions serving each of `ids`: `(distribution id, its pulp_type, publication
/// id)`, by distribution name.
pub async fn distributions_of(
    db: &Db,
    ids: &[String],
) -> Result<Vec<(String, String, String)>, DbError> {
    db.select_in(
        &db.read,
        "SELECT pulp_id, pulp_type, publication_id FROM core_distribution WHERE publication_id IN ({ids}) ORDER BY name",
        &[],
        ids,
        |d| {
            Ok((
                d.try_get("", "pulp_id")?,
                d.try_get("", "pulp_type")?,
                d.try_get("", "publication_id")?,
            ))
        },
    )
    .await
}

/// A publication to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPublication {
    /// Its `pulp_type`.
    pub pulp_type: String,
    /// The version it publishes.
    pub version_id: String,
    /// Its type's own fields, in its detail table.
    pub details: Option<(
        crate::detail::DetailTable,
        serde_json::Map<String, serde_json::Value>,
    )>,
    /// Serve the version's content artifacts at their relative paths (else only
    /// `published_artifacts` and `metadata`).
    pub pass_through: bool,
    /// A checkpoint of its repository (its `retain_checkpoints` applies once it is made).
    pub checkpoint: bool,
    /// Published metadata files: relative path and artifact id.
    pub metadata: Vec<(String, String)>,
    /// Content artifacts served at a path of the plugin's choosing (Pulp's
    /// `PublishedArtifact`): relative path and content artifact id.
    pub published_artifacts: Vec<(String, String)>,
}

/// Creates a complete publication with its metadata files in one transaction; returns its id.
pub async fn create(db: &Db, p: &NewPublication) -> Result<String, DbError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_micros();
    let txn = db.write.begin().await?;
    txn.execute_raw(db.stmt(
        "INSERT INTO core_publication (pulp_id, pulp_type, repository_version_id, complete, pass_through, checkpoint, \
         pulp_created, pulp_last_updated) VALUES ($1,$2,$3,$4,$5,$6,$7,$7)",
        vec![
            id.clone().into(),
            p.pulp_type.clone().into(),
            p.version_id.clone().into(),
            true.into(),
            p.pass_through.into(),
            p.checkpoint.into(),
            now.into(),
        ],
    ))
    .await?;
    for (path, artifact) in &p.metadata {
        txn.execute_raw(db.stmt(
            "INSERT INTO core_publishedmetadata (pulp_id, publication_id, relative_path, artifact_id) VALUES ($1,$2,$3,$4)",
            vec![
                uuid::Uuid::now_v7().to_string().into(),
                id.clone().into(),
                path.clone().into(),
                artifact.clone().into(),
            ],
        ))
        .await?;
    }
    for part in p.published_artifacts.chunks(crate::MAX_BIND / 4) {
        let mut values: Vec<Value> = Vec::with_capacity(part.len() * 4);
        for (path, ca) in part {
            values.extend([
                uuid::Uuid::now_v7().to_string().into(),
                id.clone().into(),
                path.clone().into(),
                ca.clone().into(),
            ]);
        }
        txn.execute_raw(db.stmt(
            &format!(
                "INSERT INTO core_publishedartifact (pulp_id, publication_id, relative_path, content_artifact_id) VALUES {}",
                crate::db::value_rows(part.len(), 4)
            ),
            values,
        ))
        .await?;
    }
    if let Some((table, values)) = &p.details {
        crate::detail::save(db, &txn, table, &id, values).await?;
    }
    txn.commit().await?;
    // Distributions that serve their repository's or this version's latest publication serve
    // this one now (Pulp refreshes their distributed publications here, for autopublish).
    crate::distributions::record_served_for_version(db, &p.version_id).await?;
    if p.checkpoint {
        let repo = db
            .write
            .query_one_raw(db.stmt(
                "SELECT repository_id FROM core_repositoryversion WHERE pulp_id = $1",
                vec![p.version_id.clone().into()],
            ))
            .await?
            .map(|r| r.try_get::<String>("", "repository_id"))
            .transpose()?;
        if let Some(repo) = repo {
            retain_checkpoints(db, &db.write, &repo).await?;
        }
    }
    Ok(id)
}

/// Applies the repository's `retain_checkpoints` as Pulp does: its newest that many
/// checkpoint publications stay checkpoints, older ones become plain publications (they are
/// kept, but no checkpoint distribution serves them and they protect no version). Returns how
/// many were unmarked.
pub async fn retain_checkpoints(
    db: &Db,
    conn: &impl ConnectionTrait,
    repo: &str,
) -> Result<u64, DbError> {
    let keep = conn
        .query_one_raw(db.stmt(
            "SELECT retain_checkpoints FROM core_repository WHERE pulp_id = $1",
            vec![repo.to_owned().into()],
        ))
        .await?
        .map(|r| r.try_get::<Option<i64>>("", "retain_checkpoints"))
        .transpose()?
        .flatten();
    let Some(keep) = keep.filter(|k| *k > 0) else {
        return Ok(0);
    };
    let expired: Vec<String> = conn
        .query_all_raw(db.stmt(
            "SELECT p.pulp_id FROM core_publication p JOIN core_repositoryversion v \
             ON v.pulp_id = p.repository_version_id \
             WHERE v.repository_id = $1 AND p.checkpoint = $2 AND p.complete = $2 \
             ORDER BY p.pulp_created DESC",
            vec![repo.to_owned().into(), true.into()],
        ))
        .await?
        .into_iter()
        .skip(keep as usize)
        .map(|r| r.try_get::<String>("", "pulp_id"))
        .collect::<Result<_, _>>()?;
    for id in &expired {
        conn.execute_raw(db.stmt(
            "UPDATE core_publication SET checkpoint = $1, pulp_last_updated = $2 WHERE pulp_id = $3",
            vec![false.into(), now_micros().into(), id.clone().into()],
        ))
        .await?;
    }
    Ok(expired.len() as u64)
}

/// Deletes publication `id` with its metadata; distributions serving it serve nothing.
pub async fn delete(db: &Db, id: &str) -> Result<(), DbError> {
    let txn = db.write.begin().await?;
    for sql in [
        "UPDATE core_distribution SET publication_id = NULL WHERE publication_id = $1",
        "DELETE FROM core_publishedmetadata WHERE publication_id = $1",
        "DELETE FROM core_publication WHERE pulp_id = $1",
    ] {
        txn.execute_raw(db.stmt(sql, vec![id.to_owned().into()]))
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Which complete publications a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicationQuery {
    /// Only these types (empty: every type).
    pub pulp_types: Vec<String>,
    /// Only of this repository.
    pub repository: Option<String>,
    /// Only of this version.
    pub version: Option<String>,
    /// Only these ids (`pulp_href__in` and the like).
    pub ids: Option<Vec<String>>,
    /// Only checkpoints (`true`) or only other publications (`false`).
    pub checkpoint: Option<bool>,
    /// Conditions on `pulp_created`: an operator (`=`, `<`, `<=`, `>`, `>=`, `IS NULL`,
    /// `IS NOT NULL`) and a time in µs (ignored by the `IS` ones).
    pub created: Vec<(&'static str, i64)>,
    /// Order: (column of `core_publication`, descending), validated by the caller; the id
    /// breaks ties; empty: newest first.
    pub ordering: Vec<(String, bool)>,
    /// Page size.
    pub limit: u64,
    /// Page start.
    pub offset: u64,
    /// Only publications of these types or with these ids (what a user may see).
    pub visible: Option<(Vec<String>, Vec<String>)>,
}

/// The complete publications that serve any of `content` (Pulp's `with_content`): pass-through
/// publications of a version holding it, and those publishing one of its artifacts.
pub async fn with_content(db: &Db, content: &[String]) -> Result<Vec<String>, DbError> {
    let versions = crate::versions::with_content(db, content).await?;
    let mut out: Vec<String> = db
        .select_in(
            &db.read,
            "SELECT pulp_id FROM core_publication WHERE complete = $1 AND pass_through = $2 \
             AND repository_version_id IN ({ids})",
            &[true.into(), true.into()],
            &versions,
            |r| r.try_get("", "pulp_id"),
        )
        .await?;
    out.extend(
        db.select_in(
            &db.read,
            "SELECT DISTINCT pa.publication_id AS pulp_id FROM core_publishedartifact pa \
             JOIN core_contentartifact ca ON ca.pulp_id = pa.content_artifact_id \
             WHERE ca.content_id IN ({ids})",
            &[],
            content,
            |r| r.try_get("", "pulp_id"),
        )
        .await?,
    );
    out.sort();
    out.dedup();
    Ok(out)
}

impl PublicationQuery {
    /// Narrows the query to `ids` (and those it was narrowed to already).
    pub fn only(&mut self, ids: Vec<String>) {
        self.ids = Some(match self.ids.take() {
            Some(prev) => prev.into_iter().filter(|i| ids.contains(i)).collect(),
            None => ids,
        });
    }
}

/// The total count and one page of ids.
pub async fn list(db: &Db, q: &PublicationQuery) -> Result<(u64, Vec<String>), DbError> {
    let mut conds = vec!["p.complete = $1".to_owned()];
    let mut values: Vec<Value> = vec![true.into()];
    let bind = |values: &mut Vec<Value>, v: String| {
        values.push(v.into());
        format!("${}", values.len())
    };
    if !q.pulp_types.is_empty() {
        let ph: Vec<String> = q
            .pulp_types
            .iter()
            .map(|t| bind(&mut values, t.clone()))
            .collect();
        conds.push(format!("p.pulp_type IN ({})", ph.join(",")));
    }
    if let Some(r) = &q.repository {
        conds.push(format!(
            "v.repository_id = {}",
            bind(&mut values, r.clone())
        ));
    }
    if let Some(v) = &q.version {
        conds.push(format!(
            "p.repository_version_id = {}",
            bind(&mut values, v.clone())
        ));
    }
    if let Some(c) = q.checkpoint {
        values.push(c.into());
        conds.push(format!("p.checkpoint = ${}", values.len()));
    }
    if let Some((types, ids)) = &q.visible {
        let mut any = Vec::new();
        for (column, vals) in [("p.pulp_type", types), ("p.pulp_id", ids)] {
            if !vals.is_empty() {
                let ph: Vec<String> = vals.iter().map(|v| bind(&mut values, v.clone())).collect();
                any.push(format!("{column} IN ({})", ph.join(",")));
            }
        }
        if any.is_empty() {
            return Ok((0, Vec::new()));
        }
        conds.push(format!("({})", any.join(" OR ")));
    }
    if let Some(ids) = &q.ids {
        if ids.is_empty() {
            return Ok((0, Vec::new()));
        }
        let ph: Vec<String> = ids.iter().map(|i| bind(&mut values, i.clone())).collect();
        conds.push(format!("p.pulp_id IN ({})", ph.join(",")));
    }
    for (op, t) in &q.created {
        if op.starts_with("IS") {
            conds.push(format!("p.pulp_created {op}"));
        } else {
            values.push((*t).into());
            conds.push(format!("p.pulp_created {op} ${}", values.len()));
        }
    }
    let from = format!(
        "FROM core_publication p JOIN core_repositoryversion v ON v.pulp_id = p.repository_version_id WHERE {}",
        conds.join(" AND ")
    );
    let count = db
        .read
        .query_one_raw(db.stmt(&format!("SELECT COUNT(*) AS n {from}"), values.clone()))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0) as u64;
    let mut order: Vec<String> = q
        .ordering
        .iter()
        .map(|(col, desc)| format!("p.{col} {}", if *desc { "DESC" } else { "ASC" }))
        .collect();
    if order.is_empty() {
        order.push("p.pulp_created DESC".into());
    }
    order.push("p.pulp_id DESC".into());
    let sql = format!(
        "SELECT p.pulp_id {from} ORDER BY {} LIMIT {} OFFSET {}",
        order.join(", "),
        q.limit,
        q.offset
    );
    let ids = db
        .read
        .query_all_raw(db.stmt(&sql, values))
        .await?
        .into_iter()
        .map(|r| r.try_get::<String>("", "pulp_id"))
        .collect::<Result<_, _>>()?;
    Ok((count, ids))
}

/// A repository's checkpoint publications, oldest first: `(publication id, version id,
/// pulp_created µs)`. A checkpoint distribution serves each under its timestamp.
pub async fn checkpoints(db: &Db, repo: &str) -> Result<Vec<(String, String, i64)>, DbError> {
    db.read
        .query_all_raw(db.stmt(
            "SELECT p.pulp_id, p.repository_version_id, p.pulp_created FROM core_publication p \
             JOIN core_repositoryversion v ON v.pulp_id = p.repository_version_id \
             WHERE v.repository_id = $1 AND p.checkpoint = $2 AND p.complete = $2 \
             ORDER BY p.pulp_created, p.pulp_id",
            vec![repo.to_owned().into(), true.into()],
        ))
        .await?
        .into_iter()
        .map(|r| {
            Ok((
                r.try_get("", "pulp_id")?,
                r.try_get("", "repository_version_id")?,
                r.try_get("", "pulp_created")?,
            ))
        })
        .collect()
}

/// What a distribution names to serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served<'a> {
    /// This publication.
    Publication(&'a str),
    /// The latest complete publication of this version.
    Version(&'a str),
    /// The latest complete publication of this repository's latest published version.
    Repository(&'a str),
}

impl<'a> Served<'a> {
    /// What a distribution naming these serves: the publication first, then the version,
    /// then the repository (`None`: it names nothing).
    pub fn of(
        publication: Option<&'a str>,
        version: Option<&'a str>,
        repository: Option<&'a str>,
    ) -> Option<Served<'a>> {
        publication
            .map(Served::Publication)
            .or(version.map(Served::Version))
            .or(repository.map(Served::Repository))
    }
}

/// The publication a distribution serves, with its version's id.
pub async fn served(db: &Db, what: Served<'_>) -> Result<Option<(String, String)>, DbError> {
    let (sql, arg) = match what {
        Served::Publication(p) => (
            "SELECT pulp_id, repository_version_id FROM core_publication WHERE pulp_id = $1 AND complete = $2",
            p,
        ),
        Served::Version(v) => (
            "SELECT pulp_id, repository_version_id FROM core_publication WHERE repository_version_id = $1 AND complete = $2 \
             ORDER BY pulp_created DESC LIMIT 1",
            v,
        ),
        Served::Repository(r) => (
            "SELECT p.pulp_id, p.repository_version_id FROM core_publication p JOIN core_repositoryversion v \
             ON v.pulp_id = p.repository_version_id WHERE v.repository_id = $1 AND p.complete = $2 \
             ORDER BY v.number DESC, p.pulp_created DESC LIMIT 1",
            r,
        ),
    };
    db.read
        .query_one_raw(db.stmt(sql, vec![arg.to_owned().into(), true.into()]))
        .await?
        .map(|r| {
            Ok((
                r.try_get("", "pulp_id")?,
                r.try_get("", "repository_version_id")?,
            ))
        })
        .transpose()
}

/// One path a publication serves: a metadata file or a content artifact of its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedFile {
    /// Published metadata (else a content artifact).
    pub metadata: bool,
    /// Its path below the base path.
    pub relative_path: String,
    /// The stored artifact's file, size, sha256 and creation time, if stored.
    pub stored: Option<(String, i64, String, i64)>,
    /// The content artifact (content not downloaded yet is fetched by it).
    pub content_artifact: Option<String>,
    /// The digest and size its remote artifacts declare.
    pub remote: (Option<String>, Option<i64>),
}

/// A publication's metadata files, then its content: a pass-through publication serves its
/// version's content artifacts at their relative paths, another its published artifacts at
/// theirs, in one query.
pub async fn served_files(
    db: &Db,
    publication: &str,
    version: &str,
) -> Result<Vec<ServedFile>, DbError> {
    let remote = "(SELECT MAX(ra.sha256) FROM core_remoteartifact ra WHERE ra.content_artifact_id = ca.pulp_id) AS digest, \
         (SELECT MAX(ra.size) FROM core_remoteartifact ra WHERE ra.content_artifact_id = ca.pulp_id) AS remote_size";
    let sql = format!(
        "SELECT 0 AS meta, m.relative_path, a.file, a.size, a.sha256, a.pulp_created, \
         NULL AS ca_id, NULL AS digest, NULL AS remote_size \
         FROM core_publishedmetadata m LEFT JOIN core_artifact a ON a.pulp_id = m.artifact_id \
         WHERE m.publication_id = $1 \
         UNION ALL \
         SELECT 1 AS meta, ca.relative_path, a.file, a.size, a.sha256, a.pulp_created, \
         ca.pulp_id AS ca_id, {remote} \
         FROM core_repositorycontent rc \
         JOIN core_repositoryversion v ON v.pulp_id = $2 AND rc.repository_id = v.repository_id \
         JOIN core_contentartifact ca ON ca.content_id = rc.content_id \
         LEFT JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
         WHERE {present} \
         AND EXISTS (SELECT 1 FROM core_publication p WHERE p.pulp_id = $1 AND p.pass_through = $3) \
         UNION ALL \
         SELECT 1 AS meta, pa.relative_path, a.file, a.size, a.sha256, a.pulp_created, \
         ca.pulp_id AS ca_id, {remote} \
         FROM core_publishedartifact pa \
         JOIN core_contentartifact ca ON ca.pulp_id = pa.content_artifact_id \
         LEFT JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
         WHERE pa.publication_id = $1 \
         ORDER BY meta",
        present = crate::versions::in_version("rc", "v.number")
    );
    let rows = db
        .read
        .query_all_raw(db.stmt(
            &sql,
            vec![
                publication.to_owned().into(),
                version.to_owned().into(),
                true.into(),
            ],
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let file: Option<String> = r.try_get("", "file")?;
        let stored = match file {
            Some(f) => Some((
                f,
                r.try_get("", "size")?,
                r.try_get("", "sha256")?,
                r.try_get("", "pulp_created")?,
            )),
            None => None,
        };
        out.push(ServedFile {
            metadata: r.try_get::<i32>("", "meta")? == 0,
            relative_path: r.try_get("", "relative_path")?,
            stored,
            content_artifact: r.try_get("", "ca_id")?,
            remote: (r.try_get("", "digest")?, r.try_get("", "remote_size")?),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{ContentTable, NewContent};
    use crate::versions::{self, Remove, RepoKey};

    /// A pass-through publication serves its version's content at the content's relative
    /// paths; another only its published artifacts, at theirs.
    #[tokio::test]
    async fn pass_through_and_published_artifacts() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        crate::migration::migrate(&db, Vec::new()).await.unwrap();
        for sql in [
            "CREATE TABLE test_pkg (content_id TEXT PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE, name TEXT NOT NULL)",
            "INSERT INTO core_repository (pulp_id, pulp_type, name, pulp_labels, next_version, pulp_created, pulp_last_updated) \
             VALUES ('r','test.repo','r','{}',1,0,0)",
        ] {
            db.write.execute_raw(db.stmt(sql, vec![])).await.unwrap();
        }
        versions::create_version_zero(&db, &db.write, "r")
            .await
            .unwrap();
        let table = ContentTable {
            name: "test_pkg",
            natural_key: &["name"],
            fields: &[],
        };
        let unit = NewContent {
            key: vec!["a".into()],
            fields: vec![],
            artifacts: vec![("a-1.0.rpm".into(), None)],
            labels: None,
        };
        let ids = crate::content::find_or_create(&db, &db.write, "test.pkg", &table, &[unit])
            .await
            .unwrap();
        let (vid, n) = versions::new_version(
            &db,
            &db.write,
            "r",
            &RepoKey::NONE,
            None,
            &ids,
            &Remove::Ids(vec![]),
        )
        .await
        .unwrap()
        .unwrap();
        let cas = versions::content_artifacts(&db, &db.read, "r", n)
            .await
            .unwrap();
        assert_eq!(cas.len(), 1);
        let publish = |pass_through: bool, published: Vec<(String, String)>| NewPublication {
            pulp_type: "test.pub".into(),
            version_id: vid.clone(),
            details: None,
            pass_through,
            checkpoint: false,
            metadata: Vec::new(),
            published_artifacts: published,
        };
        let plain = create(&db, &publish(true, Vec::new())).await.unwrap();
        let placed = create(
            &db,
            &publish(
                false,
                vec![("Packages/a/a-1.0.rpm".into(), cas[0].0.clone())],
            ),
        )
        .await
        .unwrap();
        let paths = |files: Vec<ServedFile>| -> Vec<String> {
            files.into_iter().map(|f| f.relative_path).collect()
        };
        assert_eq!(
            paths(served_files(&db, &plain, &vid).await.unwrap()),
            ["a-1.0.rpm"]
        );
        let files = served_files(&db, &placed, &vid).await.unwrap();
        assert_eq!(
            files[0].content_artifact.as_deref(),
            Some(cas[0].0.as_str())
        );
        assert_eq!(paths(files), ["Packages/a/a-1.0.rpm"]);
    }
}
