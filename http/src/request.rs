//! A captured request and response helpers.

use std::pin::Pin;

use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use serde_json::{Map, Value};
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::ApiError;

/// The response type.
pub type Response = warp::reply::Response;

/// The request body as a stream of chunks.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, warp::Error>> + Send>>;

/// One request, as the router sees it.
pub struct Req {
    /// The method.
    pub method: Method,
    /// The path, percent-encoded as received.
    pub path: String,
    /// The raw query string.
    pub raw_query: String,
    /// Decoded query parameters in order (repeated keys kept).
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: HeaderMap,
    // A Mutex only to make `Req` Sync (handlers hold `&Req` across awaits); never contended.
    body: std::sync::Mutex<Option<BodyStream>>,
    /// The body's fields once [`Req::fields`] read them.
    fields: Option<Map<String, Value>>,
}

impl std::fmt::Debug for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Req")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Req {
    /// Captures a request.
    pub fn new<S, B>(
        method: Method,
        path: String,
        raw_query: String,
        headers: HeaderMap,
        body: S,
    ) -> Req
    where
        S: Stream<Item = Result<B, warp::Error>> + Send + 'static,
        B: Buf,
    {
        let query =
            serde_urlencoded::from_str::<Vec<(String, String)>>(&raw_query).unwrap_or_default();
        let body: BodyStream =
            Box::pin(body.map(|r| r.map(|mut b| b.copy_to_bytes(b.remaining()))));
        Req {
            method,
            path,
            raw_query,
            query,
            headers,
            body: std::sync::Mutex::new(Some(body)),
            fields: None,
        }
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `scheme://host` as the client sees this server (honours `X-Forwarded-Proto` and
    /// `X-Forwarded-Host`, since Pith often sits behind a reverse proxy).
    pub fn base_url(&self) -> String {
        let proto = self
            .header("x-forwarded-proto")
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .unwrap_or("http");
        let host = self
            .header("x-forwarded-host")
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .or_else(|| self.header("host"))
            .unwrap_or("localhost");
        format!("{proto}://{host}")
    }

    /// Takes the body stream (once).
    pub fn take_body(&mut self) -> Option<BodyStream> {
        self.body.get_mut().ok().and_then(Option::take)
    }

    /// Reads the whole body, refusing more than `max` bytes.
    pub async fn bytes(&mut self, max: usize) -> Result<Bytes, ApiError> {
        let Some(mut s) = self.take_body() else {
            return Ok(Bytes::new());
        };
        let mut buf = Vec::new();
        while let Some(chunk) = s.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::field(
                    "non_field_errors",
                    format!("Could not read the request body: {e}"),
                )
            })?;
            if buf.len() + chunk.len() > max {
                return Err(ApiError::TooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    }

    /// Parses a JSON (or urlencoded) object body; an empty body is an empty object.
    pub async fn object(&mut self, max: usize) -> Result<Map<String, Value>, ApiError> {
        let bytes = self.bytes(max).await?;
        parse_object(self.header("content-type").unwrap_or(""), &bytes)
    }

    /// The body's fields (a multipart form's text parts; a JSON or urlencoded object), for an
    /// access condition that names a request parameter (`remote`, `repository`, `upload`)
    /// before the handler runs: the body is kept — in memory up to [`SPOOL_IN_MEMORY`], the
    /// rest of a multipart body (a file part) in a temporary file — and handed to the handler
    /// again from its start.
    pub async fn fields(
        &mut self,
        max_json: usize,
        max_text: usize,
    ) -> Result<Map<String, Value>, ApiError> {
        if let Some(f) = &self.fields {
            return Ok(f.clone());
        }
        let ct = self.header("content-type").unwrap_or("").to_owned();
        let multipart = ct.to_ascii_lowercase().starts_with("multipart/");
        let spool = Spool::read(self.take_body(), multipart, max_json).await?;
        let fields = if multipart {
            crate::form::text_fields(spool.replay(), &ct, max_text).await?
        } else {
            parse_object(&ct, &spool.head.concat())?
        };
        *self
            .body
            .get_mut()
            .map_err(|_| ApiError::Internal("body lock".into()))? = Some(spool.replay());
        self.fields = Some(fields.clone());
        Ok(fields)
    }
}

/// How much of a multipart body [`Req::fields`] keeps in memory.
const SPOOL_IN_MEMORY: usize = 1 << 20;

/// A body read whole so that it can be read again: its start in memory, the rest (of a
/// multipart body past [`SPOOL_IN_MEMORY`]) in an unnamed temporary file.
struct Spool {
    head: Vec<Bytes>,
    tail: Option<std::sync::Arc<std::fs::File>>,
}

impl Spool {
    async fn read(
        body: Option<BodyStream>,
        multipart: bool,
        max: usize,
    ) -> Result<Spool, ApiError> {
        use tokio::io::AsyncWriteExt;
        let mut spool = Spool {
            head: Vec::new(),
            tail: None,
        };
        let Some(mut body) = body else {
            return Ok(spool);
        };
        let (mut held, mut file) = (0usize, None::<tokio::fs::File>);
        let io = |e: std::io::Error| ApiError::Internal(format!("spooling the request body: {e}"));
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::field(
                    "non_field_errors",
                    format!("Could not read the request body: {e}"),
                )
            })?;
            if let Some(f) = file.as_mut() {
                f.write_all(&chunk).await.map_err(io)?;
                continue;
            }
            held += chunk.len();
            if !multipart && held > max {
                return Err(ApiError::TooLarge);
            }
            if multipart && held > SPOOL_IN_MEMORY {
                let std_file = tempfile::tempfile().map_err(io)?;
                let mut f = tokio::fs::File::from_std(std_file);
                f.write_all(&chunk).await.map_err(io)?;
                file = Some(f);
                continue;
            }
            spool.head.push(chunk);
        }
        if let Some(mut f) = file {
            f.flush().await.map_err(io)?;
            spool.tail = Some(std::sync::Arc::new(f.into_std().await));
        }
        Ok(spool)
    }

    /// The body again, from its start. A temporary file that cannot be read back ends the
    /// stream early (the handler then sees a truncated body and answers 400).
    fn replay(&self) -> BodyStream {
        use std::io::{Read, Seek, SeekFrom};
        let head = futures_util::stream::iter(self.head.clone().into_iter().map(Ok));
        let Some(file) = self.tail.clone() else {
            return Box::pin(head);
        };
        let tail = futures_util::stream::unfold(Some(0u64), move |at| {
            let file = file.clone();
            async move {
                let at = at?;
                let read = tokio::task::spawn_blocking(move || {
                    let mut f = file.as_ref();
                    f.seek(SeekFrom::Start(at))?;
                    let mut buf = vec![0u8; 256 * 1024];
                    let n = f.read(&mut buf)?;
                    buf.truncate(n);
                    Ok::<_, std::io::Error>(buf)
                })
                .await;
                match read {
                    Ok(Ok(buf)) if !buf.is_empty() => {
                        let next = at + buf.len() as u64;
                        Some((Ok(Bytes::from(buf)), Some(next)))
                    }
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "could not read a spooled request body back");
                        None
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not read a spooled request body back");
                        None
                    }
                }
            }
        });
        Box::pin(head.chain(tail))
    }
}

