//! The content app: `CONTENT_PATH_PREFIX<base_path>/<relative_path>`.
//!
//! A request finds its distribution by base path (the longest matching prefix; overlapping
//! base paths are refused at creation, so at most one matches), then the publication it serves
//! (the one named, or the latest of the version or repository named; none is a 404, as in
//! Pulp), then either a published metadata file (`PULP_MANIFEST`), a content unit of the
//! published version with that relative path, or a directory listing. Files are streamed from
//! the store in bounded chunks, with `Range` (single range), `ETag` and `HEAD` support.

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use warp::Reply;
use warp::http::{HeaderValue, Method, StatusCode};

use crate::content_index::{Entry, Stored};
use crate::request::{Response, empty, moved, text};
use crate::{ApiError, HttpState, Req};

/// What a listing shows of one entry besides its name: when it changed (µs) and its size.
pub type EntryInfo = (Option<i64>, Option<u64>);

/// Renders Pulp's "Index of" page for `path` with `entries` (names; directories end in `/`),
/// each line as Pulp writes it: the link padded to 100 columns, the date and the size.
pub fn index_page(path: &str, entries: &[String], info: impl Fn(&str) -> EntryInfo) -> String {
    let mut body = format!(
        "\n<html>\n<head><title>Index of {path}</title></head>\n<body bgcolor=\"white\">\n<h1>Index of {path}</h1>\n<hr><pre>"
    );
    if path != "/" && !path.is_empty() {
        body.push_str("<a href=\"../\">../</a>");
    }
    body.push('\n');
    for e in entries {
        let esc = e
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;");
        let (modified, size) = info(e);
        let date = modified
            .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_micros)
            .map(|d| d.format("%d-%b-%Y %H:%M").to_string())
            .unwrap_or_default();
        let size = size.map(file_size).unwrap_or_default();
        let pad = " ".repeat(100usize.saturating_sub(esc.chars().count()));
        body.push_str(&format!(
            "<a href=\"./{esc}\">{esc}</a>{pad}{date}  {size}\n"
        ));
    }
    body.push_str("</pre><hr></body>\n</html>");
    body
}

/// A size as Jinja's `filesizeformat` writes it (what Pulp's listings show): `0 Bytes`,
/// `1 Byte`, `999 Bytes`, `4.1 kB`, `1.0 MB`, … in powers of 1000.
fn file_size(n: u64) -> String {
    const UNITS: [&str; 8] = ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let b = n as f64;
    if n == 1 {
        return "1 Byte".into();
    }
    if b < 1000.0 {
        return format!("{n} Bytes");
    }
    for (i, u) in UNITS.iter().enumerate() {
        let unit = 1000f64.powi(i as i32 + 2);
        if b < unit || i == UNITS.len() - 1 {
            return format!("{:.1} {u}", 1000.0 * b / unit);
        }
    }
    unreachable!("the last unit returns")
}

pub(crate) fn not_found() -> Result<Response, ApiError> {
    Ok(text(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "404: Not Found".into(),
    ))
}

fn html(req: &Req, path: &str, entries: &[String], info: impl Fn(&str) -> EntryInfo) -> Response {
    let mut r = text(
        StatusCode::OK,
        "text/html; charset=utf-8",
        index_page(path, entries, info),
    );
    if req.method == Method::HEAD {
        *r.body_mut() = bytes::Bytes::new().into();
    }
    r
}

/// Answers a request under `CONTENT_PATH_PREFIX`.
pub async fn handle(state: &HttpState, req: &Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return Err(ApiError::MethodNotAllowed(req.method.to_string()));
    }
    let prefix = &state.config.content_path_prefix;
    let raw = &req.path[prefix.len()..];
    let Some(path) = crate::request::percent_decode(raw) else {
        return not_found();
    };
    if path.split('/').any(|s| s == "." || s == "..") || path.contains('\0') {
        return not_found();
    }
    let index = &state.content_index;
    let g = index.generation(&state.db).await?;
    let resp = answer(state, req, &path, &g).await?;
    if resp.status() != StatusCode::NOT_FOUND {
        return Ok(resp);
    }
    // The index may be up to a check interval behind changes made on other nodes: confirm a
    // miss against the database before answering it.
    let fresh = index.confirmed(&state.db).await?;
    if std::sync::Arc::ptr_eq(&fresh, &g) {
        return Ok(resp);
    }
    answer(state, req, &path, &fresh).await
}

