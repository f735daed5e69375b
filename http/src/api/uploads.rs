//! `uploads/`: Pulp's chunked uploads. Create one with its total `size`, `PUT` its chunks
//! (multipart `file`, optional `sha256`, a `Content-Range` header), then `commit/` it with the
//! whole file's sha256: a task assembles the chunks and stores the artifact. Content can also
//! be created straight from an upload (`content/file/files/` with `upload`).

use pith_actors::tasking::TaskSpec;
use pith_actors::tasks::UPLOAD_COMMIT;
use pith_entities::entity::upload;
use pith_entities::sea_orm::EntityTrait;
use pith_entities::sea_orm::sea_query::{Condition, Expr, ExprTrait};
use pith_entities::time;
use serde_json::{Value, json};
use warp::http::{HeaderValue, StatusCode};

use super::{Ctx, accepted, ok, parse_id};
use crate::listing::{self, lookup};
use crate::request::{Response, empty, json as json_resp};
use crate::{ApiError, Req};

pub const FILTERS: [&str; 8] = [
    "size",
    "size__gt",
    "size__gte",
    "size__lt",
    "size__lte",
    "pulp_id__in",
    "pulp_href__in",
    "prn__in",
];
pub const ORDERABLE: [&str; 5] = ["pk", "pulp_id", "pulp_created", "pulp_last_updated", "size"];

fn href(v3: &str, id: &str) -> String {
    format!("{v3}uploads/{id}/")
}

/// An upload's JSON (`chunks` only on the detail view).
fn serialize(v3: &str, u: &upload::Model, chunks: Option<Vec<Value>>) -> Value {
    let mut v = json!({
        "pulp_href": href(v3, &u.pulp_id),
        "prn": format!("prn:core.upload:{}", u.pulp_id),
        "pulp_created": time::to_rfc3339(u.pulp_created),
        "pulp_last_updated": time::to_rfc3339(u.pulp_last_updated),
        "size": u.size,
    });
    if let Some(c) = chunks {
        v["chunks"] = Value::Array(c);
    }
    v
}

/// The upload `id` (a UUID in the path) or a 404.
pub async fn load(ctx: &Ctx, id: &str) -> Result<upload::Model, ApiError> {
    let id = parse_id(id, "Upload")?.to_string();
    upload::Entity::find_by_id(id)
        .one(&ctx.state.db.read)
        .await?
        .ok_or_else(|| ApiError::not_found("Upload"))
}

async fn chunks(ctx: &Ctx, id: &str) -> Result<Vec<Value>, ApiError> {
    Ok(pith_entities::uploads::chunks(&ctx.state.db, id)
        .await?
        .into_iter()
        .map(|c| json!({"offset": c.offset, "size": c.size}))
        .collect())
}

/// `POST uploads/ {"size": N}` → 201.
pub async fn create(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let size = match body.get("size") {
        None => return Err(ApiError::field("size", "This field is required.")),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| ApiError::field("size", "A valid integer is required."))?,
    };
    if size < 0 {
        return Err(ApiError::field(
            "size",
            "Ensure this value is greater than or equal to 0.",
        ));
    }
    if let Some(k) = body.keys().find(|k| k.as_str() != "size") {
        return Err(ApiError::field(k, "Unexpected field"));
    }
    let now = time::now_micros();
    let u = upload::Model {
        pulp_id: uuid::Uuid::now_v7().to_string(),
        size,
        pulp_created: now,
        pulp_last_updated: now,
    };
    let db = &ctx.state.db;
    pith_entities::uploads::create(db, &u.pulp_id, size, now).await?;
    super::access_policies::created(ctx, "uploads", &u.pulp_id).await?;
    let v3 = ctx.v3();
    let mut resp = json_resp(StatusCode::CREATED, &serialize(&v3, &u, None));
    if let Ok(h) = HeaderValue::from_str(&href(&v3, &u.pulp_id)) {
        resp.headers_mut().insert("location", h);
    }
    Ok(resp)
}

/// `GET uploads/`.
pub async fn list(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let p = listing::parse(req, &FILTERS, &ORDERABLE)?;
    let v3 = ctx.v3();
    let mut cond = Condition::all();
    for (name, value) in &p.filters {
        let (field, lk) = lookup(name);
        let e = if field == "size" {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| ApiError::field(name, "Enter a number."))?;
            let c = Expr::col("size");
            match lk {
                "gt" => c.gt(n),
                "gte" => c.gte(n),
                "lt" => c.lt(n),
                "lte" => c.lte(n),
                _ => c.eq(n),
            }
        } else {
            listing::identity_filter(field, value, &v3, "uploads", "core.upload")?
        };
        cond = cond.add(e);
    }
    let cond = listing::scoped(cond, &ctx.scope);
    let (count, rows) = listing::fetch_page::<upload::Entity>(&ctx.state.db.read, cond, &p).await?;
    let results = rows.iter().map(|u| serialize(&v3, u, None)).collect();
    Ok(ok(&listing::page(req, &p, count, results)))
}

