//! `artifacts/`: upload (multipart; the stream is hashed while it is written to a temporary
//! file, and nothing is stored unless size and every given checksum match), list, show, delete.

use pith_entities::entity::artifact;
use pith_entities::sea_orm::EntityTrait;
use pith_entities::sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use pith_entities::time;
use serde_json::{Value, json};
use warp::http::{HeaderValue, StatusCode};

use super::{Ctx, ok, parse_id};
use crate::listing::{self, lookup};
use crate::request::{Response, empty, json as json_resp};
use crate::{ApiError, Req};

const DIGESTS: [&str; 6] = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];
/// Not in Pulp's default `ALLOWED_CONTENT_CHECKSUMS`.
const FORBIDDEN: [&str; 2] = ["md5", "sha1"];
pub const FILTERS: [&str; 11] = [
    "repository_version",
    "md5",
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "pulp_id__in",
    "pulp_href__in",
    "prn__in",
    "orphaned_for",
];
pub const ORDERABLE: [&str; 12] = [
    "pk",
    "pulp_id",
    "pulp_created",
    "pulp_last_updated",
    "file",
    "size",
    "md5",
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
];

/// Serializes one artifact.
pub fn serialize(v3: &str, a: &artifact::Model) -> Value {
    json!({
        "pulp_href": format!("{v3}artifacts/{}/", a.pulp_id),
        "prn": format!("prn:core.artifact:{}", a.pulp_id),
        "pulp_created": time::to_rfc3339(a.pulp_created),
        "pulp_last_updated": time::to_rfc3339(a.pulp_last_updated),
        "file": a.file,
        "size": a.size,
        "md5": a.md5,
        "sha1": a.sha1,
        "sha224": a.sha224,
        "sha256": a.sha256,
        "sha384": a.sha384,
        "sha512": a.sha512,
    })
}

fn nfe(msg: impl Into<String>) -> ApiError {
    ApiError::field("non_field_errors", msg)
}

/// `POST artifacts/` (multipart: `file`, optional `size` and digests).
pub async fn create(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let store = &ctx.state.store;
    let form = crate::form::read(req, store, 4096).await?;
    let temp = form.file;
    let given: Vec<(String, String)> = form
        .fields
        .into_iter()
        .map(|(k, v)| (k, v.trim().to_owned()))
        .collect();
    let Some(mut temp) = temp else {
        return Err(ApiError::field("file", "No file was submitted."));
    };
    let d = temp.finish().await?;

    let mut expected_size = None;
    for (k, v) in &given {
        match k.as_str() {
            "size" => match v.parse::<u64>() {
                Ok(n) => expected_size = Some(n),
                Err(_) => return Err(ApiError::field("size", "A valid integer is required.")),
            },
            k if DIGESTS.contains(&k) => {}
            other => return Err(ApiError::field(other, "Unexpected field")),
        }
    }
    if expected_size.is_some_and(|n| n != d.size) {
        return Err(nfe("The size did not match actual size of file."));
    }
    let bad_algs: Vec<&str> = FORBIDDEN
        .iter()
        .copied()
        .filter(|a| given.iter().any(|(k, v)| k == a && !v.is_empty()))
        .collect();
    if !bad_algs.is_empty() {
        return Err(nfe(format!(
            "Checksum algorithms {bad_algs:?} forbidden for this Pulp instance."
        )
        .replace('"', "'")));
    }
    for (alg, actual) in [
        ("sha512", &d.sha512),
        ("sha384", &d.sha384),
        ("sha256", &d.sha256),
        ("sha224", &d.sha224),
    ] {
        let want = given.iter().find(|(k, v)| k == alg && !v.is_empty());
        if want.is_some_and(|(_, w)| !w.eq_ignore_ascii_case(actual)) {
            return Err(nfe(format!("The {alg} checksum did not match.")));
        }
    }
    let (saved, created) = pith_entities::artifacts::store(&ctx.state.db, store, temp, &d).await?;
    if !created {
        return Err(nfe(format!(
            "Artifact with sha256 checksum of '{}' already exists.",
            d.sha256
        )));
    }
    let body = serialize(&ctx.v3(), &saved);
    let mut r = json_resp(StatusCode::CREATED, &body);
    if let Some(h) = body
        .get("pulp_href")
        .and_then(Value::as_str)
        .and_then(|h| HeaderValue::from_str(h).ok())
    {
        r.headers_mut().insert("location", h);
    }
    Ok(r)
}

/// `GET artifacts/`.
pub async fn list(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let p = listing::parse(req, &FILTERS, &ORDERABLE)?;
    let v3 = ctx.v3();
    let mut cond = Condition::all();
    for (name, value) in &p.filters {
        let (field, _) = lookup(name);
        let e = match field {
            d if DIGESTS.contains(&d) => {
                let col: &'static str = DIGESTS
                    .iter()
                    .copied()
                    .find(|x| *x == d)
                    .unwrap_or("sha256");
                Expr::col(col).eq(value.trim())
            }
            "repository_version" => {
                let (repo, n) = super::repositories::version_or_latest(ctx, name, value).await?;
                pith_entities::versions::artifacts_in(ctx.state.db.backend, &repo, n)
            }
            "orphaned_for" => {
                let minutes: f64 = value
                    .parse()
                    .map_err(|_| ApiError::field("orphaned_for", "Enter a number."))?;
                let minutes = if minutes < 0.0 { 1440.0 } else { minutes };
                let cutoff = time::now_micros() - (minutes * 60_000_000.0) as i64;
                let used = Query::select()
                    .column("artifact_id")
                    .from("core_contentartifact")
                    .and_where(Expr::col("artifact_id").is_not_null())
                    .to_owned();
                Expr::col("pulp_id")
                    .not_in_subquery(used)
                    .and(Expr::col("timestamp_of_interest").lt(cutoff))
            }
            f => listing::identity_filter(f, value, &v3, "artifacts", "core.artifact")?,
        };
        cond = cond.add(e);
    }
    let (count, rows) =
        listing::fetch_page::<artifact::Entity>(&ctx.state.db.read, cond, &p).await?;
    let results = rows.iter().map(|a| serialize(&v3, a)).collect();
    Ok(ok(&listing::page(req, &p, count, results)))
}

async fn load(ctx: &Ctx, id: &str) -> Result<artifact::Model, ApiError> {
    let id = parse_id(id, "Artifact")?;
    artifact::Entity::find_by_id(id.to_string())
        .one(&ctx.state.db.read)
        .await?
        .ok_or_else(|| ApiError::not_found("Artifact"))
}

/// `GET artifacts/<id>/`.
pub async fn read(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let a = load(ctx, id).await?;
    Ok(ok(&listing::select_from_query(
        serialize(&ctx.v3(), &a),
        req,
    )))
}

/// `DELETE artifacts/<id>/`: refused (409) while content refers to it.
pub async fn delete(ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let a = load(ctx, id).await?;
    let gone = pith_entities::artifacts::delete_unreferenced(&ctx.state.db, &a.pulp_id).await?;
    if !gone {
        return Err(ApiError::Conflict(json!({
            "detail": "Cannot delete some instances of model 'Artifact' because they are referenced through protected foreign keys: 'ContentArtifact.artifact'."
        })));
    }
    ctx.state.store.remove(&a.file).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