/// Answers `path` (decoded, below the prefix) from generation `g` of the index.
async fn answer(
    state: &HttpState,
    req: &Req,
    path: &str,
    g: &crate::content_index::Generation,
) -> Result<Response, ApiError> {
    let prefix = &state.config.content_path_prefix;
    if path.is_empty() {
        let mut heads: Vec<String> = g
            .dists
            .values()
            .filter(|d| !d.hidden)
            .map(|d| format!("{}/", d.base_path.split('/').next().unwrap_or("")))
            .collect();
        heads.sort();
        heads.dedup();
        return Ok(html(req, prefix, &heads, |_| (None, None)));
    }
    let trimmed = path.trim_end_matches('/');
    let Some(d) = g.find(trimmed) else {
        // Not a distribution, but maybe a directory of base paths.
        let mut below: Vec<String> = g
            .dists
            .values()
            .filter(|d| !d.hidden)
            .filter_map(|d| d.base_path.strip_prefix(&format!("{trimmed}/")))
            .map(|rest| format!("{}/", rest.split('/').next().unwrap_or("")))
            .collect();
        if below.is_empty() {
            return not_found();
        }
        if !path.ends_with('/') {
            return Ok(moved(&format!("{}/", req.path)));
        }
        below.sort();
        below.dedup();
        return Ok(html(req, &req.path, &below, |_| (None, None)));
    };
    // The guard first, as Pulp asks it: nothing of a guarded distribution (not a redirect,
    // listing, `HEAD` or on-demand fetch) answers before it permits.
    if let Some(id) = &d.content_guard_id
        && let Some(guard) = crate::content_guard::cached(state, &g.guards, id).await?
        && let Err(reason) = crate::content_guard::permit(state, req, &guard).await?
    {
        tracing::debug!(path = %req.path, %reason, "not permitted by the content guard");
        let mut r = text(
            StatusCode::FORBIDDEN,
            "text/plain; charset=utf-8",
            format!("403: {reason}"),
        );
        // Pulp's content app (aiohttp's `HTTPForbidden(reason=…)`) puts the reason in the
        // status line too, where clients read it.
        let phrase: String = reason
            .chars()
            .map(|c| {
                if c == '\t' || (' '..='~').contains(&c) {
                    c
                } else {
                    ' '
                }
            })
            .take(1024)
            .collect();
        if let Ok(p) = hyper::ext::ReasonPhrase::try_from(phrase.into_bytes()) {
            r.extensions_mut().insert(p);
        }
        return Ok(r);
    }
    if path == d.base_path {
        return Ok(moved(&format!("{}/", req.path)));
    }
    let rel = path[d.base_path.len()..].trim_start_matches('/');
    let hooks = state.platform.distribution_hooks(&d.pulp_type);
    if let Some(handler) = hooks.and_then(|h| h.content_handler)
        && let Some(resp) = handler(state, req, &d.id, rel).await?
    {
        return Ok(resp);
    }
    let mut resp = if d.checkpoint {
        serve_checkpoint(state, req, g, d, rel, hooks).await?
    } else {
        let served = state.content_index.served(&state.db, g, d).await?;
        serve_path(state, req, d, rel, hooks, served, true).await?
    };
    if let Some(headers) = hooks.and_then(|h| h.content_headers)
        && resp.status().is_success()
    {
        for (name, value) in headers(rel) {
            if let Ok(v) = warp::http::HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
    }
    Ok(resp)
}

/// Serves `rel` below a checkpoint distribution's base path ([`crate::checkpoint`]): the
/// listing of checkpoints, a redirect to the checkpoint a timestamp falls in, or `rel` from
/// the checkpoint it names.
async fn serve_checkpoint(
    state: &HttpState,
    req: &Req,
    g: &crate::content_index::Generation,
    d: &crate::content_index::Dist,
    rel: &str,
    hooks: Option<&crate::plugin::DistributionHooks>,
) -> Result<Response, ApiError> {
    use crate::checkpoint::{Pick, pick};
    // A checkpoint's own directory is a directory: `<base_path>/<timestamp>` gets its slash.
    if !rel.is_empty() && !rel.contains('/') && !req.path.ends_with('/') {
        return Ok(moved(&format!("{}/", req.path)));
    }
    let index = &state.content_index;
    let list = match &d.repository_id {
        Some(repo) => index.checkpoints(&state.db, g, repo).await?,
        None => Default::default(),
    };
    match pick(&list, rel, pith_entities::time::now_micros()) {
        Pick::Listing => {
            let names: Vec<String> = list.iter().map(|c| format!("{}/", c.timestamp())).collect();
            let created = |name: &str| {
                list.iter()
                    .find(|c| format!("{}/", c.timestamp()) == name)
                    .map(|c| c.created)
            };
            Ok(html(req, &req.path, &names, |n| (created(n), None)))
        }
        Pick::NotFound => not_found(),
        Pick::Redirect(c, rest) => Ok(moved(&format!(
            "{}{}/{}/{}",
            state.config.content_path_prefix,
            d.base_path,
            c.timestamp(),
            rest
        ))),
        Pick::Serve(c, rest) => {
            let served = index.served_checkpoint(&state.db, g, c).await?;
            serve_path(state, req, d, rest, hooks, Some(served), false).await
        }
    }
}

/// Serves `rel` of distribution `d` from what it serves (`served`, from the index): a listing,
/// a stored file, on-demand content, a redirect to the directory, or a 404. A `live` view
/// (not a checkpoint's fixed one) also falls back to superseded publications and pull-through.
async fn serve_path(
    state: &HttpState,
    req: &Req,
    d: &crate::content_index::Dist,
    rel: &str,
    hooks: Option<&crate::plugin::DistributionHooks>,
    served: Option<std::sync::Arc<crate::content_index::Served>>,
    live: bool,
) -> Result<Response, ApiError> {
    let Some(served) = served else {
        // Nothing published: only a remote can have content here.
        if !rel.is_empty()
            && !rel.ends_with('/')
            && let Some(r) =
                crate::pull_through::serve(state, req, d, rel, content_type(rel)).await?
        {
            return Ok(r);
        }
        return not_found();
    };
    if rel.is_empty() || rel.ends_with('/') {
        let mut names = served.entries(rel);
        if let Some(list) = hooks.and_then(|h| h.list_directory) {
            names.extend(list(state, &d.id, rel).await?);
            names.sort();
            names.dedup();
        }
        if names.is_empty() && !rel.is_empty() {
            return not_found();
        }
        let info = |name: &str| match served.files.get(&format!("{rel}{name}")) {
            Some(Entry::Stored(a)) => (Some(a.created), Some(a.size)),
            Some(Entry::Remote(r)) => (None, r.size),
            None => (None, None),
        };
        return Ok(html(req, &req.path, &names, info));
    }
    match served.files.get(rel) {
        Some(Entry::Stored(a)) => serve_file(state, req, a, rel).await,
        Some(Entry::Remote(r)) => match crate::on_demand::stored_now(state, r).await? {
            // Fetched since the index was built.
            Some(a) => serve_file(state, req, &a, rel).await,
            None => crate::on_demand::serve(state, req, r, content_type(rel)).await,
        },
        None if served.is_dir(rel) => Ok(moved(&format!("{}/", req.path))),
        None if !live => not_found(),
        None if let Some(a) = superseded(state, d, rel).await? => {
            serve_file(state, req, &a, rel).await
        }
        None => match crate::pull_through::serve(state, req, d, rel, content_type(rel)).await? {
            Some(r) => Ok(r),
            None => not_found(),
        },
    }
}

/// A file at `rel` in a publication `d` stopped serving less than
/// `DISTRIBUTED_PUBLICATION_RETENTION_PERIOD` ago (Pulp's fallback for clients still fetching
/// what the old metadata named).
async fn superseded(
    state: &HttpState,
    d: &crate::content_index::Dist,
    rel: &str,
) -> Result<Option<Stored>, ApiError> {
    let keep = state.config.distributed_publication_retention;
    if keep.is_zero() {
        return Ok(None);
    }
    let since = pith_entities::time::now_micros() - keep.as_micros() as i64;
    Ok(
        pith_entities::distributions::superseded_file(&state.db, &d.id, since, rel)
            .await?
            .map(Stored::from_row),
    )
}

fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" => "text/plain",
        "json" => "application/json",
        "xml" => "text/xml",
        "html" | "htm" => "text/html",
        "gz" => "application/gzip",
        "zst" | "zstd" => "application/zstd",
        "bz2" => "application/x-bzip2",
        "xz" => "application/x-xz",
        "tar" => "application/x-tar",
        "zip" => "application/zip",
        "iso" => "application/x-iso9660-image",
        "rpm" => "application/x-rpm",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "asc" | "sig" => "application/pgp-signature",
        "yaml" | "yml" => "application/yaml",
        _ => "application/octet-stream",
    }
}