/// A JSON (or urlencoded) object body; an empty body is an empty object.
fn parse_object(content_type: &str, bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let ct = content_type.to_ascii_lowercase();
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    if ct.starts_with("application/x-www-form-urlencoded") {
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).map_err(|e| {
            ApiError::BadRequest(serde_json::json!({ "detail": format!("Form parse error - {e}") }))
        })?;
        return Ok(pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::field(
            "non_field_errors",
            "Invalid data. Expected a dictionary, but got a different type.",
        )),
        Err(e) => Err(ApiError::BadRequest(
            serde_json::json!({ "detail": format!("JSON parse error - {e}") }),
        )),
    }
}

/// A JSON response with Pulp's exact content type (`application/json`, no charset).
pub fn json(status: StatusCode, body: &Value) -> Response {
    let mut r = Response::new(serde_json::to_vec(body).unwrap_or_default().into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// An empty response.
pub fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Bytes::new().into());
    *r.status_mut() = status;
    r
}

/// A text response with the given content type.
pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    r
}

/// A 301 to `location`.
pub fn moved(location: &str) -> Response {
    let mut r = empty(StatusCode::MOVED_PERMANENTLY);
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert("location", v);
    }
    r
}

/// A percent-encoded path decoded; `None` for a broken `%XX` or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    String::from_utf8(decode_percents(s, false)?).ok()
}

/// Decoded as Python's `urllib.parse.unquote` decodes: a `%` not followed by two hex digits
/// stays as it is, `+` stays a plus, bytes that are not UTF-8 become U+FFFD.
pub fn unquote(s: &str) -> String {
    let bytes = decode_percents(s, true).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn decode_percents(s: &str, lenient: bool) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            // Two hex digits exactly (`from_str_radix` alone would take "+1").
            let hex = b
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                None if !lenient => return None,
                None => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_strict_and_lenient() {
        assert_eq!(percent_decode("a%20b/c%2Fd"), Some("a b/c/d".into()));
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(unquote("bad%zz%2B+%41"), "bad%zz++A");
        assert_eq!(unquote("%"), "%");
    }
}
