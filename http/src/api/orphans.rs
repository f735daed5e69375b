//! `orphans/cleanup/` (and the deprecated `DELETE orphans/`).

use pith_actors::tasking::TaskSpec;
use pith_actors::tasks::ORPHAN_CLEANUP;
use serde_json::{Value, json};

use super::{Ctx, accepted};
use crate::error::FieldErrors;
use crate::request::Response;
use crate::{ApiError, Req};

/// `POST orphans/cleanup/ {"orphan_protection_time"?: minutes, "content_hrefs"?: [href]}`.
pub async fn cleanup(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let mut errs = FieldErrors::default();
    let mut minutes: Option<i64> = None;
    let mut content: Option<Vec<String>> = None;
    for (k, v) in &body {
        match (k.as_str(), v) {
            ("orphan_protection_time", Value::Null) => {}
            ("orphan_protection_time", v) => match v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            {
                Some(n) if n >= 0 => minutes = Some(n),
                Some(_) => errs.add(k, "Ensure this value is greater than or equal to 0."),
                None => errs.add(k, "A valid integer is required."),
            },
            ("content_hrefs", Value::Null) => {}
            ("content_hrefs", Value::Array(a)) if a.is_empty() => errs.add(k, "Must not be []."),
            ("content_hrefs", Value::Array(a)) => {
                let mut ids = Vec::new();
                for h in a {
                    // Any content type: `/pulp/api/v3/content/<app>/<type>/<uuid>/` or a PRN.
                    let id = h.as_str().and_then(|s| {
                        let s = s.trim_end_matches('/');
                        let last = s.rsplit(['/', ':']).next()?;
                        let looks_right = s.starts_with(&format!("{}content/", ctx.v3()))
                            || s.starts_with("prn:");
                        (looks_right)
                            .then(|| uuid::Uuid::parse_str(last).ok())
                            .flatten()
                            .map(|u| u.to_string())
                    });
                    match id {
                        Some(id) => ids.push(id),
                        None => errs.add(k, format!("Could not resolve content href {h}.")),
                    }
                }
                content = Some(ids);
            }
            ("content_hrefs", _) => errs.add(k, "Expected a list of items."),
            _ => errs.add(k, "Unexpected field"),
        }
    }
    errs.into_result()?;
    let domain = super::domain_id(&ctx.state).await?;
    let spec = TaskSpec {
        name: ORPHAN_CLEANUP.into(),
        args: json!({ "orphan_protection_time": minutes, "content_pks": content }),
        exclusive: vec![format!("pdrn:{domain}:orphans")],
        shared: vec![format!("prn:core.domain:{domain}")],
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        deferred: true,
        ..TaskSpec::default()
    };
    let id = ctx.dispatch(spec).await?;
    Ok(accepted(&ctx.v3(), id))
}