/// Parses a single `bytes=a-b` / `bytes=a-` / `bytes=-n` range against `size`.
pub(crate) fn parse_range(h: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // multiple ranges: serve the whole file
    }
    let (a, b) = spec.split_once('-')?;
    let r = match (a.trim(), b.trim()) {
        ("", n) => n
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| (size.saturating_sub(n), size.saturating_sub(1))),
        (a, "") => a.parse::<u64>().ok().map(|a| (a, size.saturating_sub(1))),
        (a, b) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b => Some((a, Ord::min(b, size.saturating_sub(1)))),
            _ => None,
        },
    };
    Some(match r {
        Some((a, b)) if size > 0 && a < size && a <= b => Ok((a, b)),
        _ => Err(()),
    })
}

/// Files up to this size are sent as one buffer.
const SMALL_FILE: u64 = 1024 * 1024;

async fn open_at(state: &HttpState, a: &Stored, start: u64) -> Result<tokio::fs::File, ApiError> {
    let mut file = tokio::fs::File::open(state.store.path_of(&a.file))
        .await
        .map_err(|e| ApiError::Internal(format!("artifact file {}: {e}", a.file)))?;
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    Ok(file)
}

pub(crate) async fn serve_file(
    state: &HttpState,
    req: &Req,
    a: &Stored,
    rel: &str,
) -> Result<Response, ApiError> {
    let size = a.size;
    let etag = format!("\"{}\"", a.sha256);
    let modified = chrono::DateTime::<chrono::Utc>::from_timestamp_micros(a.created)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let mut headers = vec![
        ("content-type", content_type(rel).to_owned()),
        ("etag", etag.clone()),
        ("last-modified", modified),
        ("accept-ranges", "bytes".to_owned()),
        (
            "cache-control",
            "public, max-age=0, must-revalidate".to_owned(),
        ),
        ("x-pulp-artifact-size", size.to_string()),
    ];
    if req
        .header("if-none-match")
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        let mut r = empty(StatusCode::NOT_MODIFIED);
        for (k, v) in headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                r.headers_mut().insert(k, v);
            }
        }
        return Ok(r);
    }
    let (status, start, len) = match req.header("range").and_then(|h| parse_range(h, size)) {
        Some(Ok((a, b))) => {
            headers.push(("content-range", format!("bytes {a}-{b}/{size}")));
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
        Some(Err(())) => {
            let mut r = empty(StatusCode::RANGE_NOT_SATISFIABLE);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert("content-range", v);
            }
            return Ok(r);
        }
        None => (StatusCode::OK, 0, size),
    };
    headers.push(("content-length", len.to_string()));
    let mut r = if req.method == Method::HEAD {
        empty(status)
    } else if len <= SMALL_FILE {
        // Small files go out as one buffer: headers and body in one write. (Streamed, they
        // leave the body in a second write that Nagle's algorithm holds back for the peer's
        // delayed ACK, ~40 ms per request; warp gives no hook to set TCP_NODELAY.)
        let small = &state.content_index.small;
        let body = match small.get(&a.sha256) {
            Some(all) => all.slice(start as usize..(start + len) as usize),
            None => {
                let whole = start == 0 && len == size;
                let mut file = open_at(state, a, start).await?;
                let mut buf = Vec::with_capacity(len as usize);
                (&mut file)
                    .take(len)
                    .read_to_end(&mut buf)
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                if buf.len() as u64 != len {
                    return Err(ApiError::Internal(format!(
                        "artifact file {} is shorter than its recorded size",
                        a.file
                    )));
                }
                let buf = bytes::Bytes::from(buf);
                if whole {
                    small.put(&a.sha256, buf.clone());
                }
                buf
            }
        };
        let mut r = Response::new(body.into());
        *r.status_mut() = status;
        r
    } else {
        let file = open_at(state, a, start).await?;
        // Bounded chunks: large files are never read into memory whole.
        let stream = futures_util::stream::unfold((file, len), |(mut f, left)| async move {
            if left == 0 {
                return None;
            }
            let mut buf = vec![0u8; Ord::min(64 * 1024, left as usize)];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((
                        Ok::<_, std::io::Error>(bytes::Bytes::from(buf)),
                        (f, left - n as u64),
                    ))
                }
                Err(e) => Some((Err(e), (f, 0))),
            }
        })
        .boxed();
        let mut r = warp::reply::stream(SyncStream(std::sync::Mutex::new(stream))).into_response();
        *r.status_mut() = status;
        r
    };
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    }
    Ok(r)
}

