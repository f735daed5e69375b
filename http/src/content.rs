//! The content app. This part serves its health check and the index of distributions;
//! serving artifacts through distributions arrives with the file plugin.

use warp::http::{Method, StatusCode};

use crate::request::{Response, text};
use crate::{ApiError, HttpState, Req};

/// Renders Pulp's "Index of" page for `path` with `entries` (directory names).
pub fn index_page(path: &str, entries: &[String]) -> String {
    let mut body = format!(
        "<html><head><title>Index of {path}</title></head><body><h1>Index of {path}</h1><hr><pre>"
    );
    if path != "/" && !path.is_empty() {
        body.push_str("<a href=\"../\">../</a>\n");
    }
    for e in entries {
        body.push_str(&format!("<a href=\"./{e}/\">{e}/</a>\n"));
    }
    body.push_str("</pre><hr></body></html>\n");
    body
}

/// Answers a request under `CONTENT_PATH_PREFIX`.
pub async fn handle(state: &HttpState, req: &Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return Err(ApiError::MethodNotAllowed(req.method.to_string()));
    }
    let prefix = &state.config.content_path_prefix;
    let not_found = || {
        Ok(text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "404: Not Found".into(),
        ))
    };
    if req.path == *prefix {
        // No distributions exist before the file plugin; the index is empty but real.
        let body = index_page(prefix, &[]);
        let mut r = text(StatusCode::OK, "text/html; charset=utf-8", body);
        if req.method == Method::HEAD {
            *r.body_mut() = bytes::Bytes::new().into();
        }
        return Ok(r);
    }
    not_found()
}
