//! `status/`, `livez/` and the API root.

use pith_entities::sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use pith_entities::{entity::app_status, time};
use serde_json::{Value, json};

use super::{Ctx, ok};
use crate::request::{Response, empty};
use crate::{ApiError, Req};

/// `GET status/`.
pub async fn status(ctx: &Ctx) -> Result<Response, ApiError> {
    let st = &ctx.state;
    let connected = st.db.ping().await;
    // Heartbeats are on the database's clock; judge them on it too.
    let now = st.db.clock().await.unwrap_or_else(|_| time::now_micros());
    let mut workers = Vec::new();
    let mut api = Vec::new();
    let mut content = Vec::new();
    if connected {
        let rows = app_status::Entity::find()
            .filter(app_status::Column::LastHeartbeat.gte(now - 3_600_000_000))
            .order_by_asc(app_status::Column::Name)
            .all(&st.db.read)
            .await?;
        for r in rows
            .into_iter()
            .filter(|r| r.last_heartbeat >= now - r.ttl * 1_000_000)
        {
            let versions: Value =
                serde_json::from_str(&r.versions).unwrap_or_else(|_| st.platform.versions.clone());
            let item = json!({ "name": r.name, "last_heartbeat": time::to_rfc3339(r.last_heartbeat), "versions": versions });
            match r.app_type.as_str() {
                "worker" => workers.push(item),
                "api" => api.push(item),
                "content" => content.push(item),
                _ => {}
            }
        }
    }
    let storage = match st.store.disk_usage() {
        Some((total, free)) => {
            json!({ "total": total, "used": total.saturating_sub(free), "free": free })
        }
        None => json!({ "total": null, "used": null, "free": null }),
    };
    Ok(ok(&json!({
        "versions": st.platform.versions_list(),
        "online_workers": workers,
        "online_api_apps": api,
        "online_content_apps": content,
        "database_connection": { "connected": connected },
        "redis_connection": { "connected": false },
        "storage": storage,
        "content_settings": {
            "content_origin": st.config.content_origin,
            "content_path_prefix": st.config.content_path_prefix,
        },
        "domain_enabled": false,
        "pith": { "version": env!("CARGO_PKG_VERSION") },
    })))
}

/// `GET livez/`: 200, empty, no database access.
pub fn livez() -> Response {
    empty(warp::http::StatusCode::OK)
}

/// `GET` of the API root: a map of endpoint names to absolute URLs.
pub fn root(ctx: &Ctx, req: &Req) -> Response {
    let base = format!("{}{}", req.base_url(), ctx.v3());
    let mut m = serde_json::Map::new();
    for name in [
        "artifacts",
        "orphans/cleanup",
        "status",
        "tasks",
        "tasks/purge",
        "workers",
    ] {
        m.insert(
            name.replace('/', "_"),
            Value::String(format!("{base}{name}/")),
        );
    }
    ok(&Value::Object(m))
}