/// `warp::reply::stream` wants a `Sync` stream; a boxed stream is only `Send`. The mutex is
/// never contended (one reader).
pub(crate) struct SyncStream(
    std::sync::Mutex<
        futures_util::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>,
    >,
);

impl SyncStream {
    /// Wraps a body stream.
    pub(crate) fn new(
        s: futures_util::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>,
    ) -> SyncStream {
        SyncStream(std::sync::Mutex::new(s))
    }
}

impl futures_util::Stream for SyncStream {
    type Item = Result<bytes::Bytes, std::io::Error>;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match self.get_mut().0.get_mut() {
            Ok(s) => s.poll_next_unpin(cx),
            Err(_) => std::task::Poll::Ready(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_decoding() {
        assert_eq!(parse_range("bytes=0-3", 10), Some(Ok((0, 3))));
        assert_eq!(parse_range("bytes=5-", 10), Some(Ok((5, 9))));
        assert_eq!(parse_range("bytes=-4", 10), Some(Ok((6, 9))));
        assert_eq!(parse_range("bytes=8-100", 10), Some(Ok((8, 9))));
        assert_eq!(parse_range("bytes=10-", 10), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,3-4", 10), None);
        assert_eq!(content_type("x/PULP_MANIFEST"), "application/octet-stream");
        assert_eq!(content_type("a.TXT"), "text/plain");
    }

    #[test]
    fn listings_as_pulp_writes_them() {
        assert_eq!(file_size(0), "0 Bytes");
        assert_eq!(file_size(1), "1 Byte");
        assert_eq!(file_size(999), "999 Bytes");
        assert_eq!(file_size(4096), "4.1 kB");
        assert_eq!(file_size(100 * 1024 * 1024), "104.9 MB");
        let page = index_page("/pulp/content/d/", &["a.txt".into(), "sub/".into()], |n| {
            if n == "a.txt" {
                (Some(0), Some(0))
            } else {
                (None, None)
            }
        });
        let line = page.lines().find(|l| l.contains("a.txt")).unwrap();
        assert!(
            line.starts_with("<a href=\"./a.txt\">a.txt</a>     "),
            "{line}"
        );
        assert!(line.ends_with("01-Jan-1970 00:00  0 Bytes"), "{line}");
        assert!(page.contains("<a href=\"./sub/\">sub/</a>"));
    }
}
