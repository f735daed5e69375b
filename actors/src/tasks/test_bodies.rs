//! Bodies that exist only for tests and benchmarks (enabled with `PITH_TEST_TASKS=true`).

use crate::tasks::TaskError;
use std::time::Duration;

use super::{TaskContext, TaskOutput};

/// Sleeps `seconds` (0 = a no-op), then fails if `fail`, panics if `panic`. With `journal`
/// (a directory), every run of the body leaves a file `TASK.RUN` holding this process's pid,
/// so cluster tests can tell whether any task body ran twice.
pub(super) async fn sleep(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    if let Some(dir) = ctx.args.get("journal").and_then(|v| v.as_str()) {
        let path = std::path::Path::new(dir).join(format!(
            "{}.{}",
            ctx.task,
            uuid::Uuid::new_v4().simple()
        ));
        tokio::fs::write(&path, std::process::id().to_string()).await?;
    }
    let secs = ctx
        .args
        .get("seconds")
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
        .clamp(0.0, 3600.0);
    if secs > 0.0 {
        ctx.progress(0, "Sleeping", "test.sleep", "running", None, 0)
            .await;
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    }
    if ctx
        .args
        .get("panic")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
    {
        panic!("test task asked to panic");
    }
    if ctx
        .args
        .get("fail")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
    {
        return Err(TaskError::invalid("Test task asked to fail."));
    }
    Ok(TaskOutput {
        result: ctx.args.get("result").cloned(),
        created: Vec::new(),
    })
}
