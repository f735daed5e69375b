//! Serving content whose bytes are not stored yet (synced `on_demand` or `streamed`): the
//! request joins the node's fetcher for those bytes ([`pith_actors::fetch`]) and streams them
//! as they arrive. An upstream that cannot provide them before the first byte is a 404, as in
//! Pulp; a failure after bytes were sent cuts the connection.

use std::sync::Arc;

use futures_util::StreamExt;
use pith_actors::fetch::{self, FetchError, Keep, Progress, Source};
use pith_entities::entity::remote;
use pith_entities::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use warp::Reply;
use warp::http::{HeaderValue, Method, StatusCode};

use crate::content_index::{Remote, Stored};
use crate::request::{Response, empty, text};
use crate::{ApiError, HttpState, Req};

/// The stored artifact of `r`, if it was fetched (and saved) since the index was built.
pub async fn stored_now(state: &HttpState, r: &Remote) -> Result<Option<Stored>, ApiError> {
    Ok(
        pith_entities::content::stored_artifact(&state.db, &r.content_artifact)
            .await?
            .map(Stored::from_row),
    )
}

/// Where `r`'s bytes can come from: its remote artifacts not failed within the cooldown, oldest
/// first.
async fn sources(state: &HttpState, r: &Remote) -> Result<Vec<Source>, ApiError> {
    let db = &state.db;
    let cutoff =
        pith_entities::time::now_micros() - state.config.fetch_failure_cooldown.as_micros() as i64;
    let found = pith_entities::content::fetch_sources(db, &r.content_artifact, cutoff).await?;
    let ids: Vec<String> = found.iter().map(|(_, _, rid)| rid.clone()).collect();
    let remotes = remote::Entity::find()
        .filter(remote::Column::PulpId.is_in(ids))
        .all(&db.read)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(ra, url, rid)| {
            let remote = remotes.iter().find(|m| m.pulp_id == rid)?.clone();
            Some(Source {
                remote_artifact: Some(ra),
                url,
                remote,
            })
        })
        .collect())
}

/// What is known of bytes before they arrive: their sha256 (the ETag) and size.
#[derive(Clone, Debug)]
struct Known {
    sha256: Option<String>,
    size: Option<u64>,
}

fn headers(r: &mut Response, known: &Known, content_type: &str) {
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    };
    set("content-type", content_type.to_owned());
    if let Some(sha256) = &known.sha256 {
        set("etag", format!("\"{sha256}\""));
    }
    if let Some(n) = known.size {
        set("content-length", n.to_string());
        set("x-pulp-artifact-size", n.to_string());
    }
}

/// The answer when the upstream bytes turned out bad (or the fetcher died) before this client
/// got any of them.
fn bad_gateway(why: &str) -> Response {
    text(
        StatusCode::BAD_GATEWAY,
        "text/plain; charset=utf-8",
        format!("502: {why}"),
    )
}

/// Serves `remote` through a fetcher.
pub async fn serve(
    state: &HttpState,
    req: &Req,
    remote: &Arc<Remote>,
    content_type: &str,
) -> Result<Response, ApiError> {
    if state.fetchers.is_none() {
        return crate::content::not_found();
    }
    let sources = sources(state, remote).await?;
    if sources.is_empty() {
        return crate::content::not_found();
    }
    if req.method == Method::HEAD {
        let mut r = empty(StatusCode::OK);
        let known = Known {
            sha256: Some(remote.sha256.clone()),
            size: remote.size,
        };
        headers(&mut r, &known, content_type);
        return Ok(r);
    }
    let save = sources.iter().any(|s| s.remote.policy != "streamed");
    let request = fetch::Request {
        key: remote.content_artifact.clone(),
        sources,
        sha256: Some(remote.sha256.clone()),
        size: remote.size,
        keep: if save {
            Keep::Link(remote.content_artifact.clone())
        } else {
            Keep::Nothing
        },
    };
    stream(state, req, request, content_type).await
}

