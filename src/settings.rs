//! Settings: Pulp's names, from defaults, then an optional TOML file, then `PULP_*`
//! environment variables. An unknown key in the file or a malformed value stops start-up with
//! a message naming it; an unknown `PULP_*` variable is only a warning (hosts that ran Pulp
//! export many).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Serialized};
use serde::{Deserialize, Serialize};

/// Every setting Pith reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// `sqlite://PATH` or `postgres://…` (default: `sqlite://<data-dir>/pith.db`).
    pub database_url: Option<String>,
    /// Where artifacts are stored (default: the data directory).
    pub media_root: Option<PathBuf>,
    /// Public origin of the content app, e.g. `https://pulp.example.com`.
    pub content_origin: Option<String>,
    /// Root of the REST API.
    pub api_root: String,
    /// Root of the content app.
    pub content_path_prefix: String,
    /// Seconds without a heartbeat after which a worker counts as lost.
    pub worker_ttl: f64,
    /// Send Pulp's anonymous analytics (the reporter arrives with the observability work).
    pub analytics: bool,
    /// The `admin` user's password, set at start-up when given.
    pub admin_password: Option<String>,
    /// Enable the test-only task endpoint (benchmarks and tests). Pith-specific.
    pub pith_test_tasks: bool,
    /// Seconds between scans of the task table for tasks no wake-up announced.
    pub pith_task_scan_interval: f64,
    /// Seconds a remote artifact that served bytes not matching its checksum is skipped.
    pub remote_content_fetch_failure_cooldown: f64,
    /// Seconds a publication a distribution stopped serving is still served from (0: none).
    pub distributed_publication_retention_period: f64,
    /// Environment variables an `envvar_header` content guard may name (Pulp's
    /// `ENVVAR_HEADER_CONTENT_GUARD_ALLOWED_VARS`; a list, e.g. `'["CDN_SECRET"]'`).
    pub envvar_header_content_guard_allowed_vars: Vec<String>,
    /// A header a trusted proxy sets to base64 JSON naming the user, as a Django `META` name
    /// (Pulp's `AUTHENTICATION_JSON_HEADER`, e.g. `HTTP_X_RH_IDENTITY`); unset: off.
    pub authentication_json_header: Option<String>,
    /// Where in that JSON the user name is (Pulp's `AUTHENTICATION_JSON_HEADER_JQ_FILTER`; a
    /// path of keys such as `.identity.user.username`).
    pub authentication_json_header_jq_filter: Option<String>,
    /// A header a trusted proxy sets to the user name (Django's `REMOTE_USER_ENVIRON_NAME`,
    /// e.g. `HTTP_REMOTE_USER`); unset: off.
    pub remote_user_environ_name: Option<String>,
    /// The schema's `securitySchemes` entry for the JSON header (Pulp's
    /// `AUTHENTICATION_JSON_HEADER_OPENAPI_SECURITY_SCHEME`; JSON).
    pub authentication_json_header_openapi_security_scheme: serde_json::Value,
    /// The schema's entry for `REMOTE_USER` (Pulp's `REMOTE_USER_OPENAPI_SECURITY_SCHEME`).
    pub remote_user_openapi_security_scheme: serde_json::Value,
    /// Upstream downloads the content app runs at once (on-demand content). Pith-specific.
    pub pith_content_fetch_concurrency: u32,
    /// Export traces and metrics over OTLP (`OTEL_EXPORTER_OTLP_*` configure where).
    pub otel_enabled: bool,
    /// Serve `GET /metrics` (Prometheus text).
    pub metrics_enabled: bool,
    /// `human` or `json` log lines.
    pub log_format: String,
    /// Where analytics are posted.
    pub analytics_url: String,
    /// `host:port` the cluster node listens on (default: all addresses, a free port).
    pub cluster_bind: Option<String>,
    /// `host:port` other nodes dial (default: this host's name and the bound port).
    pub cluster_advertise: Option<String>,
    /// Shared secret of the cluster's nodes; required when several processes share a
    /// PostgreSQL database.
    pub cluster_secret: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: None,
            media_root: None,
            content_origin: None,
            api_root: "/pulp/".into(),
            content_path_prefix: "/pulp/content/".into(),
            worker_ttl: 30.0,
            analytics: true,
            admin_password: None,
            pith_test_tasks: false,
            pith_task_scan_interval: 2.0,
            remote_content_fetch_failure_cooldown: 300.0,
            // Pulp's default: three days.
            distributed_publication_retention_period: 3.0 * 24.0 * 3600.0,
            envvar_header_content_guard_allowed_vars: Vec::new(),
            authentication_json_header: None,
            authentication_json_header_jq_filter: None,
            remote_user_environ_name: None,
            authentication_json_header_openapi_security_scheme: serde_json::json!({}),
            remote_user_openapi_security_scheme: serde_json::json!({"type": "mutualTLS"}),
            pith_content_fetch_concurrency: 32,
            otel_enabled: false,
            metrics_enabled: true,
            log_format: "human".into(),
            // Pulp's endpoint for development builds: Pith's data must never count as a Pulp
            // installation's.
            analytics_url: "https://dev.analytics.pulpproject.org/".into(),
            cluster_bind: None,
            cluster_advertise: None,
            cluster_secret: None,
        }
    }
}

