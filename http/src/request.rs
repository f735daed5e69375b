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
        let ct = self
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        let bytes = self.bytes(max).await?;
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Map::new());
        }
        if ct.starts_with("application/x-www-form-urlencoded") {
            let pairs =
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes).map_err(|e| {
                    ApiError::BadRequest(
                        serde_json::json!({ "detail": format!("Form parse error - {e}") }),
                    )
                })?;
            return Ok(pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect());
        }
        match serde_json::from_slice::<Value>(&bytes) {
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
