//! The one download module: a remote's HTTP client (TLS, proxy, basic auth, headers, timeouts,
//! `rate_limit`) and GET with Pulp's retry rules, shared by every sync, repair, `file_url`
//! content creation and the content app's on-demand fetcher.

use std::time::Duration;

use futures_util::StreamExt;
use pith_entities::entity::remote;
use pith_entities::store::TempArtifact;
use serde_json::Value;

/// Why a download failed; the text is what a task's `error.description` and the logs say.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The remote's settings cannot make a client (a bad certificate, key or proxy URL).
    #[error("{0}")]
    Settings(String),
    /// The upstream answered with an error status (after the retries it allows).
    #[error("{status} {reason} for url {url}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// Its canonical reason phrase.
        reason: &'static str,
        /// What was requested.
        url: String,
    },
    /// The connection failed, timed out or was cut (after the retries it allows).
    #[error("Could not download {url}: {cause}")]
    Transport {
        /// What was requested.
        url: String,
        /// The error with its causes.
        cause: String,
    },
    /// The answer started but its body was cut off or failed part-way.
    #[error("Could not download {url}: {cause}")]
    Interrupted {
        /// What was requested.
        url: String,
        /// The error with its causes.
        cause: String,
    },
    /// The bytes arrived but differ from what was declared (size or digest).
    #[error("{0}")]
    Mismatch(String),
    /// The bytes could not be written to the artifact store.
    #[error(transparent)]
    Store(#[from] pith_entities::store::StoreError),
}

/// The HTTP client for a remote: its timeouts, proxy, headers and TLS options (`ca_cert`
/// trusted besides the system's roots, `client_cert` + `client_key` as the client identity,
/// `tls_validation=false` accepting any server certificate).
pub fn client(r: &remote::Model) -> Result<Downloader, DownloadError> {
    crate::tls::install_provider();
    let mut b = reqwest::Client::builder();
    if !r.tls_validation {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    if let Some(pem) = r.ca_cert.as_deref().filter(|p| !p.trim().is_empty()) {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
            DownloadError::Settings(format!("The remote's ca_cert cannot be used: {e}"))
        })?;
        b = b.tls_certs_merge(certs);
    }
    match (r.client_cert.as_deref(), r.client_key.as_deref()) {
        (Some(cert), Some(key)) if !cert.trim().is_empty() && !key.trim().is_empty() => {
            let identity = reqwest::Identity::from_pem(format!("{cert}\n{key}").as_bytes())
                .map_err(|e| {
                    DownloadError::Settings(format!(
                        "The remote's client_cert/client_key cannot be used: {e}"
                    ))
                })?;
            b = b.identity(identity);
        }
        _ => {}
    }
    if let Some(t) = r.total_timeout {
        b = b.timeout(Duration::from_secs_f64(t));
    }
    if let Some(t) = r.connect_timeout.or(r.sock_connect_timeout) {
        b = b.connect_timeout(Duration::from_secs_f64(t));
    }
    if let Some(t) = r.sock_read_timeout {
        b = b.read_timeout(Duration::from_secs_f64(t));
    }
    if let Some(p) = &r.proxy_url {
        let mut proxy = reqwest::Proxy::all(p)
            .map_err(|e| DownloadError::Settings(format!("Invalid proxy_url {p:?}: {e}")))?;
        if let (Some(u), Some(pw)) = (&r.proxy_username, &r.proxy_password) {
            proxy = proxy.basic_auth(u, pw);
        }
        b = b.proxy(proxy);
    }
    let mut headers = reqwest::header::HeaderMap::new();
    let list: Vec<Value> = serde_json::from_str(&r.headers).unwrap_or_default();
    for h in list.iter().filter_map(Value::as_object) {
        for (k, v) in h {
            let v = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                reqwest::header::HeaderValue::from_str(&v),
            ) {
                headers.insert(name, value);
            }
        }
    }
    let client = b
        .default_headers(headers)
        .build()
        .map_err(|e| DownloadError::Settings(format!("Could not build the HTTP client: {e}")))?;
    Ok(Downloader {
        client,
        limit: r.rate_limit.filter(|n| *n > 0).map(|n| RateLimit {
            interval: Duration::from_secs_f64(1.0 / n as f64),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }),
    })
}

/// An error with its chain of causes (reqwest's own message rarely says what went wrong, e.g.
/// which certificate check failed).
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        cur = c.source();
    }
    out
}

/// A remote's HTTP client with its request-rate limit.
#[derive(Debug)]
pub struct Downloader {
    client: reqwest::Client,
    limit: Option<RateLimit>,
}

/// `rate_limit`: at most that many requests per second, shared by every concurrent download
/// of one task (requests are spaced evenly rather than sent in bursts).
#[derive(Debug)]
struct RateLimit {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl RateLimit {
    async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = Ord::max(*next, tokio::time::Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// GET with Pulp's retry rules: 429, 5xx and transport errors are retried with backoff.
pub async fn get(
    d: &Downloader,
    r: &remote::Model,
    url: &str,
) -> Result<reqwest::Response, DownloadError> {
    let retries = r.max_retries.unwrap_or(3).clamp(0, 10) as u32;
    let mut attempt = 0;
    loop {
        if let Some(l) = &d.limit {
            l.wait().await;
        }
        let mut req = d.client.get(url);
        if let Some(u) = &r.username {
            req = req.basic_auth(u, r.password.as_deref());
        }
        let res = req.send().await;
        let retry = match &res {
            Ok(resp) => resp.status().as_u16() == 429 || resp.status().is_server_error(),
            Err(_) => true,
        };
        if !retry || attempt >= retries {
            return match res {
                Ok(resp) if resp.status().is_success() => Ok(resp),
                Ok(resp) => Err(DownloadError::Status {
                    status: resp.status().as_u16(),
                    reason: resp.status().canonical_reason().unwrap_or(""),
                    url: url.to_owned(),
                }),
                Err(e) => Err(DownloadError::Transport {
                    url: url.to_owned(),
                    cause: causes(&e),
                }),
            };
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(100 << attempt.min(6))).await;
    }
}

/// GETs `url` (with the remote's retries) into memory: for metadata a sync parses (a
/// `PULP_MANIFEST`, an index page), never for artifacts, which go to [`download_to_temp`].
pub async fn get_bytes(
    client: &Downloader,
    r: &remote::Model,
    url: &str,
) -> Result<bytes::Bytes, DownloadError> {
    get(client, r, url)
        .await?
        .bytes()
        .await
        .map_err(|e| DownloadError::Interrupted {
            url: url.to_owned(),
            cause: causes(&e),
        })
}

/// Joins `relative` (each segment percent-encoded) to the directory of `manifest_url`.
pub fn join_url(manifest_url: &str, relative: &str) -> String {
    let base = match manifest_url.rfind('/') {
        Some(i) => &manifest_url[..=i],
        None => manifest_url,
    };
    let quoted: Vec<String> = relative
        .split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        })
        .collect();
    format!("{base}{}", quoted.join("/"))
}

/// GETs `url` (with the remote's retries) into a temporary file, hashed on the way and not yet
/// finished: the caller verifies and stores it.
pub async fn download_to_temp(
    store: &pith_entities::ArtifactStore,
    client: &Downloader,
    r: &remote::Model,
    url: &str,
) -> Result<TempArtifact, DownloadError> {
    let resp = get(client, r, url).await?;
    let mut t = store.temp().await?;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| DownloadError::Interrupted {
            url: url.to_owned(),
            cause: causes(&e),
        })?;
        t.write(&chunk).await?;
    }
    Ok(t)
}