/// `GET uploads/<id>/` (with its chunks).
pub async fn read(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let u = load(ctx, id).await?;
    let c = chunks(ctx, &u.pulp_id).await?;
    Ok(ok(&listing::select_from_query(
        serialize(&ctx.v3(), &u, Some(c)),
        req,
    )))
}

/// `Content-Range: bytes <start>-<end>/<total or *>` → `(start, end)`.
fn content_range(h: Option<&str>) -> Option<(u64, u64)> {
    let spec = h?.trim().strip_prefix("bytes")?.trim_start();
    let (range, _total) = spec.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

/// `PUT uploads/<id>/`: one chunk. Re-sending an offset replaces that chunk.
pub async fn put_chunk(ctx: &Ctx, req: &mut Req, id: &str) -> Result<Response, ApiError> {
    let u = load(ctx, id).await?;
    let range = content_range(req.header("content-range"));
    let store = &ctx.state.store;
    let form = crate::form::read(req, store, 256).await?;
    let Some((start, end)) = range else {
        return Err(ApiError::field(
            "non_field_errors",
            "Invalid or missing content range header.",
        ));
    };
    for (k, _) in &form.fields {
        if k != "sha256" {
            return Err(ApiError::field(k, "Unexpected field"));
        }
    }
    let expected = form.get("sha256").map(|s| s.trim().to_ascii_lowercase());
    let Some(mut t) = form.file else {
        return Err(ApiError::field("file", "No file was submitted."));
    };
    let d = t.finish().await?;
    if end >= u.size as u64 {
        return Err(ApiError::field(
            "non_field_errors",
            "End byte is greater than upload size.",
        ));
    }
    if d.size != end - start + 1 {
        return Err(ApiError::field(
            "non_field_errors",
            "Chunk size does not match content range.",
        ));
    }
    if expected.as_ref().is_some_and(|s| *s != d.sha256) {
        return Err(ApiError::field(
            "sha256",
            "Checksum does not match chunk upload.",
        ));
    }
    let chunk_id = uuid::Uuid::now_v7().to_string();
    let file = t.persist_as(store, format!("upload/{chunk_id}")).await?;
    let now = time::now_micros();
    let old = pith_entities::uploads::put_chunk(
        &ctx.state.db,
        &u.pulp_id,
        &chunk_id,
        start as i64,
        d.size as i64,
        &file,
        now,
    )
    .await?;
    if let Some(old) = old {
        let _ = store.remove(&old).await;
    }
    let u = upload::Model {
        pulp_last_updated: now,
        ..u
    };
    Ok(ok(&serialize(&ctx.v3(), &u, None)))
}

/// `DELETE uploads/<id>/` (synchronous, 204; its chunk files go too).
pub async fn delete(ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let u = load(ctx, id).await?;
    for f in pith_entities::uploads::delete(&ctx.state.db, &u.pulp_id).await? {
        let _ = ctx.state.store.remove(&f).await;
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// The upload a content-create or commit names, checked to exist: its id.
pub async fn resolve(ctx: &Ctx, href: &str) -> Option<String> {
    let id = listing::id_from_ref(&ctx.v3(), "uploads", "core.upload", href)?;
    upload::Entity::find_by_id(id.clone())
        .one(&ctx.state.db.read)
        .await
        .ok()
        .flatten()
        .map(|_| id)
}

/// `POST uploads/<id>/commit/ {"sha256": …}` → 202, a task that stores the artifact.
pub async fn commit(ctx: &Ctx, req: &mut Req, id: &str) -> Result<Response, ApiError> {
    let u = load(ctx, id).await?;
    let body = req.object(ctx.state.config.max_json_body).await?;
    let sha256 = match body.get("sha256") {
        None => return Err(ApiError::field("sha256", "This field is required.")),
        Some(Value::String(s))
            if s.trim().len() == 64 && s.trim().chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            s.trim().to_ascii_lowercase()
        }
        Some(_) => {
            return Err(ApiError::field(
                "sha256",
                "Ensure this field is a sha256 hex digest (64 characters).",
            ));
        }
    };
    let domain = super::domain_id(&ctx.state).await?;
    let spec = TaskSpec {
        name: UPLOAD_COMMIT.into(),
        args: json!({ "v3": ctx.v3(), "upload": u.pulp_id, "sha256": sha256 }),
        exclusive: vec![format!("prn:core.upload:{}", u.pulp_id)],
        shared: vec![format!("prn:core.domain:{domain}")],
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.dispatch(spec).await?))
}

#[cfg(test)]
mod tests {
    use super::content_range;

    #[test]
    fn content_ranges() {
        assert_eq!(content_range(Some("bytes 0-99/1000")), Some((0, 99)));
        assert_eq!(content_range(Some("bytes 100-199/*")), Some((100, 199)));
        assert_eq!(content_range(Some("bytes 5-4/10")), None);
        assert_eq!(content_range(Some("items 0-1/2")), None);
        assert_eq!(content_range(None), None);
    }
}