/// Joins the node's fetch of `request` and streams its bytes as they arrive (a 404 when the
/// upstream fails before the first byte; a `Range` waits for the verified whole).
pub async fn stream(
    state: &HttpState,
    req: &Req,
    request: fetch::Request,
    content_type: &str,
) -> Result<Response, ApiError> {
    let Some(fetchers) = &state.fetchers else {
        return crate::content::not_found();
    };
    let known = Known {
        sha256: request.sha256.clone(),
        size: request.size,
    };
    let key = request.key.clone();
    let fetch = fetchers.join(request);
    let mut progress = fetch.progress();
    // Answer only once the upstream has: before the first byte a failure is still a 404.
    let first = loop {
        let p = progress.borrow_and_update().clone();
        match p {
            Progress::Starting => {
                if progress.changed().await.is_err() {
                    break Progress::Failed(FetchError::Broken("the fetcher vanished".into()));
                }
            }
            other => break other,
        }
    };
    match first {
        Progress::Failed(FetchError::Unavailable(why)) => {
            tracing::warn!(%key, %why, "on-demand content unavailable");
            return crate::content::not_found();
        }
        Progress::Failed(FetchError::Broken(why)) => {
            return Ok(bad_gateway(&why));
        }
        _ => {}
    }
    if let Some(range) = req.header("range") {
        return ranged(&mut progress, &known, range, content_type).await;
    }
    let body =
        futures_util::stream::unfold((progress, 0u64, false), |(rx, offset, done)| async move {
            if done {
                return None;
            }
            next_chunk(rx, offset).await
        })
        .boxed();
    // Keep the fetch (and so its file) alive while this response streams.
    let keep = fetch.clone();
    let body = body.map(move |chunk| {
        let _ = &keep;
        chunk
    });
    let mut r = warp::reply::stream(crate::content::SyncStream::new(body.boxed())).into_response();
    headers(&mut r, &known, content_type);
    Ok(r)
}

/// A `Range` request for bytes still being fetched: waits for the verified whole, then answers
/// the range (206) from it, or 416.
async fn ranged(
    progress: &mut tokio::sync::watch::Receiver<Progress>,
    known: &Known,
    range: &str,
    content_type: &str,
) -> Result<Response, ApiError> {
    let (file, size) = loop {
        let p = progress.borrow_and_update().clone();
        match p {
            Progress::Done { file, written } => break (file, written),
            Progress::Failed(FetchError::Unavailable(_)) => return crate::content::not_found(),
            Progress::Failed(FetchError::Broken(why)) => {
                return Ok(bad_gateway(&why));
            }
            _ => {
                if progress.changed().await.is_err() {
                    return Ok(bad_gateway("the fetcher vanished"));
                }
            }
        }
    };
    let (a, b) = match crate::content::parse_range(range, size) {
        Some(Ok(r)) => r,
        Some(Err(())) => {
            let mut r = empty(StatusCode::RANGE_NOT_SATISFIABLE);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert("content-range", v);
            }
            return Ok(r);
        }
        // Several ranges: the whole file.
        None => (0, size.saturating_sub(1)),
    };
    let len = if size == 0 { 0 } else { b - a + 1 };
    let bytes = tokio::task::spawn_blocking(move || fetch::read_at(&file, a, len as usize))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let whole = a == 0 && len == size;
    let mut r = Response::new(bytes.into());
    *r.status_mut() = if whole {
        StatusCode::OK
    } else {
        StatusCode::PARTIAL_CONTENT
    };
    headers(&mut r, known, content_type);
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    };
    set("content-length", len.to_string());
    if !whole {
        set("content-range", format!("bytes {a}-{b}/{size}"));
    }
    Ok(r)
}

type Chunk = Result<bytes::Bytes, std::io::Error>;

/// The next piece of a fetch for a client that has read `offset` bytes: what is already
/// written, else whatever arrives next; an error once the fetch fails.
async fn next_chunk(
    mut rx: tokio::sync::watch::Receiver<Progress>,
    offset: u64,
) -> Option<(Chunk, (tokio::sync::watch::Receiver<Progress>, u64, bool))> {
    loop {
        let p = rx.borrow_and_update().clone();
        let (file, written, finished) = match p {
            Progress::Streaming { file, written } => (file, written, false),
            Progress::Done { file, written } => (file, written, true),
            Progress::Failed(FetchError::Unavailable(m) | FetchError::Broken(m)) => {
                return Some((Err(std::io::Error::other(m)), (rx, offset, true)));
            }
            Progress::Starting => {
                if rx.changed().await.is_err() {
                    return Some((
                        Err(std::io::Error::other("the fetcher vanished")),
                        (rx, offset, true),
                    ));
                }
                continue;
            }
        };
        // The last byte waits for verification: a mismatch then cuts the connection short of
        // the promised length, so no client mistakes wrong bytes for a complete download.
        let readable = if finished {
            written
        } else {
            written.saturating_sub(1)
        };
        if offset < readable {
            let n = Ord::min(readable - offset, 256 * 1024) as usize;
            return match fetch::read_at(&file, offset, n) {
                Ok(b) if !b.is_empty() => {
                    let next = offset + b.len() as u64;
                    Some((Ok(b), (rx, next, false)))
                }
                Ok(_) => Some((Err(std::io::Error::other("short read")), (rx, offset, true))),
                Err(e) => Some((Err(e), (rx, offset, true))),
            };
        }
        if finished {
            return None;
        }
        match tokio::time::timeout(fetch::STALL, rx.changed()).await {
            Ok(Ok(())) => {}
            // The sender is dropped only after the final state was sent; a stall is an error.
            _ => {
                return Some((
                    Err(std::io::Error::other("the download stalled")),
                    (rx, offset, true),
                ));
            }
        }
    }
}