const KNOWN: [&str; 26] = [
    "authentication_json_header_openapi_security_scheme",
    "remote_user_openapi_security_scheme",
    "authentication_json_header",
    "authentication_json_header_jq_filter",
    "remote_user_environ_name",
    "database_url",
    "media_root",
    "content_origin",
    "api_root",
    "content_path_prefix",
    "worker_ttl",
    "analytics",
    "admin_password",
    "pith_test_tasks",
    "pith_task_scan_interval",
    "remote_content_fetch_failure_cooldown",
    "distributed_publication_retention_period",
    "envvar_header_content_guard_allowed_vars",
    "pith_content_fetch_concurrency",
    "otel_enabled",
    "metrics_enabled",
    "log_format",
    "analytics_url",
    "cluster_bind",
    "cluster_advertise",
    "cluster_secret",
];

/// Pulp settings Pith accepts without using them (no warning).
/// (`AUTHENTICATION_BACKENDS` and `REST_FRAMEWORK__DEFAULT_AUTHENTICATION_CLASSES` are how
/// Pulp switches the trusted-proxy mechanisms on; Pith switches them on by their header
/// settings alone.)
const TOLERATED: [&str; 6] = [
    "settings",
    "env",
    "secret_key",
    "db_encryption_key",
    "authentication_backends",
    "rest_framework__default_authentication_classes",
];

impl Settings {
    /// Warnings about the environment: unknown `PULP_*` variables (logged once logging is set
    /// up, which itself depends on the settings).
    pub fn env_warnings() -> Vec<String> {
        std::env::vars()
            .filter_map(|(k, _)| {
                let key = k.strip_prefix("PULP_")?.to_ascii_lowercase();
                (!KNOWN.contains(&key.as_str()) && !TOLERATED.contains(&key.as_str()))
                    .then(|| format!("ignoring unknown setting {k}"))
            })
            .collect()
    }

