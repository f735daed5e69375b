//! Pulp's JSON for publications (one place, used by task results and the API).

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
    let rows = pith_entities::publications::complete(db, ids).await?;
    // Each type's own fields (`manifest` of file publications), one query per type.
    let typed: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.id.as_str(), r.pulp_type.as_str()))
        .collect();
    let mut details =
        super::detail_fields(db, types, crate::plugin::Master::Publication, &typed).await?;
    let dists = pith_entities::publications::distributions_of(db, ids).await?;
    let mut by_pub: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (id, t, p) in dists {
        if let Some(t) = types.distribution(&t) {
            by_pub.entry(p).or_default().push(t.href(v3, &id));
        }
    }
    let mut found = std::collections::HashMap::new();
    for r in rows {
        let Some(own) = types.publication(&r.pulp_type) else {
            continue;
        };
        let repo_href = types.repository_href(v3, &r.repository_type, &r.repository_id);
        let mut j = json!({
            "pulp_href": own.href(v3, &r.id),
            "prn": own.prn(&r.id),
            "pulp_created": to_rfc3339(r.created),
            "pulp_last_updated": to_rfc3339(r.updated),
            "repository_version": format!("{repo_href}versions/{}/", r.number),
            "repository": repo_href,
            "distributions": by_pub.remove(&r.id).unwrap_or_default(),
            "checkpoint": false,
        });
        if let (Some(obj), Some(d)) = (j.as_object_mut(), details.remove(&r.id)) {
            obj.extend(d);
        }
        found.insert(r.id, j);
    }
    Ok(ids.iter().filter_map(|i| found.remove(i)).collect())
}
