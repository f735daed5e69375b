//! `pith/test/tasks/`: dispatches test-only tasks. Served only with `PITH_TEST_TASKS=true`
//! (benchmarks and the end-to-end tests); 404 otherwise.

use pith_actors::tasking::TaskSpec;
use pith_actors::tasks::TEST_SLEEP;
use serde_json::Value;

use super::{Ctx, accepted};
use crate::error::FieldErrors;
use crate::request::Response;
use crate::{ApiError, Req};

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// `POST pith/test/tasks/ {"seconds", "fail", "panic", "result", "exclusive_resources",
/// "shared_resources", "immediate", "deferred", "journal"}`.
pub async fn dispatch(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let mut errs = FieldErrors::default();
    let mut spec = TaskSpec {
        name: TEST_SLEEP.into(),
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        deferred: true,
        ..TaskSpec::default()
    };
    let mut args = serde_json::Map::new();
    for (k, v) in &body {
        match k.as_str() {
            "seconds" if v.is_number() => {
                args.insert(k.clone(), v.clone());
            }
            "fail" | "panic" if v.is_boolean() => {
                args.insert(k.clone(), v.clone());
            }
            "result" => {
                args.insert(k.clone(), v.clone());
            }
            "journal" if v.is_string() => {
                args.insert(k.clone(), v.clone());
            }
            "journal" => errs.add(k, "Not a valid string."),
            "exclusive_resources" => match strings(v) {
                Some(s) => spec.exclusive = s,
                None => errs.add(k, "Expected a list of strings."),
            },
            "shared_resources" => match strings(v) {
                Some(s) => spec.shared = s,
                None => errs.add(k, "Expected a list of strings."),
            },
            "immediate" | "deferred" => match v.as_bool() {
                Some(b) if k == "immediate" => spec.immediate = b,
                Some(b) => spec.deferred = b,
                None => errs.add(k, "Must be a valid boolean."),
            },
            "seconds" => errs.add(k, "A valid number is required."),
            "fail" | "panic" => errs.add(k, "Must be a valid boolean."),
            _ => errs.add(k, "Unexpected field"),
        }
    }
    errs.into_result()?;
    spec.args = Value::Object(args);
    let id = ctx.dispatch(spec).await?;
    Ok(accepted(&ctx.v3(), id))
}
