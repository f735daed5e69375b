//! HTTP settings (a slice of Pulp's settings).

use std::time::Duration;

/// The Pulp API level Pith speaks (reported as `core`'s version).
pub const PULP_CORE_VERSION: &str = "3.123.1";

/// Settings the HTTP layer reads.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// `API_ROOT`, e.g. `/pulp/` (starts and ends with `/`).
    pub api_root: String,
    /// `CONTENT_PATH_PREFIX`, e.g. `/pulp/content/`.
    pub content_path_prefix: String,
    /// `CONTENT_ORIGIN`, e.g. `https://pulp.example.com` (None: relative URLs).
    pub content_origin: Option<String>,
    /// `WORKER_TTL`.
    pub worker_ttl: Duration,
    /// Serve the test-only task endpoint (`PITH_TEST_TASKS`).
    pub test_tasks: bool,
    /// Largest JSON body accepted.
    pub max_json_body: usize,
    /// `REMOTE_CONTENT_FETCH_FAILURE_COOLDOWN`: how long a remote artifact that served wrong
    /// bytes is skipped.
    pub fetch_failure_cooldown: Duration,
    /// `DISTRIBUTED_PUBLICATION_RETENTION_PERIOD`: how long a publication a distribution no
    /// longer serves still answers for paths the new one lacks (zero: not at all).
    pub distributed_publication_retention: Duration,
    /// `ENVVAR_HEADER_CONTENT_GUARD_ALLOWED_VARS`: the environment variables an
    /// `envvar_header` content guard may compare a header with.
    pub envvar_header_allowed_vars: Vec<String>,
}

impl HttpConfig {
    /// `API_ROOT` + `api/v3/`.
    pub fn v3(&self) -> String {
        format!("{}api/v3/", self.api_root)
    }
}