    /// Loads settings; `file` is the `--config` TOML file.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading settings file {}", path.display()))?;
            let table: toml::Table = toml::from_str(&text)
                .with_context(|| format!("parsing settings file {}", path.display()))?;
            let mut lowered = toml::Table::new();
            for (k, v) in table {
                let key = k.to_ascii_lowercase();
                let key = key.strip_prefix("pulp_").unwrap_or(&key).to_owned();
                if !KNOWN.contains(&key.as_str()) {
                    bail!(
                        "unknown setting {k:?} in {}; known settings: {}",
                        path.display(),
                        KNOWN.join(", ")
                    );
                }
                lowered.insert(key, v);
            }
            fig = fig.merge(Serialized::defaults(lowered));
        }
        fig = fig.merge(
            Env::prefixed("PULP_")
                .filter(|k| KNOWN.iter().any(|n| k.as_str().eq_ignore_ascii_case(n))),
        );
        if let Ok(v) = std::env::var("PITH_TEST_TASKS") {
            fig = fig.merge(Serialized::default(
                "pith_test_tasks",
                matches!(v.as_str(), "1" | "true" | "True"),
            ));
        }
        let s: Settings = fig
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid setting: {e}"))?;
        s.validate()?;
        Ok(s)
    }

    /// The trusted-proxy identity headers these settings switch on.
    pub fn trusted_proxy(&self) -> anyhow::Result<pith_http::auth::TrustedProxy> {
        use pith_http::auth::header_of_meta;
        use pith_http::jq::JqPath;
        let header = |name: &str, v: &str| {
            header_of_meta(v).ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid setting {name}={v:?}: it must name a request header as Django does (HTTP_<NAME>)"
                )
            })
        };
        let json_header = match (
            &self.authentication_json_header,
            &self.authentication_json_header_jq_filter,
        ) {
            (None, _) => None,
            (Some(h), None) => bail!(
                "setting AUTHENTICATION_JSON_HEADER={h:?} needs AUTHENTICATION_JSON_HEADER_JQ_FILTER"
            ),
            (Some(h), Some(f)) => Some((
                header("AUTHENTICATION_JSON_HEADER", h)?,
                JqPath::parse(f).map_err(|e| {
                    anyhow::anyhow!(
                        "invalid setting AUTHENTICATION_JSON_HEADER_JQ_FILTER={f:?}: {e}"
                    )
                })?,
            )),
        };
        let remote_user_header = match &self.remote_user_environ_name {
            None => None,
            Some(v) => Some(header("REMOTE_USER_ENVIRON_NAME", v)?),
        };
        // Given as JSON text in the environment, or as a table in the settings file.
        let scheme = |name: &str, v: &serde_json::Value| match v {
            // `@json {…}` is how dynaconf (Pulp's settings) reads JSON from the environment.
            serde_json::Value::String(s) => {
                serde_json::from_str(s.strip_prefix("@json ").unwrap_or(s))
                    .map_err(|e| anyhow::anyhow!("invalid setting {name}={s:?}: not JSON: {e}"))
            }
            other => Ok(other.clone()),
        };
        Ok(pith_http::auth::TrustedProxy {
            json_header,
            remote_user_header,
            json_header_scheme: scheme(
                "AUTHENTICATION_JSON_HEADER_OPENAPI_SECURITY_SCHEME",
                &self.authentication_json_header_openapi_security_scheme,
            )?,
            remote_user_scheme: scheme(
                "REMOTE_USER_OPENAPI_SECURITY_SCHEME",
                &self.remote_user_openapi_security_scheme,
            )?,
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.trusted_proxy()?;
        for (name, v) in [
            ("API_ROOT", &self.api_root),
            ("CONTENT_PATH_PREFIX", &self.content_path_prefix),
        ] {
            if !v.starts_with('/') || !v.ends_with('/') {
                bail!("invalid setting {name}={v:?}: it must start and end with '/'");
            }
        }
        if !(self.worker_ttl > 0.0 && self.worker_ttl.is_finite()) {
            bail!(
                "invalid setting WORKER_TTL={}: it must be a positive number of seconds",
                self.worker_ttl
            );
        }
        if !(self.pith_task_scan_interval > 0.0 && self.pith_task_scan_interval.is_finite()) {
            bail!(
                "invalid setting PITH_TASK_SCAN_INTERVAL={}: it must be positive",
                self.pith_task_scan_interval
            );
        }
        if let Some(o) = &self.content_origin
            && !(o.starts_with("http://") || o.starts_with("https://"))
        {
            bail!("invalid setting CONTENT_ORIGIN={o:?}: it must be an http(s) URL");
        }
        if let Some(b) = &self.cluster_bind
            && b.parse::<std::net::SocketAddr>().is_err()
        {
            bail!("invalid setting CLUSTER_BIND={b:?}: use IP:PORT, e.g. 0.0.0.0:24818");
        }
        if let Some(a) = &self.cluster_advertise
            && !a
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
        {
            bail!(
                "invalid setting CLUSTER_ADVERTISE={a:?}: use HOST:PORT that other nodes can reach"
            );
        }
        if self
            .cluster_secret
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            bail!("invalid setting CLUSTER_SECRET: it must not be empty");
        }
        let schemes = ["sqlite://", "postgres://", "postgresql://"];
        if let Some(u) = &self.database_url
            && !schemes.iter().any(|p| u.starts_with(p))
        {
            bail!(
                "invalid setting DATABASE_URL={u:?}: use sqlite://PATH or postgres://USER@HOST:PORT/DB"
            );
        }
        Ok(())
    }

    /// The database URL, defaulting to SQLite inside `data_dir`.
    pub fn database_url(&self, data_dir: &Path) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("pith.db").display()))
    }

    /// The media root, defaulting to `data_dir`.
    pub fn media_root(&self, data_dir: &Path) -> PathBuf {
        self.media_root
            .clone()
            .unwrap_or_else(|| data_dir.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxy_settings_are_checked_at_start() {
        let mut s = Settings::default();
        let off = s.trusted_proxy().unwrap();
        assert!(off.json_header.is_none() && off.remote_user_header.is_none());
        s.authentication_json_header = Some("HTTP_X_RH_IDENTITY".into());
        assert!(s.validate().is_err(), "a header without its filter");
        s.authentication_json_header_jq_filter = Some(".identity | .user".into());
        assert!(s.validate().is_err(), "not a path");
        s.authentication_json_header_jq_filter = Some(".identity.user.username".into());
        s.authentication_json_header_openapi_security_scheme =
            serde_json::Value::String(r#"@json {"type": "apiKey"}"#.into());
        let t = s.trusted_proxy().unwrap();
        assert_eq!(t.json_header.unwrap().0, "x-rh-identity");
        assert_eq!(t.json_header_scheme, serde_json::json!({"type": "apiKey"}));
        s.remote_user_environ_name = Some("REMOTE_USER".into());
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("REMOTE_USER_ENVIRON_NAME"), "{e}");
    }
}
