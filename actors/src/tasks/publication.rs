//! Pulp's JSON for publications (one place, used by task results and the API).

use pith_entities::sea_orm::ConnectionTrait;
use pith_entities::time::to_rfc3339;
use pith_entities::{Db, DbError};
use serde_json::{Value, json};

use crate::plugin::Types;

/// Pulp's JSON for a publication.
pub async fn publication_json(
    db: &Db,
    types: &Types,
    v3: &str,
    id: &str,
) -> Result<Option<Value>, DbError> {
    Ok(publications_json(db, types, v3, &[id.to_owned()])
        .await?
        .pop())
}

/// Pulp's JSON for complete publications, in the order of `ids` (missing ones left out): two
/// queries for the whole page.
pub async fn publications_json(
    db: &Db,
    types: &Types,
    v3: &str,
    ids: &[String],
) -> Result<Vec<Value>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ph = super::placeholders(2, ids.len());
    let mut values: Vec<pith_entities::sea_orm::Value> = vec![true.into()];
    values.extend(ids.iter().map(|i| i.clone().into()));
    let rows = db
        .read
        .query_all_raw(db.stmt(
            &format!(
                "SELECT p.pulp_id, p.pulp_type, p.manifest, p.pulp_created, p.pulp_last_updated, v.repository_id, v.number, \
                 r.pulp_type AS repository_type \
                 FROM core_publication p JOIN core_repositoryversion v ON v.pulp_id = p.repository_version_id \
                 JOIN core_repository r ON r.pulp_id = v.repository_id \
                 WHERE p.complete = $1 AND p.pulp_id IN ({ph})"
            ),
            values.clone(),
        ))
        .await?;
    let dists = db
        .read
        .query_all_raw(db.stmt(
            &format!(
                "SELECT pulp_id, pulp_type, publication_id FROM core_distribution WHERE publication_id IN ({}) ORDER BY name",
                super::placeholders(1, ids.len())
            ),
            values[1..].to_vec(),
        ))
        .await?;
    let mut by_pub: std::collections::HashMap<String, Vec<String>> = Default::default();
    for d in dists {
        let (id, p, t): (String, String, String) = (
            d.try_get("", "pulp_id")?,
            d.try_get("", "publication_id")?,
            d.try_get("", "pulp_type")?,
        );
        if let Some(t) = types.distribution(&t) {
            by_pub.entry(p).or_default().push(t.href(v3, &id));
        }
    }
    let mut found = std::collections::HashMap::new();
    for r in rows {
        let id: String = r.try_get("", "pulp_id")?;
        let repo: String = r.try_get("", "repository_id")?;
        let number: i64 = r.try_get("", "number")?;
        let own: String = r.try_get("", "pulp_type")?;
        let Some(own) = types.publication(&own) else {
            continue;
        };
        let repo_type: String = r.try_get("", "repository_type")?;
        let repo_href = types.repository_href(v3, &repo_type, &repo);
        let j = json!({
            "pulp_href": own.href(v3, &id),
            "prn": own.prn(&id),
            "pulp_created": to_rfc3339(r.try_get("", "pulp_created")?),
            "pulp_last_updated": to_rfc3339(r.try_get("", "pulp_last_updated")?),
            "repository_version": format!("{repo_href}versions/{number}/"),
            "repository": repo_href,
            "distributions": by_pub.remove(&id).unwrap_or_default(),
            "manifest": r.try_get::<Option<String>>("", "manifest")?,
            "checkpoint": false,
        });
        found.insert(id, j);
    }
    Ok(ids.iter().filter_map(|i| found.remove(i)).collect())
}
